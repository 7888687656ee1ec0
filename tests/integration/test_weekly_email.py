"""The weekly emails through a real SMTP server (aiosmtpd, started here), parsed as a mail client would.

The warehouse holds the history of tests/integration/conftest.py: checkout regressed this
week, search improved, identity has no email address, and a team is named
``<script>alert(1)</script>``. The send ledger's uniqueness is checked on DuckDB and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import json
import logging
import os
import runpy
import smtplib
import socket
import subprocess
import sys
from email.message import EmailMessage
from pathlib import Path
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from oncall_readiness.errors import DeliveryError
from oncall_readiness.report.delivery import send_emails
from oncall_readiness.report.email import write_emails
from oncall_readiness.report.ledger import SendLedger
from oncall_readiness.warehouse import Warehouse
from tests import secret_search

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS"),  # loopback test server only
]

SMTP_LOGIN, SMTP_PASSWORD = "readiness-mailer", "smtp-secret-4711"
LEADERSHIP = ["cto@example.com", "vp-engineering@example.com"]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
DAG_FILE = Path(__file__).resolve().parents[2] / "dags" / "readiness_weekly_email.py"


class Mailbox:
    """An aiosmtpd handler that keeps every accepted message; it can refuse the n-th DATA once."""

    def __init__(self) -> None:
        self.received: list[tuple[str, list[str], bytes]] = []
        self.logins: list[tuple[bytes, bytes]] = []
        self.refuse_data: tuple[int, str] | None = None  # (n-th DATA from now, reply)
        self.data_count = 0

    async def handle_DATA(self, server, session, envelope) -> str:
        self.data_count += 1
        if self.refuse_data and self.data_count == self.refuse_data[0]:
            reply, self.refuse_data = self.refuse_data[1], None
            return reply
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        return "250 2.0.0 OK"

    def authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        self.logins.append((auth_data.login, auth_data.password))
        ok = (auth_data.login, auth_data.password) == (SMTP_LOGIN.encode(), SMTP_PASSWORD.encode())
        return AuthResult(success=ok)

    def refuse_next(self, nth: int, reply: str) -> None:
        self.data_count, self.refuse_data = 0, (nth, reply)

    def messages(self) -> dict[str, list[EmailMessage]]:
        """Recipient → the messages they received, parsed."""
        inbox: dict[str, list[EmailMessage]] = {}
        for _, recipients, content in self.received:
            for recipient in recipients:
                inbox.setdefault(recipient, []).append(email.message_from_bytes(content, policy=email.policy.default))
        return inbox


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def smtp_connection(port: int) -> str:
    extra = {"disable_ssl": True, "disable_tls": True, "timeout": 10, "retry_limit": 0}
    return json.dumps(
        {"conn_type": "smtp", "host": "127.0.0.1", "port": port, "login": SMTP_LOGIN, "password": SMTP_PASSWORD}
        | {"extra": extra}
    )


@pytest.fixture
def mailbox(monkeypatch):
    """A real SMTP server on a free loopback port (login required), and smtp_default pointing at it."""
    handler, port = Mailbox(), free_port()
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=port,
        authenticator=handler.authenticate,
        auth_required=True,
        auth_require_tls=False,
    )
    controller.start()
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", smtp_connection(port))
    monkeypatch.delenv("READINESS_EMAIL_FROM", raising=False)
    handler.port = port
    yield handler
    controller.stop()


def send_week(warehouse_url: str, folder: Path) -> dict[str, int]:
    """What the DAG's build_emails and send_emails tasks do."""
    paths = write_emails(warehouse_url, folder, digest_to=LEADERSHIP)
    return send_emails(warehouse_url, paths).summary()


def everyone(history) -> set[str]:
    return {address for address in history.TEAM_EMAILS.values() if address} | set(LEADERSHIP)


def ledger_rows(warehouse_url: str) -> list[dict]:
    warehouse = Warehouse(warehouse_url)
    try:
        table = SendLedger(warehouse).table
        with warehouse.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(sa.select(table))]
    finally:
        warehouse.dispose()


def parts(message: EmailMessage) -> tuple[str, str, bytes, str]:
    """(plain text, HTML, inline PNG, its Content-ID) of a weekly email, checking its MIME structure."""
    assert message.get_content_type() == "multipart/alternative"
    plain, related = message.get_payload()
    assert plain.get_content_type() == "text/plain"
    assert related.get_content_type() == "multipart/related"
    html, image = related.get_payload()
    assert html.get_content_type() == "text/html" and image.get_content_type() == "image/png"
    assert image.get_content_disposition() == "inline"
    return plain.get_content(), html.get_content(), image.get_content(), image["Content-ID"].strip("<>")


def test_every_team_and_the_leadership_get_their_scorecard_once(mailbox, history_url, history, tmp_path, caplog):
    caplog.set_level(logging.INFO)
    summary = send_week(history_url, tmp_path / "emails")

    inbox = mailbox.messages()
    assert set(inbox) == everyone(history)
    assert all(len(messages) == 1 for messages in inbox.values())
    assert summary == {"sent": len(everyone(history)), "already_sent": 0, "refused": 0}
    assert "Team 'identity' has no email address" in caplog.text  # skipped, by name
    assert {sender for sender, _, _ in mailbox.received} == {"oncall-readiness@localhost"}
    assert mailbox.logins == [(SMTP_LOGIN.encode(), SMTP_PASSWORD.encode())]  # one authenticated session

    checkout = inbox["checkout-team@example.com"][0]
    assert checkout["Subject"] == "On-call readiness: checkout is bronze (70, down 10) — week of 2026-11-16"
    assert checkout["To"] == "checkout-team@example.com"
    assert inbox["payments-team@example.com"][0]["Subject"] == (
        "On-call readiness: payments is gold (100) — week of 2026-11-16"
    )
    digest = inbox["cto@example.com"][0]
    assert digest["Subject"] == (
        "On-call readiness digest: 6 teams, 2 gold, 1 silver, 1 bronze, 2 below bronze — week of 2026-11-16"
    )
    assert digest["Message-ID"] == inbox["vp-engineering@example.com"][0]["Message-ID"]  # one message, two envelopes


def test_each_email_has_text_and_html_with_the_trend_chart_inline(mailbox, history_url, tmp_path):
    send_week(history_url, tmp_path / "emails")

    for recipient, (message,) in mailbox.messages().items():
        text, html, png, cid = parts(message)
        assert png.startswith(PNG_SIGNATURE), recipient
        assert f'src="cid:{cid}"' in html, recipient
        assert "week of 2026-11-16" in text and "2026-11-16" in html, recipient

    text, html, _, _ = parts(mailbox.messages()["checkout-team@example.com"][0])
    for expected in ("Score <strong>70</strong> of 100", "Sustainable on-call rotation", "Ava Mitchell takes no"):
        assert expected in html
    assert "Fix rotation-sustainability &amp; tell &lt;i&gt;ops&lt;/i&gt;." in html  # remediation, escaped
    assert "[warn] person:ava-mitchell: Ava Mitchell takes no on-call turns" in text  # a finding that needs action
    assert "schedule:payments-primary" not in text  # passing findings need no action


def test_data_from_the_warehouse_arrives_as_text_never_as_markup(mailbox, history_url, history, tmp_path):
    send_week(history_url, tmp_path / "emails")

    message = mailbox.messages()["script-team@example.com"][0]
    assert message["Subject"].startswith(f"On-call readiness: {history.SCRIPT_TEAM} is below bronze")
    text, html, _, _ = parts(message)
    assert "<script" not in html.lower() and "<img src=x" not in html and "<b>nobody" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(2)&gt;" in html
    assert history.SCRIPT_TEAM in text and history.SCRIPT_SUBJECT in text and "<b>nobody</b>" in text
    _, digest_html, _, _ = parts(mailbox.messages()["cto@example.com"][0])
    assert "<script" not in digest_html.lower() and "&lt;script&gt;alert(1)&lt;/script&gt;" in digest_html


def test_what_changed_lists_regressions_first(mailbox, history_url, tmp_path):
    send_week(history_url, tmp_path / "emails")
    inbox = mailbox.messages()

    text, html, _, _ = parts(inbox["checkout-team@example.com"][0])
    changes = text.split("WHAT CHANGED SINCE 2026-11-09")[1].split("CHECKS")[0].split()
    directions = [word.rstrip(":") for word in changes if word.rstrip(":") in ("regressed", "changed", "improved")]
    assert directions == ["regressed"] * 4 + ["improved"]
    assert "- regressed: Level: silver → bronze" in text
    assert "- improved: Check escalation-path: warn → pass" in text
    assert html.index("regressed") < html.index("improved")

    digest_text, _, _, _ = parts(inbox["cto@example.com"][0])
    regressions = digest_text.split("BIGGEST REGRESSIONS")[1].split("BIGGEST IMPROVEMENTS")[0]
    assert regressions.index("<script>alert(1)</script>: 100 -> 0 (-100)") < regressions.index("checkout: 80 -> 70")
    assert "search: 50 -> 100 (+50), now gold" in digest_text.split("BIGGEST IMPROVEMENTS")[1]


def test_a_rerun_for_the_same_week_sends_nothing(mailbox, history_url, history, tmp_path):
    send_week(history_url, tmp_path / "emails")
    sent = len(mailbox.received)
    mailbox.logins.clear()

    summary = send_week(history_url, tmp_path / "emails")

    assert len(mailbox.received) == sent
    assert summary == {"sent": 0, "already_sent": len(everyone(history)), "refused": 0}
    assert mailbox.logins == []  # nothing to send: no connection at all
    rows = ledger_rows(history_url)
    assert len(rows) == len(everyone(history))
    assert {(row["kind"], row["team"]) for row in rows if row["recipient"] == "cto@example.com"} == {("digest", None)}
    assert {str(row["week"]) for row in rows} == {"2026-11-16"}


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        ("451 4.3.0 Mailbox busy, try again later", DeliveryError),  # refused: the others still go
        ("421 4.3.2 Service shutting down", smtplib.SMTPServerDisconnected),  # connection lost: the task dies
    ],
)
def test_a_retry_after_a_failure_midway_sends_only_the_rest(mailbox, history_url, history, tmp_path, reply, error):
    mailbox.refuse_next(3, reply)
    with pytest.raises(error):
        send_week(history_url, tmp_path / "emails")
    assert 2 <= len(mailbox.received) < len(everyone(history))

    summary = send_week(history_url, tmp_path / "emails")  # the task's retry

    inbox = mailbox.messages()
    assert set(inbox) == everyone(history)
    assert {recipient: len(messages) for recipient, messages in inbox.items()} == dict.fromkeys(inbox, 1)
    assert summary["sent"] + summary["already_sent"] == len(everyone(history)) and summary["already_sent"] >= 2
    assert len(ledger_rows(history_url)) == len(everyone(history))


def test_the_smtp_password_stays_out_of_logs_errors_and_the_ledger(mailbox, history_url, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    mailbox.refuse_next(1, "550 5.1.1 No such user")
    with pytest.raises(DeliveryError) as refused:
        send_week(history_url, tmp_path / "emails")
    send_week(history_url, tmp_path / "emails")

    assert mailbox.logins and all(password == SMTP_PASSWORD.encode() for _, password in mailbox.logins)
    assert SMTP_PASSWORD not in caplog.text
    assert SMTP_PASSWORD not in str(refused.value) and "550 5.1.1 No such user" in str(refused.value)
    assert SMTP_PASSWORD not in repr(ledger_rows(history_url))


def test_the_from_address_comes_from_the_environment(mailbox, history_url, tmp_path, monkeypatch):
    monkeypatch.setenv("READINESS_EMAIL_FROM", "Readiness Bot <readiness@example.com>")
    send_week(history_url, tmp_path / "emails")
    assert {sender for sender, _, _ in mailbox.received} == {"readiness@example.com"}
    message = mailbox.messages()["payments-team@example.com"][0]
    assert message["From"] == "Readiness Bot <readiness@example.com>"


def test_write_emails_leaves_one_eml_per_team_with_an_address_and_the_digest(history_url, tmp_path):
    folder = tmp_path / "emails"
    (folder).mkdir()
    (folder / "team-stale.eml").write_text("left over from an earlier week")
    paths = write_emails(history_url, folder, digest_to=LEADERSHIP)

    names = sorted(path.name for path in folder.glob("*.eml"))
    assert names == sorted(path.name for path in paths)
    assert "digest.eml" in names and "team-checkout.eml" in names and "team-stale.eml" not in names
    assert not any("identity" in name for name in names)
    assert len(names) == 6  # five teams with an address, and the digest
    again = write_emails(history_url, tmp_path / "again", digest_to=LEADERSHIP, date=_date_of(paths[0]))
    assert [path.read_bytes() for path in again] == [path.read_bytes() for path in paths]  # deterministic


class WeeklyEmailRun:
    """One run of the readiness_weekly_email DAG, its tasks' own code called in order as the worker would."""

    def __init__(self, dag, run_id: str, *, run_after: str, data_interval_end: str | None = None) -> None:
        import pendulum

        self.dag = dag
        self.dag_run = SimpleNamespace(run_id=run_id, run_after=pendulum.parse(run_after))
        self.data_interval_end = pendulum.parse(data_interval_end) if data_interval_end else None

    def task(self, task_id: str):
        return self.dag.get_task(task_id).python_callable

    def find_week(self) -> str:
        return self.task("find_week")(data_interval_end=self.data_interval_end, dag_run=self.dag_run)

    def build_emails(self, week: str) -> str:
        return self.task("build_emails")(week, params={"digest_recipients": ""}, dag_run=self.dag_run)

    def send_emails(self, folder: str) -> dict[str, int]:
        return self.task("send_emails")(folder)

    def __call__(self) -> dict[str, int]:
        return self.send_emails(self.build_emails(self.find_week()))


@pytest.fixture
def weekly_dag(monkeypatch, history_url, tmp_path):
    """The DAG as the worker parses it, with readiness_warehouse on the history and staging in tmp_path."""
    monkeypatch.delenv("READINESS_EMAIL_TIMEZONE", raising=False)
    monkeypatch.setenv("READINESS_STAGING_DIR", str(tmp_path / "staging"))
    monkeypatch.setenv("READINESS_DIGEST_RECIPIENTS", ", ".join(LEADERSHIP))
    connection = {"conn_type": "generic", "extra": {"url": history_url}}
    monkeypatch.setenv("AIRFLOW_CONN_READINESS_WAREHOUSE", json.dumps(connection))
    return runpy.run_path(str(DAG_FILE))["readiness_weekly_email"]()


def publish_daily_audit(warehouse_url: str, day: dt.date, *, like: dt.date) -> None:
    """Publish an audit of ``day`` with the results of ``like``, as readiness_audit's publish would."""
    warehouse = Warehouse(warehouse_url)
    try:

        def rows(table: str):
            return warehouse.query(f"SELECT * FROM readiness.{table} WHERE audit_date = :day", day=like).drop(
                columns="audit_date"
            )

        warehouse.publish(
            day,
            check_results=rows("check_results"),
            findings=rows("findings"),
            scorecard=rows("scorecard"),
            facts={"registry_teams": rows("facts_registry_teams")},
        )
    finally:
        warehouse.dispose()


def test_a_manual_run_after_a_later_daily_audit_sends_nothing_again(mailbox, weekly_dag, history_url, history):
    scheduled = WeeklyEmailRun(
        weekly_dag,
        "scheduled__2026-11-16T08:00:00+00:00",
        run_after="2026-11-16T08:00:00Z",
        data_interval_end="2026-11-16T08:00:00Z",
    )
    assert scheduled() == {"sent": len(everyone(history)), "already_sent": 0, "refused": 0}
    publish_daily_audit(history_url, history.WEEK + dt.timedelta(days=1), like=history.WEEK)  # Tuesday's
    mailbox.logins.clear()

    manual = WeeklyEmailRun(weekly_dag, "manual__2026-11-17T10:30:00+00:00", run_after="2026-11-17T10:30:00Z")
    week = manual.find_week()
    folder = manual.build_emails(week)
    summary = manual.send_emails(folder)
    retried = manual.send_emails(folder)  # the task's retry

    assert week == history.WEEK.isoformat()  # the week the run covers, not Tuesday's audit
    assert summary == retried == {"sent": 0, "already_sent": len(everyone(history)), "refused": 0}
    assert mailbox.logins == []  # not even a connection
    inbox = mailbox.messages()
    assert {recipient: len(messages) for recipient, messages in inbox.items()} == dict.fromkeys(everyone(history), 1)
    assert {str(row["week"]) for row in ledger_rows(history_url)} == {"2026-11-16"}
    assert Path(folder).parent != Path(scheduled.build_emails(week)).parent  # each run its own staging folder


def test_the_next_weeks_run_sends_the_new_week(mailbox, weekly_dag, history_url, history):
    WeeklyEmailRun(weekly_dag, "manual__one", run_after="2026-11-18T09:00:00Z")()
    next_monday = history.WEEK + dt.timedelta(days=7)
    publish_daily_audit(history_url, next_monday, like=history.WEEK)

    summary = WeeklyEmailRun(
        weekly_dag, "scheduled__next", run_after="2026-11-23T08:00:00Z", data_interval_end="2026-11-23T08:00:00Z"
    )()

    assert summary == {"sent": len(everyone(history)), "already_sent": 0, "refused": 0}
    assert all(len(messages) == 2 for messages in mailbox.messages().values())
    assert {str(row["week"]) for row in ledger_rows(history_url)} == {"2026-11-16", "2026-11-23"}


@pytest.fixture(params=["duckdb", "postgresql"])
def ledger_warehouse(request, tmp_path):
    """An empty warehouse on DuckDB or on a real PostgreSQL server (its ledger dropped afterwards)."""
    if request.param == "duckdb":
        warehouse = Warehouse(f"duckdb:///{tmp_path / 'ledger.duckdb'}")
    else:
        warehouse = Warehouse(request.getfixturevalue("postgres_url"))
    yield warehouse
    with warehouse.engine.begin() as conn:
        conn.execute(sa.text(f"DROP TABLE IF EXISTS readiness.{SendLedger.TABLE}"))
    warehouse.dispose()


WEEK_OF = dt.date(2026, 11, 16)
SENT_AT = dt.datetime(2026, 11, 16, 8, 1, tzinfo=dt.UTC)


def test_the_ledger_holds_each_delivery_once_the_digest_too(ledger_warehouse):
    ledger = SendLedger(ledger_warehouse)
    ledger.create()
    digest = {"recipient": "CTO@example.com", "kind": "digest", "team": None, "message_id": "<d@x>"}
    team = {"recipient": "checkout-team@example.com", "kind": "team", "team": "checkout", "message_id": "<t@x>"}

    recorded = [ledger.record(WEEK_OF, **entry, sent_at=SENT_AT) for entry in (digest, team, digest, team)]
    later = ledger.record(WEEK_OF, **digest, sent_at=SENT_AT + dt.timedelta(hours=1))

    assert recorded == [True, True, False, False] and later is False  # idempotent: the first row stays
    rows = ledger_rows(str(ledger_warehouse.engine.url.render_as_string(hide_password=False)))
    assert sorted((row["kind"], row["team"], row["recipient"]) for row in rows) == [
        ("digest", None, "cto@example.com"),
        ("team", "checkout", "checkout-team@example.com"),
    ]
    assert {row["sent_at"] for row in rows} == {SENT_AT.replace(tzinfo=None)}
    with pytest.raises(sa.exc.IntegrityError), ledger_warehouse.engine.begin() as conn:  # the database enforces it
        row = {"week": WEEK_OF, **digest, "recipient": "cto@example.com", "sent_at": SENT_AT.replace(tzinfo=None)}
        conn.execute(ledger.table.insert(), [row])


def test_a_ledger_from_before_the_unique_index_gets_it_keeping_the_first_delivery(ledger_warehouse):
    qualified = f"readiness.{SendLedger.TABLE}"
    with ledger_warehouse.engine.begin() as conn:  # the table as the previous version created it, no unique index
        conn.execute(sa.text("CREATE SCHEMA IF NOT EXISTS readiness"))
        conn.execute(
            sa.text(
                f"CREATE TABLE {qualified} (week DATE NOT NULL, recipient TEXT NOT NULL, kind TEXT NOT NULL, "
                "team TEXT, message_id TEXT NOT NULL, sent_at TIMESTAMP NOT NULL)"
            )
        )
        for minute, (kind, team) in enumerate([("digest", None), ("digest", None), ("team", "search")]):
            conn.execute(
                sa.text(f"INSERT INTO {qualified} VALUES (:week, 'cto@example.com', :kind, :team, '<m@x>', :sent_at)"),
                {"week": WEEK_OF, "kind": kind, "team": team, "sent_at": dt.datetime(2026, 11, 16, 8, minute)},
            )
    ledger = SendLedger(ledger_warehouse)

    ledger.create()
    ledger.create()  # and again: nothing more to do

    rows = ledger_warehouse.query(f"SELECT kind, team, sent_at FROM {qualified} ORDER BY sent_at")
    assert rows["kind"].tolist() == ["digest", "team"]
    assert rows["sent_at"].dt.minute.tolist() == [0, 2]  # the first digest kept
    assert (
        ledger.record(
            WEEK_OF, recipient="cto@example.com", kind="digest", team=None, message_id="<m@x>", sent_at=SENT_AT
        )
        is False
    )
    assert ledger.delivered(WEEK_OF) == {("digest", None, "cto@example.com"), ("team", "search", "cto@example.com")}


@pytest.mark.e2e
def test_the_dag_sends_the_week_once_under_airflow_dags_test(mailbox, history_url, history, tmp_path, airflow_metadata):
    """The real readiness_weekly_email DAG, twice for the same date: every recipient gets one email."""
    env = _airflow_env(tmp_path, history_url, mailbox.port)
    airflow_metadata(tmp_path / "airflow.db")  # migrated: env's SQLite metadata database
    for attempt in ("first", "second"):
        run = subprocess.run(
            [_airflow(), "dags", "test", "readiness_weekly_email", "2026-11-16"],
            env=env,
            capture_output=True,
            text=True,
        )
        (tmp_path / f"{attempt}.log").write_text(run.stdout + run.stderr)
        assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
        assert SMTP_PASSWORD not in run.stdout + run.stderr
    # Nor anywhere Airflow or the run wrote: task logs, the metadata DB (XCom, rendered fields), staging, warehouse.
    metadata = secret_search.sqlite_columns(tmp_path / "airflow.db")
    written = {**secret_search.files(tmp_path / "airflow" / "logs"), **metadata}
    written |= secret_search.files(tmp_path / "staging")
    warehouse = Warehouse(history_url)
    try:
        written |= secret_search.warehouse_columns(warehouse.query)
    finally:
        warehouse.dispose()
    assert not secret_search.leaks(written, [SMTP_PASSWORD])
    assert str(tmp_path / "staging") in metadata["metadata DB xcom.value"]  # the search read the XComs

    inbox = mailbox.messages()
    assert set(inbox) == everyone(history)
    assert all(len(messages) == 1 for messages in inbox.values())
    assert inbox["checkout-team@example.com"][0]["Subject"].endswith("week of 2026-11-16")


def _airflow() -> str:
    return str(Path(sys.executable).with_name("airflow"))


def _airflow_env(tmp_path: Path, warehouse_url: str, smtp_port: int) -> dict[str, str]:
    repo = Path(__file__).resolve().parents[2]
    env = dict(os.environ)
    env.update(
        {
            "AIRFLOW_HOME": str(tmp_path / "airflow"),
            "AIRFLOW__CORE__DAGS_FOLDER": str(repo / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{tmp_path / 'airflow.db'}",
            "READINESS_STAGING_DIR": str(tmp_path / "staging"),
            "READINESS_DIGEST_RECIPIENTS": ", ".join(LEADERSHIP),
            "AIRFLOW_CONN_SMTP_DEFAULT": smtp_connection(smtp_port),
            "AIRFLOW_CONN_READINESS_WAREHOUSE": json.dumps({"conn_type": "generic", "extra": {"url": warehouse_url}}),
        }
    )
    return env


def _date_of(path: Path):
    return email.message_from_bytes(path.read_bytes(), policy=email.policy.default)["Date"].datetime


# Last week's incidents ---------------------------------------------------------------------------


def seed_incidents(warehouse_url: str, week: dt.date) -> None:
    """Two incidents of checkout last week (one unpriced), the responder who took them, in the audit of ``week``."""
    monday = dt.datetime.combine(week, dt.time())

    def incident(number: int, service: str, days: int, ack: int | None, resolve: int, loss: float | None) -> dict:
        created = monday - dt.timedelta(days=days)
        return {
            **{"incident_id": f"Q0CHK{number:03d}", "title": "<b>cart</b> down", "team": "checkout"},
            **{"service": service, "urgency": "high", "status": "resolved", "currency": "GBP"},
            "created_at": created,
            "acknowledged_at": None if ack is None else created + dt.timedelta(minutes=ack),
            "resolved_at": created + dt.timedelta(minutes=resolve),
            **{"minutes": float(resolve), "estimated_loss": loss, "priced": loss is not None},
        }

    rows = {
        "incidents": [incident(1, "cart-api", 2, 4, 1440, 288000.0), incident(2, "search-ui", 3, None, 20, None)],
        "facts_pagerduty_incidents": [
            {"incident_id": "Q0CHK001", "total_interruptions": 3, "sleep_hour_interruptions": 2,
             "off_hour_interruptions": 1, "business_hour_interruptions": 0},
        ],
        "facts_pagerduty_responder_weeks": [
            {"responder_id": "PUCHK01", "week_start": monday - dt.timedelta(days=7), "week_end": monday,
             "total_interruptions": 3, "sleep_hour_interruptions": 2, "off_hour_interruptions": 1,
             "business_hour_interruptions": 0},
        ],
        "facts_pagerduty_users": [{"user_id": "PUCHK01", "name": "Ava M.", "email": "ava@example.com"}],
        "facts_registry_people": [{"display_name": "Ava Mitchell", "email": "ava@example.com", "team": "checkout"}],
    }  # fmt: skip
    warehouse = Warehouse(warehouse_url)
    try:
        with warehouse.engine.begin() as conn:
            for name, records in rows.items():
                records = [record | {"audit_date": week} for record in records]
                table = sa.table(name, *(sa.column(column) for column in records[0]), schema=warehouse.schema)
                conn.execute(table.insert(), records)
    finally:
        warehouse.dispose()


def test_insights_join_the_scorecard_email_sent_once(mailbox, history_url, history, tmp_path):
    seed_incidents(history_url, history.WEEK)
    send_week(history_url, tmp_path / "emails")
    assert send_week(history_url, tmp_path / "emails")["sent"] == 0  # exactly once, through the same ledger

    inbox = mailbox.messages()
    assert all(len(messages) == 1 for messages in inbox.values())  # one email per team: no second message
    plain, related = inbox["checkout-team@example.com"][0].get_payload()
    html, *images = related.get_payload()
    text = plain.get_content()
    assert text.index("NEEDS ACTION") < text.index("LAST WEEK'S INCIDENTS (9 Nov to 15 Nov 2026)")
    assert "GBP 288,000 + 1 unpriced incident" in text and "Ava Mitchell: 2 / 1 / 0 = 3" in text
    assert [image.get_content_type() for image in images] == ["image/png", "image/png"]
    assert all(f'src="cid:{image["Content-ID"].strip("<>")}"' in html.get_content() for image in images)
    digest_text = inbox["cto@example.com"][0].get_payload()[0].get_content()
    assert "- checkout: 2 (+2)" in digest_text and "Ava" not in digest_text
    payments = inbox["payments-team@example.com"][0].get_payload()[0].get_content()
    assert "No incidents last week, nor in the four weeks before." in payments
