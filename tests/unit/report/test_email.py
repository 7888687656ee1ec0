"""The email builders without a server: subjects, recipients, sender, file names, the chart, determinism."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pandas as pd
import pytest

from oncall_readiness.report import chart
from oncall_readiness.report import email as weekly_email
from oncall_readiness.report.chart import level_distribution_png, score_trend_png
from oncall_readiness.report.weekly import ScorecardWeek

WEEK = dt.date(2026, 11, 16)
SENT = dt.datetime(2026, 11, 16, 8, tzinfo=dt.UTC)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    ("level", "score", "change", "subject"),
    [
        ("gold", 100.0, None, "On-call readiness: payments is gold (100) — week of 2026-11-16"),
        ("gold", 100.0, 0.0, "On-call readiness: payments is gold (100) — week of 2026-11-16"),
        ("silver", 87.5, 12.5, "On-call readiness: payments is silver (87.5, up 12.5) — week of 2026-11-16"),
        ("none", 40.0, -20.0, "On-call readiness: payments is below bronze (40, down 20) — week of 2026-11-16"),
        ("none", None, None, "On-call readiness: payments could not be assessed — week of 2026-11-16"),
    ],
)
def test_the_subject_says_where_the_team_stands(level, score, change, subject):
    assert weekly_email.team_subject("payments", level, score, change, WEEK) == subject


def test_the_digest_subject_counts_the_levels():
    levels = {"gold": 2, "silver": 0, "bronze": 3, "none": 1}
    assert weekly_email.digest_subject(levels, WEEK) == (
        "On-call readiness digest: 6 teams, 2 gold, 0 silver, 3 bronze, 1 below bronze — week of 2026-11-16"
    )


def test_digest_recipients_come_from_the_param_else_the_environment(monkeypatch):
    monkeypatch.setenv("READINESS_DIGEST_RECIPIENTS", " cto@example.com; vp@example.com,,cto@example.com ")
    assert weekly_email.digest_recipients() == ["cto@example.com", "vp@example.com"]
    assert weekly_email.digest_recipients("lead@example.com, ops@example.com") == [
        "lead@example.com",
        "ops@example.com",
    ]
    assert weekly_email.digest_recipients("") == ["cto@example.com", "vp@example.com"]
    monkeypatch.delenv("READINESS_DIGEST_RECIPIENTS")
    assert weekly_email.digest_recipients() == []


def test_the_sender_is_the_environment_then_the_connection_then_the_default(monkeypatch):
    monkeypatch.delenv("READINESS_EMAIL_FROM", raising=False)
    assert weekly_email.sender_address() == "oncall-readiness@localhost"
    assert weekly_email.sender_address("smtp-from@example.com") == "smtp-from@example.com"
    monkeypatch.setenv("READINESS_EMAIL_FROM", "readiness@example.com")
    assert weekly_email.sender_address("smtp-from@example.com") == "readiness@example.com"


def test_eml_names_are_file_safe_and_distinct():
    assert weekly_email.eml_name("team", "payments") == "team-payments"
    assert weekly_email.eml_name("digest", "") == "digest"
    odd = weekly_email.eml_name("team", "<script>alert(1)</script>")
    assert odd.startswith("team-script-alert-1-script-") and "/" not in odd and "<" not in odd
    assert weekly_email.eml_name("team", "a/b") != weekly_email.eml_name("team", "a-b")


def test_charts_are_png_and_the_same_data_gives_the_same_bytes():
    weeks = [WEEK - dt.timedelta(days=7 * back) for back in range(3, -1, -1)]
    trend = score_trend_png(weeks, [50.0, None, 75.0, 100.0])
    assert trend.startswith(PNG_SIGNATURE)
    assert trend == score_trend_png(weeks, [50.0, None, 75.0, 100.0])
    assert trend != score_trend_png(weeks, [50.0, None, 75.0, 90.0])
    levels = level_distribution_png(weeks, [{"gold": 1}, {}, {"none": 2, "gold": 1}, {"silver": 3}])
    assert levels.startswith(PNG_SIGNATURE)


def one_team_week(team: str = "payments") -> ScorecardWeek:
    card = pd.DataFrame(
        [{"team": team, "score": 100.0, "level": "gold", "passed": 1, "warned": 0, "failed": 0, "unknown": 0}]
    )
    result = pd.DataFrame(
        [
            {
                "team": team,
                "check_id": "rotation-sustainability",
                "status": "pass",
                "score": 10.0,
                "reason": "Every rotation of the team is sustainable.",
                "remediation": "No action needed.",
            }
        ]
    )
    findings = pd.DataFrame(columns=["team", "check_id", "subject", "outcome", "message"])
    return ScorecardWeek(
        week=WEEK,
        previous=None,
        scorecard=card,
        results=result,
        findings=findings,
        previous_scorecard=card.iloc[0:0],
        previous_results=result.iloc[0:0],
        previous_findings=findings,
        history=pd.DataFrame([{"slot": WEEK, "audit_date": WEEK, "team": team, "score": 100.0, "level": "gold"}]),
        slots=(WEEK,),
        teams=pd.DataFrame([{"team": team, "display_name": "Payments", "email": "payments@example.com"}]),
    )


def test_a_team_email_is_alternative_text_and_related_html_with_the_chart():
    message = weekly_email.build_team_email(
        one_team_week(), "payments", recipient="payments@example.com", sender="readiness@example.com", date=SENT
    )
    assert message["To"] == "payments@example.com" and message["From"] == "readiness@example.com"
    assert message["X-Readiness-Week"] == "2026-11-16" and message["X-Readiness-Kind"] == "team"
    assert message["Message-ID"].endswith("@example.com>")
    plain, related = message.get_payload()
    html, image = related.get_payload()
    assert (plain.get_content_type(), related.get_content_type()) == ("text/plain", "multipart/related")
    assert f'src="cid:{image["Content-ID"].strip("<>")}"' in html.get_content()
    assert "first week with an audit to report" in plain.get_content()
    again = weekly_email.build_team_email(
        one_team_week(), "payments", recipient="payments@example.com", sender="readiness@example.com", date=SENT
    )
    assert again.as_bytes() == message.as_bytes()


def test_a_team_without_an_address_is_skipped_by_name(caplog):
    week = one_team_week()
    week = ScorecardWeek(**{**week.__dict__, "teams": week.teams.assign(email=None)})
    messages = weekly_email.build_week_emails(week, sender="r@example.com", digest_to=["cto@example.com"], date=SENT)
    assert [message["X-Readiness-Kind"] for message in messages] == ["digest"]
    assert "Team 'payments' has no email address" in caplog.text


def week_of_repeating_trends(teams: int, shapes: int) -> ScorecardWeek:
    """``teams`` teams whose two-week trends take ``shapes`` distinct forms (no incident data: no second chart)."""
    names = [f"team-{index:03d}" for index in range(teams)]
    previous = WEEK - dt.timedelta(days=7)
    card = pd.DataFrame(
        [
            {"team": name, "score": 50.0 + index % shapes, "level": "bronze"}
            | {"passed": 1, "warned": 0, "failed": 0, "unknown": 0}
            for index, name in enumerate(names)
        ]
    )
    history = pd.concat(
        [card.assign(slot=previous, audit_date=previous, score=40.0), card.assign(slot=WEEK, audit_date=WEEK)]
    )
    results = pd.DataFrame(columns=["team", "check_id", "status", "score", "reason", "remediation"])
    findings = pd.DataFrame(columns=["team", "check_id", "subject", "outcome", "message"])
    return ScorecardWeek(
        week=WEEK,
        previous=previous,
        scorecard=card,
        results=results,
        findings=findings,
        previous_scorecard=card.assign(score=40.0),
        previous_results=results,
        previous_findings=findings,
        history=history[["slot", "audit_date", "team", "score", "level"]],
        slots=(previous, WEEK),
        teams=pd.DataFrame([{"team": name, "display_name": name, "email": f"{name}@example.com"} for name in names]),
    )


def test_a_chart_is_drawn_once_per_distinct_shape_not_once_per_team(monkeypatch):
    drawn = []
    draw = chart._png

    def counting_draw(figure, key):
        drawn.append(key)
        return draw(figure, key)

    monkeypatch.setattr(chart, "_png", counting_draw)
    chart._score_trend_png.cache_clear()
    messages = weekly_email.build_week_emails(
        week_of_repeating_trends(teams=60, shapes=3), sender="r@example.com", digest_to=["cto@example.com"], date=SENT
    )
    assert len(messages) == 61
    assert [kind for kind, _ in drawn] == ["trend"] * 3 + ["levels"]  # the three trends, and the digest's levels
    first, fourth = (message.get_payload()[1].get_payload()[1] for message in messages[0:4:3])  # the same shape
    assert first.get_payload(decode=True) == fourth.get_payload(decode=True)


def week_with_findings() -> ScorecardWeek:
    week = one_team_week()
    remediation = "Annotate the service with `readiness/alert-selector` ([how](https://docs.example/alerts))."
    results = pd.DataFrame(
        [
            {
                "team": "payments",
                "check_id": check,
                "status": status,
                "score": 0.0,
                "reason": "r",
                "remediation": remediation,
            }
            for check, status in (("chaos-day", "fail"), ("escalation-path", "fail"), ("dashboard-coverage", "warn"))
        ]
    )
    findings = pd.DataFrame(
        [
            ("payments", "chaos-day", "team:payments", "fail", "No Chaos Day recorded", None, None),
            ("payments", "dashboard-coverage", "service:payments-api", "warn", "No logging dashboard", None, None),
            (
                "payments",
                "escalation-path",
                "service:payments-media",
                "fail",
                "payments-media names no PagerDuty service",
                "https://acme.pagerduty.com/service-directory/PV1",
                "Payments Media",
            ),
        ],
        columns=["team", "check_id", "subject", "outcome", "message", "url", "subject_name"],
    )
    return dataclasses.replace(week, results=results, findings=findings)


def test_a_team_email_links_its_page_and_each_finding_and_renders_remediation_markdown():
    message = weekly_email.build_team_email(
        week_with_findings(),
        "payments",
        recipient="payments@example.com",
        sender="readiness@example.com",
        date=SENT,
        page_url="https://airflow.example/readiness",
    )
    plain, related = message.get_payload()
    html = related.get_payload()[0].get_content()
    text = plain.get_content()
    assert 'href="https://airflow.example/readiness/teams/payments"' in html
    assert "https://airflow.example/readiness/teams/payments" in text
    assert '<a href="https://acme.pagerduty.com/service-directory/PV1"' in html and ">Payments Media</a>" in html
    assert "Payments Media <https://acme.pagerduty.com/service-directory/PV1>" in text
    assert "<code>readiness/alert-selector</code>" in html and '<a href="https://docs.example/alerts">how</a>' in html
    assert "`" not in text.split("CHECKS", 1)[1].split("NEEDS ACTION", 1)[0]


def test_the_most_pressing_finding_is_the_heaviest_failing_page_that_reaches_nobody():
    message = weekly_email.build_team_email(
        week_with_findings(), "payments", recipient="payments@example.com", sender="readiness@example.com", date=SENT
    )
    text = message.get_payload()[0].get_content()
    needs_action = text.split("NEEDS ACTION", 1)[1]
    # escalation-path (fail, weight 2) before chaos-day (fail, weight 1) though "c" sorts first; warn last.
    assert needs_action.index("names no PagerDuty service") < needs_action.index("No Chaos Day recorded")
    assert needs_action.index("No Chaos Day recorded") < needs_action.index("No logging dashboard")


def test_a_long_subject_keeps_single_spaces_in_a_mail_client():
    from email import message_from_bytes, policy

    week = one_team_week("a-team-with-a-rather-long-name")
    message = weekly_email.build_team_email(
        week, "a-team-with-a-rather-long-name", recipient="t@example.com", sender="readiness@example.com", date=SENT
    )
    parsed = message_from_bytes(message.as_bytes(), policy=policy.default)
    assert "  " not in parsed["Subject"] and parsed["Subject"] == message["Subject"]


def test_unpriced_incidents_are_counted_in_whole_numbers():
    from oncall_readiness.report.incident_email import format_losses

    assert format_losses({"GBP": 1200.0}, 1.5) == "GBP 1,200 + 2 unpriced incidents"
    assert format_losses({}, 0.25) == "unknown: 1 unpriced incident"
