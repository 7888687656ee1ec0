"""The production-shape scenario: the daily audit, then the weekly emails, through a real Airflow.

Everything a deployment has, started here on loopback and stopped at the end: Airflow's
metadata PostgreSQL and the warehouse PostgreSQL (two clusters), the sandbox serving the sample
organisation's SaaS APIs, a real Prometheus with its alerting rules, a real SMTP server and, for
the Celery shape, Redis, two Celery workers and an S3 server holding the staging. The test
triggers ``readiness_audit`` for the demo date, then ``readiness_weekly_email`` for that Monday,
through the REST API, and returns what a user would look at: the warehouse, the mail, the task
instances (and the staging keys). docs/production-test.md.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

import pandas as pd

from readiness_sandbox.demo import DEMO_AUDIT_DATE, airflow_env
from readiness_sandbox.process import running_sandbox
from readiness_sandbox.prometheus import INSTALL_HINT, find_prometheus, running_prometheus
from tests.conftest import free_port, running_postgres, unavailable
from tests.production.stack import (
    AirflowRest,
    airflow_settings,
    celery_settings,
    local_settings,
    running_airflow,
    running_redis,
)

AUDIT_DATE = dt.date.fromisoformat(DEMO_AUDIT_DATE)  # a Monday: the sample organisation is designed for it
AUDIT_LOGICAL_DATE = f"{DEMO_AUDIT_DATE}T00:00:00Z"  # @daily: the audit instant is the logical date
EMAIL_LOGICAL_DATE = f"{DEMO_AUDIT_DATE}T08:00:00Z"  # Monday 08:00 in Europe/London, the scheduled send
DIGEST_RECIPIENT = "engineering-leadership@example.com"
STAGING_BUCKET, STAGING_PREFIX = "readiness-staging", "staging"
AUDIT_TIMEOUT, EMAIL_TIMEOUT = 900, 300  # seconds; generous: a busy 2-core machine runs a task in 10-60 s


@dataclass
class Observed:
    """What the run left behind, read while the stack was still up."""

    scorecard: pd.DataFrame  # team, score, level of the audit date
    team_emails: dict[str, str | None]  # the registry's team → address, as published
    inbox: dict[str, list[EmailMessage]]  # recipient → messages received
    audit_tasks: list[dict]  # the audit run's task instances, from the REST API
    email_tasks: list[dict]
    audit_run_id: str
    staging_keys: list[str] | None = None  # S3 keys under the staging prefix (Celery shape)
    seconds: dict[str, float] = field(default_factory=dict)


def run_flow(tmp: Path, *, celery: bool) -> Observed:
    """Start the stack, run the audit and the weekly email through the REST API, read the results."""
    if not find_prometheus():
        unavailable(f"the production-shape test runs a real Prometheus: {INSTALL_HINT}")
    started, cpu_started = time.monotonic(), _cpu_seconds()
    seconds: dict[str, float] = {}
    with ExitStack() as stack:
        sandbox = stack.enter_context(running_sandbox())
        prometheus = stack.enter_context(running_prometheus())
        metadata_url = stack.enter_context(running_postgres())
        warehouse_url = stack.enter_context(running_postgres())
        mailbox = stack.enter_context(running_mailbox())
        home = tmp / "airflow"
        home.mkdir()
        env = airflow_env(
            airflow_home=home,
            sandbox=sandbox,
            warehouse=tmp / "unused.duckdb",  # replaced by the PostgreSQL warehouse below
            staging=tmp / "staging",
            prometheus_url=prometheus.base_url,
        )
        env |= airflow_settings(home, metadata_url) | {
            "AIRFLOW_CONN_READINESS_WAREHOUSE": json.dumps({"conn_type": "generic", "extra": {"url": warehouse_url}}),
            "AIRFLOW_CONN_SMTP_DEFAULT": mailbox.connection,
            "READINESS_DIGEST_RECIPIENTS": DIGEST_RECIPIENT,
        }
        s3 = None
        if celery:
            env |= celery_settings(stack.enter_context(running_redis(tmp)), metadata_url)
            s3 = stack.enter_context(running_staging_bucket(env))
        else:
            env |= local_settings()
        airflow = stack.enter_context(running_airflow(env, home, celery_workers=2 if celery else 0))
        seconds["stack started"] = time.monotonic() - started
        audit_run = run_dag(airflow, "readiness_audit", AUDIT_LOGICAL_DATE, AUDIT_TIMEOUT, seconds)
        email_run = run_dag(airflow, "readiness_weekly_email", EMAIL_LOGICAL_DATE, EMAIL_TIMEOUT, seconds)
        observed = Observed(
            **read_warehouse(warehouse_url),
            inbox=mailbox.messages(),
            audit_tasks=airflow.task_instances("readiness_audit", audit_run),
            email_tasks=airflow.task_instances("readiness_weekly_email", email_run),
            audit_run_id=audit_run,
            staging_keys=s3.list_keys(f"{STAGING_PREFIX}/") if s3 else None,
        )
        stopping = time.monotonic()
    seconds["stack stopped"] = time.monotonic() - stopping
    seconds["total"] = time.monotonic() - started
    # CPU time (ours and every process we started and waited for; not the PostgreSQL servers, which
    # pg_ctl detaches): what the run costs whatever else the machine is doing.
    seconds["cpu"] = _cpu_seconds() - cpu_started
    observed.seconds = seconds
    # Beside the logs (pytest-xdist swallows prints): what docs/production-test.md reports.
    (tmp / "seconds.json").write_text(json.dumps({key: round(value, 1) for key, value in seconds.items()}))
    print(f"production-shape ({'Celery' if celery else 'Local'}Executor) seconds: {seconds}")
    return observed


def _cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def run_dag(airflow: AirflowRest, dag_id: str, logical_date: str, timeout: float, seconds: dict) -> str:
    started = time.monotonic()
    run_id = airflow.trigger(dag_id, logical_date)
    airflow.wait_for_run(dag_id, run_id, timeout)
    seconds[dag_id] = time.monotonic() - started
    return run_id


def read_warehouse(url: str) -> dict:
    from oncall_readiness.warehouse import Warehouse

    warehouse = Warehouse(url)
    try:
        day = {"day": AUDIT_DATE}
        card = warehouse.query("SELECT team, score, level FROM readiness.scorecard WHERE audit_date = :day", **day)
        teams = warehouse.query("SELECT team, email FROM readiness.facts_registry_teams WHERE audit_date = :day", **day)
    finally:
        warehouse.dispose()
    return {"scorecard": card, "team_emails": dict(zip(teams["team"], teams["email"], strict=True))}


@contextmanager
def running_mailbox():
    """A real SMTP server (aiosmtpd, login required) on a free loopback port, as the email tests use."""
    from aiosmtpd.controller import Controller

    from tests.integration.test_weekly_email import Mailbox, smtp_connection

    handler, port = Mailbox(), free_port()
    controller = Controller(
        handler, hostname="127.0.0.1", port=port, authenticator=handler.authenticate, auth_required=True,
        auth_require_tls=False,
    )  # fmt: skip
    controller.start()
    handler.connection = smtp_connection(port)
    try:
        yield handler
    finally:
        controller.stop()


@contextmanager
def running_staging_bucket(env: dict[str, str]):
    """A moto S3 server with the staging bucket; the stack's staging goes there (tests/s3_server.py)."""
    from tests.s3_server import running_s3_server

    with running_s3_server(STAGING_BUCKET) as s3:
        env |= s3.connection_env() | {"READINESS_STAGING_DIR": f"s3://{s3.bucket}/{STAGING_PREFIX}"}
        yield s3
