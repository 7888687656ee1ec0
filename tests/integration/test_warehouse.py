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
