"""The Monday emails at benchmark size: how long reading the week and building every email take, and how large.

    .venv/bin/python -m benchmarks.emails duckdb:////tmp/warehouse.duckdb [--week 2026-11-16]

Reads the week from the warehouse as ``readiness_weekly_email``'s ``build_emails`` task does
(:func:`oncall_readiness.report.weekly.load_week`), builds every email of it (the teams', the
digest, the departments') and writes each as the ``.eml`` file the task stages, as it is built
(:func:`oncall_readiness.report.email.write_emails`' way), then prints the figures of
:func:`measure_build`. The warehouse is only read; give it a copy of a benchmark run's
(``.benchmark/teams-2000/warehouse.duckdb``) all the same, since a DuckDB file is held while
it is open. Sending is left out: ``benchmarks/email_delivery.py`` sends what this wrote
(``eml_dir``) to an SMTP server.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

SENDER = "oncall-readiness@example.com"
DIGEST_TO = ("leadership@example.com",)
PAGE_URL = "http://localhost:8080/readiness"


def measure_build(
    warehouse_url: str, week: dt.date | str | None = None, *, out_dir: Path | None = None
) -> dict[str, Any]:
    """Load the week (``None``: the latest audit), build and write its emails; the seconds, sizes and peak memory.

    ``out_dir``: where the ``.eml`` files go (default: a new temporary folder), returned as
    ``eml_dir``. ``load_s``, ``build_s`` (writing included) and ``task_s`` (both) are wall
    seconds, ``*_cpu_s`` this process's CPU seconds; ``peak_memory_mb`` is the process's
    largest resident set so far.
    """
    from oncall_readiness.report.email import each_week_email, eml_name
    from oncall_readiness.report.message import HEADER_KIND, HEADER_TEAM
    from oncall_readiness.report.weekly import load_week
    from oncall_readiness.warehouse import Warehouse

    day = dt.date.fromisoformat(week) if isinstance(week, str) else week
    warehouse = Warehouse(warehouse_url)
    started, cpu = time.perf_counter(), time.process_time()
    try:
        scorecard_week = load_week(warehouse, day)
    finally:
        warehouse.dispose()
    loaded, loaded_cpu = time.perf_counter(), time.process_time()
    messages = each_week_email(  # as write_emails does: each message serialised as built, none kept
        scorecard_week,
        sender=SENDER,
        digest_to=list(DIGEST_TO),
        date=dt.datetime.combine(scorecard_week.week, dt.time(8), tzinfo=dt.UTC),
        page_url=PAGE_URL,
    )
    eml_dir = out_dir or Path(tempfile.mkdtemp(prefix="readiness-emails-"))
    eml_dir.mkdir(parents=True, exist_ok=True)
    sizes: dict[str, int] = {}
    kinds: Counter[str] = Counter()
    for message in messages:
        name = eml_name(message[HEADER_KIND], message[HEADER_TEAM] or "")
        sizes[name] = (eml_dir / f"{name}.eml").write_bytes(message.as_bytes())
        kinds[str(message[HEADER_KIND])] += 1
    built, built_cpu = time.perf_counter(), time.process_time()
    largest = max(sizes, key=sizes.__getitem__)
    return {
        "week": scorecard_week.week.isoformat(),
        "teams": len(scorecard_week.scorecard),
        "load_s": round(loaded - started, 2),
        "load_cpu_s": round(loaded_cpu - cpu, 2),
        "build_s": round(built - loaded, 2),
        "build_cpu_s": round(built_cpu - loaded_cpu, 2),
        "task_s": round(built - started, 2),  # what the build_emails task pays: the two together
        "emails": len(sizes),
        "team_emails": kinds["team"],
        "emails_by_kind": dict(kinds),
        "ms_per_email": round(1000 * (built - loaded) / max(len(sizes), 1), 1),
        "largest": largest,  # the .eml file's stem
        "largest_bytes": sizes[largest],
        "digest_bytes": sizes.get("digest"),
        "peak_memory_mb": round(_peak_rss_mb(), 1),
        "eml_dir": str(eml_dir),
    }


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("warehouse_url", help="e.g. duckdb:////tmp/warehouse.duckdb (a copy: the file is held)")
    parser.add_argument("--week", help="the audit date to report (default: the latest)")
    parser.add_argument("--out", type=Path, help="where the .eml files go (default: a new temporary folder)")
    args = parser.parse_args(argv)
    figures = measure_build(args.warehouse_url, args.week, out_dir=args.out)
    for name, value in figures.items():
        print(f"{name:>22}: {json.dumps(value) if isinstance(value, dict) else value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
