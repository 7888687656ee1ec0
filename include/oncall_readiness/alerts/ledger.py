"""The alert ledger: which change was told to which team on which channel, so each is told once.

Table ``alert_ledger`` (schema ``readiness`` where the dialect has schemas), one row per change
told on one channel: audit_date, team, kind (``level-drop`` or ``check-fail``), check_id (""
for a level drop), channel (``email`` or ``slack``), destination (the address, or the Slack
connection id: never the webhook URL, which holds its token), message_id (the email's) and
sent_at (UTC). The unique index ``ux_alert_ledger_change`` on (audit_date, team, kind, check_id,
channel) holds on every dialect. A row is committed right after the channel accepted the
message, so a retried task tells only what is missing; recording twice keeps the first row.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from oncall_readiness.alerts.changes import Change
from oncall_readiness.ledger import Ledger, naive_utc

EMAIL, SLACK = "email", "slack"


class AlertLedger(Ledger):
    """Reads and records the changes told, per channel."""

    TABLE = "alert_ledger"
    UNIQUE_INDEX = "ux_alert_ledger_change"

    @classmethod
    def define(cls, metadata: sa.MetaData) -> sa.Table:
        table = sa.Table(
            cls.TABLE,
            metadata,
            sa.Column("audit_date", sa.Date, nullable=False, index=True),
            sa.Column("team", sa.Text, nullable=False),
            sa.Column("kind", sa.Text, nullable=False),
            sa.Column("check_id", sa.Text, nullable=False),
            sa.Column("channel", sa.Text, nullable=False),
            sa.Column("destination", sa.Text, nullable=False),
            sa.Column("message_id", sa.Text),
            sa.Column("sent_at", sa.DateTime, nullable=False),
        )
        key = (table.c.audit_date, table.c.team, table.c.kind, table.c.check_id, table.c.channel)
        sa.Index(cls.UNIQUE_INDEX, *key, unique=True)
        return table

    def told(self, audit_date: dt.date) -> set[tuple[str, str, str, str]]:
        """(team, kind, check_id, channel) of every change recorded for ``audit_date``."""
        table = self.table
        query = sa.select(table.c.team, table.c.kind, table.c.check_id, table.c.channel).where(
            table.c.audit_date == audit_date
        )
        with self.warehouse.engine.connect() as conn:
            return {(team, kind, check_id, channel) for team, kind, check_id, channel in conn.execute(query)}

    def record(
        self, changes: list[Change], *, channel: str, destination: str, message_id: str | None, sent_at: dt.datetime
    ) -> int:
        """Record the changes told in one message, in one transaction; the rows added (held ones are kept)."""
        held = self.told(changes[0].audit_date) if changes else set()
        rows = [
            {
                "audit_date": change.audit_date,
                "team": change.team,
                "kind": change.kind,
                "check_id": change.check_id,
                "channel": channel,
                "destination": destination,
                "message_id": message_id,
                "sent_at": naive_utc(sent_at),
            }
            for change in changes
            if (*change.key, channel) not in held
        ]
        return len(rows) if rows and self.insert_once(rows) else 0
