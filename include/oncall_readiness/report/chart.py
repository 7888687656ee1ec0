"""Trend charts for the weekly emails, as PNG bytes (matplotlib's Agg canvas, no pyplot, no display).

Scores, levels, and incidents with their interruptions.

The same data gives the same bytes: no timestamp or software version is written into the PNG.
So a chart is drawn once per distinct input and kept (``CACHED_CHARTS`` of them): at 2,000
teams most trends and incident weeks repeat. A new one costs its drawing only, 20 to 35 ms
instead of 55 to 120: the figure of a week (axes, level lines, legend) is set up once and each
chart sets its line and bars on it; and the constrained layout, more than half of a drawing,
depends only on the decorations (week labels, the axes' limits and so their ticks, the legend),
never on the bars and lines inside, so charts whose decorations match take the positions found
for the first of them. Same positions, same pixels: the bytes are those of a figure drawn anew.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import threading
from collections.abc import Hashable, Mapping, Sequence
from typing import NamedTuple

from matplotlib import image
from matplotlib.axes import Axes
from matplotlib.axis import Axis
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.layout_engine import ConstrainedLayoutEngine
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle
from matplotlib.ticker import MaxNLocator
from matplotlib.transforms import Bbox

from oncall_readiness import schema

LEVEL_COLOURS = {"gold": "#d4a017", "silver": "#9aa4ae", "bronze": "#b0703c", "none": "#cf222e"}
INTERRUPTION_COLOURS = {"sleep": "#3e1f8c", "off": "#8250df", "business": "#c8b6f2"}
PNG_METADATA = {"Software": None}  # keeps the bytes identical across runs
SIZE_INCHES = (6.0, 2.4)
DPI = 100
CACHED_CHARTS = 1024  # distinct charts kept per process: 15 to 25 KB each, about 25 MB at most
INTERRUPTION_KINDS = ("sleep", "off", "business")
LAID_OUT_KEPT = 4096  # layouts kept: a few floats each

# (chart kind, weeks, every axes' limits) → the axes' positions the constrained layout found
_layouts: dict[Hashable, list[Bbox]] = {}
_drawing = threading.RLock()  # the figures of a week are shared: one chart drawn at a time


def score_trend_png(
    weeks: Sequence[dt.date], scores: Sequence[float | None], unknown: Sequence[bool] | None = None
) -> bytes:
    """A team's weekly scores (0 to 100) as a line with the level floors; ``None`` leaves a gap.

    ``unknown``: per week, whether that audit had unknown checks; such points are drawn hollow, as
    on the Readiness page, so a score that moved because data was missing does not read as the team's.
    """
    flags = tuple(bool(flag) for flag in unknown) if unknown is not None else (False,) * len(weeks)
    return _score_trend_png(tuple(weeks), tuple(None if score is None else float(score) for score in scores), flags)


@functools.lru_cache(maxsize=CACHED_CHARTS)
def _score_trend_png(weeks: tuple[dt.date, ...], scores: tuple[float | None, ...], unknown: tuple[bool, ...]) -> bytes:
    with _drawing:
        figure, line, gaps = _trend_figure(weeks)
        line.set_ydata([float("nan") if score is None else score for score in scores])
        marked = [score if flag and score is not None else None for score, flag in zip(scores, unknown, strict=True)]
        gaps.set_ydata([float("nan") if score is None else score for score in marked])
        return _png(figure, ("trend", weeks))


@functools.lru_cache(maxsize=4)
def _trend_figure(weeks: tuple[dt.date, ...]) -> tuple[Figure, Line2D, Line2D]:
    """The trend's figure for these weeks, every team's line drawn in turn on it.

    Everything but the line is the same for every team of a week, so it is set up once: a
    trend then costs its drawing only (``_drawing`` held: one figure, one thread at a time).
    """
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
    (line,) = axes.plot(range(len(weeks)), [float("nan")] * len(weeks), marker="o", color="#0969da", linewidth=2)
    # Weeks with unknown checks: a hollow marker over the point (the page's mark for a data gap).
    (gaps,) = axes.plot(
        range(len(weeks)),
        [float("nan")] * len(weeks),
        linestyle="none",
        marker="o",
        markersize=8,
        markerfacecolor="white",
        markeredgecolor="#8250df",
        markeredgewidth=1.6,
    )
    axes.set_ylim(-5, 105)
    axes.set_ylabel("score")
    _week_axis(axes, weeks)
    return figure, line, gaps


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
    return _png(figure, ("levels", tuple(weeks)))


def incident_weeks_png(
    weeks: Sequence[dt.date], interruptions: Sequence[Mapping[str, float]], incidents: Sequence[float]
) -> bytes:
    """Interruptions per week stacked by kind (sleep at the bottom), the week's incidents as a line above."""
    by_kind = tuple(tuple(float(week.get(kind, 0)) for kind in INTERRUPTION_KINDS) for week in interruptions)
    return _incident_weeks_png(tuple(weeks), by_kind, tuple(float(count) for count in incidents))


@functools.lru_cache(maxsize=CACHED_CHARTS)
def _incident_weeks_png(
    weeks: tuple[dt.date, ...], interruptions: tuple[tuple[float, ...], ...], incidents: tuple[float, ...]
) -> bytes:
    """``interruptions``: per week, the counts of ``INTERRUPTION_KINDS`` in that order."""
    with _drawing:
        return _draw_incident_weeks(weeks, interruptions, incidents)


def _draw_incident_weeks(
    weeks: tuple[dt.date, ...], interruptions: tuple[tuple[float, ...], ...], incidents: tuple[float, ...]
) -> bytes:
    """The week's incidents figure with this team's bars and line: the same pixels as a figure drawn anew."""
    chart = _incident_figure(weeks)
    bottoms = [0.0] * len(weeks)
    for column, rectangles in enumerate(chart.bars):
        heights = [week[column] for week in interruptions]
        for rectangle, bottom, height in zip(rectangles, bottoms, heights, strict=True):
            rectangle.set_y(bottom)
            rectangle.set_height(height)
            rectangle.sticky_edges.y[:] = [bottom]  # as bar() sets them: the autoscale stops at the bars' feet
        bottoms = [bottom + height for bottom, height in zip(bottoms, heights, strict=True)]
    chart.interruptions.relim()
    chart.interruptions.autoscale_view()
    chart.line.set_ydata(list(incidents))
    chart.incidents.set_ylim(bottom=0, top=max([*incidents, 1.0]) * 1.2)
    return _png(chart.figure, ("incidents", weeks))


class IncidentFigure(NamedTuple):
    figure: Figure
    interruptions: Axes  # the bars' axes, on the left
    incidents: Axes  # the line's axes, on the right
    bars: list[list[Rectangle]]  # per interruption kind, per week
    line: Line2D


@functools.lru_cache(maxsize=4)
def _incident_figure(weeks: tuple[dt.date, ...]) -> IncidentFigure:
    """The incidents chart's figure for these weeks: its bars (per kind, per week) and line take each team's figures.

    Set up once (the axes, the legend); each chart sets the bars' heights, the line and the
    limits, then draws (``_drawing`` held).
    """
    figure = _figure()
    axes = figure.add_subplot()
    positions = list(range(len(weeks)))
    zeros = [0.0] * len(weeks)
    bars = []
    for kind in INTERRUPTION_KINDS:
        label = {"sleep": "sleep-hour", "off": "off-hour", "business": "business-hour"}[kind]
        container = axes.bar(positions, zeros, bottom=zeros, color=INTERRUPTION_COLOURS[kind], label=label, width=0.6)
        bars.append(list(container.patches))
    axes.set_ylabel("interruptions")
    _whole_numbers(axes.yaxis)
    counts = axes.twinx()
    (line,) = counts.plot(positions, zeros, marker="o", color="#cf222e", label="incidents")
    counts.set_ylabel("incidents", color="#cf222e")
    _whole_numbers(counts.yaxis)
    counts.spines[["top"]].set_visible(False)
    handles = [*axes.get_legend_handles_labels()[0], *counts.get_legend_handles_labels()[0]]
    axes.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.12, 1.0), fontsize=7, frameon=False)
    _week_axis(axes, weeks)
    return IncidentFigure(figure, axes, counts, bars, line)


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


def _png(figure: Figure, chart: Hashable) -> bytes:
    """The figure drawn once and encoded: the bytes ``savefig`` writes, without its second pass (a third faster).

    ``chart``: what fixes the decorations besides the limits (the kind and the weeks); a layout
    found for the same decorations is reused instead of computed again.
    """
    key = (chart, tuple((axes.get_xlim(), axes.get_ylim()) for axes in figure.axes))
    positions = _layouts.get(key)
    if positions is not None:
        figure.set_layout_engine("none")
        for axes, position in zip(figure.axes, positions, strict=True):
            axes.set_position(position)
    else:
        # The layout starts from where the axes are (the legend outside them moves with them):
        # from the subplot's own place, as on a new figure, it finds the same positions.
        if not isinstance(figure.get_layout_engine(), ConstrainedLayoutEngine):
            figure.set_layout_engine("constrained")
        for axes in figure.axes:
            subplot = axes.get_subplotspec()
            if subplot is not None:
                axes.set_position(subplot.get_position(figure))
            axes.set_in_layout(True)
    figure.canvas.draw()
    if positions is None:
        if len(_layouts) >= LAID_OUT_KEPT:
            _layouts.clear()
        _layouts[key] = [axes.get_position() for axes in figure.axes]
    buffer = io.BytesIO()
    canvas = figure.canvas
    if not isinstance(canvas, FigureCanvasAgg):
        raise TypeError("the charts are drawn on an Agg canvas")
    pixels = canvas.buffer_rgba()  # type: ignore[no-untyped-call]  # matplotlib leaves it untyped
    # None drops a key PIL would write (as savefig's metadata does); the stubs allow only text
    image.imsave(buffer, pixels, format="png", origin="upper", dpi=figure.dpi, metadata=PNG_METADATA)  # type: ignore[arg-type]
    return buffer.getvalue()
