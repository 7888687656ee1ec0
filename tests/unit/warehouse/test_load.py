"""The warehouse's load paths: the rows each path writes, and which path each dialect takes.

PostgreSQL's COPY is tested against a real server in tests/integration/test_warehouse.py.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
import sqlalchemy as sa

from oncall_readiness.warehouse_load import insert, load_frame, records

DAY = dt.date(2026, 11, 16)


def shifts_table(metadata: sa.MetaData) -> sa.Table:
    return sa.Table(
        "shifts",
        metadata,
        sa.Column("audit_date", sa.Date),
        sa.Column("user_id", sa.Text),
        sa.Column("turns", sa.BigInteger),
        sa.Column("share", sa.Float),
        sa.Column("exempt", sa.Boolean),
        sa.Column("start", sa.DateTime),
    )


def shifts() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "user_id": ["PU1", "", None],
            "turns": pd.array([3, None, 1], dtype="Int64"),
            "share": [0.5, float("nan"), 1.0],
            "exempt": pd.array([True, None, False], dtype="boolean"),
            "start": pd.to_datetime(["2026-11-09T09:00:00+01:00", None, "2026-11-10T00:00:00Z"], utc=True),
            "not_a_column": ["dropped", "dropped", "dropped"],
        }
    )


EXPECTED = [
    {"audit_date": DAY, "user_id": "PU1", "turns": 3, "share": 0.5, "exempt": True,
     "start": dt.datetime(2026, 11, 9, 8, 0)},
    {"audit_date": DAY, "user_id": "", "turns": None, "share": None, "exempt": None, "start": None},
    {"audit_date": DAY, "user_id": None, "turns": 1, "share": 1.0, "exempt": False,
     "start": dt.datetime(2026, 11, 10, 0, 0)},
]  # fmt: skip


def test_rows_are_the_tables_columns_with_none_for_every_missing_value_and_naive_utc():
    table = shifts_table(sa.MetaData())
    rows = records(load_frame(shifts(), table, DAY))
    assert rows == EXPECTED
    assert all(type(row["start"]) is dt.datetime for row in rows if row["start"] is not None)


def test_a_frame_without_a_column_of_the_table_is_refused_naming_it():
    with pytest.raises(ValueError, match="shifts: the data lacks columns turns"):
        load_frame(shifts().drop(columns=["turns"]), shifts_table(sa.MetaData()), DAY)


@pytest.mark.parametrize("url", ["duckdb:///:memory:", "sqlite://"])
def test_every_dialect_stores_the_same_rows(url):
    engine = sa.create_engine(url)
    table = shifts_table(sa.MetaData())
    with engine.begin() as conn:
        table.create(conn)
        assert insert(conn, table, shifts(), DAY) == 3
        assert insert(conn, table, shifts().iloc[:0], DAY) == 0
        stored = [dict(row._mapping) for row in conn.execute(sa.select(table))]
    engine.dispose()
    assert stored == EXPECTED


def test_duckdb_loads_through_arrow_and_falls_back_to_executemany_for_values_of_another_kind():
    engine = sa.create_engine("duckdb:///:memory:")
    table = shifts_table(sa.MetaData())
    statements: list[str] = []
    sa.event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    with engine.begin() as conn:
        table.create(conn)
        statements.clear()
        insert(conn, table, shifts(), DAY)
        assert not [s for s in statements if s.startswith("INSERT")]  # the Arrow scan, not SQLAlchemy inserts
        odd = shifts().assign(user_id=[7, None, "PU3"])  # a number in a text column: DuckDB casts it, row by row
        insert(conn, table, odd, DAY)
        assert [s for s in statements if s.startswith("INSERT")]
        users = conn.execute(sa.text("SELECT user_id FROM shifts WHERE user_id IS NOT NULL ORDER BY user_id"))
        assert [row[0] for row in users] == ["", "7", "PU1", "PU3"]
    engine.dispose()


def test_the_audit_date_index_is_kept_where_the_database_uses_one(tmp_path):
    """PostgreSQL and SQLite find a date's rows through an index; DuckDB through its row groups' min/max."""
    from oncall_readiness.warehouse import Warehouse

    def indexed(url: str) -> set[str]:
        warehouse = Warehouse(url)
        try:
            return {index.name for index in warehouse.table("scorecard").indexes}
        finally:
            warehouse.dispose()

    assert indexed(f"duckdb:///{tmp_path / 'w.duckdb'}") == set()
    assert indexed("postgresql+psycopg2://readiness@db.example.com/readiness") == {"ix_readiness_scorecard_audit_date"}
    assert indexed(f"sqlite:///{tmp_path / 'w.db'}") == {"ix_scorecard_audit_date"}
