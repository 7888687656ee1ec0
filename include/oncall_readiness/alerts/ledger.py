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
from oncall_readiness.warehouse import Warehouse

TABLE = "alert_ledger"
UNIQUE_INDEX = "ux_alert_ledger_change"
EMAIL, SLACK = "email", "slack"


def ledger_table(warehouse: Warehouse) -> sa.Table:
    return warehouse.own_table(TABLE, _define)


def _define(metadata: sa.MetaData) -> sa.Table:
    table = sa.Table(
        TABLE,
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
    sa.Index(
        UNIQUE_INDEX, table.c.audit_date, table.c.team, table.c.kind, table.c.check_id, table.c.channel, unique=True
    )
    return table


class AlertLedger:
    """Reads and records the changes told, per channel."""

    def __init__(self, warehouse: Warehouse) -> None:
        self.warehouse = warehouse
        self.table = ledger_table(warehouse)

    def create(self) -> None:
        """Create the schema, table and unique index when missing; leaves every other table alone."""
        with self.warehouse.engine.begin() as conn:
            self.warehouse.ensure_schema(conn, [self.table])  # with its indexes

    def told(self, audit_date: dt.date) -> set[tuple[str, str, str, str]]:
        """(team, kind, check_id, channel) of every change recorded for ``audit_date``."""
        table = self.table
        query = sa.select(table.c.team, table.c.kind, table.c.check_id, table.c.channel).where(
            table.c.audit_date == audit_date
        )
        with self.warehouse.engine.connect() as conn:
            return {tuple(row) for row in conn.execute(query)}

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
                "sent_at": sent_at.astimezone(dt.UTC).replace(tzinfo=None),
            }
            for change in changes
            if (*change.key, channel) not in held
        ]
        if not rows:
            return 0
        try:
            with self.warehouse.engine.begin() as conn:
                conn.execute(self.table.insert(), rows)
        except sa.exc.IntegrityError:  # another run recorded them meanwhile: its rows, the first, stay
            return 0
        return len(rows)
