"""Google Drive API v3 under /google/drive/v3, on the sandbox kit with Google's voice and OAuth
server (``google.GoogleApi``): https://developers.google.com/workspace/drive/api/reference/rest/v3

Files and folders are seeded collections (``/_sandbox/collections/google_drive/files`` or
``folders``: add one, edit one -- ``{"trashed": true}`` trashes it -- or delete one for good).
Served: files.list (``q``: ``trashed = true|false``, ``mimeType = '...'`` or ``!=``, ``'<id>' in
parents``, joined by ``and``; pageSize <= 1000; ``fields`` as a partial response, nested
selections and ``*``), files.get (``alt=media``: a PDF's or text file's bytes; a Docs Editors file
is 403 ``fileNotDownloadable``), files.export (Docs and Slides as text/plain, Sheets as text/csv;
anything else 400 or 403 ``fileNotExportable``), changes.getStartPageToken and changes.list
(every change since the token's time: edits, trashing, and deletions as ``removed: true``). A
file's ``permissions`` are served only where the user may share it (its owner or a writer), as
Drive does; its ``owners`` always.
"""
from __future__ import annotations

import re

from flask import Response, request

from ..kit import Seeded, page_by_cursor
from ..seed import COMPANIES, COMPONENTS, SENTENCES, h64, iso_ms, person_name
from . import int_arg, json_response, state
from .google import SCOPE, GoogleApi

FOLDER = "application/vnd.google-apps.folder"
DOC, SHEET, SLIDES = (f"application/vnd.google-apps.{k}" for k in ("document", "spreadsheet", "presentation"))
PDF, TEXT, PNG = "application/pdf", "text/plain", "image/png"
EXPORTS = {DOC: ("text/plain", "text/html"), SHEET: ("text/csv",), SLIDES: ("text/plain",)}
LINKS = {DOC: "https://docs.google.com/document/d/{}/edit?usp=drivesdk",
         SHEET: "https://docs.google.com/spreadsheets/d/{}/edit?usp=drivesdk",
         SLIDES: "https://docs.google.com/presentation/d/{}/edit?usp=drivesdk",
         FOLDER: "https://drive.google.com/drive/folders/{}"}
ROOT = "0ASbxRootFolderUk9PVA"
ME = "sandbox.user@example.com"
# The folder tree: (name, index of the parent folder or None for My Drive).
TREE = [("Projects", None), ("Launch", 0), ("Finance", None), ("2025", 2), ("Shared notes", None)]
# What Drive answers without ``fields``.
FILE_DEFAULT = "kind,id,name,mimeType"
LIST_DEFAULT = f"kind,incompleteSearch,nextPageToken,files({FILE_DEFAULT})"
CHANGES_DEFAULT = f"kind,nextPageToken,newStartPageToken,changes(kind,changeType,time,removed,fileId,file({FILE_DEFAULT}))"
PNG_BYTES = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010804000000b51c0c020000000b49444154"
                          "78da63646000000006000230819d2f0000000049454e44ae426082")


def _file(rnd, i):
    mime = rnd.choices((DOC, SHEET, SLIDES, PDF, TEXT, PNG), (4, 2, 2, 2, 1, 1))[0]
    thing, company = rnd.choice(COMPONENTS), rnd.choice(COMPANIES)
    name = {DOC: f"{thing.capitalize()} design notes", SHEET: f"Q{rnd.randint(1, 4)} {thing} budget",
            SLIDES: f"{thing.capitalize()} review", PDF: f"{company} contract {i}.pdf", TEXT: f"{thing} runbook.txt",
            PNG: f"{thing} diagram.png"}[mime]
    prose = " ".join(rnd.sample(SENTENCES, 3))
    text = {DOC: f"{name}\n\n{prose}\n\nOwner: {company}", SHEET: "Quarter,Item,Amount\n" + "\n".join(
        f"Q{q},{thing},{rnd.randint(100, 9000)}" for q in range(1, 5)), SLIDES: f"{name}\n\n{prose}",
            PDF: f"Agreement between {company} and Sandbox Inc.\n{prose}", TEXT: prose, PNG: ""}[mime]
    colleague = lambda: "{}.{}@example.com".format(*person_name(rnd)).lower()  # noqa: E731
    mine = rnd.random() < 0.8
    shared = [{"type": "user", "email": colleague(), "role": rnd.choice(("reader", "writer", "commenter"))}
              for _ in range(rnd.randint(0, 2))]
    if rnd.random() < 0.15:
        shared.append({"type": "group", "email": "engineering@example.com", "role": "reader"})
    if rnd.random() < 0.15:
        shared.append({"type": "domain", "domain": "example.com", "role": "reader", "discoverable": rnd.random() < 0.5})
    if rnd.random() < 0.1:
        shared.append({"type": "anyone", "role": "reader", "discoverable": rnd.random() < 0.3})
    return {"name": name, "mimeType": mime, "text": text, "shared": shared,
            "parent": ROOT if rnd.random() < 0.3 else file_id("folders", rnd.randrange(len(TREE)) + 1),
            "owner": ME if mine else colleague(), "role": "owner" if mine else rnd.choice(("writer", "reader"))}


class Drive(GoogleApi):
    name, prefix = "google_drive", "/google/drive/v3"
    service = "drive.googleapis.com"
    scopes = frozenset(SCOPE + s for s in ("drive", "drive.readonly", "drive.metadata.readonly"))
    limits = {None: (12000, 60)}        # queries per minute per user
    collections = {"files": Seeded(_file),
                   "folders": Seeded(lambda rnd, i: {"name": TREE[i][0], "parent": ROOT if TREE[i][1] is None
                                                     else file_id("folders", TREE[i][1] + 1)}, lambda scale: len(TREE))}


PROVIDER = Drive()
bp = PROVIDER.bp


def file_id(collection: str, record_id) -> str:
    """The Drive id of a record (``1SbxF000017``: file 17; ``1SbxD...``: a folder)."""
    return f"1Sbx{'F' if collection == 'files' else 'D'}{int(record_id):06d}"


def lookup(fid: str) -> tuple[str, dict] | tuple[None, None]:
    match = re.fullmatch(r"1Sbx([FD])(\d{6})", fid)
    if not match:
        return None, None
    name = "files" if match.group(1) == "F" else "folders"
    record = PROVIDER.collection(name).get(str(int(match.group(2))))
    return (name, record) if record else (None, None)


def _user(email: str) -> dict:
    return {"kind": "drive#user", "displayName": email.split("@")[0].replace(".", " ").title(),
            "me": email == ME, "permissionId": str(h64("drive-user", email) % 10 ** 20), "emailAddress": email}


def _permission(grant: dict) -> dict:
    kind, out = grant["type"], {"kind": "drive#permission", "type": grant["type"], "role": grant["role"]}
    if kind in ("user", "group"):
        out.update(id=str(h64("drive-user", grant["email"]) % 10 ** 20), emailAddress=grant["email"],
                   displayName=grant["email"].split("@")[0])
    elif kind == "domain":
        out.update(id=f"{grant['domain']}", domain=grant["domain"], allowFileDiscovery=grant["discoverable"])
    else:
        out.update(id="anyone" if grant["discoverable"] else "anyoneWithLink", allowFileDiscovery=grant["discoverable"])
    return out


def facts(collection: str, r: dict) -> dict:
    """What a query looks at, without building the whole resource."""
    return {"mimeType": r.get("mimeType", FOLDER if collection == "folders" else TEXT),
            "trashed": bool(r.get("trashed", False)), "parents": [r.get("parent", ROOT)]}


def file_json(collection: str, r: dict) -> dict:
    """The whole File resource (``fields`` picks from it)."""
    fid, mime = file_id(collection, r["id"]), facts(collection, r)["mimeType"]
    owner, role = r.get("owner", ME), r.get("role", "owner")
    grants = [{"type": "user", "email": owner, "role": "owner"}] + (
        [{"type": "user", "email": ME, "role": role}] if owner != ME else []) + list(r.get("shared") or [])
    body = {"kind": "drive#file", "id": fid, "name": r.get("name", "Untitled"), "mimeType": mime,
            "parents": [r.get("parent", ROOT)], "trashed": bool(r.get("trashed", False)),
            "createdTime": iso_ms(r["created"]), "modifiedTime": iso_ms(r["updated"]),
            "version": str(r["updated"] - r["created"] + 1),
            "webViewLink": LINKS.get(mime, "https://drive.google.com/file/d/{}/view?usp=drivesdk").format(fid),
            "owners": [_user(owner)], "ownedByMe": owner == ME, "shared": len(grants) > 1,
            "capabilities": {"canShare": role in ("owner", "writer"), "canEdit": role in ("owner", "writer"),
                             "canDownload": True}}
    if not mime.startswith("application/vnd.google-apps."):
        body["size"] = str(len(media(r)))
    if role in ("owner", "writer"):
        body["permissions"] = [_permission(g) for g in grants]
    return body


def media(r: dict) -> bytes:
    mime = r.get("mimeType")
    return pdf_bytes(r.get("text", "")) if mime == PDF else PNG_BYTES if mime == PNG else r.get("text", "").encode()


def pdf_bytes(text: str) -> bytes:
    """A one-page PDF showing ``text`` line by line (Helvetica), with a correct xref table."""
    lines = [line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
             for line in text.encode("latin-1", "replace").decode("latin-1").splitlines() or [""]]
    content = "BT /F1 11 Tf 14 TL 72 740 Td " + " T* ".join(f"({line}) Tj" for line in lines) + " ET"
    objects = ["<< /Type /Catalog /Pages 2 0 R >>", "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
               "/Resources << /Font << /F1 5 0 R >> >> >>",
               f"<< /Length {len(content)} >>\nstream\n{content}\nendstream",
               "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    out, offsets = "%PDF-1.4\n", []
    for number, obj in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{obj}\nendobj\n"
    table = f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n" + "".join(f"{o:010d} 00000 n \n" for o in offsets)
    return (out + table + f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{len(out)}\n%%EOF\n"
            ).encode("latin-1")


# -- partial responses and queries ---------------------------------------------------------------

def parse_fields(text: str) -> dict:
    """A ``fields`` selection (``nextPageToken, files(id, permissions(type))``) as a tree
    (a leaf is None); a malformed one is Drive's 400."""
    tokens, pos = re.findall(r"[A-Za-z0-9_*]+|[(),]", text), 0

    def selection() -> dict:
        nonlocal pos
        found = {}
        while pos < len(tokens) and tokens[pos] != ")":
            name = tokens[pos]
            if not re.fullmatch(r"[A-Za-z0-9_*]+", name):
                PROVIDER.fail(400, f"Invalid field selection {text}", "invalidParameter")
            pos += 1
            found[name] = None
            if pos < len(tokens) and tokens[pos] == "(":
                pos += 1
                found[name] = selection()
                pos += 1
            if pos < len(tokens) and tokens[pos] == ",":
                pos += 1
        return found
    return selection()


def select(value, mask: dict | None):
    if mask is None or "*" in mask:
        return value
    if isinstance(value, list):
        return [select(item, mask) for item in value]
    return {k: select(value[k], mask[k]) for k in mask if k in value} if isinstance(value, dict) else value


def answer(body: dict, default: str) -> Response:
    return json_response(select(body, parse_fields(request.args.get("fields") or default)))


TERM = re.compile(r"(trashed)\s*=\s*(true|false)|(mimeType)\s*(=|!=)\s*'([^']*)'|'([^']+)'\s+in\s+parents")


def matcher(q: str):
    tests = []
    for term in (re.split(r"\s+and\s+", q.strip()) if q.strip() else []):
        m = TERM.fullmatch(term.strip())
        if m is None:
            PROVIDER.fail(400, "Invalid Value", "invalid")
        if m.group(1):
            tests.append(lambda f, want=m.group(2) == "true": f["trashed"] == want)
        elif m.group(3):
            tests.append(lambda f, op=m.group(4), mime=m.group(5): (f["mimeType"] == mime) == (op == "="))
        else:
            tests.append(lambda f, parent=m.group(6): parent in f["parents"])
    return lambda f: all(test(f) for test in tests)


def _guard(principal, method: str, content: bool = False) -> None:
    PROVIDER.require_scope(principal, method)
    if content and not set(principal.scope) & {SCOPE + "drive", SCOPE + "drive.readonly"}:
        PROVIDER.fail(403, "Request had insufficient authentication scopes.", "insufficientPermissions")


# -- endpoints -------------------------------------------------------------------------------------

@PROVIDER.get("/files")
def files_list(principal):
    _guard(principal, "google.apps.drive.v3.DriveFiles.List")
    keep = matcher(request.args.get("q", ""))
    with state().lock:
        rows = [(file_id(name, r["id"]), name, r) for name in ("folders", "files")
                for r in PROVIDER.collection(name).rows.values()]
        rows = sorted((row for row in rows if keep(facts(row[1], row[2]))), key=lambda row: row[0])
        chunk, cursor = page_by_cursor(rows, request.args.get("pageToken"), int_arg("pageSize", 100, minimum=1,
                                       maximum=1000), key=lambda row: row[0])
        body = {"kind": "drive#fileList", "incompleteSearch": False,
                "files": [file_json(name, r) for _, name, r in chunk]}
    if cursor:
        body["nextPageToken"] = cursor
    return answer(body, LIST_DEFAULT)


@PROVIDER.get("/files/<fid>")
def files_get(principal, fid):
    _guard(principal, "google.apps.drive.v3.DriveFiles.Get", content=request.args.get("alt") == "media")
    if fid in ("root", ROOT):
        return answer({"kind": "drive#file", "id": ROOT, "name": "My Drive", "mimeType": FOLDER}, FILE_DEFAULT)
    with state().lock:
        name, record = lookup(fid)
        if record is None:
            PROVIDER.fail(404, f"File not found: {fid}.", "notFound")
        if request.args.get("alt") != "media":
            return answer(file_json(name, record), FILE_DEFAULT)
        if name == "folders" or str(record.get("mimeType", "")).startswith("application/vnd.google-apps."):
            PROVIDER.fail(403, "Only files with binary content can be downloaded. Use Export with Docs Editors files.",
                          "fileNotDownloadable")
        return Response(media(record), mimetype=record.get("mimeType", TEXT))


@PROVIDER.get("/files/<fid>/export")
def files_export(principal, fid):
    _guard(principal, "google.apps.drive.v3.DriveFiles.Export", content=True)
    with state().lock:
        _, record = lookup(fid)
        if record is None:
            PROVIDER.fail(404, f"File not found: {fid}.", "notFound")
        mime, wanted = record.get("mimeType"), request.args.get("mimeType", "")
        if mime not in EXPORTS:
            PROVIDER.fail(403, "Export only supports Docs Editors files.", "fileNotExportable")
        if wanted not in EXPORTS[mime]:
            PROVIDER.fail(400, "The requested conversion is not supported.", "badRequest")
        text = record.get("text", "")
    if wanted == "text/html":
        text = "<html><body>" + "".join(f"<p>{line}</p>" for line in text.splitlines()) + "</body></html>"
    elif mime == DOC:
        text = "\ufeff" + text          # Docs' text/plain export starts with a byte order mark
    return Response(text.encode(), mimetype=wanted)


@PROVIDER.get("/changes/startPageToken")
def changes_start(principal):
    _guard(principal, "google.apps.drive.v3.DriveChanges.GetStartPageToken")
    return json_response({"kind": "drive#startPageToken", "startPageToken": str(int(state().now()))})


@PROVIDER.get("/changes")
def changes_list(principal):
    """Changes since the token's time, oldest first (keyset pages; ``includeRemoved`` true by
    default as Drive's); the last page hands out ``newStartPageToken``."""
    _guard(principal, "google.apps.drive.v3.DriveChanges.List")
    token = request.args.get("pageToken", "")
    since, _, cursor = token.partition("~")
    if not since.isdigit():
        PROVIDER.fail(400, "Invalid Value" if token else "Required parameter: pageToken", "invalid")
    removed_too = request.args.get("includeRemoved", "true") != "false"
    st = state()
    with st.lock:
        rows = []
        for name in ("folders", "files"):
            found = PROVIDER.collection(name)
            rows += [(r["updated"], file_id(name, r["id"]), name, r) for r in found.changed_since(int(since))]
            rows += [(when, file_id(name, i), name, None) for i, when in found.deleted.items()
                     if when >= int(since) and removed_too]
        rows.sort(key=lambda row: row[:2])
        chunk, following = page_by_cursor(rows, cursor or None, int_arg("pageSize", 100, minimum=1, maximum=1000),
                                          key=lambda row: row[:2])
        changes = [{"kind": "drive#change", "changeType": "file", "time": iso_ms(when), "removed": record is None,
                    "fileId": fid, **({"file": file_json(name, record)} if record else {})}
                   for when, fid, name, record in chunk]
        body = {"kind": "drive#changeList", "changes": changes}
        if following:
            body["nextPageToken"] = f"{since}~{following}"
        else:
            body["newStartPageToken"] = str(int(st.now()))
    return answer(body, CHANGES_DEFAULT)
