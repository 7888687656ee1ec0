"""A synthetic week of a 2,000-team organisation, built as the frames ``load_week`` returns.

Deterministic and checkable by eye: 20 departments of 100 teams (``team-0001`` ...), every
team 60 to 89 last week and a few points either way this week, except fifteen risers
(``team-0001`` to ``-0015``: 50 → 71 ... 85) and fifteen fallers (``team-0016`` to ``-0030``:
50 → 29 ... 15), so the ten that rose most are ``team-0006`` to ``-0015`` and the ten that fell
most ``team-0021`` to ``-0030``. ``runbook-freshness`` newly fails for the 61 teams
``team-0100`` to ``-0160``; every third team is behind on one campaign; every team had incidents.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from oncall_readiness.report.insights import Figures, TeamInsights, WeekInsights
from oncall_readiness.report.weekly import ScorecardWeek

WEEK = dt.date(2026, 11, 16)
PREVIOUS = WEEK - dt.timedelta(days=7)
TEAMS = 2_000
DEPARTMENTS = 20
MOVERS = 15  # risers, then as many fallers
CHECKS = ("alert-definitions", "escalation-path", "rotation-sustainability", "runbook-freshness")
NEWLY_FAILING = range(100, 161)  # the teams whose runbook-freshness fails this week and passed last week
RISERS = [f"team-{i:04d}" for i in range(15, 5, -1)]  # the ten that rose most, most first
FALLERS = [f"team-{i:04d}" for i in range(30, 20, -1)]  # the ten that fell most, most first


def team_name(index: int) -> str:
    return f"team-{index:04d}"


def department_of(index: int) -> str:
    return f"dept-{(index - 1) // (TEAMS // DEPARTMENTS) + 1:02d}"


def scores(index: int) -> tuple[float, float]:
    """(last week, this week)."""
    if index <= MOVERS:
        return 50.0, 70.0 + index
    if index <= 2 * MOVERS:
        return 50.0, 30.0 - (index - MOVERS)
    before = 60.0 + index % 30
    return before, before + index % 7 - 3


def level_of(score: float) -> str:
    return "gold" if score >= 90 else "silver" if score >= 75 else "bronze" if score >= 50 else "none"


def scorecard(which: int) -> pd.DataFrame:
    rows = []
    for index in range(1, TEAMS + 1):
        score = scores(index)[which]
        failed = int(which == 1 and index in NEWLY_FAILING)
        rows.append(
            {
                "team": team_name(index),
                "score": score,
                "level": level_of(score),
                "passed": len(CHECKS) - failed,
                "warned": 0,
                "failed": failed,
                "unknown": 0,
            }
        )
    return pd.DataFrame(rows)


def results(which: int) -> pd.DataFrame:
    rows = []
    for index in range(1, TEAMS + 1):
        for check_id in CHECKS:
            failing = which == 1 and check_id == "runbook-freshness" and index in NEWLY_FAILING
            status = "fail" if failing else "pass"
            rows.append(
                {
                    "team": team_name(index),
                    "check_id": check_id,
                    "status": status,
                    "score": 0.0 if failing else 10.0,
                    "reason": "A runbook is stale." if failing else "Fine.",
                    "remediation": "Review the runbook." if failing else "No action needed.",
                }
            )
    return pd.DataFrame(rows)


def rollup(card: pd.DataFrame) -> pd.DataFrame:
    by_department = card.assign(group_name=[department_of(i) for i in range(1, TEAMS + 1)]).groupby("group_name")
    frame = by_department.agg(score=("score", "mean"), teams=("team", "size")).reset_index()
    frame["score"] = frame["score"].round(1)
    frame["level"] = [level_of(score) for score in frame["score"]]
    return frame.assign(group_type="department", parent=None, services=frame["teams"] * 5)


def registry() -> pd.DataFrame:
    teams = [
        {
            "team": team_name(i),
            "display_name": team_name(i),
            "email": f"{team_name(i)}@example.com",
            "parent": department_of(i),
            "type": "team",
        }
        for i in range(1, TEAMS + 1)
    ]
    departments = [
        {
            "team": f"dept-{d:02d}",
            "display_name": f"Department {d}",
            "email": None,
            "parent": None,
            "type": "department",
        }
        for d in range(1, DEPARTMENTS + 1)
    ]
    return pd.DataFrame(teams + departments)


def campaigns() -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "campaign_id": "runbooks-2026",
                "title": "Every runbook reviewed",
                "team": team_name(i),
                "meets": i % 3 != 0,
                "reason": "Two runbooks are not reviewed yet.",
                "start": dt.date(2026, 10, 1),
                "due": dt.date(2026, 12, 1),
            }
            for i in range(1, TEAMS + 1)
        ]
    )


def insights() -> WeekInsights:
    """Two incidents a week for every team, so the digest's incidents could list 2,000 teams."""
    weeks = [dt.date(2026, 10, 12) + dt.timedelta(days=7 * w) for w in range(5)]
    figures = Figures(incidents=2, high_urgency=1, interruptions={"sleep": 1, "off": 1, "business": 2})
    team = TeamInsights("", figures, figures, [], [], [(week, figures) for week in weeks])
    teams = {
        team_name(i): TeamInsights(team_name(i), figures, figures, [], [], team.weekly) for i in range(1, TEAMS + 1)
    }
    start = dt.datetime(2026, 11, 9, tzinfo=dt.UTC)
    return WeekInsights(WEEK, start, start + dt.timedelta(days=7), teams=teams, organisation=team)


def large_week() -> ScorecardWeek:
    before, now = scorecard(0), scorecard(1)
    slots = tuple(WEEK - dt.timedelta(days=7 * back) for back in range(7, -1, -1))
    history = pd.concat(
        [
            (before if slot < WEEK else now)[["team", "score", "level"]].assign(slot=slot, audit_date=slot)
            for slot in slots
        ]
    )
    findings = pd.DataFrame(columns=["team", "check_id", "subject", "outcome", "message"])
    return ScorecardWeek(
        week=WEEK,
        previous=PREVIOUS,
        scorecard=now,
        results=results(1),
        findings=findings,
        previous_scorecard=before,
        previous_results=results(0),
        previous_findings=findings,
        history=history,
        slots=slots,
        teams=registry(),
        insights=insights(),
        campaigns=campaigns(),
        rollup=rollup(now),
        previous_rollup=rollup(before),
    )
