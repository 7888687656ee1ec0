"""Trend charts for the weekly emails, as PNG bytes (matplotlib's Agg canvas, no pyplot, no display).

Scores, levels, and incidents with their interruptions.

The same data gives the same bytes: no timestamp or software version is written into the PNG.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Hashable, Mapping, Sequence

from matplotlib.axes import Axes
from matplotlib.axis import Axis
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from oncall_readiness import schema

LEVEL_COLOURS = {"gold": "#d4a017", "silver": "#9aa4ae", "bronze": "#b0703c", "none": "#cf222e"}
INTERRUPTION_COLOURS = {"sleep": "#3e1f8c", "off": "#8250df", "business": "#c8b6f2"}
PNG_METADATA = {"Software": None}  # keeps the bytes identical across runs
SIZE_INCHES = (6.0, 2.4)
DPI = 100


def score_trend_png(weeks: Sequence[dt.date], scores: Sequence[float | None]) -> bytes:
    """A team's weekly scores (0 to 100) as a line with the level floors; ``None`` leaves a gap."""
    figure = _figure()
    axes = figure.add_subplot()
    for rule in schema.LEVEL_RULES:
        level, floor = rule.level, rule.min_score
        axes.axhline(floor, color=LEVEL_COLOURS[level], linewidth=0.8, linestyle="--")
        axes.annotate(
            level,
            (1.0, floor),
            xycoords=("axes fraction", "data"),
            xytext=(3, -3),
            textcoords="offset points",
            fontsize=7,
            color=LEVEL_COLOURS[level],
        )
    positions = range(len(weeks))
    values = [float("nan") if score is None else float(score) for score in scores]
    axes.plot(positions, values, marker="o", color="#0969da", linewidth=2)
    axes.set_ylim(-5, 105)
    axes.set_ylabel("score")
    _week_axis(axes, weeks)
    return _png(figure)


def level_distribution_png(weeks: Sequence[dt.date], counts: Sequence[Mapping[Hashable, int]]) -> bytes:
    """How many teams held each level, week by week, as stacked bars (gold on top)."""
    figure = _figure()
    axes = figure.add_subplot()
    positions = list(range(len(weeks)))
    bottoms = [0] * len(weeks)
    for level in ("none", "bronze", "silver", "gold"):
        heights = [week.get(level, 0) for week in counts]
        axes.bar(positions, heights, bottom=bottoms, color=LEVEL_COLOURS[level], label=level, width=0.6)
        bottoms = [bottom + height for bottom, height in zip(bottoms, heights, strict=True)]
    axes.set_ylabel("teams")
    _whole_numbers(axes.yaxis)
    axes.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7, frameon=False, reverse=True)
    _week_axis(axes, weeks)
    return _png(figure)


def incident_weeks_png(
    weeks: Sequence[dt.date], interruptions: Sequence[Mapping[str, float]], incidents: Sequence[float]
) -> bytes:
    """Interruptions per week stacked by kind (sleep at the bottom), the week's incidents as a line above."""
    figure = _figure()
    axes = figure.add_subplot()
    positions = list(range(len(weeks)))
    bottoms = [0.0] * len(weeks)
    for kind in ("sleep", "off", "business"):
        heights = [float(week.get(kind, 0)) for week in interruptions]
        label = {"sleep": "sleep-hour", "off": "off-hour", "business": "business-hour"}[kind]
        axes.bar(positions, heights, bottom=bottoms, color=INTERRUPTION_COLOURS[kind], label=label, width=0.6)
        bottoms = [bottom + height for bottom, height in zip(bottoms, heights, strict=True)]
    axes.set_ylabel("interruptions")
    _whole_numbers(axes.yaxis)
    counts = axes.twinx()
    counts.plot(positions, [float(count) for count in incidents], marker="o", color="#cf222e", label="incidents")
    counts.set_ylabel("incidents", color="#cf222e")
    counts.set_ylim(bottom=0, top=max([*map(float, incidents), 1.0]) * 1.2)
    _whole_numbers(counts.yaxis)
    counts.spines[["top"]].set_visible(False)
    handles = [*axes.get_legend_handles_labels()[0], *counts.get_legend_handles_labels()[0]]
    axes.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.12, 1.0), fontsize=7, frameon=False)
    _week_axis(axes, weeks)
    return _png(figure)


def _figure() -> Figure:
    figure = Figure(figsize=SIZE_INCHES, dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _whole_numbers(axis: Axis) -> None:
    """Ticks at whole numbers only (an axis's default locator, an AutoLocator, is a MaxNLocator)."""
    locator = axis.get_major_locator()
    if isinstance(locator, MaxNLocator):
        locator.set_params(integer=True)


def _week_axis(axes: Axes, weeks: Sequence[dt.date]) -> None:
    axes.set_xticks(range(len(weeks)), [f"{week.day} {week:%b}" for week in weeks], fontsize=8)
    axes.set_xlim(-0.5, max(len(weeks) - 0.5, 0.5))
    axes.spines[["top", "right"]].set_visible(False)
    axes.grid(axis="y", linewidth=0.3)


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata=PNG_METADATA)
    return buffer.getvalue()
