"""A week of the scorecard, read from the warehouse: this week's audit, the one it is compared with, the trend.

Which week a run of the weekly emails covers: the Monday-to-Sunday week, in the DAG's
timezone, that holds the run's data interval end (a manual run without a logical date: its
``run_after``), named by its Monday (:func:`week_covered`). Its emails report one audit
(:func:`week_to_send`): the one the send ledger already holds deliveries of for that week,
else the latest audit on or before the Monday. So every run of a week (the scheduled one, a
retry, a manual trigger on Thursday after newer daily audits) reports the same audit, and
the ledger, keyed on it, sends nothing twice.

The week's audit is the scorecard being reported (its ``audit_date`` names the week). It is
compared with the audit the Readiness page compares it with (``scorecard.compared_with``: the
one closest to seven days earlier, 4 to 10 days, else the latest earlier one).
The trend has one point per week for the last ``HISTORY_WEEKS`` weeks: each the latest
audit within that seven-day slot, a gap where there is none.

What changed is listed worst first: regressions, then changes that are neither better nor
worse (a check that became ``unknown``, a new check), then improvements.

The week also carries last week's incident insights (:mod:`.insights`), read from the same audit.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast
from zoneinfo import ZoneInfo

import pandas as pd
import sqlalchemy as sa

from oncall_readiness import schema
from oncall_readiness.report import reviews
from oncall_readiness.report.insights import WeekInsights, load_insights
from oncall_readiness.scorecard import compared_with
from oncall_readiness.warehouse import Warehouse

log = logging.getLogger(__name__)

HISTORY_WEEKS = 8
SEND_WEEKDAY = 0  # Monday: the day of the DAG's schedule, on which a week of emails starts
# Higher is better; statuses without a rank (unknown, waived) are neither better nor worse.
STATUS_RANK = {"fail": 0, "warn": 1, "pass": 2}
DIRECTIONS = ("regressed", "changed", "improved")


@dataclass(frozen=True)
class ScorecardWeek:
    """Everything the weekly emails say, for every team at once."""

    week: dt.date  # audit_date of the scorecard being sent
    previous: dt.date | None  # the audit compared with
    scorecard: pd.DataFrame  # team, score, level, passed, warned, failed, unknown
    results: pd.DataFrame  # team, check_id, status, score, reason, remediation
    findings: pd.DataFrame  # team, check_id, subject, outcome, message
    previous_scorecard: pd.DataFrame
    previous_results: pd.DataFrame
    previous_findings: pd.DataFrame
    history: pd.DataFrame  # slot (date), audit_date, team, score, level: one row per team and weekly slot
    slots: tuple[dt.date, ...]  # the weekly slots of the trend, oldest first
    teams: pd.DataFrame  # team, display_name, email, parent, type: the registry's groups of the week
    insights: WeekInsights | None = None  # last week's incidents (report.insights); None: not read
    campaigns: pd.DataFrame | None = None  # the week's campaign_progress (campaign_id, title, team, meets, ...)
    waivers: pd.DataFrame | None = None  # the week's waivers table (team, check_id, subject, expires, active, ...)
    rollup: pd.DataFrame | None = None  # the week's scorecard_rollup (group_name, score, level, teams, ...)
    previous_rollup: pd.DataFrame | None = None  # the roll-up of the audit compared with (the digest's changes)
    # post-incident-review's tables of the week (report.reviews); None when the warehouse has none.
    incident_reviews: pd.DataFrame | None = None
    action_items: pd.DataFrame | None = None
    incidents: pd.DataFrame | None = None


@dataclass(frozen=True)
class Change:
    """One thing that differs from the previous audit, for one team."""

    kind: str  # level, check or finding
    check_id: str | None
    subject: str | None
    before: str | None
    after: str | None
    direction: str  # regressed, changed or improved

    @property
    def description(self) -> str:
        what = {"level": "Level", "check": f"Check {self.check_id}", "finding": f"{self.subject} ({self.check_id})"}
        if self.before is None:
            return f"{what[self.kind]}: new, {self.after}"
        if self.after is None:
            return f"{what[self.kind]}: no longer flagged (was {self.before})"
        return f"{what[self.kind]}: {self.before} → {self.after}"


@dataclass(frozen=True)
class TeamRows:
    """One team's rows of a week, as records of plain values (missing ones None)."""

    card: dict[str, Any] | None
    previous_card: dict[str, Any] | None
    results: list[dict[str, Any]]
    previous_results: list[dict[str, Any]]
    findings: list[dict[str, Any]]
    previous_findings: list[dict[str, Any]]
    trend: dict[dt.date, Any]  # weekly slot → the team's score in it
    # weekly slots whose audit had unknown checks (the chart marks them: a data gap, not the team)
    unknown_slots: frozenset[dt.date] = frozenset()


class WeekByTeam:
    """A week's rows split by team once, so a team's email reads its own rows instead of filtering the week's frames.

    Filtering the frames team by team cost about 20 ms a team (40 s at 2,000 teams); splitting
    them once costs about a second in all.
    """

    FRAMES = ("scorecard", "previous_scorecard", "results", "previous_results", "findings", "previous_findings")

    def __init__(self, scorecard_week: ScorecardWeek) -> None:
        self._split = {name: split_by_team(getattr(scorecard_week, name)) for name in self.FRAMES}
        self._trends: dict[str, dict[dt.date, Any]] = {}
        self._unknown: dict[str, set[dt.date]] = {}
        history = scorecard_week.history
        unknown = history["unknown"] if "unknown" in history else pd.Series(0, index=history.index)
        for row in split_records(history[["team", "slot", "score"]].assign(unknown=unknown)):
            self._trends.setdefault(row["team"], {})[row["slot"]] = row["score"]
            if row["unknown"] is not None and row["unknown"] == row["unknown"] and int(row["unknown"]):
                self._unknown.setdefault(row["team"], set()).add(row["slot"])
        self.ranked = score_changes(scorecard_week)  # team, score, level, previous_score, change
        changes = split_records(self.ranked[["team", "change"]])
        self.score_change: dict[str, float | None] = {row["team"]: row["change"] for row in changes}
        self.campaigns = split_by_team(scorecard_week.campaigns)
        waivers = scorecard_week.waivers
        self.waivers: dict[str, pd.DataFrame] = (
            {}
            if waivers is None or waivers.empty
            else {str(t): rows for t, rows in waivers.groupby("team", sort=False)}
        )
        registry = scorecard_week.teams
        self.display_names = _registry_column(registry, "display_name")
        self.addresses = _registry_column(registry, "email")
        # What we learned last week (the same in every email) and each team's Reviews due: once for the week.
        self.learned = reviews.learned_last_week(
            scorecard_week.incident_reviews, scorecard_week.incidents, scorecard_week.week, self.display_names
        )
        self.reviews_due = reviews.reviews_due(
            scorecard_week.incident_reviews, scorecard_week.action_items, scorecard_week.incidents
        )

    def rows(self, team: str) -> TeamRows:
        split = {name: self._split[name].get(team, []) for name in self.FRAMES}
        return TeamRows(
            card=next(iter(split["scorecard"]), None),
            previous_card=next(iter(split["previous_scorecard"]), None),
            results=split["results"],
            previous_results=split["previous_results"],
            findings=split["findings"],
            previous_findings=split["previous_findings"],
            trend=self._trends.get(team, {}),
            unknown_slots=frozenset(self._unknown.get(team, ())),
        )


def _registry_column(registry: pd.DataFrame, column: str) -> dict[str, Any]:
    """team → the registry's value (None when missing; a team named twice: its first row)."""
    if column not in registry:
        return {}
    by_team: dict[str, Any] = {}
    for row in split_records(registry[["team", column]]):
        by_team.setdefault(row["team"], row[column])
    return by_team


def split_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The frame's rows as dicts of plain Python values, NA, NaN and NaT as None (vectorised, not cell by cell)."""
    rows = frame.astype(object).where(frame.notna(), None).to_dict("records")
    return cast("list[dict[str, Any]]", rows)  # the columns are names


def split_by_team(frame: pd.DataFrame | None) -> dict[str, list[dict[str, Any]]]:
    """team → its rows (:func:`split_records`), in the frame's order."""
    by_team: dict[str, list[dict[str, Any]]] = {}
    if frame is None or frame.empty:
        return by_team
    for row in split_records(frame):
        by_team.setdefault(row["team"], []).append(row)
    return by_team


def audit_dates(warehouse: Warehouse, *, on_or_before: dt.date | None = None) -> list[dt.date]:
    """Every audit date with a published scorecard, oldest first."""
    table = warehouse.table("scorecard")
    query = sa.select(table.c.audit_date).distinct().order_by(table.c.audit_date)
    if on_or_before is not None:
        query = query.where(table.c.audit_date <= on_or_before)
    with warehouse.engine.connect() as conn:
        if not sa.inspect(conn).has_table("scorecard", schema=warehouse.schema):
            return []
        return [_as_date(row[0]) for row in conn.execute(query)]


def latest_week(warehouse: Warehouse, *, on_or_before: dt.date | None = None) -> dt.date:
    """The latest audit date on or before ``on_or_before`` (default today); LookupError when there is none."""
    on_or_before = on_or_before or dt.datetime.now(dt.UTC).date()  # a future audit is never the latest
    dates = audit_dates(warehouse, on_or_before=on_or_before)
    if not dates:
        raise LookupError(
            f"the warehouse holds no scorecard on or before {on_or_before}: run the readiness_audit DAG first"
        )
    return dates[-1]


def week_covered(moment: dt.datetime, timezone: str) -> dt.date:
    """The Monday starting the week (Monday to Sunday in ``timezone``) that holds ``moment``.

    ``moment`` is the run's data interval end, or ``run_after`` for a manual run without a
    logical date: the scheduled run at Monday 08:00 covers the week it opens, a manual run on
    Tuesday or Sunday covers that same week.
    """
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    day = moment.astimezone(ZoneInfo(timezone)).date()
    return day - dt.timedelta(days=(day.weekday() - SEND_WEEKDAY) % 7)


def week_to_send(warehouse: Warehouse, covered: dt.date) -> dt.date:
    """The audit the emails of the week starting ``covered`` report.

    The audit the send ledger already holds deliveries of for that week (an audit date after
    ``covered`` minus seven days, up to ``covered``), so a retry or a later run of the week
    finishes what was started instead of starting over with an audit published since; else
    the latest audit on or before ``covered`` (a warning when it is more than a day older).
    """
    from oncall_readiness.report.ledger import SendLedger

    started = SendLedger(warehouse).weeks(after=covered - dt.timedelta(days=7), up_to=covered)
    if started:
        log.info(
            "The emails of the week of %s report the audit of %s, which the send ledger holds", covered, started[-1]
        )
        return started[-1]
    week = latest_week(warehouse, on_or_before=covered)
    if (covered - week).days > 1:
        log.warning(
            "The latest audit on or before %s is from %s, %d days earlier: is readiness_audit running?",
            covered,
            week,
            (covered - week).days,
        )
    return week


def load_week(warehouse: Warehouse, week: dt.date | None = None) -> ScorecardWeek:
    """The scorecard of ``week`` (default: the latest), the audit it is compared with, and the trend."""
    dates = audit_dates(warehouse)
    week = week or latest_week(warehouse)
    if week not in dates:
        raise LookupError(f"the warehouse holds no scorecard for {week}")
    # The audit about a week before, else the latest before it: audits less than a week apart (a
    # backfill, a rerun) still have something to compare with, and "first week" means no audit before.
    previous = compared_with(week, dates)
    slots = weekly_slots(dates, week)
    slot_audits = {slot: audit for slot, audit in slots.items() if audit is not None}
    needed = sorted({week, *slot_audits.values(), *([previous] if previous else [])})
    scorecards = _rows(warehouse, "scorecard", needed)
    results = _rows(warehouse, "check_results", [day for day in (week, previous) if day])
    findings = _rows(warehouse, "findings", [day for day in (week, previous) if day])
    history = pd.DataFrame(
        [(slot, audit) for slot, audit in slot_audits.items()], columns=["slot", "audit_date"]
    ).merge(scorecards[["audit_date", "team", "score", "level", "unknown"]], on="audit_date")
    return ScorecardWeek(
        week=week,
        previous=previous,
        scorecard=_on(scorecards, week),
        results=_on(results, week),
        findings=_on(findings, week),
        previous_scorecard=_on(scorecards, previous),
        previous_results=_on(results, previous),
        previous_findings=_on(findings, previous),
        history=history,
        slots=tuple(slots),
        teams=_registry_teams(warehouse, week),
        insights=load_insights(warehouse, week),
        campaigns=_optional_rows(warehouse, "campaign_progress", week),
        waivers=_optional_rows(warehouse, "waivers", week),
        rollup=_optional_rows(warehouse, "scorecard_rollup", week),
        previous_rollup=_optional_rows(warehouse, "scorecard_rollup", previous) if previous else None,
        incident_reviews=_optional_rows(warehouse, "incident_reviews", week),
        action_items=_optional_rows(warehouse, "action_items", week),
        incidents=_optional_rows(warehouse, "incidents", week),
    )


def weekly_slots(dates: list[dt.date], week: dt.date, weeks: int = HISTORY_WEEKS) -> dict[dt.date, dt.date | None]:
    """Slot end (``week`` minus whole weeks) → the latest audit in the seven days ending then.

    Oldest first, leading slots without an audit dropped (a young warehouse has a short trend).
    """
    slots: dict[dt.date, dt.date | None] = {}
    for back in range(weeks - 1, -1, -1):
        end = week - dt.timedelta(days=7 * back)
        inside = [day for day in dates if end - dt.timedelta(days=7) < day <= end]
        if inside or slots:
            slots[end] = max(inside, default=None)
    return slots


def team_changes(scorecard_week: ScorecardWeek, team: str) -> list[Change]:
    """What changed for ``team`` since the previous audit: level, check statuses, findings; regressions first."""
    if scorecard_week.previous is None:
        return []
    return changes_of(WeekByTeam(scorecard_week).rows(team))


def changes_of(rows: TeamRows) -> list[Change]:
    """:func:`team_changes` from the team's own rows (the week must have a previous audit)."""
    changes = _level_change(rows)
    changes += _status_changes(
        {row["check_id"]: row["status"] for row in rows.previous_results},
        {row["check_id"]: row["status"] for row in rows.results},
        kind="check",
    )
    known_now = {row["check_id"] for row in rows.results if row["status"] in ("pass", "warn", "fail")}
    changes += _finding_changes(_outcomes(rows.previous_findings), _outcomes(rows.findings), known_now)
    order = {direction: rank for rank, direction in enumerate(DIRECTIONS)}
    kinds = {"level": 0, "check": 1, "finding": 2}
    return sorted(changes, key=lambda c: (order[c.direction], kinds[c.kind], c.check_id or "", c.subject or ""))


def score_changes(scorecard_week: ScorecardWeek) -> pd.DataFrame:
    """team, score, previous_score, change (None where either score is unknown) for every team of the week."""
    before = scorecard_week.previous_scorecard.set_index("team")["score"]
    frame = scorecard_week.scorecard[["team", "score", "level"]].copy()
    frame["previous_score"] = frame["team"].map(before)
    frame["change"] = (frame["score"].astype(float) - frame["previous_score"].astype(float)).round(1)
    return frame


def _level_change(rows: TeamRows) -> list[Change]:
    if rows.previous_card is None or rows.card is None or rows.previous_card["level"] == rows.card["level"]:
        return []
    old, new = rows.previous_card["level"], rows.card["level"]
    known = old in schema.LEVELS and new in schema.LEVELS
    direction = _direction(schema.level_rank(old), schema.level_rank(new)) if known else "changed"
    return [Change("level", None, None, old, new, direction)]


def _outcomes(findings: list[dict[str, Any]]) -> dict[tuple[str, str], str]:
    return {(row["check_id"], row["subject"]): row["outcome"] for row in findings}


def _status_changes(before: Mapping[str, str], after: Mapping[str, str], *, kind: str) -> list[Change]:
    changes = []
    for check_id, status in after.items():
        old = before.get(check_id)
        if old == status:
            continue
        direction = "changed" if old is None else _direction(STATUS_RANK.get(old), STATUS_RANK.get(status))
        changes.append(Change(kind, check_id, None, old, status, direction))
    return changes


def _finding_changes(
    old: Mapping[tuple[str, str], str], new: Mapping[tuple[str, str], str], checks_known_now: set[str]
) -> list[Change]:
    """New or worse findings regress; a problem that is gone while its check still ran improves."""
    changes = []
    for (check_id, subject), outcome in new.items():
        was = old.get((check_id, subject))
        if was == outcome or (was is None and outcome == "pass"):
            continue
        direction = (
            "regressed"
            if was is None and outcome in ("warn", "fail")
            else _direction(STATUS_RANK.get(was or ""), STATUS_RANK.get(outcome))
        )
        changes.append(Change("finding", check_id, subject, was, outcome, direction))
    for (check_id, subject), was in old.items():
        if (check_id, subject) not in new and was in ("warn", "fail") and check_id in checks_known_now:
            changes.append(Change("finding", check_id, subject, was, None, "improved"))
    return changes


def _direction(before: int | None, after: int | None) -> str:
    if before is None or after is None:
        return "changed"
    return "regressed" if after < before else "improved" if after > before else "changed"


def _rows(warehouse: Warehouse, name: str, days: list[dt.date]) -> pd.DataFrame:
    """Every column the table has (``*``: a warehouse from an older version may lack newer ones)."""
    table = warehouse.table(name)
    query = sa.select(sa.text("*")).select_from(table).where(table.c.audit_date.in_(days))
    with warehouse.engine.connect() as conn:
        result = conn.execute(query)
        frame = pd.DataFrame(result.fetchall(), columns=list(result.keys()))
    frame["audit_date"] = frame["audit_date"].map(_as_date)
    return frame


def _registry_teams(warehouse: Warehouse, week: dt.date) -> pd.DataFrame:
    """The teams of the registry as published with the week's audit (their email is the recipient)."""
    with warehouse.engine.connect() as conn:
        present = sa.inspect(conn).has_table("facts_registry_teams", schema=warehouse.schema)
    if not present:
        log.warning("The warehouse has no facts_registry_teams table: no team has an email address")
        return pd.DataFrame(columns=["team", "display_name", "email"])
    teams = _rows(warehouse, "facts_registry_teams", [week])
    return teams[[column for column in ("team", "display_name", "email", "parent", "type") if column in teams]]


def _optional_rows(warehouse: Warehouse, name: str, week: dt.date) -> pd.DataFrame | None:
    """A table of the week written by a newer audit (campaigns, roll-ups); None when the warehouse has none yet."""
    with warehouse.engine.connect() as conn:
        if not sa.inspect(conn).has_table(name, schema=warehouse.schema):
            return None
    return _on(_rows(warehouse, name, [week]), week)


def _on(frame: pd.DataFrame, day: dt.date | None) -> pd.DataFrame:
    return frame[frame["audit_date"] == day].drop(columns="audit_date").reset_index(drop=True)


def _as_date(value: Any) -> dt.date:  # a date, a timestamp or ISO text
    return pd.Timestamp(value).date()
