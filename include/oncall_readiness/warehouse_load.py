"""How the warehouse loads a table's rows: the database's bulk path, inside the publish's transaction.

Row-by-row ``INSERT`` costs a round trip (or a statement) per row: at 2,000 teams the facts of
one audit are hundreds of thousands of rows. So each dialect gets its bulk path:

- **DuckDB**: the rows as an Arrow table registered on the connection, then one
  ``INSERT INTO t (...) SELECT ... FROM`` it (DuckDB scans Arrow without copying);
- **PostgreSQL** (psycopg2): one ``COPY t (...) FROM STDIN`` in CSV, through ``copy_expert``;
- any other dialect: SQLAlchemy's ``executemany``.

All three run on the publish's own connection, so they are part of its one transaction (a
failed publish still leaves the previous rows). Types and NULLs are the same on every path:
``pd.NA``/``NaN``/``None`` become NULL, timestamps are stored as naive UTC, the ``audit_date``
partition column is filled in, and columns the table does not have are dropped. Data a bulk
path cannot type exactly (a value of another kind in a typed column) falls back to
``executemany``, where the database casts it as it always did.
"""

from __future__ import annotations

import datetime as dt
import io
import itertools
from typing import TYPE_CHECKING, Any, cast

import pandas as pd
import sqlalchemy as sa

if TYPE_CHECKING:
    import pyarrow as pa

_registered = itertools.count()


def load_frame(frame: pd.DataFrame, table: sa.Table, audit_date: dt.date | None) -> pd.DataFrame:
    """The rows as the table stores them: its columns in order, timestamps naive UTC, ``audit_date`` filled.

    ``audit_date`` fills the partition column; None for a table without one.
    """
    columns = [c.name for c in table.columns if c.name != "audit_date"]
    missing = set(columns) - set(frame.columns)
    if missing:
        raise ValueError(f"{table.name}: the data lacks columns {', '.join(sorted(missing))}")
    out = frame[columns].copy()
    for column in table.columns:
        if column.name not in out:
            continue
        values = out[column.name]
        if isinstance(values.dtype, pd.DatetimeTZDtype):
            out[column.name] = values.dt.tz_convert("UTC").dt.tz_localize(None)
        elif isinstance(column.type, sa.DateTime) and values.dtype == object and values.notna().any():
            out[column.name] = pd.to_datetime(values, utc=True).dt.tz_localize(None)
    if audit_date is not None and "audit_date" in table.columns:
        out.insert(0, "audit_date", audit_date)
    return out.reset_index(drop=True)


def records(load: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as plain Python values for ``executemany``: NA becomes None, timestamps ``datetime``."""
    out = load.astype(object).where(load.notna(), None)
    rows = cast("list[dict[str, Any]]", out.to_dict("records"))  # pandas-stubs: labels Hashable; here column names
    for row in rows:
        for key, value in row.items():
            if isinstance(value, pd.Timestamp):
                row[key] = value.to_pydatetime()
    return rows


def insert(conn: sa.Connection, table: sa.Table, frame: pd.DataFrame, audit_date: dt.date | None) -> int:
    """Append ``frame``'s rows to ``table`` through the dialect's bulk path; the rows written."""
    load = load_frame(frame, table, audit_date)
    if load.empty:
        return 0
    dialect = conn.dialect
    try:
        if dialect.name == "duckdb":
            _insert_duckdb(conn, table, load)
            return len(load)
        if dialect.name == "postgresql" and dialect.driver == "psycopg2":
            _copy_postgresql(conn, table, load)
            return len(load)
    except _Untypable:
        pass
    conn.execute(table.insert(), records(load))
    return len(load)


class _Untypable(Exception):
    """A column holds values its type cannot take exactly: let the database cast them, row by row."""


def _names(conn: sa.Connection, table: sa.Table) -> tuple[str, str]:
    """(the table's qualified name, its column list), quoted for the dialect ("end" is a keyword)."""
    preparer = conn.dialect.identifier_preparer
    return preparer.format_table(table), ", ".join(preparer.quote(column.name) for column in table.columns)


def _driver_connection(conn: sa.Connection) -> Any:
    """The DB-API driver's own connection under ``conn`` (its bulk calls are the driver's, untyped)."""
    driver = conn.connection.driver_connection
    if driver is None:
        raise sa.exc.InvalidRequestError("the publish's connection has no driver connection (it was invalidated)")
    return driver


# --- DuckDB: register an Arrow table, INSERT ... SELECT ------------------------------------------


def _arrow_type(column: sa.Column[Any]) -> pa.DataType:
    import pyarrow as pa

    kind = column.type
    if isinstance(kind, sa.Boolean):
        return pa.bool_()
    if isinstance(kind, sa.Integer):
        return pa.int64()
    if isinstance(kind, sa.Float):
        return pa.float64()
    if isinstance(kind, sa.DateTime):
        return pa.timestamp("us")
    if isinstance(kind, sa.Date):
        return pa.date32()
    return pa.string()


def _arrow_table(table: sa.Table, load: pd.DataFrame) -> pa.Table:
    import pyarrow as pa

    arrays = []
    for column in table.columns:
        values, kind = load[column.name], _arrow_type(column)
        try:
            if pa.types.is_timestamp(kind):
                array = pa.array(values, from_pandas=True).cast(kind, safe=False)
            elif pa.types.is_date32(kind) and pd.api.types.is_datetime64_any_dtype(values.dtype):
                array = pa.array(values.dt.date, type=kind, from_pandas=True)
            else:
                array = pa.array(values, type=kind, from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as error:
            raise _Untypable(f"{table.name}.{column.name}: {error}") from None
        arrays.append(array)
    return pa.Table.from_arrays(arrays, names=[column.name for column in table.columns])


def _insert_duckdb(conn: sa.Connection, table: sa.Table, load: pd.DataFrame) -> None:
    rows = _arrow_table(table, load)
    duck = _driver_connection(conn)  # the publish's own DuckDB connection: same transaction
    view = f"readiness_load_{next(_registered)}"
    qualified, columns = _names(conn, table)
    duck.register(view, rows)
    try:
        duck.execute(f"INSERT INTO {qualified} ({columns}) SELECT {columns} FROM {view}")
    finally:
        duck.unregister(view)


# --- PostgreSQL: COPY FROM STDIN in CSV -------------------------------------------------------------


def _csv_column(column: sa.Column[Any], values: pd.Series) -> pd.Series:
    """One column as CSV fields: NULL an unquoted empty field, text always quoted (so "" stays an empty string)."""
    missing = values.isna()
    present = values[~missing]
    try:
        text = _csv_text(column.type, present)
    except (TypeError, ValueError, AttributeError) as error:
        raise _Untypable(f"{column.name}: {error}") from None
    fields: pd.Series = pd.concat([text, pd.Series("", index=values.index[missing], dtype=object)])
    return fields.reindex(values.index)


def _csv_text(kind: sa.types.TypeEngine[Any], present: pd.Series) -> pd.Series:
    if isinstance(kind, sa.Boolean):
        if not present.isin([True, False]).all():
            raise TypeError("a boolean column holds other values")
        return present.map(lambda value: "true" if value else "false")
    if isinstance(kind, sa.Integer):
        numbers = pd.to_numeric(present)
        if (numbers != numbers.round()).any():
            raise ValueError("an integer column holds fractions")
        return numbers.astype("int64").astype(str)
    if isinstance(kind, sa.Float):
        return pd.to_numeric(present).astype(float).map(str)
    if isinstance(kind, sa.DateTime):
        return present.map(lambda value: pd.Timestamp(value).isoformat(sep=" "))
    if isinstance(kind, sa.Date):
        return present.map(lambda value: (value.date() if isinstance(value, dt.datetime) else value).isoformat())
    if not present.map(lambda value: isinstance(value, str)).all():
        raise TypeError("a text column holds other values")
    return '"' + present.str.replace('"', '""', regex=False) + '"'


def _copy_postgresql(conn: sa.Connection, table: sa.Table, load: pd.DataFrame) -> None:
    fields = [_csv_column(column, load[column.name]).astype(str) for column in table.columns]
    # pandas-stubs omit a list of Series from str.cat's others, which pandas takes (one per column)
    lines = fields[0].str.cat(fields[1:], sep=",") if len(fields) > 1 else fields[0]  # type: ignore[arg-type]
    buffer = io.StringIO("\n".join(lines) + "\n")
    qualified, columns = _names(conn, table)
    raw = _driver_connection(conn)  # the publish's own psycopg2 connection: same transaction
    with raw.cursor() as cursor:
        cursor.copy_expert(f"COPY {qualified} ({columns}) FROM STDIN WITH (FORMAT csv)", buffer)
