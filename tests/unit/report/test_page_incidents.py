"""The Readiness page's incident views on DuckDB: open incidents and their cost, a team's last week."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
import sqlalchemy as sa

from oncall_readiness.report import page
from oncall_readiness.report.page.incidents import OPEN_COLUMNS
from oncall_readiness.warehouse import RESULT_TABLES, Warehouse

DAY = dt.date(2026, 11, 16)
CHECKED = dt.datetime(2026, 11, 16, 9, 5)
NOW = dt.datetime(2026, 11, 16, 9, 7, tzinfo=dt.UTC)
XSS = "<script>alert(1)</script>"
TYPES = {"checked_at": sa.DateTime, "created_at": sa.DateTime, "incident_number": sa.BigInteger, "priced": sa.Boolean}
NUMBERS = ("minutes", "cost_per_minute", "estimated_loss")


def open_table(warehouse: Warehouse) -> sa.Table:
    """``open_incident_costs`` as the cost watch writes it (created here when the warehouse does not)."""
    columns = [sa.Column(name, TYPES.get(name, sa.Float if name in NUMBERS else sa.Text)()) for name in OPEN_COLUMNS]
    table = sa.Table("open_incident_costs", sa.MetaData(schema=warehouse.schema), *columns)
    with warehouse.engine.begin() as conn:
        conn.execute(sa.text(f"CREATE SCHEMA IF NOT EXISTS {warehouse.schema}"))
        table.create(conn, checkfirst=True)
    return table


def open_incident(number, team, title, *, priced=True, minutes=62.0):
    return {
        "checked_at": CHECKED,
        "incident_id": f"Q0PAY{number:03d}",
        "incident_number": number,
        "title": title,
        "team": team,
        "service": "checkout-api",
        "urgency": "high",
        "created_at": CHECKED - dt.timedelta(minutes=minutes),
        "minutes": minutes,
        "cost_per_minute": 200.0 if priced else None,
        "currency": "GBP",
        "estimated_loss": minutes * 200.0 if priced else None,
        "priced": priced,
    }


@pytest.fixture
def warehouse(tmp_path):
    warehouse = Warehouse(f"duckdb:///{tmp_path / 'warehouse.duckdb'}")
    yield warehouse
    warehouse.dispose()


def test_before_the_cost_watch_ever_ran_the_page_says_so(warehouse):
    listing = page.open_incidents(warehouse, now=NOW)
    assert listing.incidents == [] and listing.message.startswith("The cost watch has not run")


def test_an_empty_list_is_dated_by_the_watchs_last_run(warehouse):
    open_table(warehouse)
    listing = page.open_incidents(warehouse, "payments", now=NOW, last_run=CHECKED)
    assert listing.message == "No open incidents of payments as of 2026-11-16 09:05 UTC."


def test_an_empty_table_the_audit_created_is_not_a_watch_run(warehouse):
    open_table(warehouse)  # the audit's publish creates every table, this one included; the watch never ran
    listing = page.open_incidents(warehouse, now=NOW)
    assert listing.message.startswith("The cost watch has not run") and listing.stale is None


def test_open_incidents_of_a_team_with_their_running_cost_escaped(warehouse):
    table = open_table(warehouse)
    rows = [open_incident(1, "payments", XSS), open_incident(2, "payments", "Unpriced", priced=False, minutes=5.0)]
    rows.append(open_incident(3, "o'brien", "Someone else's"))
    with warehouse.engine.begin() as conn:
        conn.execute(table.insert(), rows)
    listing = page.open_incidents(warehouse, "payments", now=NOW)
    assert [incident.number for incident in listing.incidents] == [1, 2]  # oldest first
    assert listing.incidents[0].cost == "GBP 12,400 (62 min × GBP 200/min)"
    assert listing.incidents[1].cost.startswith("unpriced")  # never GBP 0
    assert [i.number for i in page.open_incidents(warehouse, "o'brien", now=NOW).incidents] == [3]  # a bound parameter
    html = page.render_scorecard_page(
        org_card(), latest_runs=[], open_incidents=page.open_incidents(warehouse, now=NOW)
    )
    assert XSS not in html and "&lt;script&gt;" in html and "o&#39;brien" in html
    stale = page.open_incidents(warehouse, now=NOW + dt.timedelta(hours=1))
    assert stale.stale == "The cost watch last looked 62 minutes ago: is the incident_cost_watch DAG running?"


def org_card() -> page.OrgScorecard:
    return page.OrgScorecard(audit_date=DAY, teams=[], levels={}, sort="score", descending=True)


def test_the_team_page_shows_last_weeks_incidents_or_says_there_is_no_data(warehouse):
    card = pd.DataFrame(
        [{c: None for c in RESULT_TABLES["scorecard"]} | {"team": "payments", "score": 90.0, "level": "gold"}]
    )
    empty = {name: pd.DataFrame(columns=list(RESULT_TABLES[name])) for name in ("check_results", "findings")}
    warehouse.publish(DAY, scorecard=card, facts={}, **empty)
    report = page.team_report(warehouse, "payments")
    no_data = page.team_insights(warehouse, "payments", report.audit_date)
    html = page.render_team_page(report, scorecard_href="../", incidents=no_data, open_incidents=None)
    assert "No incident data for this week" in html and "Time to acknowledge" not in html

    created = dt.datetime(2026, 11, 12, 3)
    incident = {"incident_id": "Q0PAY001", "title": XSS, "team": "payments", "service": XSS, "urgency": "high",
                "status": "resolved", "created_at": created, "acknowledged_at": created + dt.timedelta(minutes=3),
                "resolved_at": created + dt.timedelta(minutes=40), "minutes": 40.0, "currency": "GBP",
                "estimated_loss": None, "priced": False, "audit_date": DAY}  # fmt: skip
    user = {"user_id": "PUPAY01", "name": "Ada", "email": "ada@example.com", "audit_date": DAY}
    with warehouse.engine.begin() as conn:
        for name, row in (("incidents", incident), ("facts_pagerduty_users", user)):
            conn.execute(sa.table(name, *(sa.column(c) for c in row), schema=warehouse.schema).insert(), [row])
    insights = page.team_insights(warehouse, "payments", report.audit_date)
    html = page.render_team_page(report, scorecard_href="../", incidents=insights, open_incidents=None)
    assert "Last week's incidents (9 Nov to 15 Nov 2026)" in html and "3 min" in html
    assert "Unpriced: 1 of last week" in html and XSS not in html and "&lt;script&gt;" in html
