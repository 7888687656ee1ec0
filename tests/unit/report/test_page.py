"""The Readiness page's data and HTML, from a DuckDB warehouse seeded through Warehouse.publish."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from oncall_readiness.report import page
from oncall_readiness.warehouse import RESULT_TABLES, Warehouse

DAY = dt.date(2026, 11, 16)
WEEK_AGO = DAY - dt.timedelta(days=7)
XSS = "<script>alert(1)</script>"
ROTATION = "rotation-sustainability"


def frame(table: str, rows: list[dict]) -> pd.DataFrame:
    """Rows of a result table; columns a row leaves out are empty (so newer warehouse columns need no edit)."""
    columns = list(RESULT_TABLES[table])
    return pd.DataFrame([{column: row.get(column) for column in columns} for row in rows], columns=columns)


def card(team, score, level, *, passed=0, warned=0, failed=0, unknown=0, change=None):
    return {
        "team": team,
        "score": score,
        "level": level,
        "passed": passed,
        "warned": warned,
        "failed": failed,
        "unknown": unknown,
        "score_change_7d": change,
    }


def result(team, status, reason, score=None):
    return {
        "team": team,
        "check_id": ROTATION,
        "status": status,
        "score": score,
        "reason": reason,
        "remediation": f"Fix the rotation of {team}.",
    }


def finding(team, subject, outcome, message):
    return {"team": team, "check_id": ROTATION, "subject": subject, "outcome": outcome, "message": message}


def publish(warehouse, day, cards, results, findings=()):
    warehouse.publish(
        day,
        check_results=frame("check_results", results),
        findings=frame("findings", list(findings)),
        scorecard=frame("scorecard", cards),
        facts={},
    )


@pytest.fixture
def warehouse(tmp_path):
    warehouse = Warehouse(f"duckdb:///{tmp_path / 'warehouse.duckdb'}")
    yield warehouse
    warehouse.dispose()


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    """Three weekly audits; the tests only read it."""
    warehouse = Warehouse(f"duckdb:///{tmp_path_factory.mktemp('seeded') / 'warehouse.duckdb'}")
    publish(
        warehouse,
        WEEK_AGO - dt.timedelta(days=7),
        [card("checkout", 50.0, "bronze", warned=1), card("search", 50.0, "bronze", warned=1)],
        [result("checkout", "warn", "Turns of 1 day.", 5.0), result("search", "warn", "Turns of 1 day.", 5.0)],
    )
    publish(
        warehouse,
        WEEK_AGO,
        [card("checkout", 50.0, "bronze", warned=1), card("payments", 100.0, "gold", passed=1)],
        [result("checkout", "warn", "Turns of 1 day.", 5.0), result("payments", "pass", "Sustainable.", 10.0)],
    )
    publish(
        warehouse,
        DAY,
        [
            card("checkout", 100.0, "gold", passed=1, change=50.0),
            card("search", 50.0, "bronze", warned=1),
            card("notifications", 0.0, "none", failed=1),
            card(XSS, None, "none", unknown=1),
        ],
        [
            result("checkout", "pass", "Every rotation of the team is sustainable.", 10.0),
            result("search", "warn", "Search on-call hands over every 1 day.", 5.0),
            result("notifications", "fail", "Notifications on-call has 2 people on call.", 0.0),
            result(XSS, "unknown", "pagerduty data is unavailable: <b>down</b>."),
        ],
        [
            finding("notifications", "schedule:PS1", "fail", "PS1 has 2 people; at least 3 are needed."),
            finding("notifications", "person:ana", "warn", "Ana takes no turns."),
            finding("notifications", "person:bo", "pass", "Bo takes on-call turns."),
            finding(XSS, "schedule:<i>PX</i>", "unknown", "No data for <i>PX</i>."),
        ],
    )
    yield warehouse
    warehouse.dispose()


def test_an_empty_warehouse_has_no_scorecard_and_says_to_run_the_dag(warehouse):
    assert page.latest_audit_date(warehouse) is None
    assert page.organisation_scorecard(warehouse) is None
    assert page.team_report(warehouse, "checkout") is None
    html = page.render_message(page.EMPTY_HEADLINE, page.EMPTY_DETAIL)
    assert "run the readiness_audit DAG first" in html


def test_the_scorecard_lists_every_team_of_the_latest_audit_best_first(seeded):
    card = page.organisation_scorecard(seeded)
    assert card.audit_date == DAY
    assert [team.team for team in card.teams] == ["checkout", "search", "notifications", XSS]  # no score: last
    checkout = card.teams[0]
    assert (checkout.score, checkout.level, checkout.passed, checkout.change) == (100.0, "gold", 1, 50.0)
    assert card.levels == {"gold": 1, "silver": 0, "bronze": 1, "none": 2}
    assert card.needing_action == 2  # notifications failed, the XSS team is unknown


def test_each_team_carries_its_trend_and_its_most_pressing_reason(seeded):
    teams = {team.team: team for team in page.organisation_scorecard(seeded).teams}
    dates = [WEEK_AGO - dt.timedelta(days=7), WEEK_AGO, DAY]
    assert teams["checkout"].trend == list(zip(dates, [50.0, 50.0, 100.0], strict=True))
    assert teams["search"].trend == list(zip(dates, [50.0, None, 50.0], strict=True))  # absent a week ago
    assert teams["notifications"].headline == "Notifications on-call has 2 people on call."
    assert teams["checkout"].headline is None
    assert teams["checkout"].sparkline.points.count(",") == 3


@pytest.mark.parametrize(
    ("key", "descending", "expected"),
    [
        ("team", False, [XSS, "checkout", "notifications", "search"]),
        ("score", False, ["notifications", "search", "checkout", XSS]),
        ("level", True, ["checkout", "search", XSS, "notifications"]),  # ties by name
        ("failed", True, ["notifications", XSS, "checkout", "search"]),
        ("bogus", True, ["checkout", "search", "notifications", XSS]),  # unknown keys fall back to score
    ],
)
def test_the_scorecard_sorts_by_any_column(seeded, key, descending, expected):
    card = page.organisation_scorecard(seeded, sort=key, descending=descending)
    assert [team.team for team in card.teams] == expected


def test_sort_links_flip_the_sorted_column_only():
    links = page.sort_links("score", descending=True)
    assert links["score"] == "?sort=score&order=asc"
    assert links["team"] == "?sort=team&order=asc" and links["failed"] == "?sort=failed&order=desc"


def test_a_team_report_has_checks_findings_that_need_action_and_history(seeded):
    report = page.team_report(seeded, "notifications")
    assert report.audit_date == DAY and report.in_latest_audit
    assert [(c.check_id, c.status) for c in report.checks] == [(ROTATION, "fail")]
    assert report.checks[0].title == "Sustainable on-call rotation"
    assert report.checks[0].remediation == "Fix the rotation of notifications."
    assert [(f.outcome, f.subject) for f in report.findings] == [("fail", "schedule:PS1"), ("warn", "person:ana")]
    assert [row.audit_date for row in report.history] == [DAY]


def test_the_page_orders_statuses_worst_first_like_the_checks(warehouse):
    """fail, warn, unknown, waived, pass (oncall_readiness.schema): the headline is the warn a team can act on."""
    checks = {"a-check": "waived", "b-check": "unknown", "c-check": "warn", "d-check": "pass"}
    publish(
        warehouse,
        DAY,
        [card("search", 50.0, "bronze", passed=1, warned=1, unknown=1)],
        [{**result("search", status, f"{status} reason."), "check_id": check} for check, status in checks.items()],
        [
            {**finding("search", f"service:{outcome}", outcome, f"{outcome} finding"), "check_id": "a-check"}
            for outcome in ("unknown", "waived", "warn", "fail")
        ],
    )
    assert page.organisation_scorecard(warehouse).teams[0].headline == "warn reason."
    report = page.team_report(warehouse, "search")
    assert [c.status for c in report.checks] == ["warn", "unknown", "waived", "pass"]
    assert [f.outcome for f in report.findings] == ["fail", "warn", "unknown"]  # waived needs no action


def test_a_team_missing_from_the_latest_audit_shows_its_last_one(seeded):
    report = page.team_report(seeded, "payments")
    assert report.audit_date == WEEK_AGO and not report.in_latest_audit
    assert page.team_report(seeded, "nobody") is None


def test_history_is_newest_first_with_the_dag_runs_of_each_audit_date(seeded):
    report = page.team_report(seeded, "checkout")
    assert [(row.audit_date, row.score) for row in report.history] == [
        (DAY, 100.0),
        (WEEK_AGO, 50.0),
        (WEEK_AGO - dt.timedelta(days=7), 50.0),
    ]
    runs = page.runs_by_audit_date(
        [
            page.DagRunRecord("scheduled__2026-11-16", dt.datetime(2026, 11, 16, tzinfo=dt.UTC), "success"),
            page.DagRunRecord("manual__x+1", dt.datetime(2026, 11, 9, 0, 0), "failed", dt.datetime(2026, 11, 9, 2)),
            page.DagRunRecord("manual__x+2", dt.datetime(2026, 11, 9, 0, 0), "success", dt.datetime(2026, 11, 9, 1)),
            page.DagRunRecord("manual__x+3", dt.datetime(2026, 11, 9, 0, 0), "success", dt.datetime(2026, 11, 9, 3)),
        ],
        ui_root="/airflow/",
    )
    report = page.attach_runs(report, runs)
    assert [run.run_id for run in report.latest.runs] == ["scheduled__2026-11-16"]
    assert report.latest.runs[0].url == "/airflow/dags/readiness_audit/runs/scheduled__2026-11-16"
    assert [run.run_id for run in report.history[1].runs] == ["manual__x+3", "manual__x+2", "manual__x+1"]
    assert report.history[1].runs[0].url.endswith("/runs/manual__x%2B3")
    assert report.history[2].runs == []


def test_a_run_belongs_to_the_utc_date_of_its_data_interval_end():
    plus_two = dt.timezone(dt.timedelta(hours=2))
    runs = page.runs_by_audit_date(
        [page.DagRunRecord("r", dt.datetime(2026, 11, 17, 1, 0, tzinfo=plus_two), "success")]
    )
    assert list(runs) == [DAY]


def test_sparkline_scales_scores_to_a_fixed_0_to_100_box():
    line = page.sparkline([(WEEK_AGO, 100.0), (DAY, 0.0)], width=106, height=26)
    assert line.points == "3.0,3.0 103.0,23.0"
    assert (line.last_x, line.last_y) == (103.0, 23.0)
    assert page.sparkline([(DAY, None)]).points == ""


def test_pages_escape_every_value_from_the_warehouse(seeded):
    html = page.render_scorecard_page(page.organisation_scorecard(seeded), latest_runs=[])
    assert XSS not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert 'href="teams/%3Cscript%3Ealert%281%29%3C%2Fscript%3E"' in html
    team_html = page.render_team_page(page.team_report(seeded, XSS), scorecard_href="../")
    assert "<script>" not in team_html and "<i>" not in team_html and "<b>" not in team_html
    assert "&lt;b&gt;down&lt;/b&gt;" in team_html and "schedule:&lt;i&gt;PX&lt;/i&gt;" in team_html


def test_the_team_page_links_each_audit_to_its_dag_run_or_to_the_dag(seeded):
    report = page.team_report(seeded, "checkout")
    report = page.attach_runs(report, {DAY: [page.AuditRun("manual__1", "success", "/dags/readiness_audit/runs/m")]})
    html = page.render_team_page(report, scorecard_href="../")
    assert 'href="/dags/readiness_audit/runs/m" target="_top"' in html
    assert 'href="/dags/readiness_audit" target="_top"' in html  # audit dates without a known run


def test_warehouse_urls_for_reading(tmp_path):
    missing = f"duckdb:///{tmp_path / 'none.duckdb'}"
    assert not page.warehouse_exists(missing)
    assert page.read_only_url(missing).endswith("none.duckdb?access_mode=read_only")
    postgres = "postgresql+psycopg2://reader:secret@db/warehouse"
    assert page.warehouse_exists(postgres) and page.read_only_url(postgres) == postgres
    assert "secret" not in page.describe_url(postgres)


def test_the_team_page_lists_services_out_of_a_checks_scope_once_with_the_checks_that_skip_them(warehouse):
    scoped = "Out of scope: pay-lab is not judged, lifecycle experimental (the check applies to lifecycle production)"
    publish(
        warehouse,
        DAY,
        [card("payments", 100.0, "gold", passed=2)],
        [{**result("payments", "pass", "Fine.", 10.0), "check_id": check} for check in ("a-check", "b-check")],
        [
            {**finding("payments", "service:pay-lab", "pass", scoped), "check_id": "a-check"},
            {**finding("payments", "service:pay-lab", "pass", scoped), "check_id": "b-check"},
            {**finding("payments", "service:pay-api", "pass", "pay-api has a runbook."), "check_id": "a-check"},
        ],
    )
    report = page.team_report(warehouse, "payments")
    assert report.findings == []  # nothing needs action
    assert report.not_judged == [
        {
            "subject": "service:pay-lab",
            "checks": ["a-check", "b-check"],
            "why": "lifecycle experimental (the check applies to lifecycle production)",
        }
    ]
    html = page.render_team_page(report, scorecard_href="../")
    assert "Not judged (out of scope)" in html and "a-check, b-check" in html
