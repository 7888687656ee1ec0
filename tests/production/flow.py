"""The production-shape scenario: the daily audit, then the weekly emails, through a real Airflow,
with the LocalExecutor, then with the CeleryExecutor.

Everything a deployment has, started here on loopback and stopped at the end: Airflow's
metadata PostgreSQL and the warehouse PostgreSQL (two clusters), the sandbox serving the sample
organisation's SaaS APIs, a real Prometheus with its alerting rules, a real SMTP server, and
Airflow's API server, DAG processor and triggerer; each of these starts once. Then, per executor,
its scheduler (and, for Celery, Redis, two Celery workers and an S3 server holding the staging)
starts on an empty warehouse, mailbox and list of DAG runs; the test triggers ``readiness_audit``
for the demo date, then ``readiness_weekly_email`` for that Monday, through the REST API, keeps
what a user would look at (the warehouse, the mail, the task instances, the staging keys) and
stops that scheduler. docs/production-test.md.
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
from typing import Any

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
    running_scheduler,
)

AUDIT_DATE = dt.date.fromisoformat(DEMO_AUDIT_DATE)  # a Monday: the sample organisation is designed for it
AUDIT_LOGICAL_DATE = f"{DEMO_AUDIT_DATE}T00:00:00Z"  # @daily: the audit instant is the logical date
EMAIL_LOGICAL_DATE = f"{DEMO_AUDIT_DATE}T08:00:00Z"  # Monday 08:00 in Europe/London, the scheduled send
DIGEST_RECIPIENT = "engineering-leadership@example.com"
STAGING_BUCKET, STAGING_PREFIX = "readiness-staging", "staging"
BACKSTAGE_PREFIX = "backstage"  # READINESS_BACKSTAGE_EXPORT: a folder (Local), the staging bucket (Celery)
AUDIT_TIMEOUT, EMAIL_TIMEOUT = 900, 300  # seconds; generous: a busy 2-core machine runs a task in 10-60 s
EXECUTORS = ("LocalExecutor", "CeleryExecutor")  # in the order they run


@dataclass
class Observed:
    """What one executor's runs left behind, read while its scheduler was still up."""

    scorecard: pd.DataFrame  # team, score, level of the audit date
    team_emails: dict[str, str | None]  # the registry's team → address, as published
    inbox: dict[str, list[EmailMessage]]  # recipient → messages received
    audit_tasks: list[dict]  # the audit run's task instances, from the REST API
    email_tasks: list[dict]
    audit_run_id: str
    staging_keys: list[str] | None = None  # S3 keys under the staging prefix (Celery)
    # The score-card export for Backstage (export_to_backstage): relative path -> JSON, as the plugin reads it.
    backstage: dict[str, Any] = field(default_factory=dict)


@dataclass
class Stack:
    """The servers and Airflow components both executors' runs share."""

    airflow: AirflowRest
    metadata_url: str
    warehouse_url: str
    mailbox: Any  # tests.integration.test_weekly_email.Mailbox, with its smtp_default connection
    tmp: Path
    seconds: dict[str, float] = field(default_factory=dict)


def run_flows(tmp: Path) -> dict[str, Observed | Exception]:
    """Start the shared stack, run the flow with each executor in turn, read the results.

    Executor → what its runs left, or the error that ended them: the next executor still runs,
    and the failed one's tests raise that error.
    """
    if not find_prometheus():
        unavailable(f"the production-shape test runs a real Prometheus: {INSTALL_HINT}")
    started, cpu_started = time.monotonic(), _cpu_seconds()
    observed: dict[str, Observed | Exception] = {}
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
        airflow = stack.enter_context(running_airflow(env, home))
        shared = Stack(airflow, metadata_url, warehouse_url, mailbox, tmp)
        shared.seconds["shared stack started"] = time.monotonic() - started
        for executor in EXECUTORS:
            try:
                observed[executor] = run_with(executor, shared)
            except Exception as error:  # noqa: BLE001 - the tests of this executor raise it
                observed[executor] = error
        stopping = time.monotonic()
    seconds = shared.seconds
    seconds["shared stack stopped"] = time.monotonic() - stopping
    seconds["total"] = time.monotonic() - started
    # CPU time (ours and every process we started and waited for; not the PostgreSQL servers, which
    # pg_ctl detaches): what the run costs whatever else the machine is doing.
    seconds["cpu"] = _cpu_seconds() - cpu_started
    # Beside the logs (pytest-xdist swallows prints): what docs/production-test.md reports.
    (tmp / "seconds.json").write_text(json.dumps({key: round(value, 1) for key, value in seconds.items()}))
    print(f"production-shape seconds: {seconds}")
    return observed


def run_with(executor: str, shared: Stack) -> Observed:
    """One executor's scheduler (and workers) on an empty warehouse, mailbox and list of runs: the
    audit, then the weekly emails; what they left."""
    started, airflow, seconds = time.monotonic(), shared.airflow, shared.seconds
    for dag_id in ("readiness_audit", "readiness_weekly_email"):  # the previous executor's, if any
        airflow.delete_runs(dag_id)
    drop_warehouse(shared.warehouse_url)
    shared.mailbox.received.clear()
    celery = executor == "CeleryExecutor"
    work = shared.tmp / executor
    work.mkdir()
    with ExitStack() as stack:
        s3 = None
        if celery:
            settings = celery_settings(stack.enter_context(running_redis(work)), shared.metadata_url)
            s3 = stack.enter_context(running_staging_bucket(settings))
        else:
            # Export where the workers write, as production sets it (the Celery run's is in the bucket).
            settings = local_settings() | {"READINESS_BACKSTAGE_EXPORT": str(work / BACKSTAGE_PREFIX)}
        logs = airflow.home / "component-logs" / executor
        stack.enter_context(running_scheduler(airflow, settings, logs, celery_workers=2 if celery else 0))
        seconds[f"{executor} started"] = time.monotonic() - started
        prefix = executor.removesuffix("Executor").lower()
        audit_run = run_dag(airflow, "readiness_audit", AUDIT_LOGICAL_DATE, prefix, seconds, executor)
        email_run = run_dag(airflow, "readiness_weekly_email", EMAIL_LOGICAL_DATE, prefix, seconds, executor)
        observed = Observed(
            **read_warehouse(shared.warehouse_url),
            inbox=shared.mailbox.messages(),
            audit_tasks=airflow.task_instances("readiness_audit", audit_run),
            email_tasks=airflow.task_instances("readiness_weekly_email", email_run),
            audit_run_id=audit_run,
            staging_keys=s3.list_keys(f"{STAGING_PREFIX}/") if s3 else None,
            backstage=read_bucket_export(s3) if s3 else read_folder_export(work / BACKSTAGE_PREFIX),
        )
        stopping = time.monotonic()
    seconds[f"{executor} stopped"] = time.monotonic() - stopping
    return observed


def _cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


TIMEOUTS = {"readiness_audit": AUDIT_TIMEOUT, "readiness_weekly_email": EMAIL_TIMEOUT}


def run_dag(airflow: AirflowRest, dag_id: str, logical_date: str, prefix: str, seconds: dict, executor: str) -> str:
    """Trigger a run of the DAG (its id: the executor's prefix and the logical date) and wait for its end."""
    started = time.monotonic()
    run_id = airflow.trigger(dag_id, logical_date, f"{prefix}__{logical_date}")
    airflow.wait_for_run(dag_id, run_id, TIMEOUTS[dag_id])
    seconds[f"{executor} {dag_id}"] = time.monotonic() - started
    return run_id


def drop_warehouse(url: str) -> None:
    """An empty warehouse: the previous executor's scorecard and send ledger gone."""
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("DROP SCHEMA IF EXISTS readiness CASCADE"))
    finally:
        engine.dispose()


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


def read_folder_export(root: Path) -> dict[str, Any]:
    """The score-card files under the export folder, by path relative to it."""
    if not root.is_dir():
        return {}
    return {path.relative_to(root).as_posix(): json.loads(path.read_text()) for path in root.rglob("*.json")}


def read_bucket_export(s3) -> dict[str, Any]:
    """The score-card files under the bucket's export prefix, by key relative to it."""
    client, prefix = s3.client(), f"{BACKSTAGE_PREFIX}/"
    return {
        key.removeprefix(prefix): json.loads(client.get_object(Bucket=s3.bucket, Key=key)["Body"].read())
        for key in s3.list_keys(prefix)
    }


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
    """A moto S3 server with the staging bucket; the stack's staging and its score-card export for
    Backstage (through the staging's connection) go there (tests/s3_server.py)."""
    from tests.s3_server import running_s3_server

    with running_s3_server(STAGING_BUCKET) as s3:
        env |= s3.connection_env() | {
            "READINESS_STAGING_DIR": f"s3://{s3.bucket}/{STAGING_PREFIX}",
            "READINESS_BACKSTAGE_EXPORT": f"s3://{s3.bucket}/{BACKSTAGE_PREFIX}",
        }
        yield s3
