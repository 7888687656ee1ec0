"""Waivers where people see them: the warehouse table, the team's weekly email and the Readiness page."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pandas as pd
import pytest

from oncall_readiness.report import email as weekly_email
from oncall_readiness.report import page
from oncall_readiness.report.weekly import ScorecardWeek, load_week
from oncall_readiness.waivers import WAIVER_COLUMNS
from oncall_readiness.waivers.report import team_waivers
from oncall_readiness.warehouse import RESULT_TABLES, Warehouse

DAY = dt.date(2026, 11, 16)
SENT = dt.datetime(2026, 11, 16, 8, tzinfo=dt.UTC)
CHAOS = "chaos-day"


def waiver(check_id, expires, *, active, approved=dt.date(2026, 9, 1), subject=None, team="payments"):
    return {
        "team": team,
        "check_id": check_id,
        "subject": subject,
        "reason": f"Agreed exception to {check_id}.",
        "approver": "dana@example.com",
        "approved": approved,
        "expires": expires,
        "active": active,
        "source": "readiness-waivers.yaml:2",
    }


WAIVERS = pd.DataFrame(
    [
        waiver(CHAOS, dt.date(2026, 12, 15), active=True),
        waiver("oncall-load", dt.date(2026, 11, 19), active=True, subject="person:ada"),
        waiver("dashboard-coverage", dt.date(2026, 11, 13), active=False),
        waiver("runbook-freshness", dt.date(2026, 10, 1), active=False),  # expired long ago: not told
        waiver("alert-definitions", dt.date(2026, 12, 20), active=False, approved=dt.date(2026, 11, 20)),  # not yet
        waiver(CHAOS, dt.date(2026, 12, 1), active=True, team="search"),
    ],
    columns=WAIVER_COLUMNS,
)


def test_the_email_tells_waivers_in_force_ending_this_week_and_just_expired():
    told = team_waivers(WAIVERS, "payments", DAY)
    assert [(w["check_id"], w["state"]) for w in told] == [
        ("dashboard-coverage", "expired"),
        ("oncall-load", "ending"),
        (CHAOS, "active"),
    ]
    assert told[0]["note"] == "expired on 2026-11-13: it no longer applies, the check counts again"
    assert told[1]["note"] == "expires on 2026-11-19, this week: fix what it covers or have it renewed"
    assert told[1]["subject"] == "person:ada" and told[2]["subject"] is None
    assert team_waivers(None, "payments", DAY) == [] and team_waivers(WAIVERS, "identity", DAY) == []


def one_team_week() -> ScorecardWeek:
    card = pd.DataFrame(
        [{"team": "payments", "score": 100.0, "level": "gold", "passed": 0, "warned": 0, "failed": 0, "unknown": 0}]
    )
    reason = "Waived until 2026-12-15 by dana@example.com: Agreed exception to chaos-day."
    results = pd.DataFrame(
        [
            {
                "team": "payments",
                "check_id": CHAOS,
                "status": "waived",
                "score": None,
                "reason": reason,
                "remediation": "-",
            }
        ]
    )
    findings = pd.DataFrame(columns=["team", "check_id", "subject", "outcome", "message"])
    return ScorecardWeek(
        week=DAY,
        previous=None,
        scorecard=card,
        results=results,
        findings=findings,
        previous_scorecard=card.iloc[0:0],
        previous_results=results.iloc[0:0],
        previous_findings=findings,
        history=pd.DataFrame([{"slot": DAY, "audit_date": DAY, "team": "payments", "score": 100.0, "level": "gold"}]),
        slots=(DAY,),
        teams=pd.DataFrame([{"team": "payments", "display_name": "Payments", "email": "payments@example.com"}]),
        waivers=WAIVERS,
    )


def test_the_team_email_has_a_waivers_block_and_the_waived_check_with_its_reason():
    message = weekly_email.build_team_email(
        one_team_week(), "payments", recipient="payments@example.com", sender="r@example.com", date=SENT
    )
    plain, related = message.get_payload()
    text, html = plain.get_content(), related.get_payload()[0].get_content()
    assert "(chaos-day): waived\n  Why: Waived until 2026-12-15 by dana@example.com: Agreed exception" in text
    assert "WAIVERS" in text
    assert "- dashboard-coverage: expired on 2026-11-13: it no longer applies, the check counts again" in text
    assert "- oncall-load (person:ada): expires on 2026-11-19, this week" in text
    assert "Approved by dana@example.com: Agreed exception to chaos-day." in text
    assert "<h2" in html and "Waivers</h2>" in html and "expired on 2026-11-13" in html
    without = dataclasses.replace(one_team_week(), waivers=None)
    plain = weekly_email.build_team_email(
        without, "payments", recipient="payments@example.com", sender="r@example.com", date=SENT
    ).get_payload()[0]
    assert "WAIVERS" not in plain.get_content()


@pytest.fixture
def published(tmp_path):
    warehouse = Warehouse(f"duckdb:///{tmp_path / 'warehouse.duckdb'}")

    def frame(table, rows):
        return pd.DataFrame(
            [{c: row.get(c) for c in RESULT_TABLES[table]} for row in rows], columns=list(RESULT_TABLES[table])
        )

    reason = "Waived until 2026-12-15 by dana@example.com: Agreed exception to chaos-day."
    warehouse.publish(
        DAY,
        check_results=frame(
            "check_results", [{"team": "payments", "check_id": CHAOS, "status": "waived", "reason": reason}]
        ),
        findings=frame("findings", []),
        scorecard=frame(
            "scorecard",
            [{"team": "payments", "score": None, "level": "none", "passed": 0, "warned": 0, "failed": 0, "unknown": 0}],
        ),
        facts={},
        waivers=WAIVERS,
    )
    yield warehouse
    warehouse.dispose()


def test_the_warehouse_keeps_every_waiver_with_its_active_flag(published):
    rows = published.query("SELECT * FROM readiness.waivers ORDER BY team, check_id, expires")
    assert len(rows) == len(WAIVERS) and set(rows["audit_date"].astype(str)) == {"2026-11-16"}
    assert rows["active"].tolist() == [False, True, False, True, False, True]
    assert rows["subject"].isna().sum() == 5 and str(rows["expires"].iloc[0]) == "2026-12-20"
    again = published.publish(
        DAY,
        check_results=pd.DataFrame(columns=list(RESULT_TABLES["check_results"])),
        findings=pd.DataFrame(columns=list(RESULT_TABLES["findings"])),
        scorecard=pd.DataFrame(columns=list(RESULT_TABLES["scorecard"])),
        facts={},
        waivers=WAIVERS,
    )
    assert again["waivers"] == len(WAIVERS)
    assert published.query("SELECT COUNT(*) AS n FROM readiness.waivers")["n"].iloc[0] == len(WAIVERS)  # replaced


def test_the_team_page_lists_the_waivers_in_force_first(published):
    report = page.team_report(published, "payments")
    assert [w["check_id"] for w in report.waivers][:2] == ["oncall-load", CHAOS]  # in force, ending soonest first
    html = page.render_team_page(report, scorecard_href="../")
    assert '<table id="waivers">' in html and "2 in force" in html
    assert "Waived until 2026-12-15 by dana@example.com" in html  # the waived check's reason
    assert "not yet approved" in html and "expired" in html and "the whole check" in html


def test_the_week_reads_the_waivers_table(published):
    assert len(load_week(published, DAY).waivers) == len(WAIVERS)


def test_a_waived_finding_is_not_listed_as_needing_action_in_the_team_email():
    findings = pd.DataFrame(
        [
            {"team": "payments", "check_id": CHAOS, "subject": "service:pay-api", "outcome": "waived", "message": "W."},
            {"team": "payments", "check_id": CHAOS, "subject": "service:pay-web", "outcome": "warn", "message": "X."},
        ]
    )
    week = dataclasses.replace(one_team_week(), findings=findings)
    message = weekly_email.build_team_email(
        week, "payments", recipient="payments@example.com", sender="r@example.com", date=SENT
    )
    text = message.get_payload()[0].get_content()
    assert "- [warn] service:pay-web: X. (chaos-day)" in text
    assert "service:pay-api" not in text  # waived: the page and the email ask nothing for it
