"""Executing one sync run.

A run is a list of *units*, one per stream and channel (a GitHub run of 5 streams over 25
repositories has 125), listed once when the run first starts and stored with it. Each unit is
read page by page; each page's documents, its checkpoint, the unit's and the run's counts
commit in one transaction, so a run killed anywhere resumes from its last stored page without
losing, duplicating or double-counting a record.

Run fencing: a run is executed by the worker holding its current claim (``Attempt``: the run
id and the claim token drawn when it was claimed). Every transaction the run commits first
checks, in the same transaction, that the run is still running under that token
(``Attempt.commit``); a worker that lost its claim (it was paused or partitioned past the
heartbeat timeout and another worker took the run over) stops at its next write, having
written nothing. A taken-over run goes on with the same units: completed ones stay completed,
the one in progress resumes from its checkpoint.

Deletion detection never deletes a record that still exists. A full read that reaches the end
(and the prune pass of an incremental run) lists what it did not see, asks the provider for
those records by id (``Connector.fetch_records``), stores the ones still there (the listing
had shifted under the read) and deletes only the rest. A provider that cannot fetch by id
deletes nothing.

Failures are bucketed as the spec's ``error_reason``: ``auth`` (the provider refused our
credentials: the connection turns needs_reauth, the run stops), ``rate_limit`` (the budget or
the provider's quota is spent: the run stops, the checkpoint stays, the next run resumes),
``config`` (the provider refused the request: a 400/403/422, or a channel that is not there,
``CHANNEL_NOT_FOUND``), ``transient`` (5xx, timeouts, resets) and ``unknown``. The last three
fail one unit and the run goes on; a run with failed units completes, and the connection's
``last_error`` names them (its health is then ``degraded``).
"""
from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import func, select, update
from sqlalchemy.exc import DBAPIError

from audit.service import record
from connections import oauth
from connections.models import Connection
from connectors import registry
from connectors.base import SyncContext
from connectors.errors import (ChannelNotFound, InvalidCredentials, ProviderAuthError, ProviderError,
                               ProviderNotFound, ProviderRateLimited, ReadersUnknown)
from core.actor import system_actor
from core.errors import DomainError
from core.extensions import db
from core.timeutil import utcnow
from knowledge import embedding_queue, ingest
from knowledge.models import Document

from .models import Channel, SyncRun, SyncRunUnit, SyncState

log = logging.getLogger(__name__)

STAGES = ("queued", "listing_channels", "fetching_records", "detecting_deletions", "finalizing")
# Ids asked of the provider at once when confirming what a full read did not see.
CONFIRM_BATCH = 100


class Cancelled(Exception):
    pass


class LostClaim(Exception):
    """Another worker holds this run now (or it ended): stop, write nothing more."""


class RunAborted(Exception):
    """Stop the whole run (auth refused, rate limit spent)."""

    def __init__(self, reason: str, message: str, *, retry_after: float | None = None, details: dict | None = None):
        super().__init__(message)
        self.reason, self.message, self.retry_after, self.details = reason, message, retry_after, details


@dataclass(frozen=True)
class Attempt:
    """One claim on a run: what every write of the run is fenced by."""

    run_id: str
    token: str

    def check(self) -> bool:
        """Check, in the session's transaction, that this attempt still holds the run (and beat
        its heartbeat); returns whether a cancel was requested. Raises ``LostClaim`` (after
        rolling back) otherwise. Call it before changing the run's own row: it matches only a
        row still ``running`` under this token.

        The check is an UPDATE of the run's row: on PostgreSQL it takes the row's lock, on
        SQLite the write lock, so no takeover can commit between the check and the commit.
        """
        row = db.session.execute(
            update(SyncRun).where(SyncRun.id == self.run_id, SyncRun.claim_token == self.token,
                                  SyncRun.status == "running")
            .values(heartbeat_at=utcnow()).returning(SyncRun.cancel_requested_at)
            .execution_options(synchronize_session=False)).first()
        if row is None:
            db.session.rollback()
            raise LostClaim(self.run_id)
        return row[0] is not None

    def commit(self) -> bool:
        """``check`` and commit the session's transaction; returns whether a cancel was
        requested."""
        cancelled = self.check()
        db.session.commit()
        return cancelled


def namespace_for(connector_type: str, stream_name: str) -> str:
    return f"{connector_type}_{stream_name}"


def execute(run_id: str, token: str | None = None) -> str:
    """Run ``run_id`` under the claim ``token`` to a terminal status and return it, or
    ``"lost"`` when another worker took the run over meanwhile (nothing more was written).

    Without ``token`` the caller acts as whoever holds the run's current claim (tests and
    maintenance commands that claimed it themselves); every write is still fenced by it."""
    if token is None:
        token = db.session.scalar(select(SyncRun.claim_token).where(SyncRun.id == run_id)) or ""
    attempt = Attempt(run_id, token)
    try:
        return _execute(attempt)
    except LostClaim:
        db.session.rollback()
        log.warning("sync run %s was taken over by another worker; this attempt stopped", run_id)
        return "lost"
    except DBAPIError:
        # The database went away under this attempt (a connection ended by the server, SQLite
        # busy past its timeout): like a crash, nothing half-written stays, and the run is taken
        # over from its last checkpoint once its heartbeat stops.
        db.session.rollback()
        log.warning("sync run %s lost its database connection; it resumes from its checkpoint", run_id,
                    exc_info=True)
        return "interrupted"


def _execute(attempt: Attempt) -> str:
    run = db.session.get(SyncRun, attempt.run_id)
    connection = db.session.get(Connection, run.connection_id)
    try:
        connector = registry.get_connector(current_app.config, connection.connector_type)
    except DomainError as exc:
        return _finish(attempt, "failed", reason="config", message=exc.message)
    if connection.status == "disconnected":
        return _finish(attempt, "failed", reason="config", message="The connection is disconnected.")
    if connection.needs_reauth:
        return _finish(attempt, "failed", reason="auth", message=connection.last_error
                       or "The provider refused the stored credentials; reconnect.")
    if not connector.syncs():
        return _finish(attempt, "failed", reason="config", message="This connector connects but cannot sync yet.")
    connection.status = "syncing"
    if run.current_stage in (None, "queued"):
        run.current_stage = "listing_channels"
    attempt.commit()

    ctx = _context(connection, connector, run)
    reauth = connector.catalog.auth_method != "handle"  # a handle's app token is the operator's
    try:
        units = _units(attempt, ctx, connector, connection, run)
    except RunAborted as exc:
        return _finish(attempt, "failed", reason=exc.reason, message=exc.message, retry_after=exc.retry_after,
                       details=exc.details, reauth=reauth and exc.reason == "auth")
    except Cancelled:
        return _finish(attempt, "cancelled")
    except ProviderError as exc:
        return _finish(attempt, "failed", reason=exc.reason, message=exc.message, details=exc.details)

    if _source_permissions(connection):
        try:
            _refresh_groups(attempt, ctx, connector, connection)
        except RunAborted as exc:
            return _finish(attempt, "failed", reason=exc.reason, message=exc.message, retry_after=exc.retry_after,
                           details=exc.details, reauth=reauth and exc.reason == "auth")
    unit_ids = [u.id for u in units if u.status in ("pending", "running")]
    del units  # not held in the session: every commit would expire and reload them all
    for unit_id in unit_ids:
        unit = db.session.get(SyncRunUnit, unit_id)
        try:
            _sync_unit(attempt, ctx, connector, connection, unit)
        except Cancelled:
            return _finish(attempt, "cancelled")
        except RunAborted as exc:
            _fail_unit(attempt, unit_id, exc.reason, exc.message, details=exc.details)
            return _finish(attempt, "failed", reason=exc.reason, message=exc.message, retry_after=exc.retry_after,
                           details=exc.details, reauth=reauth and exc.reason == "auth")
        except (LostClaim, DBAPIError):
            raise
        except Exception as exc:  # noqa: BLE001 - one unit failing must not stop the others
            db.session.rollback()
            reason, code, message, details = _classify(exc, unit_id)
            if reason == "unknown":
                log.exception("unit %s of run %s failed", unit_id, attempt.run_id)
            _fail_unit(attempt, unit_id, reason, message, code=code, details=details)
    return _finish(attempt, "completed")


# -- the units of a run -------------------------------------------------------------------------

def _context(connection: Connection, connector, run: SyncRun) -> SyncContext:
    run_id = run.id
    return oauth.provider_context(connection, connector,
                                  max_wait=float(current_app.config["SYNC_RATE_LIMIT_MAX_WAIT"]),
                                  cancelled=lambda: _cancel_requested(run_id),
                                  readers_wanted=_source_permissions(connection),
                                  content_wanted=run.mode != "permissions")


def _cancel_requested(run_id: str) -> bool:
    """Read on a connection of its own: the run's session must not hold a transaction open
    while the connector waits on the provider."""
    with db.engine.connect() as connection:
        return connection.scalar(select(SyncRun.cancel_requested_at).where(SyncRun.id == run_id)) is not None


def _guard(call):
    """Provider calls outside a page loop: translate the run-stopping errors."""
    try:
        return call()
    except (ProviderAuthError, InvalidCredentials) as exc:
        raise RunAborted("auth", exc.message, details=exc.details) from None
    except ProviderRateLimited as exc:
        raise RunAborted("rate_limit", exc.message, retry_after=exc.retry_after) from None


def _units(attempt: Attempt, ctx, connector, connection: Connection, run: SyncRun) -> list[SyncRunUnit]:
    """The run's units: listed and stored when the run first starts, read back on a takeover
    (a resumed run neither lists channels again nor redoes what it finished)."""
    units = list(db.session.scalars(select(SyncRunUnit).where(SyncRunUnit.run_id == run.id)
                                    .order_by(SyncRunUnit.position)))
    if units:
        return units
    db.session.commit()  # no transaction stays open while the provider lists channels
    missing: dict[str, dict[str, ChannelNotFound]] = {}  # per channel kind: channel id -> why not found
    scopes: list[tuple[object, str | None]] = []
    channels: dict[str, list[str]] = {}  # per channel kind, resolved once (not per stream)
    chosen = (connection.settings or {}).get("channels") or None  # the spec's settings.channels
    for stream in connector.catalog.streams:
        if stream.channel_kind is None:
            if run.channel is None:
                scopes.append((stream, None))
            continue
        if stream.channel_kind not in channels:
            named = [run.channel] if run.channel is not None else chosen
            channels[stream.channel_kind] = _resolve_channels(ctx, connector, connection, stream, named,
                                                              missing.setdefault(stream.channel_kind, {}))
            if attempt.commit():  # the channels listed are kept, even by a run cancelled now
                raise Cancelled()
        scopes.extend((stream, channel_id) for channel_id in channels[stream.channel_kind])
    if run.channel is not None:
        # A run of one channel, of a connector with several kinds of channel (a Teams channel and a
        # drive): only the streams of the kinds it is one of; a failed unit where it is none of them.
        kinds = {kind for kind in channels if run.channel not in missing[kind]}
        scopes = [(stream, channel) for stream, channel in scopes if not kinds or stream.channel_kind in kinds]
    now = utcnow()
    for position, (stream, channel) in enumerate(scopes):
        unit = SyncRunUnit(run_id=run.id, position=position, stream=stream.name, channel=channel or "",
                           status="pending")
        error = missing.get(stream.channel_kind, {}).get(channel) if stream.channel_kind else None
        if error is not None:
            unit.status, unit.finished_at = "failed", now
            unit.error_reason, unit.error_code, unit.error_message = "config", error.code, error.message
            unit.error_details = error.details or None
        db.session.add(unit)
        units.append(unit)
    run.streams_total = len(units)
    run.streams_failed = sum(1 for u in units if u.status == "failed")
    _estimate(run, units, connection)
    attempt.commit()
    return units


def _resolve_channels(ctx, connector, connection: Connection, stream, named: list[str] | None,
                      missing: dict) -> list[str]:
    """The channel ids to sync for ``stream``'s kind: the named ones as written (each looked up
    on its own endpoint; one that is not there is recorded in ``missing``), else every channel
    the provider lists. The provider is asked first; the channels are recorded after."""
    if not named:
        listed = _guard(lambda: connector.channels(ctx, stream))
        _record_channels(connection, stream, listed)
        return [c.id for c in listed]
    wanted = list(dict.fromkeys(str(c) for c in named))
    found, listed = [], None
    for channel_id in wanted:
        try:
            channel = _guard(lambda: connector.channel(ctx, stream, channel_id))
        except ProviderNotFound as exc:
            missing[channel_id] = exc if isinstance(exc, ChannelNotFound) else ChannelNotFound(
                f"{channel_id} was not found, or the connection cannot see it.", details=exc.details)
            continue
        if channel is None:  # the connector cannot look one up: find it in the listing
            if listed is None:
                listed = {c.id: c for c in _guard(lambda: connector.channels(ctx, stream))}
            channel = listed.get(channel_id)
            if channel is None:
                missing[channel_id] = ChannelNotFound(f"{channel_id} is not among the channels the provider lists.")
                continue
        found.append(channel)
    _record_channels(connection, stream, found)
    return wanted


def _record_channels(connection: Connection, stream, channels) -> None:
    if not channels:
        return
    existing = {c.external_id: c for c in db.session.scalars(
        select(Channel).where(Channel.connection_id == connection.id,
                              Channel.external_id.in_([c.id for c in channels])))}
    for channel in channels:
        if channel.id not in existing:
            row = Channel(workspace_id=connection.workspace_id, connection_id=connection.id, external_id=channel.id,
                          name=channel.name, kind=stream.channel_kind)
            db.session.add(row)
            existing[channel.id] = row
        elif existing[channel.id].name != channel.name:
            existing[channel.id].name = channel.name


def _state_row(connection_id: str, stream: str, channel: str) -> SyncState:
    row = db.session.scalar(select(SyncState).where(SyncState.connection_id == connection_id,
                                                    SyncState.stream == stream, SyncState.channel == channel))
    if row is None:
        row = SyncState(connection_id=connection_id, stream=stream, channel=channel)
        db.session.add(row)
        db.session.flush()
    return row


def _target(connection: Connection, stream_name: str, channel: str | None) -> ingest.Scope:
    from knowledge.stores import default_store

    # Connector data lands in the workspace's default vector store, owned by the connection.
    return ingest.Scope(workspace_id=connection.workspace_id, origin_id=connection.id,
                        namespace=namespace_for(connection.connector_type, stream_name),
                        source=connection.connector_type, connection_id=connection.id, channel=channel,
                        vector_store_id=default_store(connection.workspace_id).id)


# -- reading one unit -----------------------------------------------------------------------------

def _sync_unit(attempt: Attempt, ctx, connector, connection: Connection, unit: SyncRunUnit) -> None:
    run = db.session.get(SyncRun, attempt.run_id)
    stream = next(s for s in connector.catalog.streams if s.name == unit.stream)
    channel = unit.channel or None
    target = _target(connection, stream.name, channel)
    channel_readers = unknown = None
    if _source_permissions(connection):
        db.session.commit()  # no transaction stays open while the provider answers
        try:
            channel_readers = _guard(lambda: connector.channel_readers(ctx, stream, channel))
        except ReadersUnknown as exc:
            # Fail closed: the channel's records are stored hidden from everyone, and the unit
            # says why (it completes; its ``hidden`` counts the records).
            unknown = exc
            _note_readers_unknown(unit, exc)
        if run.mode == "permissions" and (channel_readers is not None or unknown is not None):
            _regrant_unit(attempt, connection, unit, target, channel_readers, unknown=unknown)
            return
    state = _state_row(connection.id, stream.name, unit.channel)
    # A permissions pass over records that carry their own readers is a full read: nothing whose
    # content is unchanged is rewritten, only each document's readers.
    full = run.mode in ("full", "permissions") or state.full_state is not None or state.full_generation is not None
    if full and state.full_generation is None:
        state.full_generation, state.full_state, state.full_read_done = run.id, None, False
    generation = state.full_generation if full else None
    unit.status = "running"
    unit.started_at = unit.started_at or utcnow()
    run.current_stage, run.current_stream = "fetching_records", stream.name
    _progress_total(run)
    attempt.commit()  # a cancel is honoured at the next page boundary

    if not (full and state.full_read_done):
        _read(attempt, ctx, connector, connection, stream, unit, state, target, full, channel_readers)

    run = db.session.get(SyncRun, attempt.run_id)
    if full:
        run.current_stage = "detecting_deletions"
        attempt.commit()
        candidates = ingest.unseen_ids(target, generation)
        _confirm_and_delete(attempt, ctx, connector, connection, stream, unit, target,
                            candidates=candidates, generation=generation, channel_readers=channel_readers)
        state = _state_row(connection.id, stream.name, unit.channel)
        if run.mode != "permissions":
            # The end of a full read is where the next incremental starts. A permissions pass
            # wrote readers alone, so the changes it saw are still the next incremental's.
            state.state = state.full_state
        state.full_state, state.full_generation, state.full_read_done = None, None, False
        state.last_full_at = utcnow()
    elif _prune_due(state):
        db.session.commit()  # no transaction stays open while the provider lists ids
        listed = _prune_listing(ctx, connector, stream, channel)
        if listed is not None:
            candidates = [i for i in ingest.stored_ids(target) if i not in listed]
            _confirm_and_delete(attempt, ctx, connector, connection, stream, unit, target, candidates=candidates,
                                channel_readers=channel_readers)
            state = _state_row(connection.id, stream.name, unit.channel)
            state.last_prune_at = utcnow()
    if channel is not None:
        db.session.execute(update(Channel).where(Channel.connection_id == connection.id,
                                                 Channel.external_id == channel).values(last_sync_at=utcnow()))
    unit = db.session.get(SyncRunUnit, unit.id)
    unit.status, unit.finished_at = "completed", utcnow()
    _progress_total(db.session.get(SyncRun, attempt.run_id))
    if attempt.commit():
        raise Cancelled()


def _read(attempt: Attempt, ctx, connector, connection: Connection, stream, unit: SyncRunUnit, state: SyncState,
          target: ingest.Scope, full: bool, channel_readers=None) -> None:
    """Read the unit's pages; each page is stored with its checkpoint and counts, fenced."""
    start = state.full_state if full else state.state
    generation = state.full_generation if full else None
    # The next page is read while this one is stored (see _ReadAhead).
    pages = _ReadAhead(connector.read(ctx, stream, state=start, mode="full" if full else "incremental",
                                      channel=unit.channel or None))
    try:
        while True:
            try:
                page = next(pages)
            except StopIteration:
                if full and not db.session.get(SyncState, state.id).full_read_done:
                    # A reader that does not mark its last page: the end is known only now.
                    db.session.get(SyncState, state.id).full_read_done = True
                    attempt.commit()
                break
            except (ProviderAuthError, InvalidCredentials) as exc:
                raise RunAborted("auth", exc.message, details=exc.details) from None
            except ProviderRateLimited as exc:
                db.session.rollback()
                raise RunAborted("rate_limit", exc.message, retry_after=exc.retry_after) from None
            run = db.session.get(SyncRun, attempt.run_id)
            docs, failing = _documents(connector, stream, page.records, run)
            docs = _derived_from_parents(connector, connection, stream, docs)
            access, hidden = _access(connection, docs, channel_readers)
            if run.mode == "permissions":
                # readers only: the pass may not have read content (ctx.content_wanted)
                result = ingest.regrant_seen(target, docs, generation=generation, access=access)
            else:
                result = ingest.upsert(target, docs, generation=generation, access=access)
            if page.deleted:
                # Tombstones: the provider said these are gone, so no confirmation is asked.
                result.deleted += ingest.delete_ids(target, page.deleted)
                _rederive_children(connector, connection, stream, dict.fromkeys(page.deleted))
            state = db.session.get(SyncState, state.id)
            if full:
                state.full_state = page.state
                state.full_read_done = page.last
            else:
                state.state = page.state
            state.updated_at = utcnow()
            _rederive_children(connector, connection, stream, _changed_parents(docs, result))
            unit = db.session.get(SyncRunUnit, unit.id)
            unit.records_read += len(page.records)
            unit.records_failing += failing
            unit.hidden += hidden
            _count(run, unit, result)
            if page.total_estimate is not None:
                unit.estimate, unit.estimate_source = page.total_estimate, "provider"
            run.progress_processed += len(page.records)
            run.progress_failing += failing
            _progress_total(run)
            cancelled = attempt.commit()
            if result.created or result.updated:
                embedding_queue.wake()  # the index worker cuts the new documents into chunks
            if cancelled:
                raise Cancelled()
    finally:
        pages.close()


def _source_permissions(connection: Connection) -> bool:
    return connection.scope != "personal" and connection.access_mode == "source"


def _access(connection: Connection, docs: list, channel_readers=None) -> tuple[dict, int]:
    """Each document's access list, and how many were hidden because the connector could not
    tell their readers (fail closed). A personal connection's documents are its owner's; a
    connection in the ``workspace`` access mode shares everything with every member; in the
    ``source`` mode a record's own readers win, else its channel's."""
    from access import service as access

    if connection.scope == "personal":
        owner = access.access_id(connection.workspace_id, access.owner_only(connection.id))
        return {doc.external_id: owner for doc in docs}, 0
    if connection.access_mode != "source":
        return {}, 0
    lists, hidden = {}, 0
    for doc in docs:
        readers = doc.readers if doc.readers is not None else channel_readers
        if readers is None:
            readers, hidden = access.Readers.nobody(), hidden + 1
        lists[doc.external_id] = access.access_id(connection.workspace_id, readers)
    return lists, hidden


def _refresh_groups(attempt: Attempt, ctx, connector, connection: Connection) -> None:
    """The provider groups the connection's readers name, as the provider lists them now."""
    from access.service import replace_group_members

    db.session.commit()  # nothing stays open while the provider answers
    groups = _guard(lambda: connector.groups(ctx))
    if groups is not None:
        replace_group_members(connection.workspace_id, connection.id, groups)
        attempt.commit()


def _regrant_unit(attempt: Attempt, connection: Connection, unit: SyncRunUnit, target: ingest.Scope,
                  readers, *, unknown: ReadersUnknown | None = None) -> None:
    """A permissions pass over a channel whose readers the provider gives per channel: every
    document of it gets that access list in bulk, nothing is read or rewritten. Readers the
    provider would not give (``unknown``) hide every document of the channel."""
    from access.service import Readers, access_id

    unit = db.session.get(SyncRunUnit, unit.id)
    unit.status, unit.started_at = "running", unit.started_at or utcnow()
    if unknown is not None:
        readers = Readers.nobody()
        _note_readers_unknown(unit, unknown)
        unit.hidden = len(ingest.stored_ids(target))
    ingest.regrant_scope(target, access_id(connection.workspace_id, readers))
    unit.status, unit.finished_at = "completed", utcnow()
    _progress_total(db.session.get(SyncRun, attempt.run_id))
    attempt.commit()


def _note_readers_unknown(unit: SyncRunUnit, exc: ReadersUnknown) -> None:
    """A completed unit whose records were hidden because the provider would not say who may
    read them carries the provider's words (``error_code`` ``READERS_UNKNOWN``; its status
    stays what it is)."""
    unit = db.session.get(SyncRunUnit, unit.id)
    unit.error_code, unit.error_message, unit.error_details = exc.code, exc.message, exc.details or None


def _documents(connector, stream, records: list[dict], run: SyncRun) -> tuple[list, int]:
    docs, failing = [], 0
    for record_ in records:
        try:
            docs.append(connector.to_document(stream, record_))
        except Exception:  # noqa: BLE001 - one unreadable record must not sink the page
            failing += 1
            run.error_item_id = str(record_.get("id") or "")[:200] or run.error_item_id
            log.warning("could not map a %s record of %s", stream.name, run.connection_id, exc_info=True)
    return docs, failing


def _count(run: SyncRun, unit: SyncRunUnit, result: ingest.IngestResult) -> None:
    for name in ("created", "updated", "unchanged", "deleted"):
        value = getattr(result, name)
        setattr(unit, name, getattr(unit, name) + value)
        column = f"documents_{name}"
        setattr(run, column, getattr(run, column) + value)
    run.records_written += result.written


def _rederive_children(connector, connection: Connection, stream, parents: dict) -> None:
    """Bring up to date what children copy of these parents (an activity's deal title, a
    comment's issue title), in the caller's transaction. ``parents``: external id -> the parent's
    new document, or None for a parent that is gone (what was copied of it goes too)."""
    children = [s for s in connector.catalog.streams if stream.name in s.parents]
    if not children or not parents:
        return
    for child_stream in children:
        by_channel: dict = {}
        namespace = namespace_for(connection.connector_type, child_stream.name)
        for channel, access, child in ingest.children_of(connection.id, namespace, list(parents)):
            fresh = connector.rederive(child_stream, child, parents[child.parent_id])
            if fresh is not None:
                docs, kept = by_channel.setdefault(channel, ([], {}))
                docs.append(fresh)
                kept[fresh.external_id] = access  # a re-derived child keeps its readers
        for channel, (fresh, kept) in by_channel.items():
            ingest.upsert(_target(connection, child_stream.name, channel), fresh, access=kept)


def _derived_from_parents(connector, connection: Connection, stream, docs: list) -> list:
    """Children as their stored parents make them (a comment takes its issue's title from the
    issue the run stored, instead of asking the provider for it once per issue); a child whose
    parent is not stored stays as read, and is brought up to date when the parent arrives."""
    wanted = sorted({doc.parent_id for doc in docs if doc.parent_id})
    if not stream.parents or not wanted:
        return docs
    parents = ingest.documents_by_id(connection.id, [namespace_for(connection.connector_type, name)
                                                     for name in stream.parents], wanted)
    out = []
    for doc in docs:
        parent = parents.get(doc.parent_id) if doc.parent_id else None
        fresh = connector.rederive(stream, doc, parent) if parent is not None else None
        out.append(fresh if fresh is not None else doc)
    return out


def _changed_parents(docs: list, result: ingest.IngestResult) -> dict:
    by_id = {doc.external_id: doc for doc in docs}
    return {external_id: by_id[external_id] for external_id in result.changed_ids if external_id in by_id}


# -- deletion detection ---------------------------------------------------------------------------

def _prune_due(state: SyncState) -> bool:
    interval = timedelta(minutes=float(current_app.config["PRUNE_INTERVAL_MINUTES"]))
    last = state.last_prune_at or state.last_full_at
    return last is None or utcnow() - last >= interval


def _prune_listing(ctx, connector, stream, channel) -> set[str] | None:
    """The light prune pass between full syncs: every id the provider lists now. A failed or
    unsupported listing is ``None`` (nothing is deleted; it is tried again next time)."""
    try:
        ids = connector.list_ids(ctx, stream, channel)
        if ids is None:
            return None
        return set(ids)  # the whole listing first: a partial one must never delete
    except (ProviderAuthError, InvalidCredentials, ProviderRateLimited):
        raise
    except Exception:  # noqa: BLE001 - pruning is best effort; the sync itself succeeded
        log.warning("prune listing of %s failed", stream.name, exc_info=True)
        return None


def _confirm_and_delete(attempt: Attempt, ctx, connector, connection: Connection, stream, unit: SyncRunUnit,
                        target: ingest.Scope, *, candidates: list[str], generation: str | None = None,
                        channel_readers=None) -> None:
    """Delete those of ``candidates`` (documents a listing did not show) that the provider
    confirms are gone; store the ones it still has. Nothing is deleted unconfirmed."""
    db.session.commit()  # no transaction stays open while the provider answers (nothing is pending)
    live: dict = {}
    confirmable = True
    for start in range(0, len(candidates), CONFIRM_BATCH):
        batch = candidates[start:start + CONFIRM_BATCH]
        answered = _guard(lambda: connector.fetch_records(ctx, stream, target.channel, batch))
        if answered is None:
            confirmable = False
            break
        for external_id, record_ in _guard(lambda: list(answered)):
            live[external_id] = record_
    run = db.session.get(SyncRun, attempt.run_id)
    unit = db.session.get(SyncRunUnit, unit.id)
    if not confirmable:
        unit.unconfirmed += len(candidates)
        if candidates:
            log.warning("%d %s documents of %s not seen and not confirmed gone: kept", len(candidates),
                        stream.name, connection.id)
    else:
        docs, failing = _documents(connector, stream, list(live.values()), run)
        access, hidden = _access(connection, docs, channel_readers)
        recovered = ingest.upsert(target, docs, generation=generation, access=access)
        _rederive_children(connector, connection, stream, _changed_parents(docs, recovered))
        _count(run, unit, recovered)
        unit.recovered += len(live)
        unit.records_failing += failing
        unit.hidden += hidden
        gone = [external_id for external_id in candidates if external_id not in live]
        if generation is not None:
            deleted = ingest.delete_unseen(target, generation, gone)
        else:
            deleted = ingest.delete_ids(target, gone)
        _rederive_children(connector, connection, stream, dict.fromkeys(gone))
        _count(run, unit, ingest.IngestResult(deleted=deleted))
    attempt.commit()


# -- progress -------------------------------------------------------------------------------------

def _estimate(run: SyncRun, units: list[SyncRunUnit], connection: Connection) -> None:
    """How many records each unit should read, before any is read: what the last completed
    run of the same mode read there, else (for a full read) the documents already stored for
    it. Units with neither are extrapolated from this run's finished units as it goes."""
    previous_id = db.session.scalar(select(SyncRun.id).where(
        SyncRun.connection_id == run.connection_id, SyncRun.status == "completed", SyncRun.mode == run.mode,
        SyncRun.id != run.id).order_by(SyncRun.finished_at.desc(), SyncRun.id.desc()).limit(1))
    before = {}
    if previous_id:
        before = {(u.stream, u.channel): u.records_read for u in db.session.scalars(
            select(SyncRunUnit).where(SyncRunUnit.run_id == previous_id, SyncRunUnit.status == "completed"))}
    stored = {}
    if run.mode == "full":
        stored = {(namespace, channel or ""): count for namespace, channel, count in db.session.execute(
            select(Document.namespace, Document.channel, func.count()).where(Document.origin_id == connection.id)
            .group_by(Document.namespace, Document.channel))}
    for unit in units:
        if unit.status != "pending":
            continue
        key = (unit.stream, unit.channel)
        if key in before:
            unit.estimate, unit.estimate_source = before[key], "previous_run"
        elif (namespace_for(connection.connector_type, unit.stream), unit.channel) in stored:
            unit.estimate = stored[(namespace_for(connection.connector_type, unit.stream), unit.channel)]
            unit.estimate_source = "stored"
    _progress_total(run, units)


def _progress_total(run: SyncRun, units: list[SyncRunUnit] | None = None) -> None:
    """The run's expected record count: what finished units read, what running ones read or
    are expected to (whichever is more), and the estimates of those to come; a unit with no
    estimate counts as the mean of the finished units of its stream (else of all). Unknown
    (``None``) until something is known."""
    if units is None:  # plain rows: a run has a unit per stream and channel, read at every page
        units = list(db.session.execute(select(SyncRunUnit.stream, SyncRunUnit.status, SyncRunUnit.records_read,
                                               SyncRunUnit.estimate).where(SyncRunUnit.run_id == run.id)))
    finished = [u for u in units if u.status in ("completed", "failed")]
    by_stream: dict[str, list[int]] = {}
    for u in finished:
        by_stream.setdefault(u.stream, []).append(u.records_read)
    overall = [u.records_read for u in finished]
    total, estimated, known = 0, False, True
    for u in units:
        if u.status in ("completed", "failed"):
            total += u.records_read
            continue
        estimated = True
        guess = u.estimate
        if guess is None:
            sample = by_stream.get(u.stream) or overall
            guess = round(sum(sample) / len(sample)) if sample else None
        if guess is None:
            known = False
            guess = 0
        total += max(guess, u.records_read)
    run.progress_total = total if known or total else None
    run.progress_estimated = estimated


# -- failures and the end of a run -------------------------------------------------------------------

def _classify(exc: Exception, unit_id: int) -> tuple[str, str | None, str, dict | None]:
    """(error_reason, error_code, message, details) of an exception that failed one unit."""
    if isinstance(exc, ProviderNotFound):
        unit = db.session.get(SyncRunUnit, unit_id)
        if unit.channel:
            return "config", "CHANNEL_NOT_FOUND", exc.message, exc.details or None
        return "config", exc.code, exc.message, exc.details or None
    if isinstance(exc, ProviderError):
        return exc.reason, exc.code if exc.reason == "config" else None, exc.message, exc.details or None
    if isinstance(exc, DomainError):
        return "unknown", exc.code, exc.message, exc.details or None
    return "unknown", None, f"{type(exc).__name__}: {exc}", None


def _fail_unit(attempt: Attempt, unit_id: int, reason: str, message: str, *, code: str | None = None,
               details: dict | None = None) -> None:
    db.session.rollback()
    unit = db.session.get(SyncRunUnit, unit_id)
    unit.status, unit.finished_at = "failed", utcnow()
    unit.error_reason, unit.error_code, unit.error_message = reason, code, message
    unit.error_details = details
    run = db.session.get(SyncRun, attempt.run_id)
    run.streams_failed = db.session.scalar(select(func.count()).select_from(SyncRunUnit).where(
        SyncRunUnit.run_id == run.id, SyncRunUnit.status == "failed"))
    _progress_total(run)
    attempt.commit()


def failed_units_summary(units: list[SyncRunUnit], total: int) -> str:
    """'2 of 125 stream × channel units failed: issues of acme/old (CHANNEL_NOT_FOUND), ...'."""
    failed = [u for u in units if u.status == "failed"]
    names = [f"{u.stream} of {u.channel}" if u.channel else u.stream for u in failed]
    reasons = [f"{name} ({u.error_code or u.error_reason})" for name, u in zip(names, failed)]
    shown = ", ".join(reasons[:3]) + (f" and {len(reasons) - 3} more" if len(reasons) > 3 else "")
    first = next((u.error_message for u in failed if u.error_message), None)
    unit_word = "stream × channel units" if any(u.channel for u in units) else "streams"
    return f"{len(failed)} of {total} {unit_word} failed: {shown}." + (f" {first}" if first else "")


def _finish(attempt: Attempt, status: str, *, reason: str | None = None, message: str | None = None,
            retry_after: float | None = None, details: dict | None = None, reauth: bool = False) -> str:
    """End the run (fenced: a worker that lost its claim ends nothing). ``reauth``: the provider
    refused the stored credentials, so the connection needs its owner to reconnect."""
    db.session.rollback()  # drop a half-done page: the last committed checkpoint stands
    attempt.check()  # before the run's row changes status (the check matches a running run)
    run = db.session.get(SyncRun, attempt.run_id)
    connection = db.session.get(Connection, run.connection_id)
    units = list(db.session.scalars(select(SyncRunUnit).where(SyncRunUnit.run_id == run.id)))
    failed = [u for u in units if u.status == "failed"]
    code = None
    if status == "completed" and units and len(failed) == len(units):
        codes = {u.error_code for u in failed}
        status, reason = "failed", failed[0].error_reason if len({u.error_reason for u in failed}) == 1 else "transient"
        code = codes.pop() if len(codes) == 1 else None
        message = failed_units_summary(units, len(units))
        details = failed[0].error_details if len(failed) == 1 or code else None
    now = utcnow()
    run.streams_failed = len(failed)
    run.status, run.finished_at, run.current_stage = status, now, "finalizing"
    run.error_reason, run.error_code, run.error_message = reason, code, message
    run.error_details = details
    run.retry_after = int(retry_after) if retry_after else None
    _progress_total(run, units)
    if status == "completed":
        run.progress_estimated = False
        connection.last_synced_at = now
        if connection.status in ("syncing", "error", "rate_limited", "pending"):
            connection.status = "connected"
        connection.last_error = failed_units_summary(units, len(units)) if failed else None
    elif status == "failed":
        if connection.status != "disconnected":
            connection.status = "rate_limited" if reason == "rate_limit" else "error"
        connection.last_error = message
        if reauth and not connection.needs_reauth:
            connection.needs_reauth = True
            connection.last_error = f"The provider refused the stored credentials during a sync; reconnect. ({message})"
            record(system_actor(connection.workspace_id), "connection.needs_reauth", target_type="connection",
                   target_id=connection.id, outcome="failure")
    elif connection.status == "syncing":
        connection.status = "connected"
    record(system_actor(connection.workspace_id), f"sync.{status}", target_type="connection",
           target_id=connection.id, outcome="failure" if status == "failed" else "success",
           details={"sync_run_id": run.id, "mode": run.mode, "records_written": run.records_written,
                    "streams_failed": len(failed), "error_reason": reason})
    db.session.commit()
    return status


def stale_after() -> timedelta:
    return timedelta(seconds=float(current_app.config["SYNC_HEARTBEAT_TIMEOUT"]))


# -- reading ahead --------------------------------------------------------------------------------

class _ReadAhead:
    """A stream's pages, read one page ahead on a thread of its own.

    While the run maps and stores page k (documents and checkpoint in one transaction), the
    reader thread already waits for the provider's page k + 1, so the provider's latency overlaps
    with our own work instead of adding to it: on a full sync most of the time is the provider's.
    Nothing else changes: pages arrive in order; the connector makes its requests one at a time,
    in the same order, from one thread, and never more than one page ahead of what the run has
    taken; an error of the reader surfaces when the page it stopped at is asked for, after every
    earlier page was stored; ``close`` stops the reader at its next page boundary (a cancelled
    run may have read one page more, which is dropped: the checkpoint still points at it). The
    reader runs in an application context of its own, so whatever it reads or writes in the
    database (an OAuth token refresh) goes through its own session.
    """

    def __init__(self, pages):
        self._pages: queue.Queue = queue.Queue()
        self._stop = threading.Event()
        self._credit = threading.Semaphore(1)   # pages the reader may read beyond those asked for
        # The thread gets what it needs, not self: nothing else keeps this object alive.
        threading.Thread(target=_read_pages, name="sync-read-ahead", daemon=True,
                         args=(current_app._get_current_object(), pages, self._pages, self._credit,
                               self._stop)).start()

    def __iter__(self):
        return self

    def __next__(self):
        self._credit.release()
        kind, value = self._pages.get()
        if kind == "page":
            return value
        if kind == "end":
            raise StopIteration
        raise value

    def close(self) -> None:
        self._stop.set()


def _read_pages(app, pages, out: queue.Queue, credit: threading.Semaphore, stop: threading.Event) -> None:
    def asked() -> bool:
        while not stop.is_set():
            if credit.acquire(timeout=0.1):
                return True
        return False

    with app.app_context():
        try:
            while asked():
                try:
                    page = next(pages)
                except StopIteration:
                    out.put(("end", None))
                    return
                out.put(("page", page))
        except BaseException as exc:  # noqa: BLE001 - handed to the run, which decides
            out.put(("error", exc))
        finally:
            pages.close()
