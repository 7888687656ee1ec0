"""The week a scorecard email reports: which audit it compares with, the trend's slots, what changed."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from oncall_readiness.report.ledger import SendLedger
from oncall_readiness.report.weekly import (
    ScorecardWeek,
    load_week,
    team_changes,
    week_covered,
    week_to_send,
    weekly_slots,
)
from oncall_readiness.warehouse import RESULT_TABLES, Warehouse

WEEK = dt.date(2026, 11, 16)


def day(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def test_each_weekly_slot_takes_its_latest_audit_and_a_young_history_starts_late():
    dates = [day("2026-10-30"), day("2026-11-01"), day("2026-11-08"), day("2026-11-16")]
    assert weekly_slots(dates, WEEK, weeks=5) == {  # 19 and 26 Oct hold no audit: trimmed
        day("2026-11-02"): day("2026-11-01"),  # the latest of 27 Oct to 2 Nov
        day("2026-11-09"): day("2026-11-08"),
        day("2026-11-16"): day("2026-11-16"),
    }


def test_a_gap_inside_the_history_stays_a_gap():
    slots = weekly_slots([day("2026-11-02"), day("2026-11-16")], WEEK, weeks=3)
    assert slots == {day("2026-11-02"): day("2026-11-02"), day("2026-11-09"): None, day("2026-11-16"): WEEK}


@pytest.fixture
def warehouse(tmp_path):
    warehouse = Warehouse(f"duckdb:///{tmp_path / 'warehouse.duckdb'}")
    yield warehouse
    warehouse.dispose()


def publish(warehouse: Warehouse, audit_date: dt.date, score: float) -> None:
    def empty(table: str) -> pd.DataFrame:
        return pd.DataFrame(columns=list(RESULT_TABLES[table]))

    card = empty("scorecard")
    card.loc[0] = {column: None for column in card.columns} | {"team": "payments", "score": score, "level": "gold"}
    warehouse.publish(
        audit_date, check_results=empty("check_results"), findings=empty("findings"), scorecard=card, facts={}
    )


def test_the_week_compares_with_seven_days_earlier_or_the_nearest_audit_before(warehouse):
    for audit_date, score in [("2026-11-01", 70.0), ("2026-11-08", 80.0), ("2026-11-10", 85.0), ("2026-11-16", 90.0)]:
        publish(warehouse, day(audit_date), score)

    week = load_week(warehouse)

    assert week.week == WEEK
    assert week.previous == day("2026-11-08")  # 9 Nov has no audit; 10 Nov is less than a week before
    assert week.previous_scorecard["score"].tolist() == [80.0]
    assert week.teams.empty  # no registry facts published: no addresses, no crash
    assert load_week(warehouse, day("2026-11-08")).previous == day("2026-11-01")
    with pytest.raises(LookupError, match="no scorecard for 2026-11-09"):
        load_week(warehouse, day("2026-11-09"))


def test_a_run_reports_the_latest_audit_on_or_before_its_day_and_warns_when_stale(warehouse, caplog):
    with pytest.raises(LookupError, match="run the readiness_audit DAG first"):
        week_to_send(warehouse, WEEK)
    publish(warehouse, day("2026-11-09"), 80.0)
    publish(warehouse, day("2026-11-23"), 90.0)  # after the run: a backfill must not see it
    assert week_to_send(warehouse, WEEK) == day("2026-11-09")
    assert "is from 2026-11-09, 7 days earlier" in caplog.text


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("moment", "timezone", "covered"),
    [
        ("2026-11-16T08:00:00", "Europe/London", "2026-11-16"),  # the scheduled run opens its week
        ("2026-11-17T10:30:00", "Europe/London", "2026-11-16"),  # a manual trigger on Tuesday: the same week
        ("2026-11-22T23:59:00", "Europe/London", "2026-11-16"),  # ... until Sunday night
        ("2026-11-23T00:00:00", "Europe/London", "2026-11-23"),
        ("2026-11-16T00:00:00", "Europe/London", "2026-11-16"),  # `airflow dags test ... 2026-11-16`
        ("2026-11-15T19:00:00", "Pacific/Auckland", "2026-11-16"),  # Monday 08:00 there is Sunday in UTC
        ("2026-11-16T13:00:00", "America/New_York", "2026-11-16"),
        ("2026-11-16T03:00:00", "America/New_York", "2026-11-09"),  # still Sunday night in New York
    ],
)
def test_a_run_covers_the_monday_to_sunday_week_holding_it_in_the_dags_timezone(moment, timezone, covered):
    assert week_covered(utc(moment), timezone) == day(covered)


def test_a_naive_moment_is_utc():
    assert week_covered(dt.datetime(2026, 11, 15, 19), "Pacific/Auckland") == day("2026-11-16")


def test_later_daily_audits_do_not_change_the_week_a_manual_run_reports(warehouse):
    for audit_date in ("2026-11-09", "2026-11-16", "2026-11-17", "2026-11-18"):
        publish(warehouse, day(audit_date), 80.0)

    scheduled = week_to_send(warehouse, week_covered(utc("2026-11-16T08:00:00"), "Europe/London"))
    manual_on_wednesday = week_to_send(warehouse, week_covered(utc("2026-11-18T15:00:00"), "Europe/London"))

    assert scheduled == manual_on_wednesday == WEEK  # not 18 Nov: that would be a new week, sent again


def test_a_week_already_being_sent_keeps_its_audit_when_a_late_one_arrives(warehouse):
    publish(warehouse, day("2026-11-15"), 80.0)
    assert week_to_send(warehouse, WEEK) == day("2026-11-15")  # Monday's audit is not published yet
    ledger = SendLedger(warehouse)
    ledger.create()
    sent_at = utc("2026-11-16T08:01:00")
    ledger.record(
        day("2026-11-15"), recipient="cto@example.com", kind="digest", team=None, message_id="<m>", sent_at=sent_at
    )
    publish(warehouse, WEEK, 90.0)  # Monday's audit, late

    assert week_to_send(warehouse, WEEK) == day("2026-11-15")  # a retry or rerun finishes the week it started
    assert week_to_send(warehouse, day("2026-11-23")) == WEEK  # the next week reports the newest audit


def changes_week(previous: list[tuple], current: list[tuple], levels=("gold", "silver")) -> ScorecardWeek:
    """A week of one team from (check_id, status, [(subject, outcome), ...]) before and now."""

    def results(checks):
        return pd.DataFrame([{"team": "t", "check_id": c, "status": s} for c, s, _ in checks])

    def findings(checks):
        rows = [
            {"team": "t", "check_id": c, "subject": subject, "outcome": outcome}
            for c, _, found in checks
            for subject, outcome in found
        ]
        return pd.DataFrame(rows, columns=["team", "check_id", "subject", "outcome"])

    def card(level):
        return pd.DataFrame([{"team": "t", "score": 0.0, "level": level}])

    return ScorecardWeek(
        week=WEEK,
        previous=WEEK - dt.timedelta(days=7),
        scorecard=card(levels[1]),
        results=results(current),
        findings=findings(current),
        previous_scorecard=card(levels[0]),
        previous_results=results(previous),
        previous_findings=findings(previous),
        history=pd.DataFrame(columns=["slot", "audit_date", "team", "score", "level"]),
        slots=(WEEK,),
        teams=pd.DataFrame(columns=["team", "display_name", "email"]),
    )


def test_regressions_come_first_then_other_changes_then_improvements():
    week = changes_week(
        previous=[("a-check", "warn", [("person:ann", "warn")]), ("b-check", "pass", []), ("c-check", "pass", [])],
        current=[("a-check", "pass", []), ("b-check", "fail", [("service:api", "fail")]), ("c-check", "unknown", [])],
    )
    changes = [(c.direction, c.kind, c.check_id, c.subject) for c in team_changes(week, "t")]
    assert changes == [
        ("regressed", "level", None, None),
        ("regressed", "check", "b-check", None),
        ("regressed", "finding", "b-check", "service:api"),
        ("changed", "check", "c-check", None),  # unknown is neither better nor worse
        ("improved", "check", "a-check", None),
        ("improved", "finding", "a-check", "person:ann"),  # gone while its check still ran
    ]
    assert [c.description for c in team_changes(week, "t")][:2] == [
        "Level: gold → silver",
        "Check b-check: pass → fail",
    ]


def test_a_finding_is_not_resolved_when_its_check_could_not_run():
    week = changes_week(
        previous=[("a-check", "warn", [("person:ann", "warn")])],
        current=[("a-check", "unknown", [])],
        levels=("silver", "silver"),
    )
    assert [(c.direction, c.kind) for c in team_changes(week, "t")] == [("changed", "check")]


def test_nothing_changed_and_no_earlier_audit_both_list_nothing():
    same = [("a-check", "pass", [("schedule:p", "pass")])]
    assert team_changes(changes_week(same, same, levels=("gold", "gold")), "t") == []
    first = changes_week([], same)
    assert team_changes(ScorecardWeek(**{**first.__dict__, "previous": None}), "t") == []


# Reading the week costs the same number of queries for 3 teams as for 40 ---------------------------


def publish_teams(warehouse: Warehouse, audit_date: dt.date, teams: int) -> None:
    """``teams`` teams, each with a check result, a finding and an incident of the day before."""
    from oncall_readiness.schema import INCIDENT_COLUMNS

    names = [f"team-{index:02d}" for index in range(teams)]

    def frame(table: str, columns: dict[str, str], **values: object) -> pd.DataFrame:
        rows = [{column: None for column in columns} | {"team": name, **values} for name in names]
        return pd.DataFrame(rows, columns=list(columns))

    created = pd.Timestamp(audit_date) - pd.Timedelta(hours=12)
    incidents = frame("incidents", INCIDENT_COLUMNS, urgency="high", status="resolved", created_at=created)
    incidents["incident_id"] = [f"Q{index}" for index in range(teams)]
    warehouse.publish(
        audit_date,
        scorecard=frame("scorecard", RESULT_TABLES["scorecard"], score=90.0, level="gold"),
        check_results=frame("check_results", RESULT_TABLES["check_results"], check_id="a-check", status="pass"),
        findings=frame("findings", RESULT_TABLES["findings"], check_id="a-check", subject="s", outcome="pass"),
        facts={},
        incidents=incidents,
    )


def queries_of_load_week(tmp_path, teams: int) -> int:
    import sqlalchemy as sa

    warehouse = Warehouse(f"duckdb:///{tmp_path / f'teams-{teams}.duckdb'}")
    try:
        for audit_date in (day("2026-11-09"), WEEK):
            publish_teams(warehouse, audit_date, teams)
        statements: list[str] = []
        sa.event.listen(warehouse.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
        week = load_week(warehouse, WEEK)
    finally:
        warehouse.dispose()
    assert len(week.scorecard) == teams and len(week.insights.teams) == teams  # every team read
    return len(statements)


def test_the_week_is_read_in_queries_whose_number_does_not_grow_with_the_teams(tmp_path):
    assert queries_of_load_week(tmp_path, 3) == queries_of_load_week(tmp_path, 40)
