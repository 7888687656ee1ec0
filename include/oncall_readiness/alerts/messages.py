"""The alert email of one team on one audit date (text and HTML); the day's Slack message is :mod:`.slack`.

Pure: the same changes, sender and date give the same bytes (the Message-ID derives from the
team, the date and the changes told, so a retried send is folded by mail clients). Everything
from the warehouse (team names, reasons) is escaped in the HTML.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
from email.message import EmailMessage
from email.utils import format_datetime

from oncall_readiness.alerts.changes import LEVEL_DROP, Change
from oncall_readiness.report.message import unfolded_headers

HEADER_KIND = "X-Readiness-Kind"
HEADER_TEAM = "X-Readiness-Team"
KIND = "alert"


def subject(team: str, changes: list[Change]) -> str:
    """E.g. "[Readiness] checkout: level gold → silver, 1 check turned fail (2026-11-16)"."""
    return f"[Readiness] {team}: {change_summary(changes)} ({changes[0].audit_date.isoformat()})"


def change_summary(changes: list[Change]) -> str:
    """E.g. "level gold → silver, 1 check turned fail": a team's changes in a few words."""
    parts = [f"level {c.before} → {c.after}" for c in changes if c.kind == LEVEL_DROP]
    failing = sum(1 for c in changes if c.kind != LEVEL_DROP)
    if failing:
        parts.append(f"{failing} check{'s' if failing > 1 else ''} turned fail")
    return ", ".join(parts)


def build_email(
    team: str, changes: list[Change], *, recipient: str, sender: str, date: dt.datetime, page_url: str | None
) -> EmailMessage:
    """One email to the team listing its changes of the day, each with what to do."""
    message = EmailMessage()
    message["Subject"] = subject(team, changes)
    message["From"] = sender
    message["To"] = recipient
    message["Date"] = format_datetime(date.astimezone(dt.UTC))
    message["Message-ID"] = f"<alert-{_digest(team, changes)}@{sender.rpartition('@')[2] or 'readiness'}>"
    message[HEADER_KIND] = KIND
    message[HEADER_TEAM] = team
    message.set_content(_text(team, changes, page_url))
    message.add_alternative(_html(team, changes, page_url), subtype="html")
    return unfolded_headers(message)


def _text(team: str, changes: list[Change], page_url: str | None) -> str:
    lines = [f"Today's readiness audit ({changes[0].audit_date.isoformat()}) found a change for {team}:", ""]
    for change in changes:
        lines.append(f"- {change.sentence()}")
        if change.remediation:
            lines.append(f"  What to do: {change.remediation}")
    lines += ["", "You get this once per change; the weekly scorecard email follows on Monday."]
    if page_url:
        lines.append(f"The team's page: {page_url}")
    return "\n".join(lines) + "\n"


def _html(team: str, changes: list[Change], page_url: str | None) -> str:
    items = []
    for change in changes:
        todo = f"<br><em>What to do:</em> {html.escape(change.remediation)}" if change.remediation else ""
        items.append(f"<li>{html.escape(change.sentence())}{todo}</li>")
    link = f'<p><a href="{html.escape(page_url, quote=True)}">The team\'s page</a></p>' if page_url else ""
    return (
        "<!doctype html><html><body>"
        f"<p>Today's readiness audit ({changes[0].audit_date.isoformat()}) found a change for "
        f"<strong>{html.escape(team)}</strong>:</p><ul>{''.join(items)}</ul>"
        "<p>You get this once per change; the weekly scorecard email follows on Monday.</p>"
        f"{link}</body></html>\n"
    )


def _digest(team: str, changes: list[Change]) -> str:
    text = "|".join([team, changes[0].audit_date.isoformat(), *("/".join(c.key) for c in changes)])
    return hashlib.sha256(text.encode()).hexdigest()[:20]
