"""Custom webhook source: any system that can POST JSON pushes records to Tributary.

Connecting issues a URL and a signing secret. Each request carries
``Tributary-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">``; the
inbound endpoint checks the signature and refuses timestamps outside the tolerance window
and deliveries it has already accepted.

Stream ``events`` (no channels) reads the connection's accepted deliveries (``WebhookDelivery``
rows) in the order they were received, after the state cursor::

    {"cursor": {"received_at": "<ISO 8601>", "id": "whd_..."}}

Full: every delivery still stored; incremental: those after the cursor. A read takes the
deliveries received up to the moment it starts, after waiting ``settle`` for any of them still
being committed by a concurrent request (a delivery's ``received_at`` is set before its commit,
so one committing late must not fall behind the cursor). The run a delivery queues therefore
reads that delivery, about ``settle`` after it arrived; a delivery arriving during a run queues
the next one (``connections.webhooks.receive``).

Payloads: a JSON object is one record; a JSON array is a batch, one record per element. Fields
understood in a record (the first one present wins; everything else lands in metadata):

=================== =======================================================================
document field      payload fields
=================== =======================================================================
external id         ``id`` (else the delivery id, ``#<index>`` added for batch elements)
title               ``title``, ``name``, ``subject``, ``type``, ``event``
content             ``content``, ``text``, ``body``, ``message``, ``description`` (a string);
                    else the whole payload as pretty-printed JSON
author              ``author``, ``user``, ``sender`` (a string, or an object with ``name``,
                    ``login``, ``username`` or ``email``)
url                 ``url``, ``html_url``, ``link``, ``permalink``
created             ``created_at``, ``created``, ``timestamp``, ``time`` (ISO 8601 or Unix
                    seconds/milliseconds); else when the delivery was received
updated             ``updated_at``, ``updated``; else the created time
readers             ``readers``: who may read it, as the pipeline names them (``member:<user
                    id>``, ``email:<address>``, ``api_key:<key id>``; checked when the delivery
                    arrives: a bad list is a 422 ``invalid_readers``); else the whole workspace
=================== =======================================================================

A webhook connection is in the ``source`` access mode by default, so a record's ``readers`` are
honoured; an admin who sets it to ``workspace`` shares every record with every member.
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from .base import CatalogEntry, Connector, DocumentData, Page, Stream
from .rest import parse_time, resume_of, shorten

TITLE_FIELDS = ("title", "name", "subject", "type", "event")
CONTENT_FIELDS = ("content", "text", "body", "message", "description")
AUTHOR_FIELDS = ("author", "user", "sender")
URL_FIELDS = ("url", "html_url", "link", "permalink")
CREATED_FIELDS = ("created_at", "created", "timestamp", "time")
UPDATED_FIELDS = ("updated_at", "updated")


class WebhookConnector(Connector):
    @classmethod
    def capabilities(cls) -> list[dict[str, str]]:
        return [{"stream": "events", "changes": "pushed: each signed delivery queues a run",
                 "deletions": "not detected (records are kept until the connection is removed)",
                 "readers": "a record's `readers`, else the workspace"}]

    @classmethod
    def rate_limits_in_words(cls) -> str:
        return "none (the source pushes)"

    catalog = CatalogEntry(
        type="webhook",
        display_name="Custom webhook",
        category="custom",
        auth_method="webhook",
        description="Push JSON records from any system with a signed HTTP POST.",
        docs_url="https://github.com/tributary/tributary#webhook-sources",
        streams=(Stream("events", "event", "Payloads pushed to the webhook URL"),),
        permissions=True,
    )

    push_only = True                    # each delivery queues its run: no pull schedule
    page_size = 200                     # deliveries per page
    settle = timedelta(seconds=2)       # how long a read waits for deliveries still committing

    def read(self, ctx, stream, *, state, mode, channel=None):
        if stream.name != "events":
            raise ValueError(f"The webhook source has no stream {stream.name!r}")
        return self._read_events(ctx, state, mode)

    def _read_events(self, ctx, state, mode):
        from sqlalchemy import and_, or_, select

        from connections.models import WebhookDelivery
        from core.extensions import db

        resume = resume_of(state, mode)
        cursor = (state or {}).get("cursor") if (resume is not None or mode == "incremental") else None
        horizon = datetime.now(timezone.utc)
        _wait_until(horizon + self.settle, ctx.cancelled)
        while True:
            # Columns, not entities: nothing piles up in the session's identity map.
            query = (select(WebhookDelivery.id, WebhookDelivery.received_at, WebhookDelivery.payload)
                     .where(WebhookDelivery.connection_id == ctx.connection_id,
                            WebhookDelivery.received_at <= horizon))
            if cursor:
                after = parse_time(cursor["received_at"])
                query = query.where(or_(WebhookDelivery.received_at > after,
                                        and_(WebhookDelivery.received_at == after,
                                             WebhookDelivery.id > cursor["id"])))
            rows = db.session.execute(query.order_by(WebhookDelivery.received_at, WebhookDelivery.id)
                                      .limit(self.page_size)).all()
            records = [record for row in rows for record in _records(row)]
            if rows:
                last = rows[-1]
                cursor = {"received_at": last.received_at.astimezone(timezone.utc).isoformat(), "id": last.id}
            if len(rows) < self.page_size:
                yield Page(records, {"cursor": cursor}, last=True)
                return
            yield Page(records, {"cursor": cursor, "resume": {"mode": mode}})

    def to_document(self, stream, record):
        if stream.name != "events":
            raise ValueError(f"The webhook source has no stream {stream.name!r}")
        payload = record["payload"]
        used = set()

        def first(fields, accept=lambda v: v not in (None, "", [], {})):
            for name in fields:
                if accept(payload.get(name)):
                    used.add(name)
                    return payload[name]
            return None

        if payload.get("id") not in (None, ""):
            used.add("id")
            external_id = str(payload["id"])
        else:
            external_id = record["delivery_id"] + (f"#{record['index']}" if record.get("index") is not None else "")
        content = first(CONTENT_FIELDS, accept=lambda v: isinstance(v, str) and v.strip() != "")
        if content is None:
            content = json.dumps(payload, indent=2, ensure_ascii=False, sort_keys=True, default=str)
        title = first(TITLE_FIELDS, accept=lambda v: isinstance(v, (str, int, float)) and str(v).strip() != "")
        title = str(title) if title is not None else (shorten(content, 80) if content else f"Event {external_id}")
        received = parse_time(record.get("received_at"))
        created = _when(first(CREATED_FIELDS)) or received
        updated = _when(first(UPDATED_FIELDS)) or created
        author = _author(first(AUTHOR_FIELDS))
        url = first(URL_FIELDS, accept=lambda v: isinstance(v, str) and v.startswith(("http://", "https://")))
        readers = _readers(payload.get("readers"))
        used.add("readers")
        metadata = {k: v for k, v in payload.items() if k not in used}
        metadata.update(delivery_id=record["delivery_id"], received_at=record.get("received_at"))
        if record.get("index") is not None:
            metadata["batch_index"] = record["index"]
        return DocumentData(external_id=external_id, title=title, content=content, type="event", url=url,
                            author=author, created_at=created, updated_at=updated, metadata=metadata,
                            readers=readers)


def _readers(value):
    """A record's readers: those it names, else the whole workspace (checked on arrival)."""
    from access.service import Readers
    from knowledge.pipeline import parse_readers

    return Readers.everyone() if value is None else parse_readers(value)


def _wait_until(moment: datetime, cancelled) -> None:
    """Sleep until ``moment`` (a cancelled run stops waiting: it reads nothing more anyway)."""
    import time

    while True:
        left = (moment - datetime.now(timezone.utc)).total_seconds()
        if left <= 0 or cancelled():
            return
        time.sleep(min(left, 0.25))


def _records(row) -> list[dict]:
    """A delivery's records: its object, or each element of its array (a batch)."""
    received = row.received_at.astimezone(timezone.utc).isoformat() if row.received_at else None
    payload = row.payload
    if isinstance(payload, list):
        return [{"delivery_id": row.id, "received_at": received, "index": index,
                 "payload": item if isinstance(item, dict) else {"value": item}}
                for index, item in enumerate(payload)]
    return [{"delivery_id": row.id, "received_at": received, "index": None,
             "payload": payload if isinstance(payload, dict) else {"value": payload}}]


def _when(value) -> datetime | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        seconds = value / 1000 if value > 10_000_000_000 else value     # milliseconds
        try:
            return datetime.fromtimestamp(seconds, timezone.utc)
        except (OverflowError, OSError, ValueError):
            return None
    return parse_time(value)


def _author(value) -> str | None:
    if isinstance(value, str):
        return value or None
    if isinstance(value, dict):
        for name in ("name", "login", "username", "email", "id"):
            if value.get(name):
                return str(value[name])
    return None
