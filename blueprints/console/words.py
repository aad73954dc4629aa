"""The console's words for the codes the domain stores: one mapping, used by every template through
the ``words`` filter (``{{ run.status|words('run') }}``), so a page never shows ``skipped_locked``,
``needs_reauth`` or ``rate_limit`` while the API keeps answering with the codes.

Each kind lists every value its domain declares (``tests/console/test_words.py`` checks that, so
a new status cannot reach a page as a raw code). Words are lower case, as the badges show them.
"""
from actions.models import RUN_STATUSES as ACTION_STATUSES
from connections.health import HEALTH_VALUES
from connections.models import STATUSES as CONNECTION_STATUSES
from sync.engine import STAGES
from sync.models import ERROR_REASONS, MODES, RUN_STATUSES, TRIGGERS, UNIT_STATUSES

from . import bp

WORDS: dict[str, dict[str, str]] = {
    # a connection's lifecycle status (pending: an authorization under way)
    "connection": {"pending": "authorizing", "connected": "connected", "syncing": "syncing", "error": "error",
                   "paused": "paused", "disconnected": "disconnected", "rate_limited": "rate limited"},
    # the derived health badge
    "health": {"disconnected": "disconnected", "needs_reauth": "needs reconnecting", "syncing": "syncing",
               "rate_limited": "rate limited", "error": "error", "degraded": "degraded", "stale": "stale",
               "healthy": "healthy"},
    # a sync run
    "run": {"pending": "queued", "running": "running", "completed": "completed", "failed": "failed",
            "cancelled": "cancelled", "skipped_locked": "skipped"},
    # one stream (summed over its channels) of a run
    "stream": {"pending": "waiting", "running": "running", "completed": "completed", "failed": "failed"},
    "trigger": {"connect": "on connect", "manual": "manual", "schedule": "scheduled", "api": "API"},
    "mode": {"incremental": "incremental", "full": "full", "permissions": "permissions only"},
    # why a run (or a stream of it) failed
    "error_reason": {"auth": "credentials refused", "rate_limit": "rate limited", "transient": "provider error",
                     "config": "setting refused", "unknown": "unexpected error"},
    # the sync engine's stage of a run in flight
    "stage": {"queued": "Queued, waiting for a worker", "listing_channels": "Listing channels",
              "fetching_records": "Fetching records", "detecting_deletions": "Detecting deletions",
              "finalizing": "Finalizing"},
    # an action's execution
    "action": {"pending_approval": "pending approval", "rejected": "rejected", "running": "running",
               "succeeded": "succeeded", "failed": "failed", "unknown": "outcome unknown"},
}

# What a word alone leaves open, for a tooltip (and the chart's legend).
HINTS: dict[str, dict[str, str]] = {
    "run": {"skipped_locked": "another run was in progress"},
}

# The values each kind must cover: what the domain declares.
DECLARED = {"connection": CONNECTION_STATUSES, "health": HEALTH_VALUES, "run": RUN_STATUSES,
            "stream": UNIT_STATUSES, "trigger": TRIGGERS, "mode": MODES, "error_reason": ERROR_REASONS,
            "stage": STAGES, "action": ACTION_STATUSES}


@bp.app_template_filter("words")
def words(code: str | None, kind: str) -> str:
    """The console's words for a stored code of this kind (``kind`` is a key of WORDS). A value
    no kind lists yet still reads as words, its underscores spaced."""
    if code is None:
        return ""
    return WORDS[kind].get(code) or str(code).replace("_", " ")


@bp.app_template_filter("hint")
def hint(code: str | None, kind: str) -> str:
    """What the word for this code leaves open ('' when nothing does), for a title attribute."""
    return HINTS.get(kind, {}).get(code, "")
