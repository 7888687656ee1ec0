"""Which changes alert: level drops and checks turning fail, against the previous audit."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from oncall_readiness.alerts.changes import CHECK_FAIL, LEVEL_DROP, detect_changes
from oncall_readiness.alerts.messages import build_email, subject
from oncall_readiness.alerts.slack import slack_posts

DAY = dt.date(2026, 11, 16)


def card(rows: list[tuple[str, str, float | None]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["team", "level", "score"])


def results(rows: list[tuple[str, str, str]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["team", "check_id", "status"])
    return frame.assign(reason=frame["team"] + " " + frame["check_id"] + " reason.", remediation="Fix it.")


def test_a_level_drop_and_a_check_turning_fail_alert_once_each():
    changes = detect_changes(
        DAY,
        card([("checkout", "silver", 80.0), ("search", "gold", 95.0), ("payments", "bronze", 60.0)]),
        card([("checkout", "gold", 92.0), ("search", "silver", 80.0), ("payments", "bronze", 70.0)]),
        results([("checkout", "chaos-day", "pass"), ("payments", "chaos-day", "fail"), ("search", "x", "fail")]),
        results([("checkout", "chaos-day", "pass"), ("payments", "chaos-day", "warn"), ("search", "x", "fail")]),
    )
    assert [(c.team, c.kind, c.check_id, c.before, c.after) for c in changes] == [
        ("checkout", LEVEL_DROP, "", "gold", "silver"),
        ("payments", CHECK_FAIL, "chaos-day", "warn", "fail"),
    ]  # search improved and its check was already failing: nothing to tell
    assert changes[0].sentence() == "Level dropped from gold to silver (score 92 → 80)."
    assert changes[1].sentence() == "chaos-day turned fail (it was warn): payments chaos-day reason."


def test_a_new_team_or_first_audit_alerts_nothing_but_a_new_failing_check_does():
    today = results([("new-team", "chaos-day", "fail"), ("checkout", "security-scan", "fail")])
    changes = detect_changes(
        DAY,
        card([("new-team", "none", None), ("checkout", "gold", 95.0)]),
        card([("checkout", "gold", 95.0)]),
        today,
        results([("checkout", "chaos-day", "pass")]),
    )
    assert [(c.team, c.check_id, c.before) for c in changes] == [("checkout", "security-scan", "absent")]
    assert detect_changes(DAY, card([("checkout", "none", None)]), card([]), today, results([])) == []


def test_a_waived_check_whose_waiver_expired_alerts_when_it_fails():
    changes = detect_changes(
        DAY,
        card([("search", "bronze", 60.0)]),
        card([("search", "bronze", 60.0)]),
        results([("search", "runbook-freshness", "fail")]),
        results([("search", "runbook-freshness", "waived")]),
    )
    assert [(c.kind, c.before) for c in changes] == [(CHECK_FAIL, "waived")]


def test_the_messages_escape_what_the_warehouse_holds():
    changes = detect_changes(
        DAY,
        card([("<b>ops</b>", "none", 10.0)]),
        card([("<b>ops</b>", "gold", 95.0)]),
        results([("<b>ops</b>", "chaos-day", "fail")]),
        results([("<b>ops</b>", "chaos-day", "pass")]),
    )
    assert (
        subject("<b>ops</b>", changes) == "[Readiness] <b>ops</b>: level gold → none, 1 check turned fail (2026-11-16)"
    )
    email = build_email(
        "<b>ops</b>",
        changes,
        recipient="ops@example.com",
        sender="readiness@example.com",
        date=dt.datetime(2026, 11, 16, 7, tzinfo=dt.UTC),
        page_url="http://airflow/readiness/teams/%3Cb%3E",
    )
    html = email.get_body(("html",)).get_content()
    assert "&lt;b&gt;ops&lt;/b&gt;" in html and "<b>ops</b>" not in html
    assert "What to do: Fix it." in email.get_body(("plain",)).get_content()
    [slack] = slack_posts({"<b>ops</b>": changes}, {})
    blocks = str(slack.payload["blocks"])
    assert "<b>" not in blocks and "&lt;b&gt;ops&lt;/b&gt;" in blocks


def test_the_audit_publishes_the_asset_the_alerts_are_scheduled_on():
    """The two DAG files spell the asset out (they import nothing of ours); they must agree with alerts."""
    import runpy
    from pathlib import Path

    from oncall_readiness.alerts import SCORECARD_ASSET_NAME, SCORECARD_ASSET_URI

    dags = Path(__file__).resolve().parents[3] / "dags"
    for name in ("readiness_audit", "readiness_alerts"):
        asset = runpy.run_path(str(dags / f"{name}.py"))["SCORECARD"]
        assert (asset.name, asset.uri) == (SCORECARD_ASSET_NAME, SCORECARD_ASSET_URI), name
