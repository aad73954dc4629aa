"""Executing one sync run.

A run walks every stream of its connection (or one channel's streams), page by page. Each
page's documents, its checkpoint and the run's progress commit in one transaction, so a run
killed anywhere resumes from its last stored page without losing or duplicating a document.
Cancellation is honoured at page boundaries. A full read that reaches the end deletes the
documents it did not see (never mid-run); an interrupted full read resumes on the next run.

Failures are bucketed as the spec's ``error_reason``: ``auth`` (the provider refused our
credentials: the connection turns needs_reauth, nothing synced is purged), ``rate_limit``
(the budget or the provider's quota is spent: the run ends, the checkpoint stays, the next
run resumes), ``transient`` (5xx, network), ``config`` and ``unknown``.
"""
from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import select, update

from audit.service import record
from connections import oauth
from connections.models import Connection
from connectors import registry
from connectors.base import SyncContext
from connectors.errors import InvalidCredentials, ProviderAuthError, ProviderError, ProviderRateLimited
from core.actor import system_actor
from core.errors import DomainError
from core.extensions import db
from core.timeutil import utcnow
from knowledge import embedding_queue, ingest

from .models import Channel, SyncRun, SyncState

log = logging.getLogger(__name__)

STAGES = ("queued", "listing_channels", "fetching_records", "detecting_deletions", "finalizing")


class Cancelled(Exception):
    pass


class RunAborted(Exception):
    """Stop the whole run (auth refused, rate limit spent)."""

    def __init__(self, reason: str, message: str, *, retry_after: float | None = None):
        super().__init__(message)
        self.reason, self.message, self.retry_after = reason, message, retry_after


@dataclass
class _Scope:
    stream: object  # connectors.base.Stream
    channel: str | None


def namespace_for(connector_type: str, stream_name: str) -> str:
    return f"{connector_type}_{stream_name}"


def execute(run_id: str) -> str:
    """Run ``run_id`` (already claimed: status running) to a terminal status; returns it."""
    run = db.session.get(SyncRun, run_id)
    connection = db.session.get(Connection, run.connection_id)
    try:
        connector = registry.get_connector(current_app.config, connection.connector_type)
    except DomainError as exc:
        return _finish(run, connection, "failed", reason="config", message=exc.message)
    if connection.status == "disconnected":
        return _finish(run, connection, "failed", reason="config", message="The connection is disconnected.")
    if connection.needs_reauth:
        return _finish(run, connection, "failed", reason="auth", message=connection.last_error
                       or "The provider refused the stored credentials; reconnect.")
    if not connector.implemented:
        return _finish(run, connection, "failed", reason="config", message="This connector cannot sync yet.")
    connection.status = "syncing"
    run.current_stage = "listing_channels"
    db.session.commit()

    ctx = _context(connection, connector, run)
    try:
        scopes = _scopes(ctx, connector, connection, run)
    except RunAborted as exc:
        return _finish(run, connection, "failed", reason=exc.reason, message=exc.message, retry_after=exc.retry_after)
    except Cancelled:
        return _finish(run, connection, "cancelled")
    except ProviderError as exc:
        return _finish(run, connection, "failed", reason="transient", message=exc.message)

    run.streams_total = len(scopes)
    db.session.commit()
    failed = 0
    for scope in scopes:
        try:
            _sync_scope(ctx, connector, connection, run, scope)
        except Cancelled:
            return _finish(run, connection, "cancelled")
        except RunAborted as exc:
            return _finish(run, connection, "failed", reason=exc.reason, message=exc.message,
                           retry_after=exc.retry_after, streams_failed=failed + 1)
        except Exception as exc:  # noqa: BLE001 - one stream failing must not stop the others
            db.session.rollback()
            failed += 1
            reason = "transient" if isinstance(exc, ProviderError) else "unknown"
            message = exc.message if isinstance(exc, DomainError) else f"{type(exc).__name__}: {exc}"
            if reason == "unknown":
                log.exception("stream %s of %s failed", scope.stream.name, connection.id)
            run = db.session.get(SyncRun, run_id)
            _stream_result(run, scope, status="failed", error_reason=reason, error=message)
            run.streams_failed = failed
            db.session.commit()
    if failed and failed == len(scopes):
        return _finish(run, connection, "failed", reason="transient", message="Every stream failed; see stream results.")
    return _finish(run, connection, "completed")


def _context(connection: Connection, connector, run: SyncRun) -> SyncContext:
    access_token = None
    if connector.catalog.auth_method == "oauth_redirect":
        connection_id = connection.id

        def access_token():
            return oauth.access_token(connection_id)

    limiter = None
    try:
        from connectors.ratelimit import RateLimiter

        limiter = RateLimiter.for_connection(connector.catalog.rate_limits, connection.settings or {},
                                            max_wait=float(current_app.config["SYNC_RATE_LIMIT_MAX_WAIT"]))
    except ImportError:  # pragma: no cover - the rate limiter lands with the provider client
        pass
    run_id = run.id
    return SyncContext(connection_id=connection.id, connector_type=connection.connector_type,
                       credentials=dict(connection.credentials or {}), settings=dict(connection.settings or {}),
                       handle=connection.handle, external_account_id=connection.external_account_id,
                       access_token=access_token, limiter=limiter, cancelled=lambda: _cancel_requested(run_id))


def _cancel_requested(run_id: str) -> bool:
    return db.session.scalar(select(SyncRun.cancel_requested_at).where(SyncRun.id == run_id)) is not None


def _guard(call):
    """Provider calls outside a page loop: translate the run-stopping errors."""
    try:
        return call()
    except (ProviderAuthError, InvalidCredentials) as exc:
        raise RunAborted("auth", exc.message) from None
    except ProviderRateLimited as exc:
        raise RunAborted("rate_limit", exc.message, retry_after=exc.retry_after) from None


def _scopes(ctx, connector, connection: Connection, run: SyncRun) -> list[_Scope]:
    scopes = []
    listed: dict[str, list[str]] = {}  # channels listed once per kind (repository), not per stream
    for stream in connector.catalog.streams:
        if stream.channel_kind is None:
            if run.channel is None:
                scopes.append(_Scope(stream, None))
            continue
        if stream.channel_kind not in listed:
            channels = _guard(lambda: connector.channels(ctx, stream))
            listed[stream.channel_kind] = _record_channels(connection, stream, channels)
        known = listed[stream.channel_kind]
        chosen = (connection.settings or {}).get("channels")  # the spec's settings.channels allow-list
        if chosen:
            known = [c for c in known if c in set(chosen)]
        for channel_id in known:
            if run.channel is None or run.channel == channel_id:
                scopes.append(_Scope(stream, channel_id))
        if ctx.cancelled():
            raise Cancelled()
    return scopes


def _record_channels(connection: Connection, stream, channels) -> list[str]:
    existing = {c.external_id: c for c in db.session.scalars(
        select(Channel).where(Channel.connection_id == connection.id))}
    for channel in channels:
        if channel.id not in existing:
            row = Channel(workspace_id=connection.workspace_id, connection_id=connection.id, external_id=channel.id,
                          name=channel.name, kind=stream.channel_kind)
            db.session.add(row)
            existing[channel.id] = row
        elif existing[channel.id].name != channel.name:
            existing[channel.id].name = channel.name
    db.session.commit()
    return [c.id for c in channels]


def _state_row(connection_id: str, stream: str, channel: str | None) -> SyncState:
    row = db.session.scalar(select(SyncState).where(SyncState.connection_id == connection_id,
                                                    SyncState.stream == stream,
                                                    SyncState.channel == (channel or "")))
    if row is None:
        row = SyncState(connection_id=connection_id, stream=stream, channel=channel or "")
        db.session.add(row)
        db.session.flush()
    return row


def _sync_scope(ctx, connector, connection: Connection, run: SyncRun, scope: _Scope) -> None:
    stream, channel = scope.stream, scope.channel
    state = _state_row(connection.id, stream.name, channel)
    full = run.mode == "full" or state.full_state is not None or state.full_generation is not None
    if full and state.full_generation is None:
        state.full_generation, state.full_state = run.id, None
    generation = state.full_generation if full else None
    start = state.full_state if full else state.state
    from knowledge.stores import default_store

    # Connector data lands in the workspace's default vector store, owned by the connection.
    target = ingest.Scope(workspace_id=connection.workspace_id, origin_id=connection.id,
                          namespace=namespace_for(connection.connector_type, stream.name),
                          source=connection.connector_type, connection_id=connection.id, channel=channel,
                          vector_store_id=default_store(connection.workspace_id).id)
    totals = ingest.IngestResult()
    run.current_stage, run.current_stream = "fetching_records", stream.name
    _estimate_from_history(run, scope, full)
    db.session.commit()
    last_state = start
    # The next page is read while this one is stored (see _ReadAhead).
    pages = _ReadAhead(connector.read(ctx, stream, state=start, mode="full" if full else "incremental",
                                      channel=channel))
    try:
        while True:
            try:
                page = next(pages)
            except StopIteration:
                break
            except (ProviderAuthError, InvalidCredentials) as exc:
                db.session.rollback()
                if connector.catalog.auth_method != "handle":
                    oauth.mark_needs_reauth(db.session.get(Connection, connection.id),
                                            "The provider refused the stored credentials during a sync; reconnect.")
                raise RunAborted("auth", exc.message) from None
            except ProviderRateLimited as exc:
                db.session.rollback()
                raise RunAborted("rate_limit", exc.message, retry_after=exc.retry_after) from None
            docs, failing = [], 0
            for record_ in page.records:
                try:
                    docs.append(connector.to_document(stream, record_))
                except Exception:  # noqa: BLE001 - one unreadable record must not sink the page
                    failing += 1
                    run.error_item_id = str(record_.get("id") or "")[:200] or run.error_item_id
                    log.warning("could not map a %s record of %s", stream.name, connection.id, exc_info=True)
            result = ingest.upsert(target, docs, generation=generation)
            totals.add(result)
            if full:
                state.full_state = page.state
            else:
                state.state = page.state
            last_state = page.state
            state.updated_at = utcnow()
            _progress(run, len(page.records), failing, result, page.total_estimate, scope)
            db.session.commit()
            if result.created or result.updated:
                embedding_queue.wake()  # the index worker cuts the new documents into chunks
            if ctx.cancelled():
                raise Cancelled()
    finally:
        pages.close()
    if full:
        run.current_stage = "detecting_deletions"
        deleted = ingest.delete_unseen(target, generation)
        totals.deleted += deleted
        run.documents_deleted += deleted
        run.records_written += deleted
        state.state = last_state  # the end of a full read is where the next incremental starts
        state.full_state, state.full_generation, state.last_full_at = None, None, utcnow()
    elif _prune_due(state):
        pruned = _guard(lambda: _prune(ctx, connector, stream, channel, target))
        if pruned is not None:
            totals.deleted += pruned
            run.documents_deleted += pruned
            run.records_written += pruned
            state.last_prune_at = utcnow()
    if channel is not None:
        db.session.execute(update(Channel).where(Channel.connection_id == connection.id,
                                                 Channel.external_id == channel).values(last_sync_at=utcnow()))
    _stream_result(run, scope, status="completed", created=totals.created, updated=totals.updated,
                   unchanged=totals.unchanged, deleted=totals.deleted)
    db.session.commit()


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


def _estimate_from_history(run: SyncRun, scope: _Scope, full: bool) -> None:
    """Most providers do not say how many records a stream holds: estimate a scope's size by
    what the last completed run of the same mode read there, until a page says otherwise."""
    key = scope.stream.name if scope.channel is None else f"{scope.stream.name}:{scope.channel}"
    previous = db.session.scalars(select(SyncRun.stream_results).where(
        SyncRun.connection_id == run.connection_id, SyncRun.status == "completed",
        SyncRun.mode == ("full" if full else "incremental"), SyncRun.id != run.id)
        .order_by(SyncRun.created_at.desc()).limit(1)).first()
    result = (previous or {}).get(key)
    if not result:
        return
    seen = sum(result.get(k) or 0 for k in ("created", "updated", "unchanged"))
    estimates = dict((run.stream_results or {}).get("_estimates", {}))
    estimates[f"{scope.stream.name}:{scope.channel or ''}"] = max(seen, 1)
    run.stream_results = {**(run.stream_results or {}), "_estimates": estimates}
    run.progress_total = sum(estimates.values())


def _prune_due(state: SyncState) -> bool:
    interval = timedelta(minutes=float(current_app.config["PRUNE_INTERVAL_MINUTES"]))
    last = state.last_prune_at or state.last_full_at
    return last is None or utcnow() - last >= interval


def _prune(ctx, connector, stream, channel, target) -> int | None:
    """The light prune pass: ids the provider no longer lists leave the store. A failed or
    unsupported listing deletes nothing (None) and is tried again next time."""
    try:
        ids = connector.list_ids(ctx, stream, channel)
        if ids is None:
            return None
        current = set(ids)  # the whole listing first: a partial one must never delete
    except (ProviderAuthError, InvalidCredentials, ProviderRateLimited):
        raise
    except Exception:  # noqa: BLE001 - pruning is best effort; the sync itself succeeded
        log.warning("prune listing of %s failed", stream.name, exc_info=True)
        return None
    return ingest.keep_only(target, current)


def _progress(run: SyncRun, processed: int, failing: int, result: ingest.IngestResult, estimate, scope) -> None:
    now = utcnow()
    run.progress_processed += processed
    run.progress_failing += failing
    run.documents_created += result.created
    run.documents_updated += result.updated
    run.documents_unchanged += result.unchanged
    run.records_written += result.written
    if estimate is not None:
        key = f"{scope.stream.name}:{scope.channel or ''}"
        estimates = dict((run.stream_results or {}).get("_estimates", {}))
        estimates[key] = estimate
        run.stream_results = {**(run.stream_results or {}), "_estimates": estimates}
        run.progress_total = sum(estimates.values())
    run.heartbeat_at = now


def _stream_result(run: SyncRun, scope: _Scope, **fields) -> None:
    key = scope.stream.name if scope.channel is None else f"{scope.stream.name}:{scope.channel}"
    results = dict(run.stream_results or {})
    results[key] = {"stream": scope.stream.name, "channel": scope.channel, **fields}
    run.stream_results = results


def _finish(run: SyncRun, connection: Connection, status: str, *, reason: str | None = None,
            message: str | None = None, retry_after: float | None = None,
            streams_failed: int | None = None) -> str:
    db.session.rollback()  # drop a half-done page: the last committed checkpoint stands
    run = db.session.get(SyncRun, run.id)
    connection = db.session.get(Connection, connection.id)
    now = utcnow()
    if streams_failed is not None:
        run.streams_failed = streams_failed
    run.status, run.finished_at, run.current_stage = status, now, "finalizing"
    run.error_reason, run.error_message = reason, message
    run.retry_after = int(retry_after) if retry_after else None
    if status == "completed":
        connection.last_synced_at = now
        if connection.status in ("syncing", "error", "rate_limited", "pending"):
            connection.status = "connected"
        connection.last_error = None
    elif status == "failed":
        if connection.status != "disconnected":
            connection.status = "rate_limited" if reason == "rate_limit" else "error"
        connection.last_error = message
    elif connection.status == "syncing":
        connection.status = "connected"
    record(system_actor(connection.workspace_id), f"sync.{status}", target_type="connection",
           target_id=connection.id, outcome="failure" if status == "failed" else "success",
           details={"sync_run_id": run.id, "mode": run.mode, "records_written": run.records_written,
                    "error_reason": reason})
    db.session.commit()
    return status


def stale_after() -> timedelta:
    return timedelta(seconds=float(current_app.config["SYNC_HEARTBEAT_TIMEOUT"]))
