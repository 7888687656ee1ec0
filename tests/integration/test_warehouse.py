"""The warehouse contract on DuckDB and on a real PostgreSQL server."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
import sqlalchemy as sa

from oncall_readiness.warehouse import Warehouse

DAY = dt.date(2026, 11, 16)


@pytest.fixture(params=["duckdb", pytest.param("postgresql", marks=pytest.mark.integration)])
def warehouse(request, tmp_path):
    if request.param == "duckdb":
        url = f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
    else:
        url = request.getfixturevalue("postgres_url")
    warehouse = Warehouse(url)
    yield warehouse
    with warehouse.engine.begin() as conn:
        if warehouse.engine.dialect.name == "postgresql":
            conn.execute(sa.text("DROP SCHEMA IF EXISTS readiness CASCADE"))
    warehouse.dispose()


def results(score_a=10.0, status_a="pass"):
    return pd.DataFrame(
        {
            "team": ["a", "b"],
            "check_id": ["rotation-sustainability"] * 2,
            "status": [status_a, "unknown"],
            "score": pd.array([score_a, None], dtype="Float64"),
            "reason": ["Every rotation of the team is sustainable.", "pagerduty data is unavailable: down."],
            "remediation": ["No action needed.", "Fix it."],
        }
    )


def findings():
    return pd.DataFrame(
        {
            "team": ["a"],
            "check_id": ["rotation-sustainability"],
            "subject": ["schedule:PS1"],
            "outcome": ["pass"],
            "message": ["PS1 rotates 3 people in 1 week turns"],
        }
    )


def scorecard(score_a=100.0):
    return pd.DataFrame(
        {
            "team": ["a", "b"],
            "score": pd.array([score_a, None], dtype="Float64"),
            "level": ["gold", "none"],
            "passed": [1, 0],
            "warned": [0, 0],
            "failed": [0, 0],
            "unknown": [0, 1],
            "fully_assessed": [True, False],
            "score_change_7d": pd.array([None, None], dtype="Float64"),
            "waived": [0, 0],
        }
    )


def shifts():
    return pd.DataFrame(
        {
            "schedule_id": ["PS1"],
            "user_id": ["PU1"],
            "start": pd.to_datetime(["2026-11-09T09:00:00+01:00"], utc=True),
            "end": pd.to_datetime(["2026-11-16T00:00:00Z"], utc=True),
        }
    )


def publish(warehouse, day=DAY, **overrides):
    args = {
        "check_results": results(),
        "findings": findings(),
        "scorecard": scorecard(),
        "facts": {"pagerduty_oncall_shifts": shifts()},
    }
    args.update(overrides)
    return warehouse.publish(day, **args)


def test_publish_writes_every_table_and_the_latest_views(warehouse):
    written = publish(warehouse)
    assert written == {"check_results": 2, "findings": 1, "scorecard": 2, "facts_pagerduty_oncall_shifts": 1}
    latest = warehouse.query("SELECT team, score, level FROM readiness.scorecard_latest ORDER BY team")
    assert list(latest["team"]) == ["a", "b"] and list(latest["level"]) == ["gold", "none"]
    assert latest["score"].iloc[0] == 100.0 and pd.isna(latest["score"].iloc[1])
    shift = warehouse.query('SELECT start, "end" FROM readiness.facts_pagerduty_oncall_shifts').iloc[0]
    assert pd.Timestamp(shift["start"]) == pd.Timestamp("2026-11-09T08:00:00")  # stored as UTC


def test_rerunning_an_audit_date_replaces_its_rows(warehouse):
    publish(warehouse)
    publish(warehouse, check_results=results(score_a=5.0, status_a="warn"), scorecard=scorecard(50.0))
    rows = warehouse.query("SELECT team, status FROM readiness.check_results ORDER BY team")
    assert rows.to_dict("records") == [{"team": "a", "status": "warn"}, {"team": "b", "status": "unknown"}]
    assert len(warehouse.query("SELECT * FROM readiness.findings")) == 1


def test_history_is_kept_and_latest_views_follow_the_newest_date(warehouse):
    publish(warehouse, day=DAY - dt.timedelta(days=7), scorecard=scorecard(40.0))
    publish(warehouse)
    assert len(warehouse.query("SELECT * FROM readiness.scorecard")) == 4
    latest = warehouse.query("SELECT DISTINCT audit_date FROM readiness.check_results_latest")
    assert pd.Timestamp(latest.iloc[0, 0]).date() == DAY
    previous = warehouse.scores_on(DAY - dt.timedelta(days=7))
    assert previous.set_index("team")["score"]["a"] == 40.0


def test_a_failed_publish_leaves_the_previous_rows_intact(warehouse):
    publish(warehouse)
    broken = scorecard().drop(columns=["level"])
    with pytest.raises(ValueError, match="scorecard: the data lacks columns level"):
        publish(warehouse, check_results=results(score_a=0.0, status_a="fail"), scorecard=broken)
    rows = warehouse.query("SELECT team, status FROM readiness.check_results ORDER BY team")
    assert rows.to_dict("records") == [{"team": "a", "status": "pass"}, {"team": "b", "status": "unknown"}]


def test_scores_on_an_empty_warehouse_is_empty(warehouse):
    assert warehouse.scores_on(DAY).empty


# --- the incident tables ------------------------------------------------------------------------


def incidents_and_costs(loss=12_400.0):
    from oncall_readiness.incidents.cost import incident_costs, incidents_table

    facts = pd.DataFrame(
        [
            {"incident_id": "Q1", "incident_number": 1, "title": "Down", "service_id": "PV1", "urgency": "high",
             "priority": None, "status": "resolved", "created_at": pd.Timestamp("2026-11-10T10:00:00Z"),
             "acknowledged_at": pd.Timestamp("2026-11-10T10:05:00Z"),
             "resolved_at": pd.Timestamp("2026-11-10T10:00:00Z") + pd.Timedelta(minutes=loss / 200),
             "seconds_to_first_ack": 300, "seconds_to_resolve": int(loss / 200 * 60)},
            {"incident_id": "Q2", "incident_number": 2, "title": "Unknown", "service_id": "PV9", "urgency": "low",
             "priority": "P3", "status": "triggered", "created_at": pd.Timestamp("2026-11-15T23:00:00Z"),
             "acknowledged_at": pd.NaT, "resolved_at": pd.NaT,
             "seconds_to_first_ack": None, "seconds_to_resolve": None},
        ]
    )  # fmt: skip
    services = pd.DataFrame([{"service": "api", "team": "a", "pagerduty_service_id": "PV1", "cost_per_minute": 200.0}])
    incidents = incidents_table(facts, services, pd.Timestamp("2026-11-16T00:00:00Z"), money="GBP")
    return incidents, incident_costs(incidents)


def test_publish_writes_and_replaces_the_incident_tables(warehouse):
    incidents, costs = incidents_and_costs()
    written = publish(warehouse, incidents=incidents, incident_costs=costs)
    assert written["incidents"] == 2 and written["incident_costs"] == 2
    publish(warehouse, incidents=incidents.iloc[:1], incident_costs=costs.iloc[:1])  # a rerun replaces
    rows = warehouse.query("SELECT incident_id, team, minutes, estimated_loss, priced FROM readiness.incidents")
    assert rows.to_dict("records") == [
        {"incident_id": "Q1", "team": "a", "minutes": 62.0, "estimated_loss": 12_400.0, "priced": True}
    ]
    publish(warehouse)  # PagerDuty's incidents unavailable: the date has no incident rows
    assert warehouse.query("SELECT COUNT(*) AS n FROM readiness.incident_costs")["n"].iloc[0] == 0


def test_unpriced_and_unknown_stay_null_in_the_warehouse(warehouse):
    incidents, costs = incidents_and_costs()
    publish(warehouse, incidents=incidents, incident_costs=costs)
    unknown = warehouse.query("SELECT * FROM readiness.incident_costs WHERE team IS NULL").iloc[0]
    assert unknown["iso_week"] == "2026-W46" and pd.isna(unknown["estimated_loss"])
    assert unknown["unpriced_incidents"] == 1 and unknown["minutes"] == 60.0


def test_the_notes_ledger_claims_a_milestone_once(warehouse):
    from oncall_readiness.incidents.ledger import NotesLedger

    ledger = NotesLedger(warehouse)
    ledger.create()
    ledger.create()  # idempotent
    assert ledger.claim("Q1", 30, "note", run_id="r1")
    assert not ledger.claim("Q1", 30, "note", run_id="r2")  # the unique index refuses a second claim
    assert ledger.claim("Q1", 60, "later note", run_id="r2")
    held = ledger.get("Q1", 30)
    assert not held.posted and ledger.take_over(held, run_id="r3", content="note")
    assert not ledger.take_over(held, run_id="r4", content="note")  # r3 moved it first
    ledger.mark_posted("Q1", 30, note_id="PNT1", content="note")
    claims = ledger.claims(["Q1", "Q2"])["Q1"]
    assert [(c.milestone_minutes, c.claimed_by, c.posted, c.note_id) for c in claims] == [
        (30, "r3", True, "PNT1"),
        (60, "r2", False, None),
    ]


def test_open_incident_costs_is_replaced_by_each_watch_run(warehouse):
    from oncall_readiness.schema import OPEN_INCIDENT_COST_COLUMNS

    row = {column: None for column in OPEN_INCIDENT_COST_COLUMNS}
    first = pd.DataFrame([{**row, "incident_id": "Q1", "minutes": 35}, {**row, "incident_id": "Q2", "minutes": 5}])
    assert warehouse.replace_open_incident_costs(first) == 2
    assert warehouse.replace_open_incident_costs(first.iloc[:0]) == 0
    assert warehouse.query("SELECT COUNT(*) AS n FROM readiness.open_incident_costs")["n"].iloc[0] == 0


# --- the bulk load paths -------------------------------------------------------------------------

TRICKY_TEXT = ['He said "no", then left', "", "line one\nline two\r\n", "back\\slash, comma; tab\t", "ünïcödé ✓", None]


def runbook_facts(rows: int) -> pd.DataFrame:
    """confluence_runbooks facts with every kind: text (quotes, commas, newlines, empty vs NULL), integer,
    boolean and timestamp, each with NULLs."""
    pick = [TRICKY_TEXT[i % len(TRICKY_TEXT)] for i in range(rows)]
    return pd.DataFrame(
        {
            "service": [f"s{i:05d}" for i in range(rows)],
            "url": pick,
            "page_id": [None if i % 5 == 0 else str(i) for i in range(rows)],
            "found": pd.array([None if i % 7 == 0 else i % 2 == 0 for i in range(rows)], dtype="boolean"),
            "title": pick[::-1],
            "version": pd.array([None if i % 3 == 0 else i for i in range(rows)], dtype="Int64"),
            "last_changed": pd.to_datetime(
                [None if i % 4 == 0 else f"2026-11-{1 + i % 28:02d}T10:00:00.123456+02:00" for i in range(rows)],
                utc=True,
            ),
            "has_failure_scenarios": pd.array([True] * rows, dtype="boolean"),
            "has_mitigations": pd.array([None] * rows, dtype="boolean"),
            "has_alert_thresholds": pd.array([False] * rows, dtype="boolean"),
            "has_step_by_step": pd.array([i % 2 == 1 for i in range(rows)], dtype="boolean"),
            "error": [None] * rows,
        }
    )


def chaos_events() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "uid": ["e1", "e2"],
            "start": pd.to_datetime(["2026-11-10T09:00:00Z", None], utc=True),
            "end": pd.to_datetime(["2026-11-10T17:00:00Z", None], utc=True),
            "day": [dt.date(2026, 11, 10), None],
            "all_day": pd.array([False, None], dtype="boolean"),
            "summary": ["Chaos Day", None],
            "write_up_url": [None, ""],
            "recurring": pd.array([False, True], dtype="boolean"),
        }
    )


def plain(values: pd.Series) -> list:
    """Values as Python scalars, every kind of missing as None: comparable across dialects."""
    return [None if pd.isna(value) else value.item() if hasattr(value, "item") else value for value in values]


def test_the_bulk_load_keeps_every_type_and_null(warehouse):
    inserts: list[str] = []

    def spy(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("INSERT"):
            inserts.append(statement)

    facts = runbook_facts(3000)
    sa.event.listen(warehouse.engine, "before_cursor_execute", spy)
    try:
        written = publish(
            warehouse,
            check_results=results(score_a=float("nan")),
            facts={"confluence_runbooks": facts, "chaos_calendar_events": chaos_events()},
        )
    finally:
        sa.event.remove(warehouse.engine, "before_cursor_execute", spy)
    assert written["facts_confluence_runbooks"] == 3000 and written["facts_chaos_calendar_events"] == 2
    assert inserts == [], "the publish should load through DuckDB's Arrow scan or PostgreSQL's COPY, not INSERTs"

    stored = warehouse.query("SELECT * FROM readiness.facts_confluence_runbooks ORDER BY service")
    assert (pd.to_datetime(stored["audit_date"]).dt.date == DAY).all()
    for column in ("url", "page_id", "title", "found", "version"):  # "" stays "", NULL stays NULL
        assert plain(stored[column]) == plain(facts[column]), column
    changed = pd.to_datetime(stored["last_changed"])
    expected_changed = facts["last_changed"].dt.tz_localize(None)  # stored as naive UTC
    assert changed.isna().equals(expected_changed.isna())
    assert (changed.dropna() == expected_changed.dropna()).all()
    assert changed.dropna().iloc[0] == pd.Timestamp("2026-11-02T08:00:00.123456")
    assert stored["has_mitigations"].isna().all() and stored["error"].isna().all()

    score = warehouse.query("SELECT team, score FROM readiness.check_results ORDER BY team")
    assert score["score"].isna().all()  # NaN and NA alike are NULL
    events = warehouse.query('SELECT uid, "end", day, all_day, write_up_url FROM readiness.facts_chaos_calendar_events')
    events = events.set_index("uid")
    assert pd.Timestamp(events.at["e1", "end"]) == pd.Timestamp("2026-11-10T17:00:00")
    assert pd.Timestamp(events.at["e1", "day"]).date() == dt.date(2026, 11, 10) and pd.isna(events.at["e2", "day"])
    assert pd.isna(events.at["e2", "all_day"]) and events.at["e2", "write_up_url"] == ""
    assert pd.isna(events.at["e1", "write_up_url"])


def test_a_failed_bulk_load_rolls_back_the_whole_publish(warehouse):
    publish(warehouse)
    broken = runbook_facts(10).assign(version=["not a number"] * 10)  # no bulk path can type it, nor the database
    with pytest.raises(sa.exc.DBAPIError):
        publish(warehouse, check_results=results(status_a="fail"), facts={"confluence_runbooks": broken})
    rows = warehouse.query("SELECT team, status FROM readiness.check_results ORDER BY team")
    assert rows.to_dict("records") == [{"team": "a", "status": "pass"}, {"team": "b", "status": "unknown"}]
    assert len(warehouse.query("SELECT * FROM readiness.facts_pagerduty_oncall_shifts")) == 1
