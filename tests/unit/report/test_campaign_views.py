"""Campaigns and roll-ups in the reports: the page's burn-up and group tree, the team emails, the department digest.

A DuckDB warehouse seeded through Warehouse.publish with two audits of a department (commerce:
payments, checkout) and a team without a parent (identity), and one campaign.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import importlib.util
import json
import sys
from pathlib import Path

import pandas as pd
import pytest

from oncall_readiness.registry import TEAM_COLUMNS
from oncall_readiness.report import email as weekly_email
from oncall_readiness.report.department_email import behind_campaigns, department_emails
from oncall_readiness.report.message import format_days_left
from oncall_readiness.report.page import campaigns as views
from oncall_readiness.report.weekly import load_week
from oncall_readiness.warehouse import RESULT_TABLES, Warehouse

DAY = dt.date(2026, 11, 16)
WEEK_AGO = DAY - dt.timedelta(days=7)
SENT = dt.datetime(2026, 11, 16, 8, tzinfo=dt.UTC)
XSS = "<b>x</b>"
REPO = Path(__file__).resolve().parents[3]


def frame(table: str, rows: list[dict]) -> pd.DataFrame:
    columns = list(RESULT_TABLES[table])
    return pd.DataFrame([{column: row.get(column) for column in columns} for row in rows], columns=columns)


def registry_teams(head_email: str | None = "head-commerce@example.com") -> pd.DataFrame:
    rows = [
        {"team": "commerce", "display_name": "Commerce", "email": head_email, "type": "department"},
        {"team": "payments", "display_name": "Payments", "email": "team-payments@example.com", "parent": "commerce"},
        {"team": "checkout", "display_name": "Checkout", "email": "team-checkout@example.com", "parent": "commerce"},
        {"team": "identity", "display_name": "Identity", "email": "team-identity@example.com"},
    ]
    return pd.DataFrame([{column: row.get(column) for column in TEAM_COLUMNS} for row in rows], columns=TEAM_COLUMNS)


def progress(team: str, meets: bool, reason: str) -> dict:
    return {
        "campaign_id": "rotations",
        "title": f"Rotations {XSS}",
        "team": team,
        "meets": meets,
        "reason": reason,
        "start": dt.date(2026, 11, 2),
        "due": dt.date(2026, 12, 14),
    }


def publish(warehouse: Warehouse, day: dt.date, checkout_meets: bool, head_email: str | None) -> None:
    cards = [
        {"team": "payments", "score": 100.0, "level": "gold", "passed": 1, "failed": 0},
        {"team": "checkout", "score": 40.0, "level": "none", "passed": 0, "failed": 1},
        {"team": "identity", "score": 80.0, "level": "silver", "passed": 1, "failed": 0},
    ]
    results = [
        {"team": card["team"], "check_id": "rotation-sustainability", "status": "pass" if card["passed"] else "fail"}
        for card in cards
    ]
    warehouse.publish(
        day,
        check_results=frame("check_results", results),
        findings=frame("findings", []),
        scorecard=frame("scorecard", cards),
        facts={"registry_teams": registry_teams(head_email)},
        campaign_progress=frame(
            "campaign_progress",
            [
                progress("payments", True, "Meets rotation-sustainability passing."),
                progress("checkout", checkout_meets, "Behind: rotation-sustainability is fail (due 2026-12-14)."),
                progress("identity", False, f"Behind: {XSS} (due 2026-12-14)."),
            ],
        ),
        scorecard_rollup=frame(
            "scorecard_rollup",
            [
                {
                    "group_name": "commerce",
                    "group_type": "department",
                    "score": 70.0,
                    "level": "none",
                    "teams": 2,
                    "services": 2,
                }
            ],
        ),
    )


@pytest.fixture
def warehouse(tmp_path):
    warehouse = Warehouse(f"duckdb:///{tmp_path / 'warehouse.duckdb'}")
    publish(warehouse, WEEK_AGO, checkout_meets=False, head_email="head-commerce@example.com")
    publish(warehouse, DAY, checkout_meets=False, head_email="head-commerce@example.com")
    yield warehouse
    warehouse.dispose()


def test_a_campaign_shows_its_burn_up_days_left_and_the_teams_behind(warehouse):
    (campaign,) = views.campaigns_view(warehouse, DAY)
    assert (campaign.campaign_id, campaign.teams, campaign.meeting, campaign.days_left) == ("rotations", 3, 1, 28)
    assert [team.team for team in campaign.behind] == ["checkout", "identity"]
    assert campaign.behind[0].href == "teams/checkout"
    chart = campaign.burnup
    assert chart.title == "2026-11-09: 1 of 3; 2026-11-16: 1 of 3"
    assert len(chart.points.split()) == 2  # one point per audit date since the start
    assert chart.today_x < chart.due_x  # today is before the due date
    assert views.campaigns_view(warehouse, WEEK_AGO)[0].burnup.title == "2026-11-09: 1 of 3"  # nothing from later


def test_the_burn_up_spans_start_to_due_and_scales_to_the_teams_asked():
    start, due = dt.date(2026, 11, 1), dt.date(2026, 11, 11)
    chart = views.burnup([(start, 0), (due, 4)], start=start, due=due, today=due, scope=4)
    (x0, y0), (x1, y1) = (tuple(map(float, point.split(","))) for point in chart.points.split())
    assert (x0, x1) == (views.BURNUP_PAD, views.BURNUP_WIDTH - views.BURNUP_PAD)
    assert y1 == chart.scope_y < y0  # all four teams meet it: the line reaches the scope
    assert views.burnup([], start=start, due=due, today=start, scope=2).points == ""


def test_the_group_tree_nests_teams_under_their_department_and_drills_down(warehouse):
    tree = views.group_tree(warehouse, DAY)
    (commerce,) = tree.roots
    assert (commerce.name, commerce.score, commerce.level, commerce.teams) == ("commerce", 70.0, "none", 2)
    assert [team.team for team in commerce.members] == ["checkout", "payments"]
    assert [team.team for team in tree.unparented] == ["identity"]
    focus = views.group_tree(warehouse, DAY, focus="commerce")
    assert focus.focus.name == "commerce" and focus.ancestors == []
    assert [(title, team.team) for title, team in focus.behind] == [(f"Rotations {XSS}", "checkout")]
    assert views.group_tree(warehouse, DAY, focus="payments") is None  # a team, not a parent group


def test_the_pages_escape_values_and_link_back_from_their_depth(warehouse):
    html = views.render_campaigns_page(views.campaigns_view(warehouse, DAY), DAY)
    assert XSS not in html and "&lt;b&gt;x&lt;/b&gt;" in html
    assert 'href="teams/checkout"' in html and "28 days left" in html and '<svg class="burnup"' in html
    group_page = views.render_groups_page(views.group_tree(warehouse, DAY, focus="commerce"), root="../")
    assert 'href="../teams/payments"' in group_page and "Campaigns its teams are behind on" in group_page
    assert 'data-group="commerce"' in views.render_groups_page(views.group_tree(warehouse, DAY))


def test_an_older_warehouse_without_the_tables_shows_no_campaign(tmp_path):
    warehouse = Warehouse(f"duckdb:///{tmp_path / 'old.duckdb'}")
    try:
        assert views.campaigns_view(warehouse, DAY) == []
        assert "No campaign" in views.render_campaigns_page([], DAY)
    finally:
        warehouse.dispose()


def test_a_team_email_names_the_campaigns_it_is_behind_on(warehouse):
    week = load_week(warehouse, DAY)
    assert behind_campaigns(week, "payments") == []
    (behind,) = behind_campaigns(week, "checkout")
    assert (behind["campaign_id"], behind["days_left"]) == ("rotations", 28)
    message = weekly_email.build_team_email(
        week, "checkout", recipient="c@example.com", sender="r@example.com", date=SENT
    )
    text = message.get_body(("plain",)).get_content()
    assert "CAMPAIGNS YOU ARE BEHIND ON" in text
    assert f"Rotations {XSS} (rotations), due 2026-12-14, 28 days left" in text
    assert "Behind: rotation-sustainability is fail" in text
    html = message.get_body(("html",)).get_content()
    assert "Campaigns you are behind on" in html and XSS not in html
    payments = weekly_email.build_team_email(week, "payments", recipient="p@example.com", sender="r@e.com", date=SENT)
    assert "BEHIND ON" not in payments.get_body(("plain",)).get_content()


def test_the_department_head_gets_a_digest_of_their_teams(warehouse):
    week = load_week(warehouse, DAY)
    messages = weekly_email.build_week_emails(week, sender="r@example.com", digest_to=["cto@example.com"], date=SENT)
    kinds = [(m[weekly_email.HEADER_KIND], m[weekly_email.HEADER_TEAM]) for m in messages]
    assert ("department", "commerce") in kinds and ("team", "commerce") not in kinds
    (digest,) = [m for m in messages if m[weekly_email.HEADER_KIND] == "department"]
    assert digest["To"] == "head-commerce@example.com"
    assert digest["Subject"] == "On-call readiness of Commerce: below bronze (70), 2 teams — week of 2026-11-16"
    assert weekly_email.eml_name("department", "commerce") == "department-commerce"
    text = digest.get_body(("plain",)).get_content()
    assert "payments" in text and "checkout" in text and "identity" not in text  # only its own teams
    assert f"Rotations {XSS} (rotations): 1 of 2 teams meet it, due 2026-12-14, 28 days left; behind: checkout" in text
    parsed = email.message_from_bytes(digest.as_bytes(), policy=email.policy.default)
    assert parsed["Message-ID"] == digest["Message-ID"]  # stable, as the ledger and mail clients need


def test_a_department_without_an_email_gets_no_digest(tmp_path, caplog):
    warehouse = Warehouse(f"duckdb:///{tmp_path / 'warehouse.duckdb'}")
    try:
        publish(warehouse, DAY, checkout_meets=True, head_email=None)
        assert department_emails(load_week(warehouse, DAY), sender="r@example.com", date=SENT) == []
    finally:
        warehouse.dispose()
    assert "Group 'commerce' has no email address" in caplog.text


@pytest.mark.parametrize(
    ("days", "text"), [(3, "3 days left"), (1, "1 day left"), (0, "due today"), (-2, "overdue by 2 days")]
)
def test_days_left_reads_as_a_sentence(days, text):
    assert format_days_left(days) == text


@pytest.fixture
def client(tmp_path, monkeypatch):
    from fastapi.testclient import TestClient

    path = tmp_path / "warehouse.duckdb"
    warehouse = Warehouse(f"duckdb:///{path}")
    publish(warehouse, WEEK_AGO, checkout_meets=False, head_email="head-commerce@example.com")
    publish(warehouse, DAY, checkout_meets=False, head_email="head-commerce@example.com")
    warehouse.dispose()
    connection = {"conn_type": "generic", "extra": {"url": f"duckdb:///{path}"}}
    monkeypatch.setenv("AIRFLOW_CONN_READINESS_WAREHOUSE", json.dumps(connection))
    spec = importlib.util.spec_from_file_location("readiness_page_plugin", REPO / "plugins" / "readiness_page.py")
    plugin = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, plugin)
    spec.loader.exec_module(plugin)
    plugin.app.dependency_overrides[plugin.require_audit_reader] = lambda: "reader"
    with TestClient(plugin.app) as test_client:
        yield test_client


def test_the_plugin_serves_the_campaigns_page_and_the_group_tree_with_its_drill_down(client):
    """The plugin's routes in-process, its login replaced (the real one: tests/integration/test_readiness_page.py)."""
    campaigns = client.get("/campaigns")
    assert campaigns.status_code == 200 and 'data-campaign="rotations"' in campaigns.text
    assert 'href="teams/checkout"' in campaigns.text  # /readiness/campaigns: the team pages are siblings
    tree = client.get("/groups")
    assert tree.status_code == 200 and 'href="groups/commerce"' in tree.text
    drill = client.get("/groups/commerce")
    assert drill.status_code == 200 and 'href="../teams/payments"' in drill.text and "score (rolled up)" in drill.text
    assert 'href="../groups/commerce"' in client.get("/groups/").text  # one level down: links climb back
    missing = client.get("/groups/payments")  # a team, not a parent group
    assert missing.status_code == 404 and "no parent group named" in missing.text
