"""Honest progress: a run's expected total is estimated before anything is read and moves with
what is known, and a running run never reads 100 %."""
from sync.engine import _progress_total
from sync.models import SyncRun, SyncRunUnit
from sync.service import progress


def unit(stream, channel="", status="pending", read=0, estimate=None):
    return SyncRunUnit(stream=stream, channel=channel, status=status, records_read=read, estimate=estimate)


def test_estimates_cover_every_unit_before_it_is_read():
    run = SyncRun(status="running", progress_processed=0)
    _progress_total(run, [unit("leads", estimate=25), unit("deals", estimate=300), unit("activities", estimate=75)])
    assert run.progress_total == 400 and run.progress_estimated is True


def test_units_without_an_estimate_count_as_the_mean_of_finished_units_of_their_stream():
    run = SyncRun(status="running", progress_processed=0)
    units = [unit("issues", "a/1", "completed", read=40), unit("issues", "a/2", "completed", read=60),
             unit("issues", "a/3", "running", read=10), unit("issues", "a/4"), unit("comments", "a/1")]
    _progress_total(run, units)
    # issues: 40 + 60 + max(50, 10) + 50; comments: nothing of its stream finished, so the mean
    # of every finished unit (50)
    assert run.progress_total == 40 + 60 + 50 + 50 + 50


def test_nothing_known_is_an_unknown_total_not_a_zero():
    run = SyncRun(status="running", progress_processed=0)
    _progress_total(run, [unit("leads", status="running", read=0), unit("deals")])
    assert run.progress_total is None


def test_a_unit_reading_past_its_estimate_raises_the_total():
    run = SyncRun(status="running", progress_processed=150)
    _progress_total(run, [unit("deals", status="running", read=150, estimate=100), unit("leads", estimate=50)])
    assert run.progress_total == 200


def test_a_running_run_never_reads_100_and_a_finished_one_is_exact():
    run = SyncRun(status="running", progress_processed=400, progress_total=400, progress_estimated=True)
    assert progress(run)["percentage"] == 99 and progress(run)["estimated"] is True
    units = [unit("leads", status="completed", read=150), unit("deals", status="completed", read=250)]
    run.status = "completed"
    _progress_total(run, units)
    run.progress_estimated = False
    assert progress(run) | {"estimated_completion": None} == progress(run)
    assert (progress(run)["percentage"], progress(run)["total"], progress(run)["estimated"]) == (100, 400, False)
