"""Small bar charts of the Usage page, drawn on the server as SVG geometry (no script, no
library): one bar per bucket of a usage series, a round top for the axis, the first and last
bucket's dates under it, and a sentence that says what the chart shows for screen readers."""
from __future__ import annotations

from datetime import datetime

from .run_chart import nice_ceiling

WIDTH, HEIGHT = 480, 140
LEFT, RIGHT, TOP, BOTTOM = 44, 8, 10, 26


def _label(start: str, bucket: str) -> str:
    moment = datetime.fromisoformat(start.replace("Z", "+00:00"))
    return f"{moment:%H:00}" if bucket == "hour" else f"{moment.day} {moment:%b}"


def bar_chart(series: list[dict], *, bucket: str, noun: tuple[str, str]) -> dict:
    """Geometry for ``series`` (``[{"start", "value"}]``, oldest first); ``noun``: what a value
    counts, singular and plural."""

    def counted(value) -> str:
        return f"{value:,} {noun[0] if value == 1 else noun[1]}"

    values = [point["value"] for point in series]
    top = nice_ceiling(max(values, default=0))
    top = int(top) if float(top).is_integer() else top
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    base = TOP + plot_h
    slot = plot_w / max(len(series), 1)
    bar_w = max(1.0, slot * 0.7)
    bars = []
    for index, point in enumerate(series):
        value = point["value"]
        height = 0.0 if value <= 0 else max(1.5, plot_h * value / top)
        bars.append({"x": round(LEFT + slot * index + (slot - bar_w) / 2, 1), "y": round(base - height, 1),
                     "w": round(bar_w, 1), "h": round(height, 1),
                     "title": f"{_label(point['start'], bucket)}: {counted(value)}"})
    total = sum(values)
    busiest = max(series, key=lambda p: p["value"]) if series and total else None
    summary = (f"{counted(total)} in {len(series)} {bucket}s"
               + (f"; the most, {busiest['value']:,}, {'at' if bucket == 'hour' else 'on'} "
                  f"{_label(busiest['start'], bucket)}." if busiest else "."))
    return {"width": WIDTH, "height": HEIGHT, "left": LEFT, "right": WIDTH - RIGHT, "top": TOP, "base": base,
            "axis_top": f"{top:,}", "bars": bars, "summary": summary,
            "first": _label(series[0]["start"], bucket) if series else "",
            "last": _label(series[-1]["start"], bucket) if series else ""}
