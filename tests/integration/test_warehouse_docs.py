"""docs/warehouse.md: every table is documented, and every SQL query runs unchanged on DuckDB and PostgreSQL.

The warehouse holds the history of tests/integration/conftest.py, so the answers are known:
checkout and the <script> team regressed, notifications has failed since 2026-11-02,
new-joiner has no PagerDuty user, checkout-fraud has no runbook.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from oncall_readiness.report.ledger import SendLedger
from oncall_readiness.warehouse import Warehouse

DOC = Path(__file__).resolve().parents[2] / "docs" / "warehouse.md"


def rows(frame: pd.DataFrame) -> list[tuple]:
    """Rows as plain values (dates as ISO text, whole numbers as int) to compare across dialects."""

    def plain(value):
        if value is None or (isinstance(value, float) and pd.isna(value)):
            return None
        if isinstance(value, dt.date | pd.Timestamp):
            return str(value)[:10]
        if isinstance(value, float) and value.is_integer():
            return int(value)
        return value.item() if hasattr(value, "item") else value

    return [tuple(plain(value) for value in row) for row in frame.itertuples(index=False)]


@pytest.fixture
def warehouse(history_warehouse: Warehouse, history) -> Warehouse:
    """The seeded history plus a few deliveries in the send ledger."""
    ledger = SendLedger(history_warehouse)
    ledger.create()
    sent_at = dt.datetime(2026, 11, 16, 8, 0, 5)
    for week, recipient, kind, team in [
        (history.PREVIOUS_WEEK, "payments-team@example.com", "team", "payments"),
        (history.WEEK, "payments-team@example.com", "team", "payments"),
        (history.WEEK, "cto@example.com", "digest", None),
    ]:
        ledger.record(week, recipient=recipient, kind=kind, team=team, message_id=f"<{week}.{kind}>", sent_at=sent_at)
    return history_warehouse


def test_the_doc_has_at_least_five_queries_each_under_a_heading(documented_queries):
    queries = documented_queries
    assert len(queries) >= 5
    for title in (
        "Teams that regressed this week",
        "Longest-failing checks",
        "Joiners still without PagerDuty access",
        "Services without a runbook",
        "Level distribution over time",
    ):
        assert title in queries


def test_every_table_and_view_is_documented(history_url):
    """A table added to the warehouse (a new source's facts, say) must be described here too."""
    text = DOC.read_text()
    warehouse = Warehouse(history_url)
    try:
        names = {table.name for table in warehouse.metadata.tables.values()} | {SendLedger(warehouse).table.name}
    finally:
        warehouse.dispose()
    names |= {"scorecard_latest", "check_results_latest"}
    missing = sorted(name for name in names if f"`{name}`" not in text)
    assert not missing, f"describe {', '.join(missing)} in docs/warehouse.md (grain and columns)"


def test_every_documented_query_runs_unchanged(warehouse, documented_queries):
    for title, sql in documented_queries.items():
        try:
            warehouse.query(sql)
        except Exception as error:  # name the query that broke
            pytest.fail(f"{warehouse.engine.dialect.name}: {title!r} does not run: {error}")


def test_the_queries_answer_what_their_headings_ask(warehouse, history, documented_queries):
    queries = documented_queries

    def answer(title: str) -> list[tuple]:
        return rows(warehouse.query(queries[title]))

    latest = answer("The latest scorecard, best first")
    assert [row[0] for row in latest] == [
        "payments",
        "search",
        "identity",
        "checkout",
        "notifications",
        history.SCRIPT_TEAM,
    ]

    assert answer("Teams that regressed this week") == [
        (history.SCRIPT_TEAM, "2026-11-09", 100, 0, -100, "gold", "none"),
        ("checkout", "2026-11-09", 80, 70, -10, "silver", "bronze"),
    ]
    assert answer("Longest-failing checks") == [
        ("notifications", "rotation-sustainability", "2026-11-02", 15, 6),
        (history.SCRIPT_TEAM, "rotation-sustainability", "2026-11-16", 1, 1),
    ]
    joiners = answer("Joiners still without PagerDuty access")
    assert [(team, person, start) for team, person, _, _, start in joiners] == [
        ("checkout", "new-joiner", "2026-11-02")
    ]
    assert answer("Services without a runbook") == [("checkout", "checkout-fraud", None, None)]

    levels = answer("Level distribution over time")
    assert [row[0] for row in levels] == [day.isoformat() for day in history.AUDIT_DATES]
    assert levels[-1] == ("2026-11-16", 2, 1, 1, 2, 6)
    assert levels[0] == ("2026-10-19", 3, 2, 1, 0, 6)

    findings = answer("Findings that need action today")
    assert findings[0][3] == "fail" and all(row[3] != "pass" for row in findings)
    assert (
        "checkout",
        "rotation-sustainability",
        "person:ava-mitchell",
        "warn",
        "Ava Mitchell takes no on-call turns",
    ) in findings

    failed = answer("Data-quality expectations that failed in the latest audit")
    assert [(row[0], row[2], row[4]) for row in failed] == [("2026-11-16", "pagerduty_users", "1 unexpected of 2")]

    sent = answer("Who got this week's scorecard emails")
    assert [(row[0], row[1], row[2], row[3]) for row in sent] == [
        ("2026-11-16", "digest", None, "cto@example.com"),
        ("2026-11-16", "team", "payments", "payments-team@example.com"),
    ]
