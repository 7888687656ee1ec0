"""The send ledger: which weekly email went to whom, so each recipient gets it exactly once.

Table ``email_ledger`` (schema ``readiness`` where the dialect has schemas), one row per
message delivered to one recipient: week (the audit_date of the scorecard sent), recipient
(lower-cased address), kind (``team`` or ``digest``), team (NULL for the digest),
message_id and sent_at (UTC). A delivery is unique: the index ``ux_email_ledger_delivery``
on (week, kind, COALESCE(team, ''), recipient) holds on every dialect (a plain unique key
would let the digest's NULL team repeat), and :meth:`SendLedger.create` adds it to a ledger
written by an older version. The sender skips what the ledger already holds for the week
and records each delivery in its own transaction right after the SMTP server accepted it,
so a retried or re-run task sends only what is missing; recording a delivery twice keeps
the first row. No credential is ever stored here.
"""

from __future__ import annotations

import datetime as dt
import logging

import sqlalchemy as sa

from oncall_readiness.ledger import Ledger, naive_utc

log = logging.getLogger(__name__)


class SendLedger(Ledger):
    """Reads and records deliveries of the weekly emails in the warehouse."""

    TABLE = "email_ledger"
    UNIQUE_INDEX = "ux_email_ledger_delivery"

    @classmethod
    def define(cls, metadata: sa.MetaData) -> sa.Table:
        table = sa.Table(
            cls.TABLE,
            metadata,
            sa.Column("week", sa.Date, nullable=False, index=True),
            sa.Column("recipient", sa.Text, nullable=False),
            sa.Column("kind", sa.Text, nullable=False),
            sa.Column("team", sa.Text),
            sa.Column("message_id", sa.Text, nullable=False),
            sa.Column("sent_at", sa.DateTime, nullable=False),
        )
        sa.Index(cls.UNIQUE_INDEX, *_delivery_key(table), unique=True)
        return table

    def create(self) -> None:
        """Create the schema, table and unique index if missing (leaves every other table alone).

        A ledger from before the unique index gets it here; should it hold the same delivery
        twice, the later rows are dropped first (with a warning), keeping the first delivery.
        """
        with self.warehouse.engine.begin() as conn:
            if not self.exists(conn):
                self.warehouse.ensure_schema(conn, [self.table])  # with its indexes
                return
            removed = self._drop_repeated_deliveries(conn)
        if removed:
            log.warning("The send ledger held %d repeated deliveries; kept the first of each", removed)
        # Its own transaction: DuckDB builds an index over the rows as committed.
        (index,) = (index for index in self.table.indexes if index.name == self.UNIQUE_INDEX)
        with self.warehouse.engine.begin() as conn:
            conn.execute(sa.schema.CreateIndex(index, if_not_exists=True))

    def delivered(self, week: dt.date) -> set[tuple[str, str | None, str]]:
        """(kind, team, recipient) of every delivery recorded for ``week``."""
        table = self.table
        query = sa.select(table.c.kind, table.c.team, table.c.recipient).where(table.c.week == week)
        with self.warehouse.engine.connect() as conn:
            return {(kind, team, recipient) for kind, team, recipient in conn.execute(query)}

    def weeks(self, *, after: dt.date, up_to: dt.date) -> list[dt.date]:
        """The weeks (audit dates) with recorded deliveries in (``after``, ``up_to``], oldest first."""
        table = self.table
        query = (
            sa.select(table.c.week).distinct().where(table.c.week > after, table.c.week <= up_to).order_by(table.c.week)
        )
        with self.warehouse.engine.connect() as conn:
            if not self.exists(conn):
                return []
            return [_as_date(week) for (week,) in conn.execute(query)]

    def record(
        self, week: dt.date, *, recipient: str, kind: str, team: str | None, message_id: str, sent_at: dt.datetime
    ) -> bool:
        """Record one delivery, committed at once (a task that dies later keeps it).

        Idempotent: when the ledger already holds this delivery (week, kind, team, recipient),
        its first row stays and False is returned.
        """
        row = {
            "week": week,
            "recipient": normalise_address(recipient),
            "kind": kind,
            "team": team,
            "message_id": message_id,
            "sent_at": naive_utc(sent_at),
        }
        table = self.table
        held = sa.select(sa.literal(1)).where(
            table.c.week == row["week"],
            table.c.kind == row["kind"],
            sa.func.coalesce(table.c.team, "") == (row["team"] or ""),
            table.c.recipient == row["recipient"],
        )
        return self.insert_once([row], unless=held)

    def _drop_repeated_deliveries(self, conn: sa.Connection) -> int:
        """Delete every row for which an earlier row records the same delivery; the number deleted."""
        table, earlier = self.table, self.table.alias("earlier")
        repeated = sa.exists().where(
            *(left == right for left, right in zip(_delivery_key(earlier), _delivery_key(table), strict=True)),
            earlier.c.sent_at < table.c.sent_at,
        )
        return conn.execute(table.delete().where(repeated)).rowcount or 0


def normalise_address(address: str) -> str:
    return address.strip().lower()


def _delivery_key(table: sa.FromClause) -> tuple[sa.ColumnElement[object], ...]:
    """What makes a delivery unique; the digest's NULL team compares as ''."""
    return (table.c.week, table.c.kind, sa.func.coalesce(table.c.team, ""), table.c.recipient)


def _as_date(value: dt.date | dt.datetime) -> dt.date:
    return value if isinstance(value, dt.date) and not isinstance(value, dt.datetime) else value.date()
