"""Where Microsoft 365 and Outlook are special below the engine: text out of HTML bodies and Office
files (``connectors/_text.py``), and a file whose permissions Graph will not list (hidden, not
shared)."""
import io
import zipfile

import pytest
import requests

from connectors import _text
from connectors.base import SyncContext
from connectors.microsoft_365 import Microsoft365Connector
from connectors.ratelimit import RateLimiter
from connectors.settings import ConnectorSettings
from sandbox.providers import microsoft as ms

W = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
A = 'xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main"'
S = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'


def package(parts: dict) -> bytes:
    data = io.BytesIO()
    with zipfile.ZipFile(data, "w", zipfile.ZIP_DEFLATED) as out:
        for name, xml in parts.items():
            out.writestr(name, xml)
    return data.getvalue()


def test_html_bodies_read_as_text():
    html = ("<html><head><style>p{color:red}</style><title>x</title></head><body><p>Hi&nbsp;Ada,</p>"
            "<div>Line <b>one</b><br>Line two</div><script>alert(1)</script><ul><li>a</li><li>b &amp; c</li></ul>"
            "</body></html>")
    assert _text.html_text(html) == "Hi Ada,\n\nLine one\nLine two\n\na\n\nb & c"      # &nbsp; is a space
    assert _text.html_text(None) == "" and _text.html_text("plain") == "plain"


def test_office_files_read_as_text_and_what_is_not_one_is_none(monkeypatch):
    docx = package({"word/document.xml": f"<w:document {W}><w:body><w:p><w:r><w:t>Plan </w:t></w:r><w:r><w:t>A"
                                         "</w:t></w:r></w:p><w:p/><w:p><w:r><w:t>Budget</w:t></w:r></w:p></w:body>"
                                         "</w:document>"})
    assert _text.office_text(docx, "docx") == "Plan A\nBudget"
    pptx = package({f"ppt/slides/slide{n}.xml": f"<p:sld {A} xmlns:p='urn:p'><a:p><a:r><a:t>Slide {n}</a:t></a:r>"
                                                "</a:p></p:sld>" for n in (10, 2)})
    assert _text.office_text(pptx, "pptx") == "Slide 2\n\nSlide 10"                 # slides in their order
    xlsx = package({"xl/sharedStrings.xml": f"<sst {S}><si><t>Region</t></si><si><t>North</t></si></sst>",
                    "xl/worksheets/sheet1.xml": f"<worksheet {S}><sheetData><row><c t='s'><v>0</v></c>"
                                                "<c t='inlineStr'><is><t>Total</t></is></c></row><row><c t='s'><v>1</v>"
                                                "</c><c><v>42</v></c></row></sheetData></worksheet>"})
    assert _text.office_text(xlsx, "xlsx") == "Region\tTotal\nNorth\t42"
    assert _text.office_text(b"%PDF-1.4", "docx") is None                      # not a zip
    assert _text.office_text(package({"other.xml": "<x/>"}), "docx") is None   # not a Word package
    monkeypatch.setattr(_text, "MAX_UNPACKED", 100)
    assert _text.office_text(docx, "docx") is None                             # unpacks to too much


@pytest.fixture
def graph(sandbox_server):
    requests.post(f"{sandbox_server.url}/_sandbox/reset", timeout=5)
    token = requests.post(f"{sandbox_server.url}/_sandbox/tokens", timeout=5,
                          json={"provider": "microsoft", "scope": "Files.Read.All"}).json()["access_token"]
    connector = Microsoft365Connector(ConnectorSettings("microsoft_365",
                                                        Microsoft365Connector.sandbox_settings(sandbox_server.url)))
    ctx = SyncContext(connection_id="c", connector_type="microsoft_365", credentials={}, settings={},
                      access_token=lambda: token, limiter=RateLimiter(6000))
    return connector, ctx, sandbox_server.url


def test_a_file_whose_permissions_graph_refuses_is_hidden_and_the_others_keep_theirs(graph):
    connector, ctx, url = graph
    drive = ms.DRIVE_ID["product-docs"]
    files = next(s for s in connector.catalog.streams if s.name == "files")
    first = next(p for p in connector.read(ctx, files, state=None, mode="full", channel=drive) if p.records)
    refused = first.records[0]["id"]
    requests.post(f"{url}/_sandbox/faults", timeout=5, json={
        "provider": "microsoft", "kind": "client_error", "status": 403,
        "path_prefix": f"/microsoft/v1.0/drives/{drive}/items/{refused}/permissions"}).raise_for_status()
    docs = {r["id"]: connector.to_document(files, r) for p in connector.read(ctx, files, state=None, mode="full",
                                                                             channel=drive) for r in p.records}
    assert docs[refused].readers is None                                    # the engine hides it from everyone
    team = {("email", ms.PEOPLE[i]["mail"]) for i in ms.TEAMS["product"][1]}
    assert all(team <= d.readers.entries or d.readers.workspace for i, d in docs.items() if i != refused)
