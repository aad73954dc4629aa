"""The health badge, row by row of the spec's precedence table."""
from datetime import datetime, timedelta, timezone

import pytest

from connections.health import HEALTH_VALUES, derive_health

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)
STALE = timedelta(hours=48)


def health(status="connected", needs_reauth=False, is_syncing=False, last_run=None,
           last_synced_at=NOW - timedelta(hours=1), reference_time=NOW - timedelta(days=10)):
    return derive_health(status=status, needs_reauth=needs_reauth, is_syncing=is_syncing, last_run=last_run,
                         last_synced_at=last_synced_at, reference_time=reference_time, now=NOW, stale_after=STALE)


def run(status="completed", streams_failed=0, error_reason=None):
    return {"status": status, "streams_failed": streams_failed, "error_reason": error_reason}


def test_values_are_the_specs_in_precedence_order():
    assert HEALTH_VALUES == ("disconnected", "needs_reauth", "syncing", "rate_limited", "error", "degraded",
                             "stale", "healthy")


def test_disconnected_wins_over_everything():
    assert health(status="disconnected", needs_reauth=True, is_syncing=True,
                  last_run=run("failed", 2, "rate_limit")) == "disconnected"


def test_needs_reauth_wins_over_syncing_and_failures():
    assert health(status="error", needs_reauth=True, is_syncing=True, last_run=run("failed", 1, "auth")) == "needs_reauth"


def test_syncing_wins_over_a_failed_last_run():
    assert health(is_syncing=True, last_run=run("failed", 1, "rate_limit")) == "syncing"


def test_rate_limited_when_last_run_hit_the_limit():
    assert health(last_run=run("failed", 1, "rate_limit")) == "rate_limited"


def test_rate_limited_status_alone():
    assert health(status="rate_limited") == "rate_limited"


def test_error_status():
    assert health(status="error") == "error"


def test_error_when_last_run_failed_outright():
    assert health(last_run=run("failed", 0, "transient")) == "error"


def test_degraded_when_some_streams_failed():
    assert health(last_run=run("completed", streams_failed=1)) == "degraded"


def test_stale_after_48_hours_without_a_successful_sync():
    assert health(last_run=run(), last_synced_at=NOW - timedelta(hours=49)) == "stale"


def test_not_stale_just_under_the_threshold():
    assert health(last_run=run(), last_synced_at=NOW - timedelta(hours=47)) == "healthy"


def test_healthy_when_recent_and_clean():
    assert health(last_run=run()) == "healthy"


def test_never_run_connection_derives_from_status_alone():
    assert health(last_run=None, last_synced_at=None, reference_time=NOW - timedelta(minutes=5)) == "healthy"
    assert health(status="error", last_run=None, last_synced_at=None) == "error"


def test_never_synced_connection_goes_stale_from_when_it_connected():
    assert health(last_run=None, last_synced_at=None, reference_time=NOW - timedelta(days=3)) == "stale"


@pytest.mark.parametrize("status", ["pending", "paused"])
def test_pending_and_paused_follow_freshness(status):
    assert health(status=status, last_synced_at=None, reference_time=NOW - timedelta(hours=1)) == "healthy"


def test_a_run_refused_auth_before_the_last_reconnect_does_not_count():
    failed = {**run("failed", 1, "auth"), "finished_at": "2026-11-30T10:00:00Z"}
    reconnected = datetime(2026, 11, 30, 11, 0, tzinfo=timezone.utc)
    assert derive_health(status="connected", needs_reauth=False, is_syncing=False, last_run=failed,
                         last_synced_at=None, reference_time=reconnected, connected_at=reconnected,
                         now=NOW, stale_after=STALE) == "healthy"
    # the same run ending after the (re)connect still counts
    assert derive_health(status="connected", needs_reauth=False, is_syncing=False,
                         last_run={**failed, "finished_at": "2026-11-30T11:30:00Z"}, last_synced_at=None,
                         reference_time=reconnected, connected_at=reconnected, now=NOW, stale_after=STALE) == "error"


def test_other_failures_before_a_reconnect_still_count():
    reconnected = datetime(2026, 11, 30, 11, 0, tzinfo=timezone.utc)
    for last_run, expected in ((run("completed", 1), "degraded"), (run("failed", 0, "transient"), "error")):
        earlier = {**last_run, "finished_at": "2026-11-30T10:00:00Z"}
        assert derive_health(status="connected", needs_reauth=False, is_syncing=False, last_run=earlier,
                             last_synced_at=None, reference_time=reconnected, connected_at=reconnected,
                             now=NOW, stale_after=STALE) == expected
