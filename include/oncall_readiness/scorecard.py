"""The scorecard: one score (0 to 100) and level per team from its check results.

Score: the weighted mean of the team's check scores (0 to 10, weights from checks.yaml),
scaled to 100, over the checks with a known outcome. ``unknown`` and ``waived`` checks
neither raise nor lower it: a team is never scored down for data we could not read; it is
marked ``fully_assessed = false`` instead.

Levels (the rubric, declared in ``schema.LEVEL_RULES``):

- ``gold``: score at least 90 and no failed check;
- ``silver``: score at least 75 and no failed check;
- ``bronze``: score at least 50;
- ``none``: below 50, or nothing could be assessed.

Levels may ask more of some services (``level_requirements`` in checks.yaml): a team that
owns a service the requirement selects (for example ``readiness/tier: "1"``) holds that
level, or a better one, only when its result of every ``must_pass`` check is ``pass`` (or
``waived``: an approved exception); otherwise it gets the next level down. For example, a
team owning a tier-1 service with a score of 95 and a ``warn`` on ``escalation-path`` is
``silver`` when gold asks tier-1 teams to pass ``escalation-path``.

Waived checks, like unknown ones, have no score; they are counted in ``waived``, not in
``passed``, ``warned``, ``failed`` or ``unknown``; the ``waivers`` table lists them.

The change over seven days (``score_change_7d``) compares with the audit closest to seven days
before (:func:`week_before`: 4 to 10 days before, so weekly audits that moved a day or two still
compare, and a daily one compares with exactly a week ago), not an audit of exactly that date.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable

import pandas as pd

from oncall_readiness import schema
from oncall_readiness.checks.catalogue import Catalogue, LevelRequirement, in_scope, load_catalogue
from oncall_readiness.frames import is_in

log = logging.getLogger(__name__)

SCORECARD_COLUMNS = list(schema.SCORECARD_COLUMNS)
WEEK = dt.timedelta(days=7)
# How far from exactly seven days before the audit compared with may be, either way.
WEEK_TOLERANCE = dt.timedelta(days=3)


def week_before(day: dt.date, audit_dates: Iterable[dt.date]) -> dt.date | None:
    """The audit date closest to seven days before ``day``, within ``WEEK_TOLERANCE``; None when none is.

    Ties (4 and 10 days before) go to the earlier date: the change then spans at least a week.
    """
    target = day - WEEK
    near = [other for other in set(audit_dates) if other < day and abs(other - target) <= WEEK_TOLERANCE]
    return min(near, key=lambda other: (abs(other - target), other)) if near else None


def compared_with(day: dt.date, audit_dates: Iterable[dt.date]) -> dt.date | None:
    """The audit a report compares ``day`` with: :func:`week_before`, else the latest earlier one (None: the first)."""
    dates = set(audit_dates)
    return week_before(day, dates) or max((other for other in dates if other < day), default=None)


def score_teams(
    results: pd.DataFrame,
    previous: pd.DataFrame | None = None,
    catalogue: Catalogue | None = None,
    services: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One scorecard row per team; ``previous``: the (team, score) of the audit about a week earlier (``week_before``).

    ``services`` (``registry_services``) lets the catalogue's level requirements see which
    teams own the services they select; without it no requirement applies.
    """
    catalogue = catalogue or load_catalogue()
    weights = {check_id: check.weight for check_id, check in catalogue.checks.items()}
    known = results[results["score"].notna()].assign(weight=lambda r: r["check_id"].map(weights).astype(float))
    weighted = (known["score"].astype(float) * known["weight"]).groupby(known["team"]).sum()
    score = (10 * weighted / known.groupby("team")["weight"].sum()).round(schema.SCORE_DECIMALS)
    counts = pd.crosstab(results["team"], results["status"]).reindex(columns=list(schema.STATUS_COUNTS), fill_value=0)
    card = pd.DataFrame({"team": results["team"].drop_duplicates()})
    card["score"] = card["team"].map(score).astype("Float64")
    card[list(schema.STATUS_COUNTS.values())] = counts.loc[card["team"]].to_numpy()
    card["level"] = [_level(s, f) for s, f in zip(card["score"], card["failed"], strict=True)]
    if services is not None:
        for requirement in catalogue.level_requirements:
            card["level"] = _capped(card, results, services, requirement)
    card["fully_assessed"] = card["unknown"] == 0
    before = previous.set_index("team")["score"] if previous is not None and len(previous) else pd.Series()
    card["score_change_7d"] = (card["score"] - card["team"].map(before).astype("Float64")).round(schema.SCORE_DECIMALS)
    return card[SCORECARD_COLUMNS].sort_values("team", ignore_index=True)


def _capped(
    card: pd.DataFrame, results: pd.DataFrame, services: pd.DataFrame, requirement: LevelRequirement
) -> list[str]:
    """Each team's level: below ``requirement.level`` where it owns a selected service and misses a check."""
    owners = set(services.loc[in_scope(services, requirement.services), "team"].dropna())
    asked = results[results["check_id"].isin(requirement.must_pass) & is_in(results["team"], owners)]
    missing = asked[~asked["status"].isin(("pass", "waived"))].groupby("team")["check_id"].agg(", ".join)
    order = list(schema.LEVELS)
    ceiling = order[order.index(requirement.level) + 1]
    levels = []
    for team, level in zip(card["team"], card["level"], strict=True):
        if team in missing.index and order.index(level) < order.index(ceiling):
            log.info(
                "%s: %s, not %s: it owns a service %s asks to pass %s",
                team,
                ceiling,
                level,
                requirement.level,
                missing[team],
            )
            level = ceiling
        levels.append(level)
    return levels


def _level(score: float, failed: int) -> str:
    if pd.isna(score):
        return schema.NO_LEVEL
    for rule in schema.LEVEL_RULES:
        if score >= rule.min_score and (rule.allows_failures or failed == 0):
            return rule.level
    return schema.NO_LEVEL
