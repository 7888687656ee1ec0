"""The warehouse comes only from its connection: no silent DuckDB file on a worker."""

from __future__ import annotations

import json

import pytest

from oncall_readiness.errors import ConnectionConfigError
from oncall_readiness.warehouse import url_from_connection


def test_a_missing_warehouse_connection_stops_the_run_naming_it(monkeypatch, tmp_path):
    monkeypatch.delenv("AIRFLOW_CONN_READINESS_WAREHOUSE", raising=False)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConnectionConfigError, match="'readiness_warehouse' is not defined .*SQLAlchemy URL"):
        url_from_connection()
    assert list(tmp_path.iterdir()) == []  # no warehouse file appeared in the working directory


def test_the_warehouse_url_is_the_connections(monkeypatch):
    conn = {"conn_type": "generic", "extra": {"url": "postgres://u@db.example.com/readiness"}}
    monkeypatch.setenv("AIRFLOW_CONN_READINESS_WAREHOUSE", json.dumps(conn))
    assert url_from_connection() == "postgresql://u@db.example.com/readiness"
