"""Plain text out of what providers hand over: HTML bodies (mail, chat messages) and Office Open XML
files (.docx, .xlsx, .pptx), with the standard library only.

Office Open XML files are zip packages of XML parts (ECMA-376), so their text is a few XPath-like
walks away: python-docx, openpyxl and python-pptx would each add lxml (a C extension) and more
to the install for what ``zipfile`` and ``xml.etree`` do here. Legacy binary formats (.doc, .xls,
.ppt) and PDFs are not read: their documents carry the file's name and metadata only.
"""
from __future__ import annotations

import io
import re
import zipfile
from html.parser import HTMLParser
from xml.etree import ElementTree

# Tags after which a line ends, so paragraphs and list items do not run together.
_BLOCKS = frozenset("address article aside blockquote br dd div dl dt figcaption footer h1 h2 h3 h4 h5 h6 "
                    "header hr li main nav ol p pre section table td th tr ul".split())
_SKIP = frozenset(("script", "style", "head", "title"))


class _Text(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag, attrs):
        if tag in _SKIP:
            self.skipping += 1
        elif tag in _BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag in _SKIP:
            self.skipping = max(0, self.skipping - 1)
        elif tag in _BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data):
        if not self.skipping:
            self.parts.append(data)


def html_text(html: str | None) -> str:
    """The readable text of an HTML fragment or page: blocks on their own lines, entities
    decoded, scripts and styles dropped, runs of blank space collapsed."""
    if not html:
        return ""
    parser = _Text()
    parser.feed(html)
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.parts).splitlines())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


# -- Office Open XML -------------------------------------------------------------------------------

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
A = "{http://schemas.openxmlformats.org/drawingml/2006/main}"
S = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
OFFICE_TYPES = {
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": "pptx",
}
# A package whose parts unpack to more than this is not read (a zip bomb stays a small file).
MAX_UNPACKED = 64 * 1024 * 1024


def _number(name: str) -> int:
    found = re.search(r"(\d+)\.xml$", name)
    return int(found.group(1)) if found else 0


def _paragraphs(root, paragraph: str, run: str) -> list[str]:
    return [text for p in root.iter(paragraph) if (text := "".join(t.text or "" for t in p.iter(run)).strip())]


def office_text(data: bytes, kind: str) -> str | None:
    """The text of a .docx (paragraphs), .pptx (each slide's paragraphs) or .xlsx (each sheet's
    rows, cells tab-separated); None when ``data`` is not such a package."""
    try:
        package = zipfile.ZipFile(io.BytesIO(data))
        if sum(info.file_size for info in package.infolist()) > MAX_UNPACKED:
            return None
        names = package.namelist()
        part = lambda name: ElementTree.fromstring(package.read(name))  # noqa: E731
        if kind == "docx":
            return "\n".join(_paragraphs(part("word/document.xml"), f"{W}p", f"{W}t"))
        if kind == "pptx":
            slides = sorted((n for n in names if re.match(r"ppt/slides/slide\d+\.xml$", n)), key=_number)
            return "\n\n".join("\n".join(_paragraphs(part(n), f"{A}p", f"{A}t")) for n in slides).strip()
        if kind == "xlsx":
            shared = ["".join(t.text or "" for t in si.iter(f"{S}t"))
                      for si in part("xl/sharedStrings.xml").iter(f"{S}si")] if "xl/sharedStrings.xml" in names else []
            sheets = sorted((n for n in names if re.match(r"xl/worksheets/sheet\d+\.xml$", n)), key=_number)
            rows = []
            for name in sheets:
                for row in part(name).iter(f"{S}row"):
                    cells = []
                    for cell in row.iter(f"{S}c"):
                        value = cell.find(f"{S}v")
                        text = "".join(t.text or "" for t in cell.iter(f"{S}t")) if cell.get("t") == "inlineStr" \
                            else (value.text or "" if value is not None else "")
                        cells.append(shared[int(text)] if cell.get("t") == "s" and text.isdigit()
                                     and int(text) < len(shared) else text)
                    if any(cells):
                        rows.append("\t".join(cells))
            return "\n".join(rows)
    except (zipfile.BadZipFile, KeyError, ElementTree.ParseError, ValueError):
        return None
    return None
