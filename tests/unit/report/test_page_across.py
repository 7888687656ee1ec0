"""The Readiness page's links and Markdown, its static copy, and a warehouse written before its newer columns."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from oncall_readiness.report import page
from oncall_readiness.report.page.static import write_static_pages
from oncall_readiness.report.page.views import finding_rows
from oncall_readiness.warehouse import Warehouse
from tests.integration.page_history import LAST, publish_history


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    url = f"duckdb:///{tmp_path_factory.mktemp('history') / 'warehouse.duckdb'}"
    publish_history(url)
    warehouse = Warehouse(url)
    yield warehouse
    warehouse.dispose()


def finding(**extra):
    row = {"check_id": "escalation-path", "subject": "escalation_policy:PE0CHK1", "outcome": "fail", "message": "m"}
    return row | extra


def test_a_finding_names_its_subject_linked_to_its_page_when_the_source_gives_one():
    linked, hostile, plain = finding_rows(  # ordered by subject
        [
            finding(url="https://acme.pagerduty.com/escalation_policies/PE0CHK1", subject_name="Checkout escalation"),
            finding(subject="service:checkout-api"),  # a warehouse before the url and subject_name columns
            finding(subject="schedule:P1", url="javascript:alert(1)", subject_name="<b>Nights</b>"),
        ]
    )
    assert (linked.label, linked.url) == (
        "Checkout escalation",
        "https://acme.pagerduty.com/escalation_policies/PE0CHK1",
    )
    assert (plain.label, plain.url) == ("service:checkout-api", None)
    assert hostile.url is None  # never a javascript: link
    body = page.render_team_page(_report_with([linked, hostile]), scorecard_href="../")
    assert (
        '<a href="https://acme.pagerduty.com/escalation_policies/PE0CHK1"' in body
        and ">Checkout escalation</a>" in body
    )
    assert "javascript:" not in body and "&lt;b&gt;Nights&lt;/b&gt;" in body


def _report_with(findings):
    report = page.TeamReport(
        team="checkout",
        audit_date=LAST,
        latest=page.HistoryRow(LAST, 90.0, "silver", 4, 1, 0, 0, None),
        checks=[
            page.CheckRow("escalation-path", "Clear escalation path", "warn", 5.0, "r", "Run `make fix` <img src=x>.")
        ],
        findings=findings,
        history=[page.HistoryRow(LAST, 90.0, "silver", 4, 1, 0, 0, None)],
        sparkline=page.sparkline([(LAST, 90.0)]),
        in_latest_audit=True,
    )
    return report


def test_remediation_markdown_is_rendered_and_its_html_escaped():
    body = page.render_team_page(_report_with([]), scorecard_href="../")
    assert "Run <code>make fix</code> &lt;img src=x&gt;." in body


def test_every_link_of_the_static_pages_resolves_on_disk(history, tmp_path):
    written = write_static_pages(history, tmp_path)
    names = {str(path.relative_to(tmp_path)) for path in written}
    assert {"index.html", "campaigns.html", "groups.html", "teams/payments.html", "groups/commerce.html"} <= names
    broken = []
    for path in written:
        for href in re.findall(r'href="([^"#][^"]*)"', path.read_text()):
            target = urlsplit(href.replace("&amp;", "&"))
            if not target.scheme and not (path.parent / unquote(target.path)).exists():
                broken.append((path.name, href))
    assert broken == []
    assert "/dags/" not in Path(tmp_path / "index.html").read_text()  # no link into an Airflow that is not there


def test_a_warehouse_written_before_the_waived_column_still_reads(history):
    with history.engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE readiness.scorecard DROP COLUMN waived")
    try:
        card = page.organisation_scorecard(history)
        report = page.team_report(history, "notifications")
    finally:
        with history.engine.begin() as conn:
            conn.exec_driver_sql("ALTER TABLE readiness.scorecard ADD COLUMN waived INTEGER")
    assert {team.team: team.waived for team in card.teams}["notifications"] == 1  # counted from its checks
    assert report.history[0].waived is None  # shown as "–", not as 0


def test_the_change_compares_with_the_audit_about_a_week_before_else_the_previous_one(tmp_path):
    url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    publish_history(url)
    warehouse = Warehouse(url)
    try:
        with warehouse.engine.begin() as conn:  # keep three audits: 19 Oct, 2 Nov and 16 Nov (two weeks apart)
            for table in ("scorecard", "check_results", "findings"):
                conn.exec_driver_sql(
                    f"DELETE FROM readiness.{table} WHERE audit_date IN ('2026-11-09', '2026-10-26', '2026-10-12')"
                )
        card = page.organisation_scorecard(warehouse)
    finally:
        warehouse.dispose()
    payments = {team.team: team for team in card.teams}["payments"]
    assert payments.compared.since == dt.date(2026, 11, 2) and payments.compared.change == -10.0
    assert payments.compared.level_dropped
