"""Record -> document mappings, declared: a stream's ``document`` as data, not a function.

Most of a connector's documents say the same things: an id, a title, lines of text read off the
record (blank ones left out), "Label: value" facts, a link, an author, two timestamps and a few
fields kept as metadata. :class:`Doc` declares them (the record mapping of dlt's ``rest_api`` and
Airbyte's declarative streams is the idea) and is itself the callable ``StreamSpec.document``
takes; a connector writes code only for what is the provider's own (a thread's reply lines, a
status code's word)::

    TICKET = Doc("ticket", "subject", content=("description", replies), facts=(("Status", "status"),),
                 url="html_url", author="requester.name", metadata=("status", "tags[]"))

A field is a dotted path into the record (``"contact.email"``; a missing step is None) or a
callable of the record; a path ending in ``[]`` is a list, ``[]`` where the record has none.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone

from .base import DocumentData
from .kit import field_of
from .rest import parse_time


def _field(spec) -> Callable[[dict], object]:
    if isinstance(spec, str) and spec.endswith("[]"):
        get = field_of(spec[:-2])
        return lambda record: get(record) or []
    return field_of(spec)


def _lines(value) -> list:
    return [v for v in (value if isinstance(value, (list, tuple)) else [value]) if v]


def said(label: str, spec) -> Callable[[dict], str | None]:
    """A content line ``Label: value``, left out where the record has no value (None or "")."""
    get = _field(spec)

    def line(record):
        value = get(record)
        return None if value in (None, "") else f"{label}: {value}"
    return line


def first(*specs, otherwise: str | None = None) -> Callable[[dict], object]:
    """The first of these fields the record has a value for (``"name", "email"``), else
    ``otherwise`` filled with the record's fields (``"Contact {id}"``)."""
    gets = [_field(spec) for spec in specs]

    def value(record):
        found = next((v for get in gets if (v := get(record))), None)
        return found or (otherwise.format_map(record) if otherwise else None)
    return value


def each(path: str, spec) -> Callable[[dict], list]:
    """A field of every item of the list at ``path`` (``each("labels.nodes", "name")``)."""
    items, get = _field(path + "[]"), _field(spec)
    return lambda record: [get(item) for item in items(record)]


def thread(items, author, body, *, at="created_at", nobody: str = "someone") -> Callable[[dict], list[str]]:
    """A thread's lines, one per item of the list at ``items`` (a path, or a callable of the record):
    ``Author (2024-05-01 09:30): body``, its time (ISO 8601) to the minute (an issue's comments)."""
    listed, who, text, when = _field(items), _field(author), _field(body), _field(at)
    return lambda record: [f"{who(item) or nobody} ({when(item)[:16].replace('T', ' ')}): {text(item)}"
                           for item in listed(record) or []]


def word(spec, words: dict, *, strict: bool = False) -> Callable[[dict], object]:
    """A provider's code as its word (``{2: "open"}``); a code without one stays as it is, or
    with ``strict`` is none."""
    get = _field(spec)
    return lambda record: words.get(get(record), None if strict else get(record))


def epoch_seconds(value) -> datetime | None:
    """A time given as seconds since the epoch (Intercom's), for ``Doc(time=...)``; else None."""
    return datetime.fromtimestamp(value, timezone.utc) if isinstance(value, (int, float)) else None


@dataclass(frozen=True)
class Doc:
    """A record's document (see the module docstring).

    ``content``: its text, line by line (a field may give a list of lines; empty ones are left
    out); ``facts``: ``(label, field)`` pairs written ``Label: value`` (those without a value left
    out) in a paragraph after the text -- a field may also give whole lines, a list of them;
    ``metadata``: field names kept as they are, ``(name, field)`` pairs, or callables of the record
    giving a dict of them (fields present only where the record has them); ``untitled``: the
    title where ``title`` gives none; ``created``/``updated``: the record's times, read by
    ``time`` (ISO 8601 by default)."""

    type: str
    title: object
    content: tuple = ()
    facts: tuple = ()
    metadata: tuple = ()
    id: object = "id"
    url: object = None
    author: object = None
    created: object = "created_at"
    updated: object = "updated_at"
    time: Callable[[object], object] = parse_time
    untitled: object = None

    def __call__(self, record: dict) -> DocumentData:
        get = lambda spec: _field(spec)(record) if spec is not None else None  # noqa: E731
        text = "\n".join(line for part in self.content for line in _lines(get(part)))
        facts = [line for fact in self.facts
                 for line in _lines(said(*fact)(record) if isinstance(fact, tuple) else get(fact))]
        return DocumentData(
            external_id=str(get(self.id)), title=get(self.title) or get(self.untitled), type=self.type,
            content="\n\n".join(filter(None, (text, "\n".join(facts)))), url=get(self.url),
            author=get(self.author), created_at=self.time(get(self.created)),
            updated_at=self.time(get(self.updated)),
            metadata=self._metadata(record))

    def _metadata(self, record: dict) -> dict:
        found = {}
        for entry in self.metadata:
            if callable(entry):             # a callable of the record gives several at once
                found.update(entry(record))
            else:
                name, spec = _named(entry)
                found[name] = _field(spec)(record)
        return found

def _named(entry) -> tuple:
    """A metadata entry as ``(name, field)``: a bare field is kept under its own path."""
    if isinstance(entry, str):
        return (entry[:-2] if entry.endswith("[]") else entry), entry
    return entry
