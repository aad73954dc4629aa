"""The run-history chart of a connection, drawn on the server as SVG geometry (no script).

Per run, two bars side by side: the records the run *read* from the provider and the records it
*wrote* (created, changed or deleted). A full sync that re-reads 1,830 unchanged records reads
1,830 and writes 0: both are true, and only the pair says so. Under each pair a mark tells the
run's outcome (completed, failed, cancelled, skipped), by shape as well as colour. A line plots
durations against the right axis.

The axis stays honest with few runs: the chart always has CHART_RUNS slots and fills them from
the right (latest run at the right edge), so one run is one pair at the right, not a lone bar
in the middle of an empty plot that the "oldest … latest" labels would misdescribe. Bars of zero
are drawn as zero (the outcome mark is what keeps a run visible), and the left axis is labelled
at its top, its middle (when that is a whole number of records) and 0.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timezone

from sync.models import TERMINAL_STATUSES

from .words import hint, words

CHART_RUNS = 20  # slots of the wide chart: the latest runs that have ended
IN_FLIGHT_RUNS = {"pending", "running"}

# run status -> what the legend and tooltips say: the console's word, and what it leaves open
OUTCOMES = {status: words(status, "run") + (f" ({hint(status, 'run')})" if hint(status, "run") else "")
            for status in TERMINAL_STATUSES}



@dataclass(frozen=True)
class Layout:
    """A viewBox and its margins (axis labels left and right, outcome marks and dates below)."""

    slots: int
    width: int
    height: int
    left: int
    right: int
    top: int = 12
    bottom: int = 46
    min_label_runs: int = 10  # the oldest run's date is written from this many runs on


# The desktop chart, and a compact one for phones (the latest runs only, in a viewBox about the
# size it is drawn at, so its labels stay readable): the page shows one or the other (app.css).
WIDE = Layout(slots=CHART_RUNS, width=960, height=180, left=64, right=64)
COMPACT = Layout(slots=8, width=360, height=200, left=48, right=44, min_label_runs=99)


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 x 10^n at or above value: a round top for a chart axis."""
    if value <= 0:
        return 1
    base = 10 ** math.floor(math.log10(value))
    return next(step * base for step in (1, 2, 2.5, 5, 10) if step * base >= value)


def duration_axis(longest: float) -> tuple[float, str]:
    """The top of the duration axis, in seconds, and its label: a round number of seconds up to a
    minute, then of minutes, then of hours ("50 s", "2.5 min", "2 h"), so the label stays short
    enough to fit beside the plot (100 s was "1 min 40 s", cut off at the card's edge)."""
    for unit, word in ((1, "s"), (60, "min"), (3600, "h")):
        top = nice_ceiling(longest / unit)
        if top <= 60 or unit == 3600:
            return top * unit, f"{top:g} {word}"


def _when(moment) -> str:
    if moment is None:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    moment = moment.astimezone(timezone.utc)
    return f"{moment.day} {moment:%b %H:%M}"


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}{'' if number == 1 else 's'}"


def run_chart(runs: list, *, seconds_of, duration, layout: Layout = WIDE) -> dict | None:
    """Geometry of the chart for ``runs`` (SyncRun, newest first); None when none has ended.

    ``seconds_of(run)`` is how long a run took (None if it never started) and ``duration(s)``
    words a number of seconds, as the history table shows them.
    """
    shown = list(reversed([run for run in runs if run.status not in IN_FLIGHT_RUNS][:layout.slots]))
    if not shown:
        return None
    width, height = layout.width, layout.height
    left, right, top, bottom = layout.left, layout.right, layout.top, layout.bottom
    plot_w, plot_h, base = width - left - right, height - top - bottom, height - bottom
    slot = plot_w / layout.slots
    first_slot = layout.slots - len(shown)
    bar_w = min(14.0, slot * 0.34)
    read = [run.progress_processed or 0 for run in shown]
    written = [run.records_written or 0 for run in shown]
    seconds = [seconds_of(run) for run in shown]
    known = [s for s in seconds if s is not None]
    records_top = math.ceil(nice_ceiling(max(read + written)))  # records are whole: no 2.5 at the top
    seconds_top, seconds_label = duration_axis(max(known)) if known else (0, None)

    def bar_height(value):
        # Anything above zero stays visible (1.5 px); zero is drawn as zero.
        return 0.0 if value <= 0 else max(1.5, plot_h * value / records_top)

    marks, points = [], []
    for index, run in enumerate(shown):
        center = left + slot * (first_slot + index) + slot / 2
        took = duration(seconds[index]) if seconds[index] is not None else "did not start"
        outcome = OUTCOMES.get(run.status, run.status)
        title = (f"{_when(run.started_at or run.created_at)} UTC · {words(run.mode, 'mode')} · {outcome} · "
                 f"{read[index]:,} read · {written[index]:,} written · {took}")
        read_h, written_h = bar_height(read[index]), bar_height(written[index])
        marks.append({
            "status": run.status, "outcome": outcome, "title": title, "cx": round(center, 1),
            "read": {"x": round(center - bar_w - 1, 1), "y": round(base - read_h, 1), "w": round(bar_w, 1),
                     "h": round(read_h, 1), "value": read[index]},
            "written": {"x": round(center + 1, 1), "y": round(base - written_h, 1), "w": round(bar_w, 1),
                        "h": round(written_h, 1), "value": written[index]},
            "mark_y": base + 12,
        })
        if seconds[index] is not None:
            points.append({"x": round(center, 1), "y": round(base - plot_h * seconds[index] / seconds_top, 1),
                           "title": title})

    counts = {status: sum(1 for run in shown if run.status == status) for status in OUTCOMES}
    outcome_words = ", ".join(f"{n} {OUTCOMES[s].split(' (')[0]}" for s, n in counts.items() if n)
    if len(shown) == 1:
        summary = (f"Chart of the last run ({OUTCOMES.get(shown[0].status, shown[0].status)}): "
                   f"{_count(read[0], 'record')} read, "
                   f"{written[0]:,} written" + (f", in {duration(known[0])}." if known else "."))
    else:
        summary = (f"Chart of the last {len(shown)} runs, oldest first: {outcome_words}. Records read per run range "
                   f"from {min(read):,} to {max(read):,} and written from {min(written):,} to {max(written):,}; "
                   f"the latest read {read[-1]:,} and wrote {written[-1]:,}.")
        if known:
            summary += f" Durations range from {duration(min(known))} to {duration(max(known))}."
    mid = records_top / 2
    first_x = left + slot * first_slot
    return {
        "width": width, "height": height, "left": left, "right": width - right, "top": top, "base": base,
        "mid_y": round(top + plot_h / 2, 1), "mid_label": f"{int(mid):,}" if mid == int(mid) and mid >= 1 else None,
        "records_top": records_top, "seconds_top": seconds_top if known else None, "seconds_label": seconds_label,
        "marks": marks, "points": points, "line": " ".join(f"{p['x']},{p['y']}" for p in points),
        "outcomes": [(status, OUTCOMES[status]) for status, n in counts.items() if n],
        # Dates under the axis: the oldest run shown (left-aligned at its slot) and the latest
        # (right-aligned at the plot's edge, where the latest run always is).
        "first_label": ({"x": round(first_x + 2, 1), "text": _when(shown[0].started_at or shown[0].created_at)}
                        if len(shown) >= layout.min_label_runs else None),  # fewer: it would meet the latest's
        "last_label": {"x": width - right, "text": "latest " + _when(shown[-1].started_at or shown[-1].created_at)},
        # The empty slots on the left are said to be empty, not left to look like a time axis.
        "empty": ({"x": round((left + first_x) / 2, 1), "y": round(top + plot_h / 2 + 4, 1), "text": "no earlier runs"}
                  if first_slot >= 3 else None),
        "summary": summary, "count": len(shown), "compact": layout is COMPACT,
    }
