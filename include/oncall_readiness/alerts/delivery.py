"""Tell each team its changes of the day: by email, and on Slack where ``slack_webhook_default`` exists.

For one published audit date: the changes (:mod:`.changes`) not yet in the alert ledger for a
channel are sent and recorded as soon as the channel accepted them: by email one message per
team, all through one SMTP session; on Slack one message for the day listing every team's
changes (:mod:`.slack`: split into "part i of n" only past Slack's limits, a second apart, as
the webhook takes about one message a second), each part's changes recorded once it is
accepted. So a re-run (of the audit, or of ``readiness_alerts``) tells nothing again, and a
retry after a failure tells only what is missing. A channel that fails for one team does not
stop the others, and a channel that fails as a whole (the SMTP server down) does not stop the
other channel: each is tried and recorded on its own. The task fails at the end naming who
was not told, and its retry tries only them.

Email goes through the Airflow SMTP provider's ``SmtpHook`` (``smtp_default``) to the team's
address (its Group's ``spec.profile.email`` in the registry published that day; a team without
one gets no email, with a warning). Slack goes through the Airflow Slack provider's
``SlackWebhookHook`` (``slack_webhook_default``); without that connection alerts are email only.

Only the latest published audit date alerts: a backfill or re-run of an older date is history,
told by nobody (its changes were, or should have been, told on their day).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import smtplib
import time
from collections import defaultdict
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from oncall_readiness.alerts import SLACK_CONNECTION_ID
from oncall_readiness.alerts.changes import Change, changes_on, team_addresses
from oncall_readiness.alerts.ledger import EMAIL, SLACK, AlertLedger
from oncall_readiness.alerts.messages import build_email
from oncall_readiness.alerts.slack import slack_posts
from oncall_readiness.errors import ConnectionConfigError, DeliveryError
from oncall_readiness.report.delivery import (
    REFUSALS,
    SMTP_CONNECTION_ID,
    envelope_sender,
    sender_from_connection,
    smtp_answer,
    smtp_session,
)
from oncall_readiness.warehouse import Warehouse

log = logging.getLogger(__name__)


class AlertDeliveryError(DeliveryError):
    """Some teams were not told on some channel; the message names them (never a credential)."""


@dataclass
class AlertReport:
    audit_date: dt.date
    changes: int = 0
    told: dict[str, list[str]] = field(default_factory=lambda: {EMAIL: [], SLACK: []})
    already_told: int = 0
    failed: dict[str, str] = field(default_factory=dict)
    skipped: str | None = None
    slack_posts: int = 0

    def summary(self) -> dict[str, Any]:
        return {
            "audit_date": self.audit_date.isoformat(),
            "changes": self.changes,
            "emails": len(self.told[EMAIL]),
            "slack_messages": self.slack_posts,
            "slack_teams": len(set(self.told[SLACK])),  # a team split over two parts counts once
            "already_told": self.already_told,
            "failed": len(self.failed),
            "skipped": self.skipped,
        }


# An incoming webhook takes about one message a second (Slack's rate limits): a long day's parts wait so long.
SLACK_SECONDS_BETWEEN_POSTS = 1.0
# The part of a webhook URL that is its secret: everything after /services/ (T.../B.../...).
_WEBHOOK_SECRET = re.compile(r"/services/[^/\s]+", re.IGNORECASE)


def slack_configured(slack_conn_id: str = SLACK_CONNECTION_ID) -> bool:
    """Whether the Slack webhook connection is defined (no connection: alerts are email only).

    Its password (the webhook's secret path) is registered with Airflow's masker before the first
    request, so the Slack SDK's own log lines (a retry quotes the URL) show ``***``. A host that
    holds the secret path is refused, naming the connection and never the value: the host is shown
    in the UI and logged in clear.
    """
    from oncall_readiness.connections import get_connection
    from oncall_readiness.errors import ConnectionMissingError
    from oncall_readiness.masking import mask_secret

    try:
        conn = get_connection(slack_conn_id)
    except ConnectionMissingError:
        return False
    host = (conn.host or "").strip()
    if _WEBHOOK_SECRET.search(host):
        mask_secret(host)
        raise ConnectionConfigError(
            f"Airflow connection {slack_conn_id!r}: its host holds the webhook's secret path; put "
            "https://hooks.slack.com/services in the host and the rest (T.../B.../...) in the password, which is masked"
        )
    return True


def send_alerts(
    warehouse_url: str,
    audit_date: dt.date,
    *,
    smtp_conn_id: str = SMTP_CONNECTION_ID,
    slack_conn_id: str = SLACK_CONNECTION_ID,
    page_root: str | None = None,
    now: dt.datetime | None = None,
) -> AlertReport:
    """Tell every change of ``audit_date`` that the ledger does not hold yet, per channel.

    ``page_root``: the Readiness page's URL (``…/readiness``) for a link to each team's page.
    """
    report = AlertReport(audit_date)
    slack_problem: ConnectionConfigError | None = None
    warehouse = Warehouse(warehouse_url)
    try:
        latest = warehouse.latest_audit_date()
        if latest is None or audit_date < latest:
            report.skipped = f"the latest published audit date is {latest}: {audit_date} is history, no alert"
            log.info("No alerts for %s: %s", audit_date, report.skipped)
            return report
        changes = changes_on(warehouse, audit_date)
        report.changes = len(changes)
        ledger = AlertLedger(warehouse)
        ledger.create()
        held = ledger.told(audit_date)
        try:
            slack = slack_configured(slack_conn_id)
        except ConnectionConfigError as error:  # raised once the emails went: the channels are independent
            slack, slack_problem = False, error
        channels = [EMAIL, SLACK] if slack else [EMAIL]
        if SLACK not in channels and slack_problem is None:
            log.info("Airflow connection %r is not defined: alerts go by email only", slack_conn_id)
        pending = {channel: _pending(changes, held, channel) for channel in channels}
        report.already_told = sum(len(changes) - sum(map(len, p.values())) for p in pending.values())
        log.info("%s: %d changes, %d already told", audit_date, len(changes), report.already_told)
        when = now or dt.datetime.now(dt.UTC)
        if pending[EMAIL]:
            addresses = team_addresses(warehouse, audit_date)
            _send_emails(pending[EMAIL], addresses, ledger, report, smtp_conn_id, page_root, when)
        if SLACK in pending and pending[SLACK]:
            _send_slack(pending[SLACK], ledger, report, slack_conn_id, page_root, when)
    finally:
        warehouse.dispose()
    if slack_problem is not None:
        raise slack_problem
    if report.failed:
        problems = "; ".join(f"{where}: {why}" for where, why in report.failed.items())
        raise AlertDeliveryError(f"{len(report.failed)} alert(s) not delivered, a retry sends only them: {problems}")
    return report


def _pending(changes: list[Change], held: set[tuple[str, str, str, str]], channel: str) -> dict[str, list[Change]]:
    """Per team, its changes the ledger does not hold for ``channel``."""
    teams: dict[str, list[Change]] = defaultdict(list)
    for change in changes:
        if (*change.key, channel) not in held:
            teams[change.team].append(change)
    return dict(teams)


def _page_url(page_root: str | None, team: str) -> str | None:
    from urllib.parse import quote

    return f"{page_root.rstrip('/')}/teams/{quote(team, safe='')}" if page_root else None


def _send_emails(
    pending: dict[str, list[Change]],
    addresses: dict[str, str],
    ledger: AlertLedger,
    report: AlertReport,
    smtp_conn_id: str,
    page_root: str | None,
    when: dt.datetime,
) -> None:
    from airflow.exceptions import AirflowException

    sender = sender_from_connection(smtp_conn_id)
    reachable = {team: changes for team, changes in pending.items() if addresses.get(team)}
    for team in sorted(set(pending) - set(reachable)):
        log.warning("Team %r has no email address (spec.profile.email of its Group): no alert email", team)
    if not reachable:
        return
    try:
        with smtp_session(smtp_conn_id) as client:  # one session for every team's email of the day
            for team, changes in sorted(reachable.items()):
                recipient = addresses[team].strip().lower()
                message = build_email(
                    team, changes, recipient=recipient, sender=sender, date=when, page_url=_page_url(page_root, team)
                )
                _email_team(client, message, team, changes, ledger, report, when)
    except (OSError, smtplib.SMTPException, AirflowException) as error:  # the server is down: Slack still goes
        why = f"the SMTP server of {smtp_conn_id!r} could not be reached or refused the session"
        why += f" ({type(error).__name__})"
        for team in sorted(set(reachable) - set(report.told[EMAIL])):
            report.failed.setdefault(f"email to team {team!r}", why)
        log.error("Alert emails not sent: %s", why)


def _email_team(
    client: smtplib.SMTP,
    message: EmailMessage,
    team: str,
    changes: list[Change],
    ledger: AlertLedger,
    report: AlertReport,
    when: dt.datetime,
) -> None:
    """Send one team's email in the open session; recorded as soon as the server accepted it."""
    recipient = str(message["To"])
    try:
        client.send_message(message, from_addr=envelope_sender(message), to_addrs=[recipient])
    except REFUSALS as error:  # this recipient only: the session goes on with the next team
        report.failed[f"email to team {team!r}"] = smtp_answer(error)
        log.error("The alert email of team %r was refused: %s", team, smtp_answer(error))
        return
    ledger.record(changes, channel=EMAIL, destination=recipient, message_id=message["Message-ID"], sent_at=when)
    report.told[EMAIL].append(team)
    log.info("Told team %r by email (%s): %d change(s)", team, recipient, len(changes))


def _send_slack(
    pending: dict[str, list[Change]],
    ledger: AlertLedger,
    report: AlertReport,
    slack_conn_id: str,
    page_root: str | None,
    when: dt.datetime,
) -> None:
    """The day's changes as the fewest webhook messages Slack's limits allow, a second apart at least."""
    from airflow.providers.slack.hooks.slack_webhook import SlackWebhookHook
    from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler

    # Slack answers a webhook past its rate with 429 and Retry-After: waited for, as every client here does.
    hook = SlackWebhookHook(
        slack_webhook_conn_id=slack_conn_id,
        retry_handlers=[ConnectionErrorRetryHandler(), RateLimitErrorRetryHandler(max_retry_count=2)],
    )
    posts = slack_posts(pending, {team: _page_url(page_root, team) for team in pending})
    for number, post in enumerate(posts, 1):
        if number > 1:
            time.sleep(SLACK_SECONDS_BETWEEN_POSTS)
        part = f"Slack message {number} of {len(posts)} ({len(post.teams)} team(s), {len(post.changes)} change(s))"
        try:
            hook.send(text=post.payload["text"], blocks=post.payload["blocks"])
        except Exception as error:  # the hook raises AirflowException with Slack's answer (no token in it)
            for team in post.teams:
                report.failed[f"Slack message of team {team!r}"] = _slack_answer(error)
            log.error("%s failed: %s", part, _slack_answer(error))
            continue
        ledger.record(list(post.changes), channel=SLACK, destination=slack_conn_id, message_id=None, sent_at=when)
        report.slack_posts += 1
        report.told[SLACK].extend(post.teams)
        log.info("%s: told", part)


def _slack_answer(error: Exception) -> str:
    """Slack's status and body as the hook reports them; a URL (which would hold the token) is cut out."""
    text = str(error)
    return " ".join(word for word in text.split() if "://" not in word)[:300] or type(error).__name__
