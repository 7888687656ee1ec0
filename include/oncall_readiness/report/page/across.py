"""The scorecard page's views across teams: the team × check heatmap, each check across teams, what a
team needs for the next level, and each team against an earlier audit.

Pure: rows arrive as dicts from :mod:`~oncall_readiness.report.page.queries`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from oncall_readiness import schema
from oncall_readiness.checks.catalogue import Catalogue, in_scope
from oncall_readiness.report.page.views import (
    CheckSummary,
    CheckTimeline,
    Comparison,
    HeatCell,
    NextLevel,
    date_of,
    optional_float,
)
from oncall_readiness.scorecard import compared_with


def check_columns(rows: Iterable[Mapping[str, Any]], catalogue: Catalogue) -> list[tuple[str, str]]:
    """The checks that gave results, in the catalogue's order (then any other, by id), with their titles."""
    present = {row["check_id"] for row in rows}
    order = [check_id for check_id in catalogue.checks if check_id in present]
    order += sorted(present - set(order))
    return [
        (check_id, catalogue.checks[check_id].title if check_id in catalogue.checks else check_id) for check_id in order
    ]


def heat_cells(rows: Iterable[Mapping[str, Any]], columns: list[tuple[str, str]]) -> dict[str, list[HeatCell]]:
    """Per team, one cell per column: its status and reason for that check (None where it has no result)."""
    by_team: dict[str, dict[str, Mapping[str, Any]]] = {}
    for row in rows:
        by_team.setdefault(row["team"], {})[row["check_id"]] = row
    return {
        team: [
            HeatCell(check_id, found[check_id]["status"], found[check_id]["reason"])
            if check_id in found
            else HeatCell(check_id, None, None)
            for check_id, _ in columns
        ]
        for team, found in by_team.items()
    }


def check_summaries(rows: Iterable[Mapping[str, Any]], columns: list[tuple[str, str]]) -> list[CheckSummary]:
    """Each check across the teams, the one failing most teams first (then warning, then unknown)."""
    by_check: dict[str, list[Mapping[str, Any]]] = {}
    for row in rows:
        by_check.setdefault(row["check_id"], []).append(row)
    summaries = []
    for check_id, title in columns:
        results = by_check.get(check_id, [])
        counts = {status: sum(1 for row in results if row["status"] == status) for status in schema.STATUSES}
        behind = sorted(
            ((row["team"], row["status"]) for row in results if row["status"] != "pass"),
            key=lambda pair: (schema.severity(pair[1]), pair[0].casefold()),
        )
        summaries.append(CheckSummary(check_id, title, counts, behind))
    return sorted(summaries, key=lambda s: (-s.counts["fail"], -s.counts["warn"], -s.counts["unknown"], s.check_id))


def next_level(
    level: str,
    score: float | None,
    statuses: Mapping[str, str],
    catalogue: Catalogue,
    owned: pd.DataFrame | None,
) -> NextLevel | None:
    """What the team needs for the level above its own, rule by rule; None at the top level.

    The rules are the rubric's (``schema.LEVEL_RULES``: a least score, no failed check) and the
    catalogue's ``level_requirements`` for the services the team owns (``owned``: its rows of
    ``registry_services``; None when the audit did not keep them, then those are not listed).
    """
    rank = schema.level_rank(level)
    above = [rule for rule in schema.LEVEL_RULES if schema.level_rank(rule.level) == rank + 1]
    if not above:
        return None
    rule = above[0]
    titles = {check_id: check.title for check_id, check in catalogue.checks.items()}
    needs = []
    if score is None:
        needs.append("a score: every check is unknown or waived, so none could be scored")
    elif score < rule.min_score:
        needs.append(f"a score of at least {rule.min_score:g} (now {score:.1f}, {rule.min_score - score:.1f} to go)")
    failed = sorted(check_id for check_id, status in statuses.items() if status == "fail")
    if failed and not rule.allows_failures:
        needs.append(f"no failed check (now {len(failed)}: {', '.join(titles.get(c, c) for c in failed)})")
    for requirement in catalogue.level_requirements:
        if schema.level_rank(requirement.level) != rank + 1 or owned is None or owned.empty:
            continue
        if not in_scope(owned, requirement.services).any():
            continue
        # As the scorecard caps levels: a check without a result for the team asks nothing of it.
        missing = [c for c in requirement.must_pass if statuses.get(c) not in (None, "pass", "waived")]
        if missing:
            selector = ", ".join(f"{key} {'/'.join(values)}" for key, values in requirement.services.items())
            named = ", ".join(titles.get(c, c) for c in missing)
            needs.append(f"pass {named}: it owns a service of {selector}, which {requirement.level} asks to pass them")
    return NextLevel(rule.level, needs)


def comparisons(day: dt.date, history: Iterable[Mapping[str, Any]]) -> dict[str, Comparison]:
    """Per team, its audit of ``day`` against the one ``compared_with`` picks (a week before, else the previous).

    ``history``: scorecard rows (team, audit_date, score, level, unknown) of ``day`` and earlier dates.
    """
    rows: dict[str, dict[dt.date, Mapping[str, Any]]] = {}
    for row in history:
        rows.setdefault(row["team"], {})[date_of(row["audit_date"])] = row
    compared = {}
    for team, by_date in rows.items():
        now = by_date.get(day)
        since = compared_with(day, by_date)
        if now is None or since is None:
            continue
        then = by_date[since]
        score_now, score_then = optional_float(now["score"]), optional_float(then["score"])
        change = None if score_now is None or score_then is None else round(score_now - score_then, 1)
        unknown_on = tuple(d for d in (since, day) if int(by_date[d]["unknown"] or 0))
        compared[team] = Comparison(
            since=since,
            change=change,
            level_before=then["level"] or schema.NO_LEVEL,
            level_now=now["level"] or schema.NO_LEVEL,
            unknown_on=unknown_on,
        )
    return compared


def unknown_by_date(history: Iterable[Mapping[str, Any]]) -> dict[str, dict[dt.date, int]]:
    """Per team, its count of unknown checks on each audit date (the trend marks those dates)."""
    counts: dict[str, dict[dt.date, int]] = {}
    for row in history:
        counts.setdefault(row["team"], {})[date_of(row["audit_date"])] = int(row["unknown"] or 0)
    return counts


def team_groups(parents: Mapping[str, str | None], groups: Mapping[str, str | None]) -> dict[str, tuple[str, ...]]:
    """Per team, its parent groups nearest first: its own parent, that group's parent, and so on.

    ``parents``: team -> parent group (``registry_teams``); ``groups``: group -> its parent (``scorecard_rollup``).
    """
    chains = {}
    for team, parent in parents.items():
        chain: list[str] = []
        while parent and parent not in chain and len(chain) < 64:  # a cycle or a runaway tree stops here
            chain.append(parent)
            parent = groups.get(parent)
        chains[team] = tuple(chain)
    return chains


def check_timeline(
    rows: Iterable[Mapping[str, Any]], dates: list[dt.date], unknown_dates: set[dt.date], catalogue: Catalogue
) -> CheckTimeline:
    """A team's check results per audit date (``dates`` oldest first), a row per check in the catalogue's order."""
    found: dict[tuple[str, dt.date], Mapping[str, Any]] = {}
    listed = list(rows)
    for row in listed:
        found[(row["check_id"], date_of(row["audit_date"]))] = row
    timeline_rows = []
    for check_id, title in check_columns(listed, catalogue):
        cells = [
            HeatCell(check_id, found[(check_id, day)]["status"], found[(check_id, day)]["reason"])
            if (check_id, day) in found
            else HeatCell(check_id, None, None)
            for day in dates
        ]
        timeline_rows.append((check_id, title, cells))
    return CheckTimeline(dates=dates, unknown_dates=unknown_dates, rows=timeline_rows)
