"""Same-day alerts through a real SMTP server (aiosmtpd) and a local HTTP receiver for Slack's webhook.

The seeded history (tests/integration/conftest.py) changes on 2026-11-16 for two teams:
``<script>alert(1)</script>`` drops from gold to none and its rotation-sustainability turns
fail; checkout's level drops (its heavier check went from pass to warn). Search improves and
notifications keeps failing as before: no alert. The Slack connection points the Airflow
Slack provider's webhook hook at the receiver.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pandas as pd
import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller

from oncall_readiness.alerts.delivery import AlertDeliveryError, send_alerts
from oncall_readiness.alerts.run import alert_dates, event_dates
from oncall_readiness.errors import ConnectionConfigError
from oncall_readiness.warehouse import Warehouse
from tests.integration.conftest import WEEK

pytestmark = pytest.mark.integration

WEBHOOK_TOKEN = "T0READY/B0READY/webhook-secret-4711"
PAGE_ROOT = "http://airflow.example.com/readiness"


class Mailbox:
    """Keeps every message the SMTP server accepted, and the client connections (sessions) they came by."""

    def __init__(self) -> None:
        self.received: list[tuple[list[str], email.message.EmailMessage]] = []
        self.sessions: set[tuple[str, int]] = set()

    async def handle_DATA(self, server, session, envelope) -> str:
        message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        self.received.append((list(envelope.rcpt_tos), message))
        self.sessions.add(tuple(session.peer))  # the client's address and port: one per SMTP session
        return "250 2.0.0 OK"


class SlackReceiver(BaseHTTPRequestHandler):
    """Answers like Slack's incoming webhook: 200 "ok", or the status the test sets (``refused``: posts by number)."""

    posts: list[tuple[str, dict]] = []
    status = 200
    refused: set[int] = set()  # the posts (1 is the first received) answered 500 whatever ``status`` says

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).posts.append((self.path, body))
        status = 500 if len(type(self).posts) in self.refused else self.status
        answer = b"ok" if status == 200 else b"invalid_payload"
        self.send_response(status)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args) -> None:
        pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def mailbox(monkeypatch):
    handler, port = Mailbox(), free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    extra = {"disable_ssl": True, "disable_tls": True, "timeout": 10, "retry_limit": 0}
    connection = {"conn_type": "smtp", "host": "127.0.0.1", "port": port, "extra": extra}
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", json.dumps(connection))
    monkeypatch.setenv("READINESS_EMAIL_FROM", "readiness@example.com")
    yield handler
    controller.stop()


@pytest.fixture
def slack(monkeypatch):
    SlackReceiver.posts, SlackReceiver.status, SlackReceiver.refused = [], 200, set()
    server = ThreadingHTTPServer(("127.0.0.1", 0), SlackReceiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    connection = {
        "conn_type": "slackwebhook",
        "host": f"http://127.0.0.1:{server.server_port}",
        "password": WEBHOOK_TOKEN,
    }
    monkeypatch.setenv("AIRFLOW_CONN_SLACK_WEBHOOK_DEFAULT", json.dumps(connection))
    yield SlackReceiver
    server.shutdown()
    server.server_close()
    thread.join(5)


def ledger(url: str) -> list[tuple]:
    warehouse = Warehouse(url)
    try:
        rows = warehouse.query("SELECT team, kind, check_id, channel, destination FROM readiness.alert_ledger")
    finally:
        warehouse.dispose()
    return sorted(rows.itertuples(index=False, name=None))


def test_a_level_drop_and_a_failing_check_reach_the_team_by_email_and_slack_once(mailbox, slack, history_url, history):
    report = send_alerts(history_url, history.WEEK, page_root=PAGE_ROOT)
    assert report.summary() | {"audit_date": None} == {
        "audit_date": None,
        "changes": 3,
        "emails": 2,
        "slack_messages": 1,  # the day's changes of both teams in one message
        "slack_teams": 2,
        "already_told": 0,
        "failed": 0,
        "skipped": None,
    }
    inbox = {recipient: message for recipients, message in mailbox.received for recipient in recipients}
    assert sorted(inbox) == ["checkout-team@example.com", "script-team@example.com"]
    assert inbox["checkout-team@example.com"]["Subject"].startswith("[Readiness] checkout: level ")
    message = inbox["script-team@example.com"]
    assert message["Subject"] == (
        "[Readiness] <script>alert(1)</script>: level gold → none, 1 check turned fail (2026-11-16)"
    )
    text = message.get_body(("plain",)).get_content()
    assert "Level dropped from gold to none" in text and "rotation-sustainability turned fail (it was pass)" in text
    assert "<script>" not in message.get_body(("html",)).get_content()
    assert len(mailbox.sessions) == 1  # both emails in one SMTP session
    [(path, body)] = slack.posts
    assert body["text"] == "On-call readiness, 2026-11-16: 3 changes in 2 teams"
    assert path == "/" + WEBHOOK_TOKEN  # the provider's webhook hook built the URL from the connection
    assert "&lt;script&gt;" in json.dumps(body["blocks"]) and "%3Cscript%3E" in json.dumps(body["blocks"])
    assert [row for row in ledger(history_url) if row[0] == history.SCRIPT_TEAM] == [
        (history.SCRIPT_TEAM, "check-fail", "rotation-sustainability", "email", "script-team@example.com"),
        (history.SCRIPT_TEAM, "check-fail", "rotation-sustainability", "slack", "slack_webhook_default"),
        (history.SCRIPT_TEAM, "level-drop", "", "email", "script-team@example.com"),
        (history.SCRIPT_TEAM, "level-drop", "", "slack", "slack_webhook_default"),
    ]  # the webhook's token is never stored

    again = send_alerts(history_url, history.WEEK, page_root=PAGE_ROOT)  # a re-run of the audit or the alerts
    assert (again.summary()["emails"], again.summary()["slack_messages"], again.already_told) == (0, 0, 6)
    assert len(mailbox.received) == 2 and len(slack.posts) == 1


def test_without_the_slack_connection_alerts_go_by_email_only(mailbox, history_url, history, monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_SLACK_WEBHOOK_DEFAULT", raising=False)
    report = send_alerts(history_url, history.WEEK)
    assert (report.summary()["emails"], report.summary()["slack_messages"]) == (2, 0)
    assert {row[3] for row in ledger(history_url)} == {"email"}


def test_a_failed_webhook_fails_the_task_and_its_retry_sends_only_slack(mailbox, slack, history_url, history, caplog):
    slack.status = 500
    with pytest.raises(AlertDeliveryError) as error:
        send_alerts(history_url, history.WEEK)
    assert "Slack message of team" in str(error.value) and "500" in str(error.value)
    assert WEBHOOK_TOKEN.split("/")[-1] not in str(error.value) + caplog.text
    assert len(mailbox.received) == 2  # the emails went regardless
    slack.status = 200
    retry = send_alerts(history_url, history.WEEK)
    assert (retry.summary()["emails"], retry.summary()["slack_messages"]) == (0, 1)
    assert len(mailbox.received) == 2 and len(slack.posts) == 2


def test_an_older_audit_date_is_history_and_alerts_nobody(mailbox, slack, history_url):
    report = send_alerts(history_url, dt.date(2026, 11, 15))
    assert report.skipped and "history" in report.skipped
    assert mailbox.received == [] and slack.posts == []


def test_the_asset_events_name_the_dates_and_a_manual_run_takes_the_latest(history_url, history):
    class Event:
        extra = {"audit_date": "2026-11-16"}

    class Scorecard:
        name = "readiness_scorecard"

    assert event_dates({Scorecard(): [Event(), Event()]}) == [history.WEEK]
    assert alert_dates(history_url, None) == [history.WEEK]


def test_a_future_audit_published_by_mistake_is_never_the_latest(mailbox, slack, history_url, history):
    """An audit dated after today (a past version let `dags test ... 2027-01-04` publish) changes nothing."""
    warehouse = Warehouse(history_url)
    try:
        with warehouse.engine.begin() as conn:
            for table in ("scorecard", "check_results"):
                conn.execute(
                    sa.text(
                        f"INSERT INTO readiness.{table} SELECT DATE '2027-01-04' AS audit_date, * EXCLUDE (audit_date) "
                        f"FROM readiness.{table} WHERE audit_date = :week"
                    ),
                    {"week": history.WEEK},
                )
        assert warehouse.latest_audit_date() == history.WEEK
        latest = warehouse.query("SELECT DISTINCT audit_date FROM readiness.scorecard_latest")
        assert [pd.Timestamp(day).date() for day in latest["audit_date"]] == [history.WEEK]
    finally:
        warehouse.dispose()
    assert alert_dates(history_url, None) == [history.WEEK]
    report = send_alerts(history_url, history.WEEK)  # compared with the audit before it, not skipped as history
    assert report.skipped is None and report.summary()["emails"] == 2


def test_an_smtp_server_that_is_down_does_not_keep_slack_from_telling(slack, history_url, history, monkeypatch):
    """Each channel is tried and recorded on its own: Slack tells the teams, the retry sends only the emails."""
    closed = {"conn_type": "smtp", "host": "127.0.0.1", "port": free_port(), "extra": {"retry_limit": 0}}
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", json.dumps(closed))
    monkeypatch.setenv("READINESS_EMAIL_FROM", "readiness@example.com")
    with pytest.raises(AlertDeliveryError, match="email to team .* SMTP server of 'smtp_default' could not be reached"):
        send_alerts(history_url, history.WEEK)
    assert len(slack.posts) == 1  # every team told on Slack, in the day's one message
    assert {row[3] for row in ledger(history_url)} == {"slack"}


def test_a_webhook_secret_in_the_host_is_refused_unquoted_and_the_emails_still_go(
    mailbox, history_url, history, caplog
):
    token_path = "T0TEST000/B0TEST000/secretsecretsecret4711"
    connection = {"conn_type": "slackwebhook", "host": f"https://hooks.slack.com/services/{token_path}"}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AIRFLOW_CONN_SLACK_WEBHOOK_DEFAULT", json.dumps(connection))
        with pytest.raises(
            ConnectionConfigError, match="'slack_webhook_default': its host holds the webhook's secret"
        ) as error:
            send_alerts(history_url, history.WEEK)
    assert "secretsecret" not in str(error.value) + caplog.text
    assert len(mailbox.received) == 2  # the email channel went on its own


def test_the_webhook_path_is_masked_before_the_first_request(slack, history_url, history, mailbox):
    from airflow.sdk._shared.secrets_masker.secrets_masker import _secrets_masker

    send_alerts(history_url, history.WEEK)
    assert WEBHOOK_TOKEN not in _secrets_masker().redact(
        f"POST https://hooks.slack.com/services/{WEBHOOK_TOKEN} retried"
    )


def add_teams_like_checkout(url: str, teams: int) -> list[str]:
    """``teams`` more teams whose level drops on WEEK as checkout's does, each with an email address."""
    names = [f"team-{n:03}" for n in range(teams)]
    copies = "(SELECT 'team-' || lpad(n::VARCHAR, 3, '0') AS copy FROM range(:teams) AS r(n))"
    warehouse = Warehouse(url)
    try:
        with warehouse.engine.begin() as conn:
            for table, email_column in (
                ("scorecard", ""),
                ("facts_registry_teams", ", copy || '@example.com' AS email"),
            ):
                conn.execute(
                    sa.text(
                        f"INSERT INTO readiness.{table} SELECT held.* REPLACE (copy AS team{email_column}) "
                        f"FROM readiness.{table} AS held, {copies} "
                        "WHERE team = 'checkout' AND audit_date IN (:day, :week)"
                    ),
                    {"teams": teams, "day": WEEK - dt.timedelta(days=1), "week": WEEK},
                )
    finally:
        warehouse.dispose()
    return names


def test_a_day_with_many_teams_changing_is_one_slack_message_and_one_smtp_session(mailbox, slack, history_url):
    """47 teams change: one webhook post lists them all (Slack takes about one a second), 47 emails in one session."""
    added = add_teams_like_checkout(history_url, 45)
    report = send_alerts(history_url, WEEK, page_root=PAGE_ROOT)
    assert (report.summary()["slack_messages"], report.summary()["slack_teams"], report.summary()["emails"]) == (
        1,
        47,
        47,
    )
    [(_, body)] = slack.posts
    assert body["text"] == "On-call readiness, 2026-11-16: 48 changes in 47 teams"
    sections = [block["text"]["text"] for block in body["blocks"][1:]]
    assert len(sections) == 47 and sections[0].startswith(f"*<{PAGE_ROOT}/teams/%3Cscript%3E")
    assert f"*<{PAGE_ROOT}/teams/{added[-1]}|{added[-1]}>*: level " in sections[-1]
    assert len(mailbox.received) == 47 and len(mailbox.sessions) == 1
    assert sum(1 for row in ledger(history_url) if row[3] == "slack") == 48  # every change, once


def test_past_slack_limits_the_day_is_split_and_a_failed_part_alone_is_retried(
    mailbox, slack, history_url, monkeypatch
):
    """120 teams change: 3 parts of at most 49 teams; the second refused, the retry posts it alone."""
    monkeypatch.setattr("oncall_readiness.alerts.delivery.SLACK_SECONDS_BETWEEN_POSTS", 0)
    add_teams_like_checkout(history_url, 118)
    slack.refused = {2}
    with pytest.raises(AlertDeliveryError, match="49 alert\\(s\\) not delivered"):
        send_alerts(history_url, WEEK)
    headings = [body["text"] for _, body in slack.posts]
    assert headings == [f"On-call readiness, 2026-11-16: 121 changes in 120 teams (part {n} of 3)" for n in (1, 2, 3)]
    assert len(mailbox.received) == 120  # the emails went regardless
    retry = send_alerts(history_url, WEEK)
    assert (retry.summary()["slack_messages"], retry.summary()["slack_teams"], retry.summary()["emails"]) == (1, 49, 0)
    assert slack.posts[-1][1]["text"] == "On-call readiness, 2026-11-16: 49 changes in 49 teams"
    assert sum(1 for row in ledger(history_url) if row[3] == "slack") == 121
