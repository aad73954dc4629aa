"""One rule for the names and ids people and programs give things.

Connection names, vector store names, workspace, member and API key names, and the ids and
types a pipeline sends all end up in the console, in logs, in CSV exports and in other systems'
URLs. None of them may contain:

* control characters (C0 and C1, NUL included): NUL is refused by PostgreSQL and cuts C
  strings short, newlines and escapes forge log lines and break single-line layouts;
* the line and paragraph separators (U+2028, U+2029), newlines by another name;
* Unicode's bidirectional controls (the ``Bidi_Control`` property: U+061C, U+200E, U+200F,
  U+202A-U+202E, U+2066-U+2069), which reorder what a reader sees ("Trojan Source"): a name
  that displays as "invoice.pdf" but is stored as something else;
* lone surrogates, which no UTF-8 encoder accepts.

Everything else is allowed, so names in any script (joiners, emoji sequences) keep working.
Long text (document content, descriptions) is not held to this rule.
"""
from __future__ import annotations

import re

from .errors import ValidationError

BIDI_CONTROLS = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
_UNSAFE = re.compile(f"[\x00-\x1f\x7f-\x9f\u2028\u2029{BIDI_CONTROLS}\ud800-\udfff]")


def unsafe_character(text: str) -> str | None:
    """The first character ``text`` may not contain as a name or id, as ``U+XXXX``; else ``None``."""
    if text.isprintable():  # the common case, checked fastest: printable text has none of them
        return None
    found = _UNSAFE.search(text)
    return f"U+{ord(found.group()):04X}" if found else None


def unsafe_message(field: str, character: str) -> str:
    return (f"{field} contains {character}, a control, line-break or bidirectional formatting character; "
            "names and ids are single-line text without them.")


def check_name(value: str, field: str, *, code: str = "invalid_field") -> str:
    """``value`` when it is safe as a name or id, else ``ValidationError`` (``code``, naming the
    ``field`` and the ``character``)."""
    character = unsafe_character(value)
    if character:
        raise ValidationError(unsafe_message(field, character), code=code,
                              details={"field": field, "character": character})
    return value
