"""Ledgers: tables of things done once (an email sent, an alert told, a note claimed, a result received).

A ledger lives in the warehouse beside the published tables and is never cleared by a
publish. Its unique index is what makes "once" hold across retries, reruns and overlapping
runs on every dialect: a row is inserted in its own transaction, committed at once, and
when another writer holds the same key the first row stays and the insert says so
(``False``). Times are stored as UTC without zone, as every warehouse timestamp.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

import sqlalchemy as sa

from oncall_readiness.warehouse import Warehouse


class Ledger:
    """One ledger table on a warehouse; subclasses name it and :meth:`define` its columns and unique index."""

    TABLE: ClassVar[str]
    UNIQUE_INDEX: ClassVar[str]

    def __init__(self, warehouse: Warehouse) -> None:
        self.warehouse = warehouse
        self.table = warehouse.own_table(self.TABLE, self.define)

    @classmethod
    def define(cls, metadata: sa.MetaData) -> sa.Table:
        raise NotImplementedError

    def create(self) -> None:
        """Create the schema, the table and its unique index when missing; every other table is left alone.

        Two writers creating it at the same moment (the first pushes, on PostgreSQL): the second's
        CREATE fails on the first's committed one; once more, it finds the table.
        """
        for attempt in (1, 2):
            try:
                with self.warehouse.engine.begin() as conn:
                    self.warehouse.ensure_schema(conn, [self.table])
                return
            except (sa.exc.IntegrityError, sa.exc.ProgrammingError):
                if attempt == 2:
                    raise

    def exists(self, conn: sa.Connection) -> bool:
        return sa.inspect(conn).has_table(self.TABLE, schema=self.warehouse.schema)

    def insert_once(self, rows: list[dict[str, Any]], *, unless: sa.Select[Any] | None = None) -> bool:
        """Insert ``rows`` in one transaction, committed at once; False, and nothing written, when the
        unique key already holds them (another writer's first row stays) or ``unless`` finds a row."""
        try:
            with self.warehouse.engine.begin() as conn:
                if unless is not None and conn.execute(unless).first() is not None:
                    return False
                conn.execute(self.table.insert(), rows)
        except sa.exc.IntegrityError:
            return False
        except sa.exc.DBAPIError as error:  # DuckDB reports a unique violation as a ConstraintException
            if "constraint" not in str(error.orig).lower():
                raise
            return False
        return True


def naive_utc(moment: dt.datetime) -> dt.datetime:
    """UTC without zone: how the warehouse stores every timestamp (a naive moment is taken as UTC)."""
    return moment.astimezone(dt.UTC).replace(tzinfo=None) if moment.tzinfo else moment


def utcnow() -> dt.datetime:
    return naive_utc(dt.datetime.now(dt.UTC))
