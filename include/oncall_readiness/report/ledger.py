"""The send ledger: which weekly email went to whom, so each recipient gets it exactly once.

Table ``email_ledger`` (schema ``readiness`` where the dialect has schemas), one row per
message delivered to one recipient: week (the audit_date of the scorecard sent), recipient
(lower-cased address), kind (``team`` or ``digest``), team (NULL for the digest),
message_id and sent_at (UTC). The sender skips what the ledger already holds for the week
and records each delivery in its own transaction right after the SMTP server accepted it,
so a retried or re-run task sends only what is missing. No credential is ever stored here.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from oncall_readiness.warehouse import Warehouse

TABLE = "email_ledger"


def ledger_table(warehouse: Warehouse) -> sa.Table:
    """The ``email_ledger`` table on the warehouse's metadata (defined once per ``Warehouse``)."""
    key = f"{warehouse.schema}.{TABLE}" if warehouse.schema else TABLE
    if key in warehouse.metadata.tables:
        return warehouse.metadata.tables[key]
    return sa.Table(
        TABLE,
        warehouse.metadata,
        sa.Column("week", sa.Date, nullable=False, index=True),
        sa.Column("recipient", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("team", sa.Text),
        sa.Column("message_id", sa.Text, nullable=False),
        sa.Column("sent_at", sa.DateTime, nullable=False),
    )


class SendLedger:
    """Reads and records deliveries of the weekly emails in the warehouse."""

    def __init__(self, warehouse: Warehouse) -> None:
        self.warehouse = warehouse
        self.table = ledger_table(warehouse)

    def create(self) -> None:
        """Create the schema and table if missing (leaves every other table alone)."""
        with self.warehouse.engine.begin() as conn:
            if self.warehouse.schema:
                conn.execute(sa.text(f"CREATE SCHEMA IF NOT EXISTS {self.warehouse.schema}"))
            self.table.create(conn, checkfirst=True)

    def delivered(self, week: dt.date) -> set[tuple[str, str | None, str]]:
        """(kind, team, recipient) of every delivery recorded for ``week``."""
        table = self.table
        query = sa.select(table.c.kind, table.c.team, table.c.recipient).where(table.c.week == week)
        with self.warehouse.engine.connect() as conn:
            return {(kind, team, recipient) for kind, team, recipient in conn.execute(query)}

    def record(
        self, week: dt.date, *, recipient: str, kind: str, team: str | None, message_id: str, sent_at: dt.datetime
    ) -> None:
        """Record one delivery, committed at once (a task that dies later keeps it)."""
        row = {
            "week": week,
            "recipient": normalise_address(recipient),
            "kind": kind,
            "team": team,
            "message_id": message_id,
            "sent_at": sent_at.astimezone(dt.UTC).replace(tzinfo=None) if sent_at.tzinfo else sent_at,
        }
        with self.warehouse.engine.begin() as conn:
            conn.execute(self.table.insert(), [row])


def normalise_address(address: str) -> str:
    return address.strip().lower()
