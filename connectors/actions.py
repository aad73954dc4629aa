"""Typed actions: the operations an agent may execute on a connected tool.

A connector declares its actions beside its streams (``RestConnector.actions``), each an
:class:`Action`:

* ``name``, ``description`` and ``parameters`` (a JSON schema object: what the caller gives);
* ``scope``: the provider scope (or capability) the connection's grant needs for it;
* ``destructive`` (it removes or closes something) and ``external`` (people outside the
  workspace's tools may see it: a message, an e-mail), so a policy can ask a person first;
* ``phrasings``: the sentences the deterministic router understands (:class:`Phrasing`, a
  regular expression whose named groups are parameters, with the example it is tested on);
* ``build(params, api)``: the exact provider requests (:class:`ProviderRequest`: method, path,
  query, body) for validated parameters. It may read through ``api`` (a channel name to its id,
  a transition's name to its id) but never writes: the requests it returns are the plan;
* ``created(answers, params, api)``: what the provider created (ids, URLs) from its answers;
* for a run interrupted while a write was on its way (its process died; ``actions.service.
  reclaim_stale``): ``idempotent`` says sending the write again changes nothing if it had arrived
  (setting a state, adding labels), and ``find`` asks the provider whether it had: a
  :class:`Lookup`, which declares how the write is found (one listing of what was written
  lately, the fields that must be the write's, its author, its creation time). An action with
  neither is left ``unknown``: it is never sent twice.

The same ``build`` makes the dry run's plan and the run's requests, and :func:`send` sends
exactly the requests of a plan (a stored plan, once approved, is sent as it was shown), so a
plan cannot differ from what runs. Every request goes through the connection's paced client
(``kit.Api``): its limiter, its retries (a write is never retried once it reached the
provider), the connector's error rules, the provider's own words in errors.
"""
from __future__ import annotations

import base64
import re
from html import escape, unescape
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.message import EmailMessage
from urllib.parse import urlencode

from jsonschema import Draft202012Validator

from core.errors import ValidationError

from .rest import dig

REDACTED = "[redacted]"


@dataclass(frozen=True)
class ProviderRequest:
    """One request of a plan. ``path`` is filled (relative to the connector's ``api_url``, or an
    absolute URL); ``body`` is the JSON body, if any."""

    method: str
    path: str
    body: object = None
    params: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"method": self.method, "path": self.path, "params": dict(self.params), "body": self.body}

    @classmethod
    def from_dict(cls, data: dict) -> "ProviderRequest":
        return cls(data["method"], data["path"], data.get("body"), dict(data.get("params") or {}))


@dataclass(frozen=True)
class Phrasing:
    """A sentence the deterministic router understands: ``pattern`` (matched whole, case
    insensitive, on the intent with its outer whitespace and final full stop removed) names
    parameters by its groups; ``fixed`` adds parameters the sentence implies; ``example`` is a
    sentence it must understand (the tests route every example)."""

    pattern: str
    example: str
    fixed: dict = field(default_factory=dict)

    def match(self, intent: str) -> dict | None:
        found = re.fullmatch(self.pattern, intent, re.IGNORECASE | re.DOTALL)
        if found is None:
            return None
        return {**self.fixed, **{k: v.strip() for k, v in found.groupdict().items() if v is not None}}


@dataclass(frozen=True)
class Action:
    name: str
    description: str
    parameters: dict
    scope: str
    build: Callable[[dict, object], list[ProviderRequest]]
    created: Callable[[list, dict, object], dict]
    destructive: bool = False
    external: bool = False
    phrasings: tuple[Phrasing, ...] = ()
    # The parameter naming the provider's channel (a Slack channel, a repository), so the
    # connector's error messages name it ("Slack has no channel general ...").
    channel: str | None = None
    # After an interruption: the write may be sent again (it sets a state), or the provider can
    # be asked whether it arrived (module docstring).
    idempotent: bool = False
    find: "Lookup | None" = None

    def __post_init__(self):
        assert re.fullmatch(r"[a-z][a-z0-9_]*", self.name), self.name
        assert self.parameters.get("type") == "object", self.name
        Draft202012Validator.check_schema(self.parameters)

    def validate(self, params) -> dict:
        """``params`` checked against the schema (types converted where a phrasing gave text: a
        number said in a sentence); the first problem is a 422 naming the parameter."""
        if not isinstance(params, dict):
            raise ValidationError("parameters must be an object.", code="invalid_action_parameter",
                                  details={"parameter": None, "action": self.name})
        params = _coerced(params, self.parameters.get("properties") or {})
        errors = sorted(Draft202012Validator(self.parameters).iter_errors(params), key=lambda e: list(e.path))
        if errors:
            error = errors[0]
            name = ".".join(str(p) for p in error.path) or _missing_name(error)
            raise ValidationError(f"{self.name}: parameter {name!r} {_reason(error)}",
                                  code="invalid_action_parameter",
                                  details={"parameter": name, "action": self.name,
                                           "schema": (self.parameters.get("properties") or {}).get(name)})
        return params

    def describe(self) -> dict:
        return {"name": self.name, "description": self.description, "parameters": self.parameters,
                "provider_scope": self.scope, "destructive": self.destructive, "externally_visible": self.external,
                "phrasings": [p.example for p in self.phrasings]}


def _missing_name(error) -> str | None:
    if error.validator == "required":
        found = re.match(r"'([^']+)' is a required property", error.message)
        return found.group(1) if found else None
    if error.validator == "additionalProperties":
        found = re.search(r"\('([^']+)'", error.message)
        return found.group(1) if found else None
    return None


def _reason(error) -> str:
    if error.validator == "required":
        return "is required."
    if error.validator == "additionalProperties":
        return "is not a parameter of this action."
    return f"is invalid: {error.message}."


def _coerced(params: dict, properties: dict) -> dict:
    out = dict(params)
    for name, value in params.items():
        kind = (properties.get(name) or {}).get("type")
        if isinstance(value, str) and kind == "integer" and re.fullmatch(r"\d{1,15}", value.strip()):
            out[name] = int(value.strip())
        elif isinstance(value, str) and kind == "array":
            out[name] = [part.strip() for part in value.split(",") if part.strip()]
    return out


# -- planning and sending ------------------------------------------------------------------------------

def plan(action: Action, params: dict, api) -> list[ProviderRequest]:
    """The requests ``action`` sends for these (validated) parameters."""
    return list(action.build(params, api))


def shown(requests: list[ProviderRequest], api) -> list[dict]:
    """A plan as a person reads it: absolute URLs with their query, the headers sent with every
    request (values redacted), the JSON body."""
    connector = api.connector
    base = (connector.settings.api_url or "").rstrip("/")
    headers = {name: REDACTED for name in _auth_header_names(api)}
    headers.update({k: v for k, v in dict(connector.headers).items()})
    out = []
    for request in requests:
        url = request.path if request.path.startswith(("http://", "https://")) else base + request.path
        if request.params:
            url += "?" + urlencode(request.params, doseq=True)
        out.append({"method": request.method, "url": url, "headers": dict(headers), "body": request.body})
    return out


def _auth_header_names(api) -> list[str]:
    """The names of the auth headers, without asking for a token (a dry run refreshes nothing)."""
    from dataclasses import replace

    ctx = replace(api.ctx, access_token=lambda: REDACTED,
                  credentials={k: REDACTED for k in (api.ctx.credentials or {})})
    try:
        return sorted(api.connector.auth.headers(api.connector, ctx))
    except Exception:  # noqa: BLE001 - a connector whose auth reads more than this: say nothing
        return ["Authorization"]


def send(requests: list[ProviderRequest], api, *, answers: list | None = None, before=None) -> list:
    """Send a plan's requests in order through the paced client; the provider's answers (JSON
    bodies, ``None`` for an empty one). The first refusal stops the rest. ``answers``: those of
    the requests already sent (the plan resumes after them); ``before(i, answers)`` is called
    before request ``i`` goes out (the run records its progress and renews its lease)."""
    answers = list(answers or [])
    for at in range(len(answers), len(requests)):
        request = requests[at]
        if before is not None:
            before(at, answers)
        response = api.request(request.method, request.path, params=request.params or None, json=request.body,
                               skips=False)
        answers.append(response.json_body)
    return answers


# -- finding an interrupted write at the provider ------------------------------------------------------

LOOKUP_PAGES = 20


class Undecided(Exception):
    """The provider was asked, but its answer does not settle whether the write arrived (two
    records match it; a search index that may not show it yet): the run stays ``unknown``."""


@dataclass(frozen=True)
class Lookup:
    """How an action finds its write at the provider after its process died while sending it
    (``Action.find``; ``actions.service`` reclaims the run). One listing of what was written
    lately, and what identifies the write among its records. The write is the one record that

    * has each field of ``same(write, params)`` (``{"dotted.path": value}``, ``write`` the request
      in flight) as the write gave it: equal, or, for a callable value, for which it is true (a
      body the provider re-renders: compared by its words);
    * was made by the connection's own account: ``mine`` (the author's id in a record) equals
      ``whoami`` (a path, and where the account's id is in its answer);
    * was made after the run began: ``made`` (the record's creation time) not before ``since``,
      so an older record with the same content is never taken for it.

    ``listing(write, params, api, since)`` is the request (None: there is nowhere it could be,
    so it was not written), narrowed to what was written since the run began where the provider
    can, newest first otherwise; ``records`` is where its records are in the answer. One page is
    read: enough for what one account writes in one place in the minutes a lease lasts, except
    where ``more(answer, request)`` gives the next page's request: a listing in document order,
    whose newest records come last (Notion's block children), is read to its end (at most
    ``LOOKUP_PAGES`` pages; a longer one leaves the run unknown). Where the listing gives ids only
    (Gmail), ``each(record)`` is the request that reads one in full.
    ``answer(record, listing)`` is the record as the write's own answer (what ``created`` reads).

    No record: the write never arrived, unless ``searched`` (the listing is a search index,
    which may show a new record late: a miss proves nothing, :class:`Undecided`). More than one
    record: which is ours cannot be told (:class:`Undecided`)."""

    listing: Callable[[ProviderRequest, dict, object, datetime], "ProviderRequest | None"]
    same: Callable[[ProviderRequest, dict], dict]
    records: tuple[str, ...] = ()
    mine: str | None = None
    whoami: tuple[str, str] | None = None
    made: str | None = None
    answer: Callable[[dict, ProviderRequest], object] = lambda record, listing: record
    searched: bool = False
    each: Callable[[dict], ProviderRequest] | None = None
    more: Callable[[object, ProviderRequest], "ProviderRequest | None"] | None = None

    def __call__(self, plan: list[ProviderRequest], params: dict, api, since: datetime) -> list | None:
        """The answers the provider would have given the write (None: it never arrived)."""
        write, since = plan[-1], since if since.tzinfo else since.replace(tzinfo=timezone.utc)
        listing = self.listing(write, params, api, since)
        if listing is None:
            return None
        records, asking = [], listing
        for _ in range(LOOKUP_PAGES):
            body = api.request(asking.method, asking.path, params=asking.params or None, json=asking.body).json_body
            records += [r for r in (_dig(body, ".".join(self.records)) if self.records else body) or []
                        if isinstance(r, dict)]
            asking = self.more(body, asking) if self.more is not None else None
            if asking is None:
                break
        else:
            raise Undecided(f"its listing is longer than the {LOOKUP_PAGES} pages a lookup reads")
        if self.each is not None:
            records = [api.request((one := self.each(r)).method, one.path, params=one.params or None).json_body
                       for r in records]
        wanted = self.same(write, params)
        me = _dig(api.get(api.fill(self.whoami[0])) or {}, self.whoami[1]) if self.whoami else None
        found = [r for r in records if isinstance(r, dict)
                 and all(v(_dig(r, k)) if callable(v) else _dig(r, k) == v for k, v in wanted.items())
                 and (self.mine is None or (me is not None and _dig(r, self.mine) == me))
                 and (self.made is None or _after(_dig(r, self.made), since))]
        if len(found) > 1:
            raise Undecided(f"{len(found)} records at the provider match it")
        if not found and self.searched:
            raise Undecided("the provider's search does not show it, but may not show a new record yet")
        return [self.answer(found[0], listing)] if found else None


def _dig(record, path: str):
    return dig(record, tuple(path.split("."))) if path else record


def _after(value, since: datetime) -> bool:
    """``value`` (a provider's time: ISO 8601, Pipedrive's ``2026-12-06 17:00:00`` in UTC, or
    Gmail's milliseconds since the epoch) is not before ``since``; an unreadable time is not."""
    try:
        moment = datetime.fromtimestamp(int(value) / 1000, timezone.utc) if str(value).isdigit() \
            else datetime.fromisoformat(str(value))
    except ValueError:
        return False
    return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)) >= since


def words(html) -> str:
    """An HTML body as its words (tags, entities and whitespace aside): a body the provider keeps
    re-rendered (Teams' HTML, Pipedrive's sanitized notes) is compared by what it says."""
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", str(html or ""))).split())


def same_words(text: str, *, html: bool = False):
    """A ``Lookup.same`` value: the field (HTML) says what ``text`` (HTML, or plain text) said."""
    expected = words(text if html else escape(text))
    return lambda got: words(got) == expected


# -- helpers the declarations share ------------------------------------------------------------------

def schema(required: tuple[str, ...] = (), **properties) -> dict:
    """A parameters schema: an object of ``properties`` (each a JSON schema), no others."""
    return {"type": "object", "properties": properties, "required": list(required), "additionalProperties": False}


def string(description: str, **more) -> dict:
    return {"type": "string", "minLength": 1, "description": description, **more}


def integer(description: str) -> dict:
    return {"type": "integer", "minimum": 1, "description": description}


def strings(description: str) -> dict:
    return {"type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 1, "description": description}


def mime_message(params: dict) -> str:
    """An RFC 5322 message (``to``, ``subject``, ``body``, optional ``cc``) as Gmail's ``raw``:
    base64url. Deterministic (no Date or Message-ID: the provider adds them), so a plan's body
    is the body sent."""
    message = EmailMessage()
    message["To"] = ", ".join(params["to"])
    if params.get("cc"):
        message["Cc"] = ", ".join(params["cc"])
    message["Subject"] = params["subject"]
    message.set_content(params["body"])
    return base64.urlsafe_b64encode(message.as_bytes()).decode().rstrip("=")


MAIL_PARAMETERS = schema(("to", "subject", "body"),
                         to={"type": "array", "items": {"type": "string", "format": "email", "pattern": r"^[^@\s]+@[^@\s]+$"},
                             "minItems": 1, "description": "Recipients' e-mail addresses."},
                         cc={"type": "array", "items": {"type": "string", "pattern": r"^[^@\s]+@[^@\s]+$"},
                             "description": "Copied recipients' e-mail addresses."},
                         subject=string("The subject line."), body=string("The plain-text body."))


__all__ = ["Action", "Lookup", "MAIL_PARAMETERS", "Phrasing", "ProviderRequest", "REDACTED", "Undecided", "integer",
           "mime_message", "plan", "same_words", "schema", "send", "shown", "string", "strings", "words"]
