"""Charts drawn on the server as SVG (no script, no CDN, readable without JavaScript):
this module turns a series into coordinates; templates/reports/_line_chart.html draws
them, and every chart is followed by its table."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

WIDTH, HEIGHT = 720, 220
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 12, 28
LABELS = {"sent": "Sent", "open": "Opens", "click": "Clicks", "bounced": "Bounces", "delivered": "Delivered"}


@dataclass
class LineChart:
    width: int
    height: int
    series: list[dict[str, Any]]
    x_ticks: list[dict[str, Any]]
    y_ticks: list[dict[str, Any]]
    plot: dict[str, int]
    empty: bool


def _nice_max(value: int) -> int:
    """The y axis top: 1, 2 or 5 times a power of ten, at or above `value`."""
    if value <= 0:
        return 1
    magnitude = 1
    while magnitude * 10 <= value:
        magnitude *= 10
    for step in (1, 2, 5, 10):
        if step * magnitude >= value:
            return step * magnitude
    return 10 * magnitude


def line_chart(series: dict[str, Any], *, width: int = WIDTH, height: int = HEIGHT) -> LineChart:
    """Coordinates of one polyline per metric of `series` (selectors.series), the x axis
    in time order with at most eight labels, the y axis from 0 to a round top."""
    points, metrics = series["points"], series["metrics"]
    plot = {"x": LEFT, "y": TOP, "w": width - LEFT - RIGHT, "h": height - TOP - BOTTOM}
    top = _nice_max(max((p[m] for p in points for m in metrics), default=0))
    count = len(points)

    def x(i: int) -> float:
        return round(plot["x"] + (plot["w"] * i / (count - 1) if count > 1 else plot["w"] / 2), 1)

    def y(v: int) -> float:
        return round(plot["y"] + plot["h"] - plot["h"] * v / top, 1)

    drawn = [{"metric": m, "label": LABELS.get(m, m), "total": sum(p[m] for p in points),
              "points": " ".join(f"{x(i)},{y(p[m])}" for i, p in enumerate(points))} for m in metrics]
    fmt = "%d %b" if series["step"] == "day" else "%d %b %H:00"
    every = max(1, -(-count // 8))
    x_ticks = [{"x": x(i), "label": p["at"].strftime(fmt)} for i, p in enumerate(points) if i % every == 0]
    y_ticks = [{"y": y(v), "label": f"{v:,}"} for v in (0, top // 2, top)] if top > 1 else [
        {"y": y(0), "label": "0"}, {"y": y(1), "label": "1"}]
    return LineChart(width, height, drawn, x_ticks, y_ticks, plot, empty=not points)
