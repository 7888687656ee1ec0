"""The Monday emails and a day's alerts at benchmark sizes: build and send times, peak memory, largest message.

After the audit of each size (``audit.py``), on the warehouse it left, with the project's own
functions:

- **weekly**: the week's emails read and built as ``.eml`` files (``benchmarks/emails.py``'s
  ``measure_build``, as ``readiness_weekly_email``'s build task does), then sent with the send ledger
  through ``smtp_default`` aimed at a local SMTP server (``mail_servers.py``), as its send task
  does. The server counts each (kind, team, recipient): every team email must arrive once.
- **alerts**: on a copy of that warehouse, a day before the audit on which every team was gold
  and no check failed, so every team below gold or failing a check has changed; then
  ``send_alerts`` for the audit date through the same kind of SMTP server and a local Slack
  webhook (the day's Slack message, in parts a second apart past Slack's limits).

Each runs in a child process (``python -m benchmarks.email_delivery weekly|alerts ...``), so its
peak memory (the resident set's high-water mark) is its own, not the servers' or the harness's.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.emails import measure_build
from benchmarks.mail_servers import running_slack_webhook, running_smtp_server
from benchmarks.org import INSTANT

REPO = Path(__file__).resolve().parents[1]
SENDER = "readiness@bench.example.com"
PAGE_ROOT = "https://airflow.bench.example.com/readiness"
AUDIT_DATE = INSTANT.date()  # a Monday: the week the emails report
# The Date header of every email: fixed, so two runs build the same bytes.
SENT_AT = INSTANT + dt.timedelta(hours=8)


def measure_send(warehouse_url: str, eml_dir: Path) -> dict[str, Any]:
    """Every built email sent as the weekly DAG's send task sends them (one SMTP session, the send ledger)."""
    from oncall_readiness.report.delivery import send_emails

    started = time.perf_counter()
    report = send_emails(warehouse_url, sorted(eml_dir.glob("*.eml")))
    return {"send_s": round(time.perf_counter() - started, 1), **report.summary()}


def weekly(warehouse: Path, week: dt.date, eml_dir: Path) -> dict[str, Any]:
    """The child's work for the weekly emails: build, then send."""
    url = f"duckdb:///{warehouse}"
    build = measure_build(url, week, out_dir=eml_dir)
    return {**build, **measure_send(url, eml_dir), "peak_rss_mb": peak_rss_mb()}


def seed_day_before(warehouse: Path, audit_date: dt.date) -> dt.date:
    """Publish, the day before ``audit_date``, its scorecard with every team gold and its results with no ``fail``.

    Then every team now below gold, or failing a check, has changed: the most alerts a day of
    this organisation can bring.
    """
    import duckdb

    day_before = audit_date - dt.timedelta(days=1)
    with duckdb.connect(str(warehouse)) as connection:
        connection.execute(
            "INSERT INTO readiness.scorecard SELECT * REPLACE (CAST(? AS DATE) AS audit_date, 'gold' AS level) "
            "FROM readiness.scorecard WHERE audit_date = ?",
            [day_before, audit_date],
        )
        connection.execute(
            "INSERT INTO readiness.check_results SELECT * REPLACE (CAST(? AS DATE) AS audit_date, "
            "CASE WHEN status = 'fail' THEN 'pass' ELSE status END AS status) "
            "FROM readiness.check_results WHERE audit_date = ?",
            [day_before, audit_date],
        )
    return day_before


def alerts(warehouse: Path, audit_date: dt.date) -> dict[str, Any]:
    """The child's work for the alerts: ``send_alerts`` for ``audit_date`` (a copy with the day before seeded)."""
    from oncall_readiness.alerts.delivery import send_alerts

    started = time.perf_counter()
    report = send_alerts(f"duckdb:///{warehouse}", audit_date, page_root=PAGE_ROOT, now=SENT_AT)
    return {"send_s": round(time.perf_counter() - started, 1), **report.summary(), "peak_rss_mb": peak_rss_mb()}


def peak_rss_mb() -> int:
    """This process's resident set high-water mark so far (Linux reports kilobytes)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def measure_emails(work: Path, audit_date: dt.date) -> dict[str, Any]:
    """The weekly emails, then the alerts of a day with changes, on the warehouse an audit left in ``work``."""
    return {"weekly": _measure_weekly(work, audit_date), "alerts": _measure_alerts(work, audit_date)}


def _measure_weekly(work: Path, week: dt.date) -> dict[str, Any]:
    # A copy: the audit's warehouse stays as it left it, and a measure again starts with an empty send ledger.
    warehouse = _warehouse_copy(work, "emails-warehouse.duckdb")
    with running_smtp_server() as (mailbox, port):
        eml_dir = work / "emails"
        shutil.rmtree(eml_dir, ignore_errors=True)
        args = ["weekly", str(warehouse), week.isoformat(), str(eml_dir)]
        result = _run_child(args, _child_env(work, smtp_port=port), work / "emails.log")
        deliveries = mailbox.deliveries()
        team_deliveries = [count for (kind, _, _), count in deliveries.items() if kind == "team"]
        return {
            **result,
            "delivered": sum(deliveries.values()),
            "team_emails_delivered": len(team_deliveries),
            "each_once": max(deliveries.values(), default=0) == 1,
            "smtp_sessions": mailbox.sessions(),
            "largest_delivered_bytes": mailbox.largest(),
        }


def _measure_alerts(work: Path, audit_date: dt.date) -> dict[str, Any]:
    warehouse = _warehouse_copy(work, "alerts-warehouse.duckdb")
    seed_day_before(warehouse, audit_date)
    with running_smtp_server() as (mailbox, port), running_slack_webhook() as (posts, slack_url):
        args = ["alerts", str(warehouse), audit_date.isoformat()]
        result = _run_child(args, _child_env(work, smtp_port=port, slack_url=slack_url), work / "alerts.log")
        return {
            **result,
            "delivered": sum(mailbox.deliveries().values()),
            "each_once": max(mailbox.deliveries().values(), default=0) == 1,
            "smtp_sessions": mailbox.sessions(),
            "largest_delivered_bytes": mailbox.largest(),
            "slack_posts": len(posts),
            "largest_slack_post_chars": max((len(json.dumps(post)) for post in posts), default=0),
        }


def _warehouse_copy(work: Path, name: str) -> Path:
    copy = work / name
    shutil.copyfile(work / "warehouse.duckdb", copy)
    return copy


def _child_env(work: Path, *, smtp_port: int, slack_url: str | None = None) -> dict[str, str]:
    """The connections aimed at the local servers, an Airflow home of the run's own."""
    smtp = {
        "conn_type": "smtp",
        "host": "127.0.0.1",
        "port": smtp_port,
        "extra": {"disable_ssl": True, "disable_tls": True, "timeout": 60, "retry_limit": 0},
    }
    env = {key: value for key, value in os.environ.items() if not key.startswith("AIRFLOW")}
    env |= {
        "AIRFLOW_HOME": str(work / "email-airflow"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW_CONN_SMTP_DEFAULT": json.dumps(smtp),
        "READINESS_EMAIL_FROM": SENDER,
    }
    if slack_url:
        webhook = {"conn_type": "slackwebhook", "host": slack_url, "password": "T0BENCH/B0BENCH/benchmark"}
        env["AIRFLOW_CONN_SLACK_WEBHOOK_DEFAULT"] = json.dumps(webhook)
    return env


def _run_child(args: list[str], env: dict[str, str], log: Path) -> dict[str, Any]:
    """``python -m benchmarks.email_delivery <args>``: its last line of output is its figures (JSON)."""
    (work_home := Path(env["AIRFLOW_HOME"])).mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with log.open("w") as errors:
        done = subprocess.run(
            [sys.executable, "-m", "benchmarks.email_delivery", *args],
            env=env,
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
            check=False,
        )
    wall = round(time.perf_counter() - started, 1)
    if done.returncode != 0:
        return {"exit_code": done.returncode, "process_s": wall, "log": str(log), "home": str(work_home)}
    return {"exit_code": 0, "process_s": wall, **json.loads(done.stdout.strip().splitlines()[-1])}


def main(argv: list[str] | None = None) -> int:
    """``measure <run folder>``: the emails again on a benchmark run's warehouse (``.benchmark/teams-500``).

    And the child processes: ``weekly <warehouse> <week> <eml dir>``, ``alerts <warehouse> <audit date>``.
    """
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("what", choices=["measure", "weekly", "alerts"])
    parser.add_argument("path", type=Path, help="the run's folder (measure), else the warehouse")
    parser.add_argument("day", type=dt.date.fromisoformat, nargs="?", default=AUDIT_DATE)
    parser.add_argument("eml_dir", type=Path, nargs="?")
    args = parser.parse_args(argv)
    if args.what == "measure":
        figures = measure_emails(args.path.resolve(), args.day)
    elif args.what == "weekly":
        figures = weekly(args.path, args.day, args.eml_dir or Path(tempfile.mkdtemp()))
    else:
        figures = alerts(args.path, args.day)
    print(json.dumps(figures, default=str), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
