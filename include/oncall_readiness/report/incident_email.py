"""The weekly emails' "Last week's incidents": the insights of :mod:`.insights` as template context.

Both parts of a message (text and HTML) read the same rows, so they say the same. The team's
section names its most interrupted responders; the digest's holds teams only.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from oncall_readiness.report.insights import Figures, TeamInsights, WeekInsights


@dataclass(frozen=True)
class FigureRow:
    """One line of the figures table: this week, the previous four weeks' weekly average, the change."""

    label: str
    week: str
    baseline: str
    change: str
    worse: bool | None  # True when the change is for the worse (more incidents, slower), None when flat or unknown


def format_duration(seconds: float | None) -> str:
    """``45 s``, ``12 min``, ``3 h 05 min``, ``2 d 4 h``; an en dash when unknown."""
    if seconds is None:
        return "–"
    seconds = round(float(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 24 * 60:
        return f"{minutes // 60} h {minutes % 60:02d} min"
    hours = round(minutes / 60)
    return f"{hours // 24} d {hours % 24} h"


def format_losses(losses: dict[str, float], unpriced: float) -> str:
    """``GBP 12,400``, ``GBP 12,400 + 2 unpriced``, ``unknown: 3 unpriced``; never zero for unpriced incidents."""
    money = " + ".join(f"{currency} {amount:,.0f}" for currency, amount in sorted(losses.items()))
    if not unpriced:
        return money or "none"
    count = _whole(unpriced)
    plural = "" if count == "1" else "s"
    return f"{money} + {count} unpriced incident{plural}" if money else f"unknown: {count} unpriced incident{plural}"


def team_section(insights: WeekInsights | None, team: str, *, cid: str | None) -> dict[str, Any]:
    """The context of a team's section: ``available``/``unavailable``, rows, services, responders, chart.

    ``cid``: the inline chart's Content-ID; None for no chart (the Readiness page).
    """
    section = _base(insights)
    if insights is None or not section["available"]:
        return section
    team_insights = insights.team(team)
    if team_insights is None:
        return {**section, "quiet": True}
    alt = f"Incidents and interruptions of {team}, five weeks to {insights.end:%Y-%m-%d}"
    chart = _chart(team_insights, cid, alt) if cid else None
    return {**section, "quiet": False, **_details(team_insights), "chart": chart}


def digest_section(insights: WeekInsights | None, *, cid: str) -> dict[str, Any]:
    """The digest's section: the organisation's figures and one line per team, no person named."""
    section = _base(insights)
    if insights is None or not section["available"]:
        return section
    organisation = insights.organisation
    if organisation is None:
        raise ValueError("the insights of an available week lack the organisation's figures")
    teams = [
        {
            "team": row.team,
            "incidents": _number(row.week.incidents),
            "change": _change(row.change("incidents")),
            "high_urgency": _number(row.week.high_urgency),
            "mtta": format_duration(row.week.mtta_median),
            "mttr": format_duration(row.week.mttr_median),
            "sleep": _number(row.week.interruptions["sleep"]),
            "off": _number(row.week.interruptions["off"]),
            "business": _number(row.week.interruptions["business"]),
            "losses": format_losses(row.week.losses, row.week.unpriced),
            "noisiest": row.services[0].service if row.services else "–",
        }
        for row in insights.digest_rows()
    ]
    alt = f"Incidents and interruptions of every team, five weeks to {insights.end:%Y-%m-%d}"
    return {
        **section,
        "quiet": not organisation.week.incidents and not any(fig.incidents for _, fig in organisation.weekly),
        **_details(organisation),
        "responders": [],
        "teams": teams,
        "chart": _chart(organisation, cid, alt),
    }


def _base(insights: WeekInsights | None) -> dict[str, Any]:
    if insights is None:
        return {"available": False, "unavailable": "the incident insights were not read", "period": None}
    if not insights.available:
        return {"available": False, "unavailable": insights.unavailable, "period": None}
    if insights.start is None or insights.end is None:
        raise ValueError("the insights of an available week lack its start or end")
    last_day = insights.end - dt.timedelta(microseconds=1)
    period = f"{insights.start.day} {insights.start:%b} to {last_day.day} {last_day:%b %Y}"
    return {"available": True, "unavailable": None, "period": period}


def _details(insights: TeamInsights) -> dict[str, Any]:
    week, before = insights.week, insights.baseline
    return {
        "rows": _rows(insights),
        "still_open": week.still_open,
        "interruptions_unknown": week.interruptions_unknown,
        "unpriced": _whole(week.unpriced),
        "services": insights.services,
        "responders": insights.responders,
        "baseline_incidents": before.incidents,
    }


def _rows(insights: TeamInsights) -> list[FigureRow]:
    week, before = insights.week, insights.baseline
    rows = [
        _count_row("Incidents", insights, "incidents"),
        _count_row("High-urgency incidents", insights, "high_urgency"),
        _time_row("Time to acknowledge, median", insights, "mtta_median"),
        _time_row("Time to acknowledge, p90", insights, "mtta_p90"),
        _time_row("Time to resolve, median", insights, "mttr_median"),
        _time_row("Time to resolve, p90", insights, "mttr_p90"),
        _count_row("Sleep-hour interruptions", insights, "interruptions_sleep"),
        _count_row("Off-hour interruptions", insights, "interruptions_off"),
        _count_row("Business-hour interruptions", insights, "interruptions_business"),
    ]
    loss_change = insights.change("losses") if not week.unpriced and not before.unpriced else None
    currency = next(iter(week.losses or before.losses), "")
    rows.append(
        FigureRow(
            "Estimated loss",
            format_losses(week.losses, week.unpriced),
            format_losses(before.losses, before.unpriced),
            _change(loss_change, prefix=f"{currency} " if currency else ""),
            None if not loss_change else loss_change > 0,
        )
    )
    return rows


def _count_row(label: str, insights: TeamInsights, name: str) -> FigureRow:
    change = insights.change(name)
    now = insights.week.total_interruptions if name == "interruptions" else _value(insights.week, name)
    return FigureRow(label, _number(now), _number(_value(insights.baseline, name)), _change(change), _worse(change))


def _time_row(label: str, insights: TeamInsights, name: str) -> FigureRow:
    change = insights.change(name)
    text = "–" if change is None else ("±0" if round(change) == 0 else ("+" if change > 0 else "-"))
    if change is not None and round(change) != 0:
        text += format_duration(abs(change))
    return FigureRow(
        label,
        format_duration(getattr(insights.week, name)),
        format_duration(getattr(insights.baseline, name)),
        text,
        _worse(change),
    )


def _value(figures: Figures, name: str) -> float:
    if name.startswith("interruptions_"):
        return figures.interruptions[name.removeprefix("interruptions_")]
    value: float = getattr(figures, name)
    return value


def _worse(change: float | None) -> bool | None:
    return None if change is None or round(change, 1) == 0 else change > 0


def _change(change: float | None, *, prefix: str = "") -> str:
    if change is None:
        return "–"
    if round(change, 1) == 0:
        return "±0"
    sign = "+" if change > 0 else "-"
    amount = f"{abs(change):,.0f}" if prefix else _number(abs(change))
    return f"{sign}{prefix}{amount}"


def _whole(count: float) -> str:
    """A count of incidents as a whole number: a weekly average rounds, and is never 0 when some were."""
    return "0" if not count else str(max(1, round(count)))


def _number(value: float | None) -> str:
    """``3``, ``2.5`` (averages keep one decimal); an en dash when unknown."""
    if value is None:
        return "–"
    return f"{float(value):.1f}".removesuffix(".0")


def _chart(insights: TeamInsights, cid: str, alt: str) -> dict[str, Any]:
    from oncall_readiness.report.chart import incident_weeks_png  # matplotlib: only when an email is built

    weeks = [start for start, _ in insights.weekly]
    png = incident_weeks_png(
        weeks, [figures.interruptions for _, figures in insights.weekly], [f.incidents for _, f in insights.weekly]
    )
    return {"png": png, "cid": cid, "alt": alt}
