"""Validating a response body against a published schema, strictly where the description is.

* Types, required fields, enums, nullability and formats are enforced as described. Formats are
  checked by our own checker (date-time and date as RFC 3339, uri as an absolute URI, email,
  int32), so nothing depends on optional jsonschema extras.
* Undocumented fields are allowed by default: none of these descriptions promises a closed
  object (GitHub's and Google's leave additionalProperties open; the TypeScript types Pipedrive's
  and X's schemas come from are closed only because TypeScript reads an interface that way), and
  the real providers do return fields their descriptions omit (Pipedrive custom fields, new
  GitHub fields). ``undocumented()`` lists them, so a test can still hold them to a short,
  explained list: a misspelt field name shows up there.
* A known difference between a description and the real API is an :class:`Allow`: at a path in
  the body, a value the description rejects is accepted when it matches the allowed schema. Each
  one carries its reason.
"""
from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from datetime import date, datetime
from urllib.parse import urlsplit

from jsonschema import Draft7Validator, FormatChecker
from jsonschema.exceptions import best_match

FORMATS = FormatChecker(formats=())

RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


@FORMATS.checks("date-time", raises=ValueError)
def _date_time(value) -> bool:
    if not isinstance(value, str):
        return True
    if not RFC3339.match(value):
        raise ValueError(f"{value!r} is not an RFC 3339 date-time")
    datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    return True


@FORMATS.checks("date", raises=ValueError)
def _date(value) -> bool:
    if not isinstance(value, str):
        return True
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise ValueError(f"{value!r} is not a YYYY-MM-DD date")
    date.fromisoformat(value)
    return True


@FORMATS.checks("uri")
def _uri(value) -> bool:
    if not isinstance(value, str):
        return True
    parts = urlsplit(value)
    return bool(parts.scheme) and bool(parts.netloc or parts.path) and not re.search(r"\s", value)


@FORMATS.checks("email")
def _email(value) -> bool:
    return not isinstance(value, str) or re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", value) is not None


@FORMATS.checks("int32")
def _int32(value) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return True
    return float(value).is_integer() and -2**31 <= value < 2**31


@dataclass(frozen=True)
class Allow:
    """At ``where`` (a JSON pointer; ``*`` matches any one segment), accept a value matching
    ``schema`` although the description rejects it, because the real provider answers it."""

    where: str
    schema: dict
    reason: str

    def covers(self, path: tuple, instance) -> bool:
        pattern = [p for p in self.where.split("/") if p]
        if len(pattern) != len(path) or not all(p in ("*", str(s)) for p, s in zip(pattern, path)):
            return False
        return Draft7Validator(self.schema, format_checker=FORMATS).is_valid(instance)


def _at(body, path):
    for step in path:
        body = body[step]
    return body


def _where(error) -> str:
    """The failing place as a JSON pointer, list indexes as ``*`` (one line for every item)."""
    return "/" + "/".join("*" if isinstance(s, int) else str(s) for s in error.absolute_path)


def _describe(error) -> str:
    """One line per failure; for a failed anyOf/oneOf, the most telling alternative's failure."""
    if error.context:
        # A nullable value that is neither null nor right: the non-null alternative tells why.
        telling = [e for e in error.context if not (e.validator == "type" and e.validator_value == "null")]
        inner = best_match(telling or error.context)
        return (f"at {_where(inner)}: {_short(inner.message)} "
                f"(no alternative of the {error.validator} matches)")
    return f"at {_where(error)}: {_short(error.message)}"


def _short(message: str) -> str:
    return message if len(message) <= 200 else message[:200] + "..."


def problems(schema: dict, body, *, allow: tuple[Allow, ...] = ()) -> list[str]:
    """Why ``body`` does not conform to ``schema`` (empty when it does), minus allowed ones.
    An anyOf/oneOf passes when one alternative fails only in allowed ways."""
    validator = Draft7Validator(open_schema(schema), format_checker=FORMATS)

    def allowed(error) -> bool:
        if error.context:
            groups = {}
            for sub in error.context:
                groups.setdefault(sub.relative_schema_path[0], []).append(sub)
            return any(all(allowed(sub) for sub in group) for group in groups.values())
        path = tuple(error.absolute_path)
        return any(rule.covers(path, _at(body, path)) for rule in allow)

    return sorted({_describe(error) for error in validator.iter_errors(body) if not allowed(error)})


def undocumented(schema: dict, body) -> list[str]:
    """Paths of fields in ``body`` that the schema's objects do not name (``*`` for indexes).
    Within an anyOf/oneOf, only the alternatives the body matches but for such fields count."""
    validator = Draft7Validator(closed_schema(schema), format_checker=FORMATS)
    found = set()

    def branches(error):
        groups = {}
        for sub in error.context or ():
            groups.setdefault(sub.relative_schema_path[0], []).append(sub)
        return groups.values()

    def extras_only(errors) -> bool:
        return all(e.validator == "additionalProperties"
                   or (e.context and any(extras_only(b) for b in branches(e))) for e in errors)

    def collect(error):
        if error.validator == "additionalProperties":
            base = "/" + "/".join("*" if isinstance(s, int) else str(s) for s in error.absolute_path)
            extras = set(_at(body, tuple(error.absolute_path))) - set(error.schema.get("properties", {}))
            found.update(f"{base.rstrip('/')}/{name}" for name in extras)
        for branch in branches(error):
            if extras_only(branch):
                for sub in branch:
                    collect(sub)
    for error in validator.iter_errors(body):
        collect(error)
    return sorted(found)


def _objects(schema: dict, change) -> dict:
    """A copy of ``schema`` with ``change(object_schema, under_all_of)`` applied to every
    schema that has ``properties``."""
    schema = copy.deepcopy(schema)

    def walk(node, under_all_of=False):
        if isinstance(node, dict):
            if "properties" in node:
                change(node, under_all_of)
            for key, value in node.items():
                if key == "allOf":
                    for item in value:
                        walk(item, True)
                elif key == "properties":
                    for item in value.values():
                        walk(item)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)
    walk(schema)
    return schema


def open_schema(schema: dict) -> dict:
    """Undocumented fields allowed (see the module docstring). A oneOf becomes an anyOf: with
    objects open, a body can match more than one alternative (every real body of GitHub's
    GET /user matches both its private-user and public-user)."""
    def change(node, _under_all_of):
        if node.get("additionalProperties") is False:
            del node["additionalProperties"]
    opened = _objects(schema, change)

    def any_of(node):
        if isinstance(node, dict):
            if "oneOf" in node and "anyOf" not in node:
                node["anyOf"] = node.pop("oneOf")
            for value in node.values():
                any_of(value)
        elif isinstance(node, list):
            for item in node:
                any_of(item)
    any_of(opened)
    return opened


def closed_schema(schema: dict) -> dict:
    """Every object closed to the fields it names, except allOf parts (closing one part of an
    allOf would reject the fields of the others)."""
    def change(node, under_all_of):
        if under_all_of:
            node.pop("additionalProperties", None)
        elif "additionalProperties" not in node:
            node["additionalProperties"] = False
    return _objects(schema, change)
