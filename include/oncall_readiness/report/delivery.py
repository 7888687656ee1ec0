"""Sending the weekly emails through ``smtp_default``, exactly once per recipient and week.

The messages arrive as ``.eml`` files written by :func:`oncall_readiness.report.email.write_emails`.
Each is sent to each of its recipients separately (one SMTP transaction per recipient), and
every accepted delivery is recorded in the send ledger at once (the ledger's unique index
on week, kind, team and recipient keeps one row per delivery); what the ledger already
holds for the week is skipped. A retried or re-run task therefore sends only what is
missing, and a run with nothing missing does not even connect.

A recipient the server refuses (a 4xx or 5xx answer to RCPT or DATA) does not stop the
others: the rest are sent and the task fails at the end naming who was not reached, so its
retry tries only them. A lost connection stops the run at once; the retry resumes.
The one gap: the server accepts a message and the task dies before the ledger row is
committed; the retry sends that one message again (with the same Message-ID, which mail
clients fold).

The connection (host, port, TLS or SSL, login) is the Airflow SMTP provider's: ``SmtpHook``
opens and authenticates the session. Its ``send_email_smtp`` can only build a single HTML
part with attachments, so the prebuilt ``multipart/alternative`` message goes through the
hook's connected client. Credentials never reach a log line or the ledger.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import logging
import smtplib
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING

from oncall_readiness.errors import DeliveryError
from oncall_readiness.report.email import DIGEST, sender_address
from oncall_readiness.report.ledger import SendLedger, normalise_address
from oncall_readiness.report.message import HEADER_KIND, HEADER_TEAM, HEADER_WEEK
from oncall_readiness.warehouse import Warehouse

if TYPE_CHECKING:
    from airflow.providers.smtp.hooks.smtp import SmtpHook

log = logging.getLogger(__name__)

SMTP_CONNECTION_ID = "smtp_default"
# Answers that concern one message or recipient; anything else (a lost connection) stops the run.
REFUSALS = (smtplib.SMTPRecipientsRefused, smtplib.SMTPResponseException)


@dataclass(frozen=True)
class Delivery:
    """One message to one recipient: the unit the ledger counts."""

    week: dt.date
    kind: str
    team: str | None
    recipient: str
    message: EmailMessage

    @property
    def key(self) -> tuple[str, str | None, str]:
        return (self.kind, self.team, self.recipient)


@dataclass
class DeliveryReport:
    sent: list[str] = field(default_factory=list)
    already_sent: list[str] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)

    def summary(self) -> dict[str, int]:
        return {"sent": len(self.sent), "already_sent": len(self.already_sent), "refused": len(self.refused)}


def sender_from_connection(smtp_conn_id: str = SMTP_CONNECTION_ID) -> str:
    """The From address: ``READINESS_EMAIL_FROM``, else the connection's ``from_email`` extra, else the default."""
    from oncall_readiness.connections import get_connection
    from oncall_readiness.errors import ConnectionConfigError

    try:
        connection_from = get_connection(smtp_conn_id).extra_dejson.get("from_email")
    except ConnectionConfigError:
        connection_from = None
    return sender_address(connection_from)


def read_eml(path: Path) -> EmailMessage:
    with path.open("rb") as handle:
        return email.message_from_binary_file(handle, policy=email.policy.default)


def deliveries(messages: Iterable[EmailMessage]) -> list[Delivery]:
    """Every (message, recipient) pair; a message without recipients is skipped with a warning."""
    planned = []
    for message in messages:
        week = dt.date.fromisoformat(message[HEADER_WEEK])
        kind, team = message[HEADER_KIND], message[HEADER_TEAM]
        recipients = [address.addr_spec for address in message["To"].addresses] if message["To"] else []
        if not recipients:
            log.warning("The %s email of %s has no recipient: not sent", _label(kind, team), week)
        for recipient in dict.fromkeys(map(normalise_address, recipients)):
            planned.append(Delivery(week, kind, team if kind != DIGEST else None, recipient, message))
    return planned


def send_emails(warehouse_url: str, paths: Sequence[Path], *, smtp_conn_id: str = SMTP_CONNECTION_ID) -> DeliveryReport:
    """Send every message of ``paths`` to every recipient the ledger does not list yet for its week."""
    return send_messages(warehouse_url, [read_eml(path) for path in paths], smtp_conn_id=smtp_conn_id)


def send_staged_emails(warehouse_url: str, step: str, *, smtp_conn_id: str = SMTP_CONNECTION_ID) -> DeliveryReport:
    """Send the messages a build task staged (``step``, what it returned), from whichever worker."""
    from oncall_readiness.staging import step_at

    files = step_at(step).read_files()
    messages = [email.message_from_bytes(files[name], policy=email.policy.default) for name in sorted(files)]
    return send_messages(warehouse_url, messages, smtp_conn_id=smtp_conn_id)


def send_messages(
    warehouse_url: str, messages: Sequence[EmailMessage], *, smtp_conn_id: str = SMTP_CONNECTION_ID
) -> DeliveryReport:
    """Send each message to every recipient the ledger does not list yet for its week."""
    planned = deliveries(messages)
    warehouse = Warehouse(warehouse_url)
    try:
        ledger = SendLedger(warehouse)
        ledger.create()
        report = DeliveryReport()
        done = {week: ledger.delivered(week) for week in {delivery.week for delivery in planned}}
        pending = []
        for delivery in planned:
            if delivery.key in done[delivery.week]:
                report.already_sent.append(delivery.recipient)
            else:
                pending.append(delivery)
        log.info("%d deliveries planned, %d already in the send ledger", len(planned), len(report.already_sent))
        if pending:
            _send(pending, ledger, report, smtp_conn_id)
    finally:
        warehouse.dispose()
    if report.refused:
        answers = "; ".join(f"{recipient}: {answer}" for recipient, answer in report.refused.items())
        raise DeliveryError(f"{len(report.refused)} recipient(s) not reached, a retry sends only to them: {answers}")
    return report


@contextmanager
def smtp_session(smtp_conn_id: str = SMTP_CONNECTION_ID) -> Iterator[smtplib.SMTP]:
    """One SMTP session through ``SmtpHook`` (TLS or SSL and login per the connection), for many messages.

    The weekly emails and the day's alerts each send all their messages through one session:
    a session per message would pay the connection, TLS and login every time.
    """
    from airflow.providers.smtp.hooks.smtp import SmtpHook

    with SmtpHook(smtp_conn_id=smtp_conn_id) as hook:
        yield _connected_client(hook)


def _send(pending: list[Delivery], ledger: SendLedger, report: DeliveryReport, smtp_conn_id: str) -> None:
    with smtp_session(smtp_conn_id) as client:
        for delivery in pending:
            message = delivery.message
            try:
                client.send_message(message, from_addr=envelope_sender(message), to_addrs=[delivery.recipient])
            except REFUSALS as error:
                report.refused[delivery.recipient] = smtp_answer(error)
                log.error(
                    "The %s email of %s was refused for %s: %s",
                    _label(delivery.kind, delivery.team),
                    delivery.week,
                    delivery.recipient,
                    smtp_answer(error),
                )
                continue
            recorded = ledger.record(
                delivery.week,
                recipient=delivery.recipient,
                kind=delivery.kind,
                team=delivery.team,
                message_id=message["Message-ID"],
                sent_at=dt.datetime.now(dt.UTC),
            )
            if not recorded:  # another sender recorded it meanwhile: its row, the first, stays
                log.warning(
                    "The %s email of %s to %s was already in the send ledger",
                    _label(delivery.kind, delivery.team),
                    delivery.week,
                    delivery.recipient,
                )
            report.sent.append(delivery.recipient)
            log.info(
                "Sent the %s email of %s to %s", _label(delivery.kind, delivery.team), delivery.week, delivery.recipient
            )


def _connected_client(hook: SmtpHook) -> smtplib.SMTP:
    """The SMTP session ``SmtpHook`` opened (TLS or SSL and login per the connection)."""
    client: smtplib.SMTP | None = getattr(hook, "_smtp_client", None)  # the provider offers no public accessor
    if client is None:
        raise RuntimeError("SmtpHook did not open an SMTP session")
    return client


def envelope_sender(message: EmailMessage) -> str:
    """The envelope's sender: the From header's address."""
    sender: str = message["From"].addresses[0].addr_spec
    return sender


def smtp_answer(error: Exception) -> str:
    """The server's code and text of a refusal, for the log and the task's error (no credential is in it)."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return "; ".join(f"{code} {_text(text)}" for code, text in error.recipients.values())
    if isinstance(error, smtplib.SMTPResponseException):
        return f"{error.smtp_code} {_text(error.smtp_error)}"
    return type(error).__name__


def _text(value: bytes | str) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def _label(kind: str, team: str | None) -> str:
    return "digest" if kind == DIGEST else f"team {team!r}"
