"""The derived ``health`` badge (specs/connecting-data-sources.md, "Connection health").

Precedence, first match wins: disconnected, needs_reauth, syncing, rate_limited, error,
degraded, stale, healthy.

Two cases the spec leaves open, decided here:

* A connection that has never synced successfully measures freshness from when it was
  connected (or created): just connected is ``healthy``; connected two days ago and never
  synced is ``stale``.
* ``paused`` and ``pending`` connections fall through to the freshness rule like
  ``connected`` ones: nothing is wrong with them, they are only as fresh as their data.
* A run that failed on the credentials (``error_reason`` ``auth``) and ended before the
  connection was last (re)connected does not count: the reconnect replaced what it failed on,
  so a connection reconnected after its token was refused is not ``error`` because of the
  refusal. (``connected_at`` is when it was last connected. Other failures still count: a
  reconnect does not fix a missing channel or a provider outage.)
"""
from datetime import datetime, timedelta

HEALTH_VALUES = ("disconnected", "needs_reauth", "syncing", "rate_limited", "error", "degraded",
                 "stale", "healthy")


def derive_health(*, status: str, needs_reauth: bool, is_syncing: bool, last_run: dict | None,
                  last_synced_at: datetime | None, reference_time: datetime | None,
                  now: datetime, stale_after: timedelta, connected_at: datetime | None = None) -> str:
    if last_run and last_run.get("error_reason") == "auth" and connected_at is not None \
            and _ended_before(last_run, connected_at):
        last_run = None
    if status == "disconnected":
        return "disconnected"
    if needs_reauth:
        return "needs_reauth"
    if is_syncing:
        return "syncing"
    if status == "rate_limited" or (last_run and last_run.get("error_reason") == "rate_limit"):
        return "rate_limited"
    if status == "error" or (last_run and last_run.get("status") == "failed"):
        return "error"
    if last_run and last_run.get("streams_failed", 0) > 0:
        return "degraded"
    fresh_since = last_synced_at or reference_time
    if fresh_since is not None and now - fresh_since > stale_after:
        return "stale"
    return "healthy"


def health_sql(connection, last_run, *, is_syncing, now: datetime, stale_after: timedelta):
    """The same rule as ``derive_health``, as one SQL expression, so the inventory can filter and
    count by health in the database instead of loading every connection.

    ``connection`` is the connections table (or an alias), ``last_run`` the sync_runs alias
    joined as each connection's most recent run (outer join: its columns are NULL without one),
    ``is_syncing`` a boolean expression (a run of the connection is running). Kept beside
    ``derive_health`` on purpose: a test checks the two agree on every combination that matters.
    """
    from sqlalchemy import and_, case, func, literal, not_, or_

    from core.types import UTCDateTime

    # A run refused on the credentials before the last (re)connect does not count (see above);
    # every term is non-NULL so a connection without runs falls through as in derive_health.
    counts = not_(and_(func.coalesce(last_run.c.error_reason, "") == "auth", last_run.c.finished_at.isnot(None),
                       connection.c.connected_at.isnot(None), last_run.c.finished_at < connection.c.connected_at))
    fresh_since = func.coalesce(connection.c.last_synced_at, connection.c.connected_at, connection.c.created_at)
    stale_before = literal(now - stale_after, UTCDateTime())
    return case(
        (connection.c.status == "disconnected", "disconnected"),
        (connection.c.needs_reauth.is_(True), "needs_reauth"),
        (is_syncing, "syncing"),
        (or_(connection.c.status == "rate_limited", last_run.c.error_reason == "rate_limit"), "rate_limited"),
        (or_(connection.c.status == "error", and_(counts, last_run.c.status == "failed")), "error"),
        (and_(counts, func.coalesce(last_run.c.streams_failed, 0) > 0), "degraded"),
        (fresh_since < stale_before, "stale"),
        else_="healthy",
    )


def _ended_before(run: dict, moment: datetime) -> bool:
    finished = run.get("finished_at")
    if not finished:
        return False
    if isinstance(finished, str):
        finished = datetime.fromisoformat(finished.replace("Z", "+00:00"))
    return finished < moment
