"""Run results summarised per stream for display."""
from sync.models import SyncRun
from sync.service import stream_summary


def test_channels_are_summed_per_stream_and_failures_named():
    run = SyncRun(stream_results={
        "_estimates": {"issues:a/x": 3},
        "repositories": {"stream": "repositories", "channel": None, "status": "completed", "created": 2},
        **{f"issues:a/r{i}": {"stream": "issues", "channel": f"a/r{i}", "status": "completed", "created": 1,
                              "unchanged": 2} for i in range(5)},
        "issues:a/bad": {"stream": "issues", "channel": "a/bad", "status": "failed", "error_reason": "transient",
                         "error": "GitHub answered 502."},
    })
    rows = {row["stream"]: row for row in stream_summary(run)}
    assert set(rows) == {"repositories", "issues"}
    assert rows["repositories"]["channel"] is None and rows["repositories"]["created"] == 2
    issues = rows["issues"]
    assert (issues["created"], issues["unchanged"], issues["status"]) == (5, 10, "failed")
    assert issues["channel"] == "1 of 6 failed: a/bad" and issues["error"] == "GitHub answered 502."
