"""The derived ``health`` badge (specs/connecting-data-sources.md, "Connection health").

Precedence, first match wins: disconnected, needs_reauth, syncing, rate_limited, error,
degraded, stale, healthy.

Two cases the spec leaves open, decided here:

* A connection that has never synced successfully measures freshness from when it was
  connected (or created): just connected is ``healthy``; connected two days ago and never
  synced is ``stale``.
* ``paused`` and ``pending`` connections fall through to the freshness rule like
  ``connected`` ones: nothing is wrong with them, they are only as fresh as their data.
"""
from datetime import datetime, timedelta

HEALTH_VALUES = ("disconnected", "needs_reauth", "syncing", "rate_limited", "error", "degraded",
                 "stale", "healthy")


def derive_health(*, status: str, needs_reauth: bool, is_syncing: bool, last_run: dict | None,
                  last_synced_at: datetime | None, reference_time: datetime | None,
                  now: datetime, stale_after: timedelta) -> str:
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
