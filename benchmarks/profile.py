"""Where the time of the audit's steps past collection goes, on a benchmark run's staged data.

    .venv/bin/python -m benchmarks.profile .benchmark/teams-500 [--top 25] [--steps checks publish]

Re-runs the steps of the run that ``benchmarks.audit`` left in that folder (its staging, catalog
and DuckDB warehouse), each in this process under ``cProfile``, and prints each step's wall time
and its most expensive functions (cumulative time). The steps are idempotent: a re-run writes
the same staging and replaces the same warehouse rows.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import sqlite3
import sys
import time
from collections.abc import Callable
from pathlib import Path

STEPS = ("registry", "validate_registry", "validate_pagerduty", "checks", "score", "publish")


def _run_id(work: Path) -> str:
    with sqlite3.connect(work / "airflow" / "airflow.db") as connection:
        (run_id,) = connection.execute(
            "SELECT run_id FROM dag_run WHERE dag_id = 'readiness_audit' ORDER BY id DESC LIMIT 1"
        ).fetchone()
    return run_id


def steps(work: Path) -> dict[str, Callable[[], object]]:
    from benchmarks.org import INSTANT
    from oncall_readiness import audit
    from oncall_readiness.audit import AuditRun, audit_instant

    run = AuditRun(audit_instant(INSTANT), _run_id(work))
    url = f"duckdb:///{work / 'warehouse.duckdb'}"
    return {
        "registry": lambda: audit.stage_registry(run, str(work / "org" / "catalog")),
        "validate_registry": lambda: audit.stage_quality("registry", run),
        "validate_pagerduty": lambda: audit.stage_quality("pagerduty", run),
        "checks": lambda: audit.stage_checks(run, url),
        "score": lambda: audit.stage_scorecard(run, url),
        "publish": lambda: audit.publish(run, url),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("work", type=Path, help="a benchmark run's folder, e.g. .benchmark/teams-500")
    parser.add_argument("--steps", nargs="+", choices=STEPS, default=list(STEPS))
    parser.add_argument("--top", type=int, default=25, help="functions shown per step")
    args = parser.parse_args(argv)
    work = args.work.resolve()
    os.environ["READINESS_STAGING_DIR"] = str(work / "staging")
    os.environ["READINESS_CATALOG"] = str(work / "org" / "catalog")
    os.environ["READINESS_HR_CSV"] = str(work / "org" / "hr_joiners.csv")
    runnable = steps(work)
    for name in args.steps:
        profiler = cProfile.Profile()
        started = time.perf_counter()
        profiler.runcall(runnable[name])
        elapsed = time.perf_counter() - started
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(args.top)
        print(f"\n===== {name}: {elapsed:.2f} s =====")
        print("\n".join(line for line in out.getvalue().splitlines() if line.strip())[:6000])
    return 0


if __name__ == "__main__":
    sys.exit(main())
