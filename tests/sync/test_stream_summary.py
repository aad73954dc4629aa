"""Run results summarised per stream for display."""
from core.extensions import db
from sync.models import SyncRun, SyncRunUnit
from sync.service import stream_summary, unit_counts


def test_channels_are_summed_per_stream_and_failures_named(app, ctx, api):
    from connections.models import Connection
    from tests.factories import make_workspace

    workspace, _ = make_workspace("Summary")
    connection = Connection(workspace_id=workspace.id, connector_type="github", name="GitHub", status="connected",
                            scope="business")
    db.session.add(connection)
    db.session.flush()
    run = SyncRun(workspace_id=workspace.id, connection_id=connection.id, triggered_by="manual", mode="full")
    db.session.add(run)
    db.session.flush()
    units = [SyncRunUnit(run_id=run.id, position=0, stream="repositories", channel="", status="completed",
                         created=2)]
    units += [SyncRunUnit(run_id=run.id, position=1 + i, stream="issues", channel=f"a/r{i}", status="completed",
                          created=1, unchanged=2) for i in range(5)]
    units.append(SyncRunUnit(run_id=run.id, position=9, stream="issues", channel="a/bad", status="failed",
                             error_reason="transient", error_message="GitHub answered 502."))
    db.session.add_all(units)
    db.session.commit()
    rows = {row["stream"]: row for row in stream_summary(run)}
    assert set(rows) == {"repositories", "issues"}
    assert rows["repositories"]["channel"] is None and rows["repositories"]["created"] == 2
    issues = rows["issues"]
    assert (issues["created"], issues["unchanged"], issues["status"]) == (5, 10, "failed")
    assert issues["channel"] == "1 of 6 failed: a/bad" and issues["error"] == "GitHub answered 502."
    assert unit_counts(run) == {"units": 7, "streams": 2, "channels": 6}
