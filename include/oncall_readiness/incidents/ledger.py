"""The notes ledger: which running-cost note went on which incident, so each milestone gets one.

Table ``incident_cost_notes`` (schema ``readiness`` where the dialect has schemas), one row
per (incident, milestone) a watch run set out to post: incident_id, milestone_minutes (30,
60, ...), content (the note's text), claimed_by (the DAG run that claimed it), claimed_at,
posted_at and note_id (NULL until PagerDuty accepted the note). The unique index
``ux_incident_cost_notes_milestone`` on (incident_id, milestone_minutes) makes the claim the
lock: a run inserts the row in its own transaction *before* posting, so of two overlapping
runs only one can claim a milestone, and marks it posted right after. A row claimed but not
posted means the claiming attempt is still posting, or died between its claim and its mark:
the same run's retry (or, after ``CLAIM_LEASE``, any run) looks for the note's text among
the incident's notes before posting again (``watch``). Times are UTC, without zone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa

from oncall_readiness.ledger import Ledger, utcnow

# How long a claim by another run is left alone: longer than a POST with its rate-limit waits.
CLAIM_LEASE = dt.timedelta(minutes=5)


@dataclass(frozen=True)
class NoteClaim:
    """One ledger row."""

    incident_id: str
    milestone_minutes: int
    content: str
    claimed_by: str | None
    claimed_at: dt.datetime
    posted_at: dt.datetime | None
    note_id: str | None

    @property
    def posted(self) -> bool:
        return self.posted_at is not None


class NotesLedger(Ledger):
    """Claims, reads and marks the running-cost notes in the warehouse."""

    TABLE = "incident_cost_notes"
    UNIQUE_INDEX = "ux_incident_cost_notes_milestone"

    @classmethod
    def define(cls, metadata: sa.MetaData) -> sa.Table:
        table = sa.Table(
            cls.TABLE,
            metadata,
            sa.Column("incident_id", sa.Text, nullable=False),
            sa.Column("milestone_minutes", sa.BigInteger, nullable=False),
            sa.Column("content", sa.Text, nullable=False),
            sa.Column("claimed_by", sa.Text),
            sa.Column("claimed_at", sa.DateTime, nullable=False),
            sa.Column("posted_at", sa.DateTime),
            sa.Column("note_id", sa.Text),
        )
        sa.Index(cls.UNIQUE_INDEX, table.c.incident_id, table.c.milestone_minutes, unique=True)
        return table

    def claims(self, incident_ids: Iterable[str]) -> dict[str, list[NoteClaim]]:
        """incident_id -> its rows, lowest milestone first."""
        ids = sorted(set(incident_ids))
        if not ids:
            return {}
        table = self.table
        query = sa.select(table).where(table.c.incident_id.in_(ids)).order_by(table.c.milestone_minutes)
        found: dict[str, list[NoteClaim]] = {}
        with self.warehouse.engine.connect() as conn:
            for row in conn.execute(query).mappings():
                found.setdefault(row["incident_id"], []).append(_claim(row))
        return found

    def claim(self, incident_id: str, milestone: int, content: str, *, run_id: str) -> bool:
        """Insert the claim, committed at once; False when the milestone is already claimed."""
        row = {
            "incident_id": incident_id,
            "milestone_minutes": milestone,
            "content": content,
            "claimed_by": run_id,
            "claimed_at": utcnow(),
            "posted_at": None,
            "note_id": None,
        }
        return self.insert_once([row])

    def get(self, incident_id: str, milestone: int) -> NoteClaim | None:
        table = self.table
        query = sa.select(table).where(table.c.incident_id == incident_id, table.c.milestone_minutes == milestone)
        with self.warehouse.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        return _claim(row) if row else None

    def take_over(self, held: NoteClaim, *, run_id: str, content: str) -> bool:
        """Move an unposted claim to this run; False when another run moved or posted it first."""
        table = self.table
        update = (
            table.update()
            .where(
                table.c.incident_id == held.incident_id,
                table.c.milestone_minutes == held.milestone_minutes,
                table.c.posted_at.is_(None),
                table.c.claimed_at == held.claimed_at,
            )
            .values(claimed_by=run_id, claimed_at=utcnow(), content=content)
        )
        with self.warehouse.engine.begin() as conn:
            return (conn.execute(update).rowcount or 0) == 1

    def mark_posted(self, incident_id: str, milestone: int, *, note_id: str | None, content: str) -> None:
        """Record that PagerDuty holds the note (committed at once)."""
        table = self.table
        update = (
            table.update()
            .where(table.c.incident_id == incident_id, table.c.milestone_minutes == milestone)
            .values(posted_at=utcnow(), note_id=note_id, content=content)
        )
        with self.warehouse.engine.begin() as conn:
            conn.execute(update)


def _claim(row: sa.RowMapping) -> NoteClaim:
    return NoteClaim(
        incident_id=row["incident_id"],
        milestone_minutes=int(row["milestone_minutes"]),
        content=row["content"],
        claimed_by=row["claimed_by"],
        claimed_at=row["claimed_at"],
        posted_at=row["posted_at"],
        note_id=row["note_id"],
    )


def lease_expired(claim: NoteClaim, *, lease: dt.timedelta = CLAIM_LEASE) -> bool:
    return utcnow() - claim.claimed_at >= lease
