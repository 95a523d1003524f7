"""Plain server-rendered SVG charts: bars (energy per hour, day or month) and a line over time
(a session's power and energy). Pure: data in, markup out.

No script and no library: it scales with its container (``viewBox``, width 100%), so it fits a
375 px phone, and it prints as it is shown.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, tzinfo
from html import escape

WIDTH = 720
HEIGHT = 260
LEFT = 48
BOTTOM = 28
TOP = 26
RIGHT = 8
MAX_LABELS = 8


def nice_ceiling(value: float) -> float:
    """The smallest 1, 2, 2.5 or 5 x 10^n at or above ``value`` (the axis maximum)."""
    if value <= 0:
        return 1.0
    magnitude = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return 10 * magnitude


def _number(value: float) -> str:
    return f"{value:,.0f}" if value >= 10 else f"{value:,.1f}".rstrip("0").rstrip(".")


def _axes(css_class: str, title: str, unit: str, top: float) -> list[str]:
    """The opening of a chart: the titled SVG element, five grid lines from 0 to ``top`` with
    their values, and the unit above the value axis."""
    plot_h = HEIGHT - TOP - BOTTOM
    parts = [
        f'<svg class="{css_class}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(title)}" preserveAspectRatio="xMidYMid meet" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
    ]
    for i in range(5):
        value = top * i / 4
        y = TOP + plot_h - plot_h * i / 4
        parts.append(
            f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text class="axis" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{_number(value)}</text>'
        )
    parts.append(
        f'<text class="axis unit" x="{LEFT - 6}" y="12" text-anchor="end">{escape(unit)}</text>'
    )
    return parts


def bar_chart(points: Sequence[tuple[str, float]], unit: str, title: str) -> str:
    """An SVG bar chart of ``points`` (label, value); an empty list gives an empty axis."""
    plot_w = WIDTH - LEFT - RIGHT
    plot_h = HEIGHT - TOP - BOTTOM
    top = nice_ceiling(max((value for _, value in points), default=0))
    parts = _axes("bar-chart", title, unit, top)
    count = len(points)
    if count:
        slot = plot_w / count
        bar_w = max(1.0, slot * 0.72)
        every = max(1, math.ceil(count / MAX_LABELS))
        for index, (label, value) in enumerate(points):
            h = plot_h * value / top
            x = LEFT + slot * index + (slot - bar_w) / 2
            y = TOP + plot_h - h
            parts.append(
                f'<rect class="chart-bar" x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}">'
                f"<title>{escape(label)}: {_number(value)} {escape(unit)}</title></rect>"
            )
            if index % every == 0:
                parts.append(
                    f'<text class="axis" x="{x + bar_w / 2:.1f}" y="{HEIGHT - 8}" '
                    f'text-anchor="middle">{escape(label)}</text>'
                )
    parts.append(
        f'<line class="baseline" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{TOP + plot_h}" y2="{TOP + plot_h}"/>'
    )
    parts.append("</svg>")
    return "".join(parts)


def line_chart(
    points: Sequence[tuple[datetime, float]],
    unit: str,
    title: str,
    zone: tzinfo,
    *,
    area: bool = False,
) -> str:
    """An SVG line chart of ``points`` (instant, value) over time, the time axis labelled in
    ``zone``; ``area`` fills below the line. Fewer than two points give an empty axis."""
    plot_w = WIDTH - LEFT - RIGHT
    plot_h = HEIGHT - TOP - BOTTOM
    top = nice_ceiling(max((value for _, value in points), default=0))
    parts = _axes("line-chart", title, unit, top)
    if len(points) >= 2 and points[-1][0] > points[0][0]:
        first, last = points[0][0], points[-1][0]
        span = (last - first).total_seconds()

        def x_of(moment: datetime) -> float:
            return LEFT + plot_w * (moment - first).total_seconds() / span

        def y_of(value: float) -> float:
            return TOP + plot_h - plot_h * max(0.0, value) / top

        coords = " ".join(f"{x_of(t):.1f},{y_of(v):.1f}" for t, v in points)
        if area:
            base = TOP + plot_h
            parts.append(
                f'<polygon class="chart-area" points="{x_of(first):.1f},{base} {coords} '
                f'{x_of(last):.1f},{base}"/>'
            )
        parts.append(f'<polyline class="chart-line" fill="none" points="{coords}"/>')
        several_days = last.astimezone(zone).date() != first.astimezone(zone).date()
        for i in range(5):
            moment = first + (last - first) * i / 4
            local = moment.astimezone(zone)
            label = f"{local:%d %b %H:%M}" if several_days else f"{local:%H:%M}"
            anchor = "start" if i == 0 else "end" if i == 4 else "middle"
            parts.append(
                f'<text class="axis" x="{x_of(moment):.1f}" y="{HEIGHT - 8}" '
                f'text-anchor="{anchor}">{escape(label)}</text>'
            )
    parts.append(
        f'<line class="baseline" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{TOP + plot_h}" y2="{TOP + plot_h}"/>'
    )
    parts.append("</svg>")
    return "".join(parts)
