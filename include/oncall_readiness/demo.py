"""`make demo`: the daily audit, through real Airflow, on the built-in sample organisation.

Starts the sandbox (emulated PagerDuty serving the sample org), runs ``readiness_audit``
with ``airflow dags test`` for a fixed audit date (SQLite metadata, DuckDB warehouse),
writes ``out/warehouse.duckdb`` and ``out/scorecard.html``, prints the scorecard, and
stops what it started.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from oncall_readiness.sandbox.process import running_sandbox

REPO = Path(__file__).resolve().parents[2]
DEMO_AUDIT_DATE = "2026-11-16"
DAG_ID = "readiness_audit"


def airflow_env(
    *, airflow_home: Path, pagerduty_url: str, token: str, warehouse: Path, staging: Path
) -> dict[str, str]:
    """Environment for an embedded Airflow aimed at the sandbox: SQLite metadata, connections from env vars."""
    env = dict(os.environ)
    env.update(
        {
            "AIRFLOW_HOME": str(airflow_home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{airflow_home / 'airflow.db'}",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            "READINESS_STAGING_DIR": str(staging),
            "AIRFLOW_CONN_PAGERDUTY_DEFAULT": json.dumps(
                {"conn_type": "pagerduty", "host": pagerduty_url, "password": token}
            ),
            "AIRFLOW_CONN_READINESS_WAREHOUSE": json.dumps(
                {"conn_type": "generic", "extra": {"url": f"duckdb:///{warehouse}"}}
            ),
        }
    )
    return env


def run_audit(env: dict[str, str], audit_date: str, log_path: Path, *, check: bool = True) -> int:
    """``airflow dags test`` the audit, echoing task progress and keeping the full log; its exit code."""
    airflow = str(Path(sys.executable).with_name("airflow"))
    if not (Path(env["AIRFLOW_HOME"]) / "airflow.db").exists():
        _step("Creating the Airflow metadata database (first run only)")
        subprocess.run([airflow, "db", "migrate"], env=env, check=True, capture_output=True)
    _step(f"Running {DAG_ID} for {audit_date} with `airflow dags test`")
    with (
        log_path.open("w") as log,
        subprocess.Popen(
            [airflow, "dags", "test", DAG_ID, audit_date],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        ) as process,
    ):
        for line in process.stdout:
            log.write(line)
            progress = _progress(line)
            if progress:
                print(f"    {progress}", flush=True)
    if check and process.returncode:
        raise SystemExit(f"airflow dags test failed (exit {process.returncode}); full log: {log_path}")
    return process.returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--audit-date", default=DEMO_AUDIT_DATE, help="audit date (the data interval end)")
    parser.add_argument("--out", type=Path, default=REPO / "out", help="where the warehouse and page go")
    args = parser.parse_args(argv)

    started = time.monotonic()
    out, work = args.out.resolve(), REPO / ".demo"
    out.mkdir(parents=True, exist_ok=True)
    warehouse_path = out / "warehouse.duckdb"
    _step("Starting the sandbox (emulated PagerDuty serving the sample organisation)")
    with running_sandbox() as sandbox:
        print(f"    sandbox at {sandbox.base_url} (pid {sandbox.pid})", flush=True)
        env = airflow_env(
            airflow_home=work / "airflow",
            pagerduty_url=sandbox.pagerduty_url,
            token=sandbox.token,
            warehouse=warehouse_path,
            staging=work / "staging",
        )
        run_audit(env, args.audit_date, out / "airflow-dags-test.log")
    _step("Sandbox stopped; rendering the scorecard")
    print_scorecard(warehouse_path, out / "scorecard.html")
    print(f"\nDone in {time.monotonic() - started:.0f} s.")
    print(f"  warehouse: {warehouse_path}  (tables in schema readiness)")
    print(f"  page:      {out / 'scorecard.html'}")
    print(f"  Airflow log: {out / 'airflow-dags-test.log'}")
    return 0


def print_scorecard(warehouse_path: Path, page: Path) -> None:
    from oncall_readiness.report.html import latest_audit, write_scorecard
    from oncall_readiness.warehouse import Warehouse

    warehouse = Warehouse(f"duckdb:///{warehouse_path}")
    try:
        audit = latest_audit(warehouse)
        write_scorecard(warehouse, page)
    finally:
        warehouse.dispose()
    card = audit["scorecard"][["team", "score", "level", "passed", "warned", "failed", "unknown"]]
    print(f"\nReadiness scorecard, audit date {audit['audit_date']}\n")
    print(card.to_string(index=False))
    print("\nWhy:")
    for row in audit["results"].itertuples(index=False):
        print(f"  {row.team:<14} {row.check_id:<24} {row.status:<7} {row.reason}")


RUNNING_TASK = re.compile(r"\[DAG TEST\] running task <TaskInstance: [\w.]+?\.(\w+) .*?(map_index=\d+)?\s*\[")
NEW_STATE = re.compile(r"new_state=(\w+)")


def _progress(line: str) -> str | None:
    """A short line for each task start, state change and error of ``airflow dags test``."""
    if match := RUNNING_TASK.search(line):
        task, map_index = match.groups()
        return f"running {task}" + (f" [{map_index.split('=')[1]}]" if map_index else "")
    if (match := NEW_STATE.search(line)) and match.group(1) != "running":
        return f"  -> {match.group(1)}"
    if "[error" in line:
        return line.strip()[:200]
    return None


def _step(message: str) -> None:
    print(f"==> {message}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
