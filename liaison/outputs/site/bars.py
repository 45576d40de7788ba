"""Bar charts as data for an SVG template: drawn at build time, readable without JavaScript.

The geometry (bar lengths, positions, ticks) is computed here; the template
``templates/site/chart.svg`` only draws what it is given.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Bar:
    label: str
    value: int
    x: float
    y: float
    width: float
    height: float
    highlight: bool  # drawn in the warning colour, e.g. a leader with no contact
    show_label: bool = True  # crowded axes label every few bars; the tooltip always names it


@dataclass(frozen=True)
class Chart:
    title: str
    description: str  # for screen readers and the SVG <desc>
    horizontal: bool
    width: int
    height: int
    bars: tuple[Bar, ...]
    ticks: tuple[tuple[float, int], ...]  # (position along the value axis, value)
    plot: tuple[float, float, float, float]  # x, y, width, height of the plotting area


def nice_ticks(maximum: int, count: int = 4) -> list[int]:
    """Round tick values from 0 to at least ``maximum``."""
    if maximum <= 0:
        return [0, 1]
    raw = maximum / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    step = max(1, int(step))
    return list(range(0, maximum + step, step))[: count + 2]


def horizontal_bars(title: str, items: list[tuple[str, int]], highlight_zero: bool = False) -> Chart:
    """One row per item, label on the left: for leaders and departments."""
    label_width, row, top, width = 190, 24, 8, 640
    plot_width = width - label_width - 50
    ticks = nice_ticks(max((v for _, v in items), default=0))
    scale = plot_width / ticks[-1]
    bars = tuple(
        Bar(label, value, label_width, top + n * row + 4, value * scale, row - 8, highlight_zero and value == 0)
        for n, (label, value) in enumerate(items)
    )
    height = top + row * max(len(items), 1) + 26
    description = "；".join(f"{label} {value}" for label, value in items)
    return Chart(
        title,
        description,
        True,
        width,
        height,
        bars,
        tuple((label_width + t * scale, t) for t in ticks),
        (label_width, top, plot_width, row * len(items)),
    )


def vertical_bars(title: str, items: list[tuple[str, int]]) -> Chart:
    """One column per item, labels below: for months."""
    left, top, width, height = 40, 22, 640, 230
    plot_width, plot_height = width - left - 10, height - top - 46
    ticks = nice_ticks(max((v for _, v in items), default=0))
    scale = plot_height / ticks[-1]
    step = plot_width / max(len(items), 1)
    every = max(1, -(-len(items) // 8))  # at most about eight labels, the last bar always labelled
    last = len(items) - 1
    bars = tuple(
        Bar(
            label,
            value,
            left + n * step + step * 0.15,
            top + plot_height - value * scale,
            step * 0.7,
            value * scale,
            False,
            (last - n) % every == 0,
        )
        for n, (label, value) in enumerate(items)
    )
    description = "；".join(f"{label} {value}" for label, value in items)
    return Chart(
        title,
        description,
        False,
        width,
        height,
        bars,
        tuple((top + plot_height - t * scale, t) for t in ticks),
        (left, top, plot_width, plot_height),
    )
