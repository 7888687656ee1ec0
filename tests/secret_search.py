"""Every place a run writes, read back as text, to search for planted secrets.

Shared by the tests that plant secrets in connections (tests/integration/test_no_leaked_secrets.py,
tests/dags/test_readiness_audit_e2e.py, tests/integration/test_weekly_email.py). Each reader
returns ``{where: text}``, so a failure names the file, table and column; ``leaks`` finds every
secret fragment in them. Tests import it from the repository root (pytest's ``pythonpath``), as
``from tests.secret_search import ...`` (pytest runs with ``--import-mode=importlib``).
"""

from __future__ import annotations

import email
import email.policy
import sqlite3
from collections.abc import Iterable, Mapping
from contextlib import closing
from pathlib import Path

import pandas as pd

# Tables of Airflow's metadata DB a task's data reaches: XCom, rendered templates, notes, the audit log.
TASK_DATA_TABLES = ("xcom", "rendered_task_instance_fields")


def files(folder: Path) -> dict[str, str]:
    """Every file under ``folder``: its bytes as text, Parquet's values, an email's decoded parts."""
    texts = {}
    for path in sorted(p for p in Path(folder).rglob("*") if p.is_file()):
        raw = path.read_bytes()
        texts[str(path)] = raw.decode("utf-8", errors="replace")
        if path.suffix == ".parquet":  # compressed on disk: read back the values too
            texts[f"{path} (values)"] = pd.read_parquet(path).to_csv(index=False)
        elif path.suffix == ".eml":  # base64 or quoted-printable on disk: decode the parts
            message = email.message_from_bytes(raw, policy=email.policy.default)
            parts = [part.get_content() for part in message.walk() if part.get_content_maintype() == "text"]
            texts[f"{path} (decoded)"] = "\n".join(parts)
    return texts


def sqlite_columns(database: Path) -> dict[str, str]:
    """Every column of every table of a SQLite database (Airflow's metadata DB), as text."""
    texts = {}
    with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as conn:
        tables = [name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            columns = [row[1] for row in conn.execute(f'PRAGMA table_info("{table}")')]  # names from SQLite itself
            for column in columns:
                values = conn.execute(f'SELECT "{column}" FROM "{table}" WHERE "{column}" IS NOT NULL').fetchall()
                texts[f"metadata DB {table}.{column}"] = "\n".join(_text(value) for (value,) in values)
    return texts


def snapshot_sqlite(database: Path, copy: Path) -> Path:
    """A consistent copy of a SQLite database (WAL included): ``airflow dags test`` of the same date
    replaces the previous run's rows, so a test copies the metadata DB after the run it searches."""
    with closing(sqlite3.connect(database)) as source, closing(sqlite3.connect(copy)) as target:
        source.backup(target)
    return copy


def warehouse_columns(query) -> dict[str, str]:
    """Every text column of every table of a warehouse, through ``query(sql) -> DataFrame`` (``Warehouse.query``)."""
    columns = query(
        "SELECT table_schema, table_name, column_name FROM information_schema.columns "
        "WHERE data_type IN ('VARCHAR', 'TEXT', 'text', 'character varying') ORDER BY 1, 2, 3"
    )
    texts = {}
    for schema, table, column in columns.itertuples(index=False):
        values = query(f'SELECT "{column}" AS v FROM "{schema}"."{table}" WHERE "{column}" IS NOT NULL')["v"]
        texts[f"warehouse {schema}.{table}.{column}"] = "\n".join(map(str, values))
    return texts


def leaks(texts: Mapping[str, str], secrets: Iterable[str]) -> list[str]:
    """``'<secret>' in <where>`` for every secret fragment found; empty when nothing leaked."""
    secrets = [secret for secret in secrets if secret]
    return [f"{secret!r} in {where}" for where, text in texts.items() for secret in secrets if secret in text]


def _text(value) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)
