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


# What a team needs for the next level, by the rules ----------------------------------------------


@pytest.fixture(scope="module")
def catalogue():
    from oncall_readiness.checks.catalogue import load_catalogue

    return load_catalogue()


def test_the_next_level_names_the_score_gap_and_the_failed_checks(catalogue):
    from oncall_readiness.report.page.across import next_level

    needs = next_level("bronze", 70.0, {"chaos-day": "fail", "oncall-load": "pass"}, catalogue, None)
    assert needs.level == "silver"
    assert needs.needs == [
        "a score of at least 75 (now 70.0, 5.0 to go)",
        "no failed check (now 1: Regular Chaos Days)",
    ]
    assert next_level("gold", 95.0, {}, catalogue, None) is None  # the top
    unscored = next_level("none", None, {"chaos-day": "unknown"}, catalogue, None)
    assert unscored.level == "bronze" and unscored.needs[0].startswith("a score: every check is unknown or waived")


def test_gold_asks_a_tier_one_owner_to_pass_its_checks_only_where_it_has_a_result(catalogue):
    import pandas as pd

    from oncall_readiness.report.page.across import next_level

    owned = pd.DataFrame([{"service": "payments-api", "team": "payments", "tier": "1", "lifecycle": "production"}])
    statuses = {"escalation-path": "warn", "runbook-freshness": "pass"}  # alert-definitions: no result, asks nothing
    needs = next_level("silver", 95.0, statuses, catalogue, owned)
    assert needs.needs == ["pass Clear escalation path: it owns a service of tier 1, which gold asks to pass them"]
    assert next_level("silver", 95.0, statuses, catalogue, owned.assign(tier=None)).needs == []


def test_each_check_across_teams_puts_the_check_failing_most_teams_first(catalogue):
    from oncall_readiness.report.page.across import check_columns, check_summaries

    rows = [
        {"team": "a", "check_id": "chaos-day", "status": "warn"},
        {"team": "a", "check_id": "oncall-load", "status": "fail"},
        {"team": "b", "check_id": "oncall-load", "status": "waived"},
        {"team": "c", "check_id": "oncall-load", "status": "fail"},
    ]
    summaries = check_summaries(rows, check_columns(rows, catalogue))
    assert [s.check_id for s in summaries] == ["oncall-load", "chaos-day"]
    assert summaries[0].counts["fail"] == 2 and summaries[0].teams == [("a", "fail"), ("c", "fail"), ("b", "waived")]
