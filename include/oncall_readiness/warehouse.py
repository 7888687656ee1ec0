"""The warehouse: check results, findings, scorecards and facts, one partition per audit date.

``readiness_warehouse`` is a SQLAlchemy URL (the Airflow connection's ``extra.url``, or its
URI). The embedded default is a DuckDB file. Tables live in schema ``readiness`` where the
dialect has schemas (DuckDB, PostgreSQL). Publishing an audit date deletes and rewrites that
date's rows of every table in one transaction: a rerun never duplicates, and a failed
publish leaves the previous rows as they were.

A DuckDB file is shared by the API server and the workers by taking turns (``warehouse_file``):
each connection waits its turn up to ``wait`` seconds, and holds the file until it is closed
(``dispose``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd
import sqlalchemy as sa

from oncall_readiness.schema import (
    AUDIT_INCIDENT_TABLES,
    FINDING_LINK_COLUMNS,
    OPEN_INCIDENT_COST_COLUMNS,
    OPEN_INCIDENT_COSTS,
    RESULT_TABLES,
)
from oncall_readiness.source_catalogue import fact_schemas
from oncall_readiness.warehouse_file import TASK_WAIT, take_turns
from oncall_readiness.warehouse_load import insert, load_frame
from oncall_readiness.warehouse_load import records as _plain_records

CONNECTION_ID = "readiness_warehouse"
SCHEMA = "readiness"

TYPES = {
    "string": sa.Text,
    "integer": sa.BigInteger,
    "float": sa.Double,  # 8 bytes on every dialect: DuckDB's FLOAT is single precision (43.8 read back 43.7999992)
    "boolean": sa.Boolean,
    "date": sa.Date,
    "timestamp": sa.DateTime,  # UTC, stored without zone so every dialect reads it the same
}

# "Latest" is the latest audit published for a date not after today: an audit of a future date (one a
# past version let through) is never the latest, whatever was published later.
LATEST = (
    "SELECT * FROM {schema}{table} WHERE audit_date = "
    "(SELECT MAX(audit_date) FROM {schema}{table} WHERE audit_date <= CURRENT_DATE)"
)
VIEWS = {"scorecard_latest": "scorecard", "check_results_latest": "check_results"}


def url_from_connection(conn_id: str = CONNECTION_ID) -> str:
    """The SQLAlchemy URL of the ``readiness_warehouse`` connection: ``extra.url`` or its URI.

    There is no fallback: without the connection (or when a secrets backend cannot be read,
    which the Task SDK also reports as "not found") the run stops here, naming the connection,
    rather than write a warehouse file somewhere on a worker.
    """
    from oncall_readiness.connections import get_connection
    from oncall_readiness.errors import ConnectionConfigError

    try:
        conn = get_connection(conn_id)
    except ConnectionConfigError as error:
        raise ConnectionConfigError(
            f"Airflow connection {conn_id!r} is not defined (or could not be read): set it to the warehouse's "
            'SQLAlchemy URL, e.g. AIRFLOW_CONN_READINESS_WAREHOUSE=\'{"conn_type": "generic", '
            '"extra": {"url": "postgresql+psycopg2://user:password@host/db"}}\''
        ) from error
    url: str = conn.extra_dejson.get("url") or conn.get_uri()
    return url.replace("postgres://", "postgresql://", 1)


class Warehouse:
    def __init__(self, url: str, *, wait: float = TASK_WAIT) -> None:
        """``wait``: how long a connection to a DuckDB file waits for its turn (a request waits less than a task)."""
        self.engine = sa.create_engine(url)
        take_turns(self.engine, wait=wait)
        self.schema = None if self.engine.dialect.name == "sqlite" else SCHEMA
        self.metadata = sa.MetaData(schema=self.schema)
        # DuckDB finds a date's rows from its row groups' min/max without an index; the ART index
        # it would keep per table cost a third of a 2,000-team publish (docs/performance.md).
        indexed = self.engine.dialect.name != "duckdb"
        for name, columns in {**RESULT_TABLES, **AUDIT_INCIDENT_TABLES, **fact_schemas()}.items():
            table_name = name if name in RESULT_TABLES or name in AUDIT_INCIDENT_TABLES else f"facts_{name}"
            sa.Table(
                table_name,
                self.metadata,
                sa.Column("audit_date", sa.Date, nullable=False, index=indexed),
                *(sa.Column(column, TYPES[kind]()) for column, kind in columns.items()),
            )
        # What the last incident_cost_watch run saw: not partitioned, replaced by each run.
        sa.Table(
            OPEN_INCIDENT_COSTS,
            self.metadata,
            *(sa.Column(column, TYPES[kind]()) for column, kind in OPEN_INCIDENT_COST_COLUMNS.items()),
        )

    def table(self, name: str) -> sa.Table:
        return self.metadata.tables[f"{self.schema}.{name}" if self.schema else name]

    def own_table(self, name: str, define: Callable[[sa.MetaData], sa.Table]) -> sa.Table:
        """A table a feature keeps beside the published ones (a ledger): ``define``d once on this metadata."""
        try:
            return self.table(name)
        except KeyError:
            return define(self.metadata)

    def ensure_schema(self, conn: sa.Connection, tables: list[sa.Table] | None = None) -> None:
        """Create what is missing: schema, tables, new columns of newer versions, views.

        ``tables``: only these (and no views), for a writer of one table that must not pay
        for reflecting every other.
        """
        if self.schema:
            conn.execute(sa.text(f"CREATE SCHEMA IF NOT EXISTS {self.schema}"))
        self.metadata.create_all(conn, tables=tables, checkfirst=True)
        wanted = list(tables or self.metadata.tables.values())
        # One reflection for all tables: DuckDB answers each get_columns in ~0.4 s, 40 tables made 15 s a publish.
        reflected = sa.inspect(conn).get_multi_columns(schema=self.schema, filter_names=[t.name for t in wanted])
        for table in wanted:
            present = {column["name"] for column in reflected.get((self.schema, table.name), [])}
            for column in table.columns:
                if column.name not in present:
                    kind = column.type.compile(dialect=conn.dialect)
                    conn.execute(sa.text(f"ALTER TABLE {self._qualified(table.name)} ADD COLUMN {column.name} {kind}"))
        if tables is not None:
            return
        prefix = f"{self.schema}." if self.schema else ""
        for view, source in VIEWS.items():
            conn.execute(sa.text(f"DROP VIEW IF EXISTS {prefix}{view}"))
            conn.execute(sa.text(f"CREATE VIEW {prefix}{view} AS {LATEST.format(schema=prefix, table=source)}"))

    def publish(
        self,
        audit_date: dt.date,
        *,
        check_results: pd.DataFrame,
        findings: pd.DataFrame,
        scorecard: pd.DataFrame,
        facts: Mapping[str, pd.DataFrame],
        data_quality: pd.DataFrame | None = None,
        incidents: pd.DataFrame | None = None,
        incident_costs: pd.DataFrame | None = None,
        waivers: pd.DataFrame | None = None,
        campaign_progress: pd.DataFrame | None = None,
        scorecard_rollup: pd.DataFrame | None = None,
        slos: pd.DataFrame | None = None,
        reviews: Mapping[str, pd.DataFrame] | None = None,
    ) -> dict[str, int]:
        """Replace the audit date's rows of every table in one transaction; return rows written.

        Every table of the date is cleared, also the facts tables of sources not given (not
        collected in this run) and the incident tables when ``incidents`` is None (PagerDuty's
        incidents unavailable): a rerun never leaves an earlier run's rows under the date.
        """
        # A finding's link is optional: findings staged without it (by a run of an earlier version,
        # or by a caller that has no links) are published with NULL url and subject_name.
        unlinked = [column for column in FINDING_LINK_COLUMNS if column not in findings.columns]
        nulls = {column: pd.Series(None, index=findings.index, dtype=object) for column in unlinked}
        findings = findings.assign(**nulls)
        frames = {"check_results": check_results, "findings": findings, "scorecard": scorecard}
        if data_quality is not None:
            frames["data_quality"] = data_quality
        if incidents is not None:
            frames["incidents"] = incidents
        if incident_costs is not None:
            frames["incident_costs"] = incident_costs
        if waivers is not None:
            frames["waivers"] = waivers
        if campaign_progress is not None:
            frames["campaign_progress"] = campaign_progress
        if scorecard_rollup is not None:
            frames["scorecard_rollup"] = scorecard_rollup
        if slos is not None:
            frames["slos"] = slos
        frames.update(reviews or {})  # incident_reviews, action_items: when their sources were read
        frames.update({f"facts_{name}": frame for name, frame in facts.items()})
        written = {}
        with self.engine.begin() as conn:
            self.ensure_schema(conn)
            for table in self._partitioned_tables():
                conn.execute(table.delete().where(table.c.audit_date == audit_date))
            for name, frame in frames.items():
                # DuckDB: Arrow + INSERT ... SELECT; PostgreSQL: COPY; others: executemany (warehouse_load)
                written[name] = insert(conn, self.table(name), frame, audit_date)
        return written

    def _partitioned_tables(self) -> list[sa.Table]:
        """The tables with one partition per audit date: results, data quality, incidents and facts."""
        names = [*RESULT_TABLES, *AUDIT_INCIDENT_TABLES, *(f"facts_{name}" for name in fact_schemas())]
        return [self.table(name) for name in names]

    def replace_open_incident_costs(self, frame: pd.DataFrame) -> int:
        """Replace ``open_incident_costs`` with ``frame`` in one transaction; the rows written."""
        table = self.table(OPEN_INCIDENT_COSTS)
        with self.engine.begin() as conn:
            self.ensure_schema(conn, [table])
            conn.execute(table.delete())
            return insert(conn, table, frame, None)

    def latest_audit_date(self, *, today: dt.date | None = None) -> dt.date | None:
        """The latest audit date published in ``scorecard`` not after ``today`` (UTC); None when there is none."""
        today = today or dt.datetime.now(dt.UTC).date()
        table = self.table("scorecard")
        with self.engine.connect() as conn:
            if not sa.inspect(conn).has_table("scorecard", schema=self.schema):
                return None
            latest = conn.execute(
                sa.select(sa.func.max(table.c.audit_date)).where(table.c.audit_date <= today)
            ).scalar()
        return None if latest is None else pd.Timestamp(latest).date()

    def audit_dates(self) -> list[dt.date]:
        """Every audit date published in ``scorecard``, oldest first; none before the first publish."""
        table = self.table("scorecard")
        with self.engine.connect() as conn:
            if not sa.inspect(conn).has_table("scorecard", schema=self.schema):
                return []
            days = conn.execute(sa.select(table.c.audit_date).distinct().order_by(table.c.audit_date)).scalars()
            return [pd.Timestamp(day).date() for day in days]

    def scores_on(self, audit_date: dt.date) -> pd.DataFrame:
        """(team, score) of the scorecard published for ``audit_date``; empty when none."""
        table = self.table("scorecard")
        with self.engine.connect() as conn:
            if not sa.inspect(conn).has_table("scorecard", schema=self.schema):
                return pd.DataFrame(columns=["team", "score"])
            rows = conn.execute(sa.select(table.c.team, table.c.score).where(table.c.audit_date == audit_date))
            return pd.DataFrame(rows.fetchall(), columns=["team", "score"])

    def query(self, sql: str, **params: Any) -> pd.DataFrame:
        with self.engine.connect() as conn:
            result = conn.execute(sa.text(sql), params)
            return pd.DataFrame(result.fetchall(), columns=list(result.keys()))

    def _qualified(self, name: str) -> str:
        return f"{self.schema}.{name}" if self.schema else name

    def dispose(self) -> None:
        self.engine.dispose()


def _records(frame: pd.DataFrame, table: sa.Table, audit_date: dt.date | None) -> list[dict[str, Any]]:
    """Rows as plain Python values: NA becomes None, timestamps naive UTC, extra columns dropped.

    ``audit_date`` fills the partition column; None for a table without one. The publish loads
    through ``warehouse_load.insert`` (bulk paths); this is for a writer of a few rows.
    """
    return _plain_records(load_frame(frame, table, audit_date))
