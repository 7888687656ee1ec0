"""The email benchmark counts what arrives at its SMTP server and judges "each team email once" from it."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage

from benchmarks import report
from benchmarks.mail_servers import running_smtp_server


def team_email(team: str, recipient: str) -> EmailMessage:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "readiness@example.com", recipient, f"{team}'s week"
    message["X-Readiness-Kind"], message["X-Readiness-Team"] = "team", team
    message.set_content("Your scorecard.")
    return message


def test_the_smtp_server_counts_each_delivery_and_the_sessions_they_came_by():
    with running_smtp_server() as (mailbox, port):
        with smtplib.SMTP("127.0.0.1", port) as client:
            client.send_message(team_email("checkout", "Checkout@example.com"))
            client.send_message(team_email("search", "search@example.com"))
        with smtplib.SMTP("127.0.0.1", port) as client:
            client.send_message(team_email("search", "search@example.com"))
        deliveries, sessions, largest = mailbox.deliveries(), mailbox.sessions(), mailbox.largest()
    assert deliveries == {("team", "checkout", "checkout@example.com"): 1, ("team", "search", "search@example.com"): 2}
    assert sessions == 2 and 200 < largest < 1000


def emails(delivered_twice: bool) -> dict:
    weekly = {
        "exit_code": 0,
        "emails": 3,
        "team_emails": 2,
        "task_s": 1.5,
        "send_s": 0.2,
        "peak_rss_mb": 300,
        "largest_bytes": 81_920,
        "largest": "digest",
        "delivered": 4 if delivered_twice else 3,
        "team_emails_delivered": 2,
        "each_once": not delivered_twice,
        "smtp_sessions": 1,
    }
    alerts = {
        "exit_code": 0,
        "changes": 3,
        "slack_teams": 2,
        "emails": 2,
        "delivered": 2,
        "each_once": True,
        "slack_posts": 1,
        "send_s": 0.1,
        "peak_rss_mb": 280,
        "largest_delivered_bytes": 5_120,
        "largest_slack_post_chars": 2_048,
        "smtp_sessions": 1,
    }
    return {"teams": 2, "emails": {"weekly": weekly, "alerts": alerts}}


def test_the_email_rows_say_whether_every_team_email_arrived_exactly_once():
    weekly, alerts = report.email_rows(emails(delivered_twice=False))
    assert (weekly["largest_kb"], weekly["team_emails"], weekly["once"]) == (80.0, "2 of 2", "yes")
    assert (alerts["slack_posts"], alerts["largest_kb"], alerts["once"]) == (1, 5.0, "yes")
    twice, _ = report.email_rows(emails(delivered_twice=True))
    assert twice["once"] == "NO"
    tables = "\n".join(report.email_markdown([emails(delivered_twice=False)]))
    assert "| 2 | 3 | 1.5 | 0.2 | 1 | 300 | 80.0 (digest) | 3 | 2 of 2 | yes |" in tables
    assert report.email_rows({"teams": 2}) is None and report.email_markdown([{"teams": 2}]) == []
