"""Declarative REST streams and the cursors that make them resumable.

A stream is a base URL + path + query parameters, a way to find the next page, and where the
records sit in a body (Airbyte's ``HttpStream``, the Singer SDK's ``RESTStream``). A connector
describes each of its streams with :class:`RestStream` and a paginator, so its module reads like
the provider's API reference; the loops here turn that into pages, and the readers below turn
pages into :class:`~connectors.base.Page` objects whose ``state`` the engine checkpoints.

Paginators (where the next page is):

* :class:`LinkHeaderPaginator` -- RFC 8288 ``Link: <...>; rel="next"`` (GitHub, GitLab);
* :class:`OffsetPaginator` -- ``start``/``limit`` (Pipedrive v1), optionally overlapping pages
  so a record deleted mid-read cannot shift an unread one out of view;
* :class:`TokenPaginator` -- a token in the body handed back as a parameter (X ``next_token``
  -> ``pagination_token``, Gmail ``nextPageToken`` -> ``pageToken``);
* :class:`PageNumberPaginator` -- ``page=1,2,3`` with ``per_page``;
* :class:`NextUrlPaginator` -- a next-page URL in the body (Graph ``@odata.nextLink``);
* :class:`KeysetPaginator` -- after (before) a value of the page's last record (Discord ``after``);
* :class:`NextPathPaginator` -- a next page at a path the body names (Salesforce's queryMore).

A page token is always a small dict of query parameters (never a URL with a host in it), so a
checkpoint survives a change of base URL and is safe to store.

State convention, shared by every stream built on these readers::

    {"cursor": <where the next incremental pass starts>, "boundary": {...}, "resume": {...}}

``cursor`` is the stream's high-water mark. ``resume`` appears only in checkpoints written in
the middle of a pass: what the pass needs to go on (page token, the pass's own high-water mark,
``mode``). The last page of a completed pass carries no ``resume``. Hence:

* ``read(mode="incremental", state)`` finishes an interrupted pass if ``resume`` is there, else
  starts a new pass from ``cursor`` (a full pass when there is none yet);
* ``read(mode="full", state)`` resumes only a checkpoint of an interrupted *full* pass and
  otherwise reads everything from the start (a completed state is not a reason to skip records).

Readers are generators and never end early: the end of the pages means "the stream is complete"
(a full run then deletes what it did not see, a prune keeps only what was listed). The engine
stops a run at a page boundary by not asking for the next page.
"""
from __future__ import annotations

import hashlib
import json
import re
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from urllib.parse import parse_qsl, urlsplit

from .base import Page

# At most this many boundary fingerprints are kept in a state. Past it (thousands of records
# sharing one timestamp) the reader stops de-duplicating the boundary: it may then hand the same
# record over twice, which ingest skips by content hash, but it never skips one.
MAX_BOUNDARY = 500
# A page seen again because an offset listing shifted (or pages overlap) repeats the end of the
# previous page: this many of its last records are remembered to drop such repeats.
TAIL = 50


# -- finding records and next pages ---------------------------------------------------------------

def dig(body, path: tuple):
    """``body[path[0]][path[1]]...``, or None where a step is missing; an integer step indexes
    a list (``("results", 0)``: the first result)."""
    for step in path:
        if isinstance(step, int) and isinstance(body, list):
            body = body[step] if -len(body) <= step < len(body) else None
            continue
        if not isinstance(body, dict):
            return None
        body = body.get(step)
    return body


@dataclass
class Fetched:
    """One provider page: its records, the token of the next page (None on the last), the body."""

    records: list
    next_token: dict | None
    body: object = None
    # How many records the whole listing holds, where the provider's answer to its first page
    # says (``Paginator.total``): the progress estimate of a unit never read before.
    total: int | None = None


class Paginator:
    """Where the next page is, as query parameters merged into the next request."""

    def start(self, page_size: int | None) -> dict:
        """Parameters of the first request (a page size)."""
        return {}

    def next_token(self, response, body, params: dict, records: list) -> dict | None:
        raise NotImplementedError

    def total(self, response, body, params: dict, records: list) -> int | None:
        """How many records the listing holds in all, as the answer to its first page tells
        (a count, a last-page link); None where it does not."""
        return None


class LinkHeaderPaginator(Paginator):
    """``Link: <https://api.github.com/...&page=3>; rel="next"``: the token is that link's query.

    The listing's size: the count in ``total_header`` where the provider sends one (GitLab's
    ``X-Total``), else from the ``rel="last"`` link (GitHub, GitLab): every page before the
    last one is full and the last one is counted as half a page."""

    def __init__(self, page_size_param: str = "per_page", total_header: str | None = None):
        self.page_size_param, self.total_header = page_size_param, total_header

    def start(self, page_size):
        return {self.page_size_param: page_size} if page_size else {}

    def next_token(self, response, body, params, records):
        url = next_link(response.headers.get("Link", ""))
        return dict(parse_qsl(urlsplit(url).query)) if url else None

    def total(self, response, body, params, records):
        said = response.headers.get(self.total_header, "") if self.total_header else ""
        if said.isdigit():
            return int(said)
        header = response.headers.get("Link", "")
        if next_link(header) is None:
            return len(records)         # the only page
        last = dict(parse_qsl(urlsplit(next_link(header, "last") or "").query)).get("page", "")
        return (int(last) - 1) * len(records) + max(1, len(records) // 2) if last.isdigit() else None


_LINK = re.compile(r'<([^>]*)>\s*;\s*rel="?([^";]+)"?')


def next_link(header: str, rel: str = "next") -> str | None:
    """The URL of a ``Link`` header's ``rel`` (``next``, ``last``)."""
    for url, rels in _LINK.findall(header or ""):
        if rel in rels.split():
            return url
    return None


class OffsetPaginator(Paginator):
    """``start``/``limit`` pages. ``next_start`` reads the provider's own next offset from the
    body (Pipedrive's ``additional_data.pagination.next_start``); without it the next offset is
    start + records read, and a short page ends the listing.

    ``overlap`` starts each page that many records early (at most a fifth of the page size, so
    small pages still move on). An offset listing shifts left when a record already read is
    deleted, which would hide the first unread record; with an overlap the reader sees the tail
    of the previous page again and drops those exact repeats."""

    def __init__(self, *, start_param: str = "start", limit_param: str = "limit",
                 next_start: Callable[[object], int | None] | None = None, overlap: int = 0):
        self.start_param = start_param
        self.limit_param = limit_param
        self.next_start = next_start
        self.overlap = overlap

    def start(self, page_size):
        return {self.limit_param: page_size} if page_size else {}

    def next_token(self, response, body, params, records):
        start = int(params.get(self.start_param) or 0)
        if self.next_start is not None:
            following = self.next_start(body)
            if following is None:
                return None
        else:
            limit = int(params.get(self.limit_param) or 0)
            if not records or (limit and len(records) < limit):
                return None
            following = start + len(records)
        following, limit = int(following), int(params.get(self.limit_param) or 0)
        overlap = min(self.overlap, limit // 5) if limit else self.overlap
        # Never step back to or behind this page's own start: that would loop.
        return {self.start_param: max(following - overlap, start + 1)}


class TokenPaginator(Paginator):
    """A token in the body (``token_path``) sent back as ``param`` (X, Gmail, Slack)."""

    def __init__(self, token_path: tuple[str, ...], param: str, page_size_param: str | None = None):
        self.token_path = token_path
        self.param = param
        self.page_size_param = page_size_param

    def start(self, page_size):
        return {self.page_size_param: page_size} if page_size and self.page_size_param else {}

    def next_token(self, response, body, params, records):
        token = dig(body, self.token_path)
        return {self.param: token} if token else None


class PageNumberPaginator(Paginator):
    """``page=1,2,3...`` with ``per_page`` (Zendesk classic, Freshdesk, many small APIs). The
    listing ends on a short or empty page, or where ``total_pages`` (a path in the body) says."""

    def __init__(self, page_param: str = "page", page_size_param: str = "per_page", first: int = 1,
                 total_pages: tuple[str, ...] | None = None):
        self.page_param, self.page_size_param = page_param, page_size_param
        self.first, self.total_pages = first, total_pages

    def start(self, page_size):
        return {self.page_size_param: page_size} if page_size else {}

    def next_token(self, response, body, params, records):
        page = int(params.get(self.page_param) or self.first)
        size = int(params.get(self.page_size_param) or 0)
        if not records or (size and len(records) < size):
            return None
        if self.total_pages is not None:
            total = dig(body, self.total_pages)
            if total is not None and page >= int(total) + self.first - 1:
                return None
        return {self.page_param: page + 1}

    def total(self, response, body, params, records):
        pages = dig(body, self.total_pages) if self.total_pages is not None else None
        if pages is None or self.next_token(response, body, params, records) is None:
            return len(records) if pages is not None or not records else None
        return (int(pages) - 1) * len(records) + max(1, len(records) // 2)


class NextUrlPaginator(Paginator):
    """A next-page URL in the body (Microsoft Graph ``@odata.nextLink``, Confluence
    ``_links.next``, Jira ``nextPage``): the token is that URL's query, like a Link header's."""

    def __init__(self, url_path: tuple[str, ...], page_size_param: str | None = None):
        self.url_path, self.page_size_param = url_path, page_size_param

    def start(self, page_size):
        return {self.page_size_param: page_size} if page_size and self.page_size_param else {}

    def next_token(self, response, body, params, records):
        url = dig(body, self.url_path)
        return dict(parse_qsl(urlsplit(url).query, keep_blank_values=True)) if url else None


PATH = "@path"


class NextPathPaginator(Paginator):
    """The next page is at a path the body names, asked without the first request's parameters
    (Salesforce's queryMore: ``nextRecordsUrl`` ``/services/data/v62.0/query/01gD...-2000``). The
    token keeps that path (under ``PATH``, never a host) and its query, so a checkpoint still
    survives a change of base URL. ``total_path``: the listing's size in the body (``totalSize``)."""

    def __init__(self, path_field: tuple[str, ...], total_path: tuple[str, ...] | None = None):
        self.path_field, self.total_path = path_field, total_path

    def next_token(self, response, body, params, records):
        url = dig(body, self.path_field)
        return {PATH: urlsplit(url).path, **dict(parse_qsl(urlsplit(url).query))} if url else None

    def total(self, response, body, params, records):
        found = dig(body, self.total_path) if self.total_path else None
        return int(found) if found is not None else None


class KeysetPaginator(Paginator):
    """The next page starts after (or before) a value read off this page's records, sent as
    ``param``: Discord's ``after=<the newest id>``, ``before=<the oldest archive time>``. The
    listing ends on an empty page, on one shorter than the page size sent as ``limit_param``
    (``limit``: a fixed size; 50 where none was sent), or where ``more(body)`` says no page follows."""

    def __init__(self, param: str, value: Callable[[list], object], limit_param: str | None = "limit", *,
                 limit: int | None = None, more: Callable[[object], bool] | None = None):
        self.param, self.value, self.limit_param, self.limit, self.more = param, value, limit_param, limit, more

    def start(self, page_size):
        size = self.limit or page_size
        return {self.limit_param: size} if size and self.limit_param else {}

    def next_token(self, response, body, params, records):
        if not records or (self.more(body) is False if self.more is not None else
                           len(records) < int(params.get(self.limit_param) or 50)):
            return None
        return {self.param: self.value(records)}


@dataclass(frozen=True)
class RestStream:
    """``GET path`` (``{placeholders}`` filled from ``path_args``) with ``params``, paged by
    ``paginator``; records at ``records_path`` in the body (``()``: the body is the list).

    ``method``/``body``: a listing that is a POST which only reads (Notion's search, Jira's
    JQL search) sends its parameters, page token included, as the JSON body and is retried like
    a GET. ``stop``: the provider says in the body that no page follows even though it gave a
    token (Zendesk's ``end_of_stream``, Slack's ``has_more: false``). ``bucket``: the rate
    bucket its requests count against (``connectors.kit``), when the provider limits this
    endpoint on its own."""

    path: str
    paginator: Paginator
    records_path: tuple[str, ...] = ()
    params: dict = field(default_factory=dict)
    page_size: int | None = None
    method: str = "GET"
    body: bool = False
    stop: Callable[[object], bool] | None = None
    bucket: str | None = None

    def fetch(self, client, *, path_args: dict | None = None, params: dict | None = None,
              token: dict | None = None, page_size: int | None = None) -> Fetched:
        """One page: the first one, or the one ``token`` points at."""
        query = {**self.params, **self.paginator.start(page_size or self.page_size),
                 **(params or {}), **(token or {})}
        query = {k: v for k, v in query.items() if v is not None}
        path = self.path.format(**(path_args or {}))
        if token and PATH in token:         # a page at a path of its own (NextPathPaginator)
            path, query = token[PATH], {k: v for k, v in token.items() if k != PATH}
        if self.body:
            response = client.request(self.method, path, json=query, idempotent=True)
        else:
            response = client.request(self.method, path, params=query)
        body = response.json_body
        records = dig(body, self.records_path) if self.records_path else body
        records = list(records or [])        # Pipedrive answers an empty page with null
        ended = self.stop is not None and body is not None and self.stop(body)
        following = None if ended else self.paginator.next_token(response, body, query, records)
        total = self.paginator.total(response, body, query, records) if token is None else None
        return Fetched(records, following, body, len(records) if ended and token is None else total)

    def fetcher(self, client, *, path_args: dict | None = None, params: dict | None = None,
                page_size: int | None = None) -> Callable[[dict | None], Fetched]:
        """``fetch`` with everything but the page token bound (what the readers call)."""
        def fetch(token: dict | None) -> Fetched:
            return self.fetch(client, path_args=path_args, params=params, token=token,
                              page_size=page_size)
        return fetch


# -- record fingerprints and times ------------------------------------------------------------

def fingerprint(record) -> str:
    """A short content digest: tells "the same record again" from "the record, changed"."""
    raw = json.dumps(record, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha1(raw.encode()).hexdigest()[:16]


def parse_time(value) -> datetime | None:
    """Provider timestamps as aware UTC datetimes: ISO 8601 with ``Z`` or an offset (GitHub,
    X, Pipedrive leads), and Pipedrive's ``YYYY-MM-DD HH:MM:SS`` (UTC)."""
    if not value or not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.replace(tzinfo=timezone.utc) if parsed.tzinfo is None else parsed.astimezone(timezone.utc)


def iso_z(value: datetime) -> str:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def resume_of(state: dict | None, mode: str) -> dict | None:
    """The interrupted pass to continue, if ``state`` holds one this ``mode`` may continue."""
    resume = (state or {}).get("resume")
    if not isinstance(resume, dict):
        return None
    if mode == "full" and resume.get("mode") != "full":
        return None
    return resume


def _bounded(boundary: dict) -> dict:
    return boundary if len(boundary) <= MAX_BOUNDARY else {}


def _tail(records: list, key: Callable[[dict], str]) -> dict:
    return {key(r): fingerprint(r) for r in records[-TAIL:]}


def _unseen(records: list, seen: dict, key: Callable[[dict], str]) -> list:
    """``records`` less exact repeats of ``seen`` (key -> fingerprint). Only a record whose key
    is in ``seen`` is fingerprinted: serializing every record of every page to compare it with
    a tail of at most ``TAIL`` was a tenth of a full sync's time."""
    if not seen:
        return list(records)
    return [r for r in records if (k := key(r)) not in seen or seen[k] != fingerprint(r)]


# -- readers: pages of records with the state to checkpoint after each ---------------------------

def read_listing(fetch: Callable[[dict | None], Fetched], *, state: dict | None, mode: str,
                 key: Callable[[dict], str], done_state: Callable[[dict], dict] | None = None,
                 pass_info: Callable[[], dict] | None = None) -> Iterator[Page]:
    """Every record of a listing, page by page (a full pass, or one with the provider filtering
    on something the caller bound into ``fetch``).

    Mid-pass checkpoints are ``{..., "resume": {"mode", "page", "tail", **pass_info()}}``; the
    last page's state is ``done_state(resume)`` (``{}`` by default): e.g. Pipedrive turns the
    pass's start time, kept in ``pass_info``, into the next incremental cursor. ``tail`` holds
    the fingerprints of the previous page, so a record seen again because the listing shifted
    (or an overlapping page) is handed over once.
    """
    resume = resume_of(state, mode)
    if resume is not None:
        info = {k: v for k, v in resume.items() if k not in ("mode", "page", "tail")}
        token, tail = resume.get("page"), dict(resume.get("tail") or {})
    else:
        info = pass_info() if pass_info else {}
        token, tail = None, {}
    carried = {k: v for k, v in (state or {}).items() if k != "resume"}
    while True:
        fetched = fetch(token)
        fresh = _unseen(fetched.records, tail, key)
        tail = _tail(fetched.records, key)
        total = fetched.total if token is None else None
        token = fetched.next_token
        if token is None:
            final = {"mode": mode, **info}
            yield Page(fresh, done_state(final) if done_state else {}, total_estimate=total, last=True)
            return
        yield Page(fresh, {**carried, "resume": {"mode": mode, "page": token, "tail": tail, **info}},
                   total_estimate=total)


def read_updated_since(fetch: Callable[[str | None, dict | None], Fetched], *, state: dict | None,
                       mode: str, key: Callable[[dict], str], updated: Callable[[dict], str]) -> Iterator[Page]:
    """Read a source that filters ``updated >= since`` (inclusive) and sorts ascending by update
    time: GitHub issues and comments (``since``, ``sort=updated&direction=asc``), Pipedrive
    ``/recents`` (``since_timestamp``), a database table. ``fetch(since, token)`` reads one page.

    Keyset paging: after each page the next request starts again from the newest timestamp seen
    (``since`` = that timestamp) instead of following the page token, so a record that changes
    mid-read moves to the end of the list without shifting an unread one out of view. Because
    ``since`` is inclusive, the records on that boundary timestamp come back; their fingerprints
    (``boundary``) drop exact repeats and let a record changed within the same second through.
    When a whole page sits on one timestamp (a bulk edit), the reader pages through that
    timestamp with the provider's token instead, so it always makes progress.

    State: ``{"cursor": since, "boundary": {key: fingerprint}}`` (+ ``resume`` mid-pass). The
    cursor may advance after every page: everything older has been handed over. ``updated``
    must return values that sort in time order (one fixed string format).
    """
    resume = resume_of(state, mode)
    state = state or {}
    if resume is not None or mode == "incremental":
        since, boundary = state.get("cursor"), dict(state.get("boundary") or {})
        token = (resume or {}).get("page")
    else:
        since, boundary, token = None, {}, None
    first = resume is None      # a fresh pass: its first answer counts what the pass will read
    while True:
        fetched = fetch(since, token)
        total, first = (fetched.total if first else None), False
        rows = fetched.records
        fresh = [r for r in rows if not (since is not None and updated(r) == since
                                         and boundary.get(key(r)) == fingerprint(r))]
        top = max((updated(r) for r in rows), default=since)
        if top is not None and (since is None or top > since):
            since, token = top, None
            boundary = {key(r): fingerprint(r) for r in rows if updated(r) == top}
        else:       # nothing newer on this page: page on within the boundary timestamp
            boundary.update({key(r): fingerprint(r) for r in rows})
            token = fetched.next_token
        boundary = _bounded(boundary)
        out = {"cursor": since, "boundary": boundary}
        if fetched.next_token is None:
            yield Page(fresh, out, total_estimate=total, last=True)
            return
        resume_out = {"mode": mode}
        if token is not None:
            resume_out["page"] = token
        yield Page(fresh, {**out, "resume": resume_out}, total_estimate=total)


def read_updated_desc(fetch: Callable[[dict | None], Fetched], *, state: dict | None, mode: str,
                      key: Callable[[dict], str], updated: Callable[[dict], str]) -> Iterator[Page]:
    """Read a source that cannot filter by update time but sorts by it, newest first (GitHub
    ``/pulls?sort=updated&direction=desc``, GraphQL ``orderBy: UPDATED_AT DESC``, Pipedrive
    ``/leads?sort=update_time DESC``). An incremental pass stops at the first record older than
    the cursor; a full pass reads to the end.

    Newest first, a record changed mid-read jumps to the front: the pass may see a neighbour
    twice (dropped by the previous page's fingerprints) but never loses one, and the changed
    record is newer than this pass's high-water mark, so the next pass reads it.

    State: ``{"cursor": newest update time of the last completed pass, "boundary": {...}}``; the
    cursor only moves when a pass completes (mid-pass, ``resume`` keeps the pass's ``high``).
    """
    state = state or {}
    resume = resume_of(state, mode)
    cursor, boundary = state.get("cursor"), dict(state.get("boundary") or {})
    if resume is not None:
        stop_at, token = resume.get("stop_at"), resume.get("page")
        high, high_boundary = resume.get("high"), dict(resume.get("high_boundary") or {})
        tail = dict(resume.get("tail") or {})
    else:
        stop_at = cursor if mode == "incremental" else None
        token, high, high_boundary, tail = None, None, {}, {}
    # A fresh full pass reads the whole listing its first answer counts (an incremental one
    # stops at the cursor, somewhere in it).
    first = resume is None and stop_at is None
    while True:
        fetched = fetch(token)
        total, first = (fetched.total if first else None), False
        fresh, reached = [], False
        for r in fetched.records:
            stamp, k, mark = updated(r), key(r), None
            if stop_at is not None and stamp < stop_at:
                reached = True
                break
            if high is None or stamp > high:
                high, high_boundary = stamp, {}
            if stamp == high:
                mark = high_boundary[k] = fingerprint(r)
            if k in tail and tail[k] == (mark := mark or fingerprint(r)):
                continue            # the listing shifted: seen on the previous page
            if stop_at is not None and stamp == stop_at and k in boundary \
                    and boundary[k] == (mark or fingerprint(r)):
                continue            # unchanged since the last pass
            fresh.append(r)
        tail = _tail(fetched.records, key)
        token = fetched.next_token
        if reached or token is None:
            if high is None:            # nothing at all: keep what we had
                yield Page(fresh, {"cursor": cursor, "boundary": boundary}, total_estimate=total, last=True)
            else:
                yield Page(fresh, {"cursor": high, "boundary": _bounded(high_boundary)}, total_estimate=total,
                           last=True)
            return
        yield Page(fresh, {"cursor": cursor, "boundary": boundary, "resume": {
            "mode": mode, "page": token, "stop_at": stop_at, "high": high,
            "high_boundary": _bounded(high_boundary), "tail": tail}}, total_estimate=total)


def read_after_id(fetch: Callable[[str | None, dict | None], Fetched], *, state: dict | None, mode: str,
                  ident: Callable[[dict], str]) -> Iterator[Page]:
    """Read a source whose record ids grow with time and that filters ``id > since`` (exclusive:
    X's ``since_id``, Slack's ``oldest`` timestamps). Records are never edited in place, so the
    newest id seen is the whole cursor. ``fetch(since, token)`` reads one page.

    State: ``{"cursor": newest id}``; mid-pass ``resume`` keeps the pass's ``since`` and the
    newest id it has seen, and the cursor moves only when the pass completes (a pass that
    reads newest first must finish before older ids are known to be read). Checkpoints X wrote
    before the kit (``newest_id``, ``since_id``) are read too.
    """
    state = state or {}
    cursor = state.get("cursor", state.get("newest_id"))
    resume = resume_of(state, mode)
    if resume is not None:
        since, token = resume.get("since", resume.get("since_id")), resume.get("page")
        newest = resume.get("newest", resume.get("newest_id"))
    else:
        since, token, newest = (cursor if mode == "incremental" else None), None, None
    while True:
        fetched = fetch(since, token)
        for record in fetched.records:
            if newest is None or _id_order(ident(record)) > _id_order(newest):
                newest = ident(record)
        token = fetched.next_token
        if token is None:
            yield Page(fetched.records, {"cursor": newest or cursor}, last=True)
            return
        yield Page(fetched.records, {"cursor": cursor, "resume": {
            "mode": mode, "page": token, "since": since, "newest": newest}})


def read_lookback(fetch: Callable[[object, dict | None], Fetched], *, state: dict | None, mode: str,
                  ident: Callable[[dict], str], mark: Callable[[dict], str], lookback: float,
                  keep: int = 2000) -> Iterator[Page]:
    """``read_after_id`` for a listing, newest first from ``oldest`` (Slack's history), whose old
    records change in place without moving (a reply or an edit to an old thread): an incremental
    pass starts ``lookback`` seconds before the cursor (``fetch(oldest, token)``, ``oldest`` in
    seconds, None for a full pass; ids are times in seconds) and hands over only the records
    newer than the cursor or whose ``mark`` (what changes in place; "" for a record that cannot
    change) differs from the last pass's. A change older than the window waits for a full pass.

    State: ``cursor`` (the newest id), ``window`` ({id: mark} of the records within ``lookback``
    of the newest one, at most ``keep``); mid-pass, ``resume`` keeps the pass's marks so far."""
    state = state or {}
    resume = resume_of(state, mode) or {}
    since = resume.get("since") if resume else state.get("cursor") if mode == "incremental" else None
    before = dict(state.get("window") or {}) if since is not None else {}
    marks, top = dict(resume.get("window") or {}), resume.get("top")

    def feed(after, token):
        return fetch(float(after) - lookback if after else None, token)
    for page in read_after_id(feed, state=state, mode=mode, ident=ident):
        fresh = []
        for record in page.records:
            key = ident(record)
            top, now = top or float(key), mark(record)
            if now and float(key) >= top - lookback:
                marks[key] = now
            if since is None or _id_order(key) > _id_order(since) or before.get(key, "") != now:
                fresh.append(record)
        marks = dict(sorted(marks.items(), key=lambda kv: _id_order(kv[0]))[-keep:])
        if "resume" in page.state:
            page.state.update(window=before, resume={**page.state["resume"], "window": marks, "top": top})
        else:       # the pass is done: its marks are the next pass's, its cursor never goes back
            newest = max(filter(None, (page.state.get("cursor"), since)), key=_id_order, default=None)
            page.state.update(window=marks, cursor=newest)
        page.records = fresh
        yield page


def _id_order(value: str):
    """Ids compare as numbers when they are (snowflakes, Slack ``ts``), else as text. Whole
    numbers stay integers: a float cannot tell snowflakes (~1e18) apart that differ by less
    than 256."""
    if isinstance(value, str) and value.isdigit():
        return (0, int(value))
    try:
        return (0, float(value))
    except (TypeError, ValueError):
        return (1, str(value))


class SyncTokenExpired(Exception):
    """The provider no longer accepts a sync token (Google Calendar 410, Gmail history 404):
    the reader falls back to a full listing and takes a fresh token."""


def read_sync_token(fetch_full: Callable[[dict | None], Fetched],
                    fetch_changes: Callable[[object, dict | None], Fetched], *, state: dict | None, mode: str,
                    token_of: Callable[[Fetched], object], start_token: Callable[[], object] | None = None
                    ) -> Iterator[Page]:
    """Read a source that hands out a sync token: a full listing ends with one (Calendar's
    ``nextSyncToken``, Graph's ``@odata.deltaLink``), or one is asked for before the listing
    starts (``start_token``: Drive's ``changes/startPageToken``, Gmail's profile ``historyId``);
    the next pass asks only for what changed since it (``fetch_changes(sync, page)``), deletions
    included (the stream's tombstones). A token the provider refuses (``SyncTokenExpired``
    raised by the fetch) starts a full listing instead.

    State: ``{"cursor": <sync token>}``; mid-pass ``resume`` holds the phase (``full`` or
    ``changes``), the page token, the token the pass started from and, for a full listing with
    ``start_token``, the token taken before it.
    """
    state = state or {}
    resume = resume_of(state, mode)
    if resume is not None:
        phase, token, sync, started = resume["phase"], resume.get("page"), resume.get("sync"), resume.get("started")
    else:
        sync = state.get("cursor") if mode == "incremental" else None
        phase, token, started = ("changes" if sync else "full"), None, None
    while True:
        if phase == "full" and token is None and started is None and start_token is not None:
            started = start_token()
        try:
            fetched = fetch_changes(sync, token) if phase == "changes" else fetch_full(token)
        except SyncTokenExpired:
            phase, token, sync = "full", None, None
            continue
        token = fetched.next_token
        if token is None:
            yield Page(fetched.records, {"cursor": token_of(fetched) or started or sync}, last=True)
            return
        yield Page(fetched.records, {"cursor": state.get("cursor"), "resume": {
            "mode": mode, "phase": phase, "page": token, "sync": sync, "started": started}})


# -- small helpers connectors share --------------------------------------------------------------

class BoundedCache(OrderedDict):
    """A least-recently-used map of at most ``size`` entries (memory stays flat on big reads)."""

    def __init__(self, size: int = 1024):
        super().__init__()
        self.size = size

    def get_or_load(self, key, load: Callable[[], object]):
        if key in self:
            self.move_to_end(key)
            return self[key]
        value = load()
        self[key] = value
        if len(self) > self.size:
            self.popitem(last=False)
        return value


def ids_of(pages: Iterable[Page], key: Callable[[dict], str]) -> Iterator[str]:
    """The external ids of every record of ``pages`` (a ``list_ids`` built on a listing)."""
    for page in pages:
        for record in page.records:
            yield key(record)


def shorten(text: str, limit: int = 80) -> str:
    """``text`` on one line, cut at a word boundary to at most ``limit`` characters."""
    flat = " ".join((text or "").split())
    if len(flat) <= limit:
        return flat
    cut = flat[: limit - 1]
    if " " in cut[limit // 2:]:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,.;:") + "…"
