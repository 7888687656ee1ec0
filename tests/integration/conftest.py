"""A small scorecard history, published with ``Warehouse.publish``, that a reader can check by eye.

Audit dates: the Mondays 2026-10-19 to 2026-11-16 and the dailies 2026-11-13 to 2026-11-15.
Two checks per team, statuses per date (rotation-sustainability, escalation-path):

- payments      pass, pass throughout                              → gold, steady
- checkout      pass, warn; on 11-16 warn, pass + a new warn finding → regressed (and one check improved)
- search        warn, warn; on 11-16 pass, pass (its finding cleared) → improved
- notifications pass, pass to 10-26, then fail, pass every audit    → failing since 11-02
- identity      pass, warn throughout; no email in the registry     → skipped, with a warning
- <script>alert(1)</script>  pass, pass; on 11-16 fail, unknown     → regressed, the escaping case

People on 11-16: new-joiner (checkout, started 11-02, no PagerDuty user) is the joiner without
access; recent-joiner has one, old-hand started years ago, future-joiner has not started.
Services on 11-16: checkout-fraud has no runbook. Data quality: every expectation passes,
except one on 11-16 (pagerduty_users: an email is missing).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
import requests
import sqlalchemy as sa

from oncall_readiness.scorecard import score_teams
from oncall_readiness.source_catalogue import fact_schemas
from oncall_readiness.warehouse import Warehouse
from readiness_sandbox.sample_org import CATALOG as SAMPLE_CATALOG
from tests.conftest import stop_process_group

WEEK = dt.date(2026, 11, 16)
PREVIOUS_WEEK = dt.date(2026, 11, 9)
MONDAYS = [dt.date(2026, 10, 19), dt.date(2026, 10, 26), dt.date(2026, 11, 2), PREVIOUS_WEEK, WEEK]
AUDIT_DATES = sorted([*MONDAYS, dt.date(2026, 11, 13), dt.date(2026, 11, 14), dt.date(2026, 11, 15)])
SCRIPT_TEAM = "<script>alert(1)</script>"
SCRIPT_SUBJECT = "person:<img src=x onerror=alert(2)>"
TEAM_EMAILS = {
    "payments": "payments-team@example.com",
    "checkout": "checkout-team@example.com",
    "search": "search-team@example.com",
    "notifications": "notifications-team@example.com",
    "identity": None,
    SCRIPT_TEAM: "script-team@example.com",
}
CHECKS = ("rotation-sustainability", "escalation-path")


def statuses(team: str, day: dt.date) -> tuple[str, str]:
    """(rotation-sustainability, escalation-path) of ``team`` on ``day``, as the docstring tells."""
    latest = day == WEEK
    return {
        "payments": ("pass", "pass"),
        "checkout": ("warn", "pass") if latest else ("pass", "warn"),
        "search": ("pass", "pass") if latest else ("warn", "warn"),
        "notifications": ("fail", "pass") if day >= dt.date(2026, 11, 2) else ("pass", "pass"),
        "identity": ("pass", "warn"),
        SCRIPT_TEAM: ("fail", "unknown") if latest else ("pass", "pass"),
    }[team]


def check_results(day: dt.date) -> pd.DataFrame:
    scores = {"pass": 10.0, "warn": 5.0, "fail": 0.0, "unknown": None}
    rows = [
        {
            "team": team,
            "check_id": check_id,
            "status": status,
            "score": scores[status],
            "reason": f"{team} {check_id} is {status} <b>on {day}</b>.",
            "remediation": "No action needed." if status == "pass" else f"Fix {check_id} & tell <i>ops</i>.",
        }
        for team in TEAM_EMAILS
        for check_id, status in zip(CHECKS, statuses(team, day), strict=True)
    ]
    frame = pd.DataFrame(rows)
    frame["score"] = frame["score"].astype("Float64")
    return frame


def findings(day: dt.date) -> pd.DataFrame:
    rows = []
    for team in TEAM_EMAILS:
        rotation, _ = statuses(team, day)
        rows.append((team, f"schedule:{team}-primary", rotation, f"{team} primary rotation is {rotation}"))
    if day == WEEK:
        rows.append(("checkout", "person:ava-mitchell", "warn", "Ava Mitchell takes no on-call turns"))
        rows.append((SCRIPT_TEAM, SCRIPT_SUBJECT, "fail", "<b>nobody</b> & no one is on call"))
    frame = pd.DataFrame(rows, columns=["team", "subject", "outcome", "message"])
    return frame.assign(check_id="rotation-sustainability")


def registry_teams(day: dt.date) -> pd.DataFrame:
    return facts_frame(
        "registry_teams",
        [{"team": team, "display_name": team.title(), "email": email} for team, email in TEAM_EMAILS.items()],
    )


def registry_people(day: dt.date) -> pd.DataFrame:
    people = [
        ("new-joiner", "New.Joiner@example.com", "checkout", dt.date(2026, 11, 2)),
        ("recent-joiner", "recent.joiner@example.com", "search", dt.date(2026, 10, 1)),
        ("old-hand", "old.hand@example.com", "payments", dt.date(2019, 1, 7)),
        ("future-joiner", "future.joiner@example.com", "search", dt.date(2026, 12, 1)),
    ]
    rows = [{"person": p, "email": e.lower(), "team": t, "start_date": s} for p, e, t, s in people]
    return facts_frame("registry_people", rows)


def registry_services(day: dt.date) -> pd.DataFrame:
    rows = [
        {"service": "checkout-api", "team": "checkout", "runbook_url": "https://runbooks.example.com/checkout-api"},
        {"service": "checkout-fraud", "team": "checkout", "runbook_url": None},
        {"service": "search-api", "team": "search", "runbook_url": "https://runbooks.example.com/search-api"},
    ]
    return facts_frame("registry_services", rows)


def pagerduty_users(day: dt.date) -> pd.DataFrame:
    rows = [
        {"user_id": "PU1", "name": "Recent Joiner", "email": "recent.joiner@example.com"},
        {"user_id": "PU2", "name": "Someone Else", "email": "someone.else@example.com"},
    ]
    return facts_frame("pagerduty_users", rows)


def data_quality(day: dt.date) -> pd.DataFrame:
    rows = [
        (
            "pagerduty",
            "pagerduty_users",
            "expect_column_values_to_be_unique(column=user_id)",
            True,
            "0 unexpected of 2",
            "",
        ),
        ("pagerduty", "pagerduty_users", "expect_column_values_to_not_be_null(column=email)", day != WEEK, "", ""),
    ]
    frame = pd.DataFrame(rows, columns=["source", "facts_table", "expectation", "success", "observed_value", "details"])
    frame.loc[~frame["success"], ["observed_value", "details"]] = ["1 unexpected of 2", "e.g. None"]
    return frame


def facts_frame(table: str, rows: list[dict]) -> pd.DataFrame:
    """Rows with every documented column of the facts table (missing ones empty)."""
    return pd.DataFrame(rows).reindex(columns=list(fact_schemas()[table]))


def publish_history(warehouse: Warehouse, dates: list[dt.date] = AUDIT_DATES) -> None:
    """Publish every audit date in order, each scored against the one seven days earlier, as the DAG does."""
    for day in dates:
        results = check_results(day)
        card = score_teams(results, warehouse.scores_on(day - dt.timedelta(days=7)))
        warehouse.publish(
            day,
            check_results=results,
            findings=findings(day),
            scorecard=card,
            data_quality=data_quality(day),
            facts={
                "registry_teams": registry_teams(day),
                "registry_people": registry_people(day),
                "registry_services": registry_services(day),
                "pagerduty_users": pagerduty_users(day),
            },
        )


@pytest.fixture(scope="session")
def seeded_duckdb(tmp_path_factory) -> Path:
    """The history above in a DuckDB file, published once per session (publishing takes seconds)."""
    path = tmp_path_factory.mktemp("history") / "warehouse.duckdb"
    warehouse = Warehouse(f"duckdb:///{path}")
    try:
        publish_history(warehouse)
    finally:
        warehouse.dispose()
    return path


@pytest.fixture
def history_url(seeded_duckdb, tmp_path) -> str:
    """A fresh copy of the seeded DuckDB warehouse for one test: its URL."""
    path = tmp_path / "warehouse.duckdb"
    shutil.copyfile(seeded_duckdb, path)
    return f"duckdb:///{path}"


@pytest.fixture(params=["duckdb", pytest.param("postgresql", marks=pytest.mark.integration)])
def history_warehouse(request, tmp_path):
    """The history above on DuckDB and on a real PostgreSQL server (schema dropped afterwards)."""
    if request.param == "duckdb":
        warehouse = Warehouse(f"duckdb:///{tmp_path / 'warehouse.duckdb'}")
    else:
        warehouse = Warehouse(request.getfixturevalue("postgres_url"))
    publish_history(warehouse)
    yield warehouse
    if warehouse.engine.dialect.name == "postgresql":
        with warehouse.engine.begin() as conn:
            conn.execute(sa.text("DROP SCHEMA IF EXISTS readiness CASCADE"))
    warehouse.dispose()


@pytest.fixture(scope="session")
def history():
    """The seeded history's constants (WEEK, PREVIOUS_WEEK, TEAM_EMAILS, SCRIPT_TEAM, ...) for assertions."""
    return SimpleNamespace(**{name: value for name, value in globals().items() if name.isupper()})


# The real Airflow API server ----------------------------------------------------------------------


REPO = Path(__file__).resolve().parents[2]


def readiness_api_env(home: Path, warehouse_url: str, users: Mapping[str, tuple[str, str]]) -> dict[str, str]:
    """An Airflow of its own serving the readiness API over ``warehouse_url``: none of the caller's
    AIRFLOW_* settings, the repository's DAGs and plugin, SQLite metadata in ``home``, and the
    simple auth manager's ``users`` (name -> (role, password)); the sample organisation's catalog,
    whose external checks say who may push."""
    passwords = home / "passwords.json"
    passwords.write_text(json.dumps({name: password for name, (_, password) in users.items()}))
    base = {key: value for key, value in os.environ.items() if not key.startswith("AIRFLOW")}
    return base | {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(f"{n}:{role}" for n, (role, _) in users.items()),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
        "AIRFLOW__API_AUTH__JWT_SECRET": os.urandom(16).hex(),
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
        "READINESS_CATALOG": str(SAMPLE_CATALOG),
        "AIRFLOW_CONN_READINESS_WAREHOUSE": json.dumps({"conn_type": "generic", "extra": {"url": warehouse_url}}),
    }


def bearer(base_url: str, user: str, password: str, *, timeout: float = 60) -> dict[str, str]:
    """The Authorization header of ``user``'s Airflow API token."""
    response = requests.post(f"{base_url}/auth/token", json={"username": user, "password": password}, timeout=timeout)
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


@pytest.fixture(scope="session")
def running_api_server(airflow_metadata):
    """``running_api_server(env, home)``: a migrated metadata database (a copy of the session's, for
    SQLite: tests/conftest.py), then `airflow api-server` on a free loopback port in a process group
    of its own, stopped on exit; yields the base URL."""
    return functools.partial(_running_api_server, airflow_metadata=airflow_metadata)


@contextmanager
def _running_api_server(env: dict[str, str], home: Path, *, airflow_metadata=None) -> Iterator[str]:
    airflow = str(Path(sys.executable).with_name("airflow"))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = env | {"AIRFLOW__API__PORT": str(port)}
    database = env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    if airflow_metadata and database.startswith("sqlite:///"):
        airflow_metadata(Path(database.removeprefix("sqlite:///")))
    else:
        subprocess.run([airflow, "db", "migrate"], env=env, check=True, capture_output=True, timeout=300)
    log = home / "api-server.log"
    command = [airflow, "api-server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_healthy(process, base_url, log)
        yield base_url
    finally:
        stop_process_group(process)


def _wait_until_healthy(process: subprocess.Popen, base_url: str, log: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"airflow api-server exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if requests.get(f"{base_url}/api/v2/monitor/health", timeout=2).ok:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"airflow api-server did not answer within {timeout:.0f} s:\n{log.read_text()[-3000:]}")
