"""The audit at scale: requests, time and memory of the real readiness_audit DAG on N teams.

    .venv/bin/python -m benchmarks.audit --teams 50 500 2000     (or: make benchmark)

For each size it generates an organisation (``org.py``: 10 people and 5 services a team, ...),
serves it from the sandbox's emulators with a round trip of ``--latency-ms`` (default 20) and
each API's real rate limit and page caps, runs a real Prometheus with its rule files, and runs
``readiness_audit`` with ``airflow dags test`` (SQLite metadata, DuckDB warehouse), as
``make demo`` does. It then prints, per source, the requests the emulators received against
the floor the API allows (``floors.py``) and the collect task's wall time against the time
floor; and the registry, check, score and publish times (the task instances' start and end in
the Airflow metadata), the run's peak memory (resident set of the ``airflow dags test``
process and its children, sampled every 100 ms) and the DAG files' parse time. Then, on the
warehouse the audit left, the weekly emails are built and sent to a local SMTP server and a
day with changes is alerted (``email_delivery.py``). Results go to
``<out>/results-<teams>.json`` and the tables to ``<out>/results.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import psutil

from benchmarks import email_delivery, floors, replay, report
from benchmarks.layout import write
from benchmarks.org import INSTANT, Organisation

REPO = Path(__file__).resolve().parents[1]
AUDIT_DATE = INSTANT.date().isoformat()
DAG_ID = "readiness_audit"


def measure(
    teams: int, *, latency_ms: float, out: Path, template_db: Path, github_partial_over: int | None = None
) -> dict[str, Any]:
    """Generate, serve and audit an organisation of ``teams`` teams; what it cost."""
    from readiness_sandbox.demo import airflow_env
    from readiness_sandbox.process import running_sandbox
    from readiness_sandbox.prometheus import running_prometheus

    work = out / f"teams-{teams}"
    shutil.rmtree(work, ignore_errors=True)
    org = Organisation.of(teams)
    started = time.perf_counter()
    files = write(org, work / "org")
    if github_partial_over is not None:  # GitHub resolving only part of a large query, as it documents
        github = json.loads(files.state("github").read_text(encoding="utf-8"))
        github["emulator"] = {"graphql_partial_over": github_partial_over}
        files.state("github").write_text(json.dumps(github), encoding="utf-8")
    generated = time.perf_counter() - started
    _say(f"{teams} teams: organisation written in {generated:.1f} s; starting the sandbox and Prometheus")
    started = time.perf_counter()
    with (
        running_sandbox(
            states=files.states,
            latency_ms=latency_ms,
            source_rate_limits=floors.SANDBOX_RATE_LIMITS,
            record_requests=True,
            timeout=60 + teams,
        ) as sandbox,
        running_prometheus(files.prometheus_rules, timeout=60 + teams / 10) as prometheus,
    ):
        served = time.perf_counter() - started
        round_trip_ms = sandbox_round_trip_ms(sandbox)
        sandbox.request_counts(reset=True)  # and the request log
        home = work / "airflow"
        home.mkdir(parents=True)
        shutil.copy(template_db, home / "airflow.db")
        env = airflow_env(
            airflow_home=home,
            sandbox=sandbox,
            warehouse=work / "warehouse.duckdb",
            staging=work / "staging",
            prometheus_url=prometheus.base_url,
        )
        env.update({"READINESS_CATALOG": str(files.catalog), "READINESS_HR_CSV": str(files.hr_export)})
        _say(f"{teams} teams: sandbox ready in {served:.0f} s; running {DAG_ID} for {AUDIT_DATE}")
        run = _run_dag(env, work / "airflow-dags-test.log")
        requests = sandbox.request_counts()
        log = sandbox.request_log()
    _say(f"{teams} teams: sending PagerDuty's requests again to a fresh sandbox, with a client that does nothing else")
    pagerduty_replay = replay.replay_seconds(log, state=files.states["pagerduty"], latency_ms=latency_ms)
    timeline = replay.between_requests(log)
    tasks = _task_times(home / "airflow.db")
    emails = None
    if run["exit_code"] == 0:  # the audit's warehouse: the week's emails, then a day with changes alerted
        _say(f"{teams} teams: building and sending the weekly emails, then the alerts of a day with changes")
        emails = email_delivery.measure_emails(work, INSTANT.date())
    result = {
        "teams": teams,
        "latency_ms": latency_ms,
        "counts": org.counts,
        "generate_s": round(generated, 1),
        "sandbox_start_s": round(served, 1),
        "round_trip_ms": round_trip_ms,
        "pagerduty_replay_s": round(pagerduty_replay, 1),
        "pagerduty_requests_s": {name: round(seconds, 2) for name, seconds in (timeline or {}).items()},
        **run,
        "tasks": tasks,
        "requests": requests,
        "floors": floors.request_floors(org),
        "github_rest_floor": floors.github_rest_floor(org),
        "statuses": _statuses(work / "warehouse.duckdb"),
        "parse": dag_parse_times(env),
        "emails": emails,
    }
    (out / f"results-{teams}.json").write_text(json.dumps(result, indent=2, default=str), encoding="utf-8")
    return result


def sandbox_round_trip_ms(sandbox, requests: int = 50) -> float:
    """The mean round trip of a request the emulators answer at once (a 404), one after another.

    The latency plus this machine's own HTTP stack on both ends (the client, uvicorn, the
    middleware's timer): the least a request costs here, whatever the API's floor says.
    """
    import requests as http

    url = f"{sandbox.base_url}/pagerduty/_benchmark_round_trip"
    with http.Session() as session:
        session.get(url)  # the connection, once
        started = time.perf_counter()
        for _ in range(requests):
            session.get(url)
    return round((time.perf_counter() - started) / requests * 1000, 1)


def _run_dag(env: dict[str, str], log_path: Path) -> dict[str, Any]:
    """``airflow dags test`` with its peak memory (the process tree's resident set) sampled."""
    airflow = str(Path(sys.executable).with_name("airflow"))
    started = time.perf_counter()
    with log_path.open("w") as log:
        process = subprocess.Popen([airflow, "dags", "test", DAG_ID, AUDIT_DATE], env=env, stdout=log, stderr=log)
        peak = _PeakMemory(process.pid)
        peak.start()
        try:
            code = process.wait()
        except BaseException:  # Ctrl-C: leave no audit running behind
            process.kill()
            process.wait()
            raise
        finally:
            peak.stop()
    return {
        "exit_code": code,
        "dag_test_s": round(time.perf_counter() - started, 1),
        "peak_rss_mb": round(peak.peak / 2**20),
        "log": str(log_path),
    }


class _PeakMemory(threading.Thread):
    """The largest sum of resident set sizes of a process and its descendants, sampled."""

    def __init__(self, pid: int, every: float = 0.1):
        super().__init__(daemon=True)
        self.pid, self.every, self.peak = pid, every, 0
        self._stopped = threading.Event()

    def run(self) -> None:
        try:
            root = psutil.Process(self.pid)
        except psutil.NoSuchProcess:
            return
        while not self._stopped.is_set():
            total = 0
            try:
                for process in [root, *root.children(recursive=True)]:
                    try:
                        total += process.memory_info().rss
                    except psutil.NoSuchProcess:
                        continue
            except psutil.NoSuchProcess:
                return
            self.peak = max(self.peak, total)
            self._stopped.wait(self.every)

    def stop(self) -> None:
        self._stopped.set()
        self.join()


def _task_times(db: Path) -> list[dict[str, Any]]:
    """Each task instance's state and duration, from the run's Airflow metadata."""
    with sqlite3.connect(db) as connection:
        rows = connection.execute(
            "SELECT task_id, map_index, rendered_map_index, state, start_date, end_date FROM task_instance "
            "WHERE dag_id = ? ORDER BY start_date",
            (DAG_ID,),
        ).fetchall()
    tasks = []
    for task_id, map_index, rendered, state, start, end in rows:
        duration = None
        if start and end:
            duration = (_moment(end) - _moment(start)).total_seconds()
        tasks.append(
            {
                "task": task_id,
                "source": rendered if map_index is not None and map_index >= 0 else None,
                "state": state,
                "seconds": round(duration, 2) if duration is not None else None,
            }
        )
    return tasks


def _moment(text: str):
    import datetime as dt

    return dt.datetime.fromisoformat(text.replace(" ", "T"))


def _statuses(warehouse: Path) -> dict[str, Any]:
    """How many check results came out of each status, and why any is unknown."""
    import duckdb

    if not warehouse.exists():
        return {}
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        counts = connection.execute(
            "SELECT status, count(*) FROM readiness.check_results WHERE audit_date = ? GROUP BY status ORDER BY 1",
            [AUDIT_DATE],
        ).fetchall()
        unknown = connection.execute(
            "SELECT check_id, any_value(reason), count(*) FROM readiness.check_results "
            "WHERE audit_date = ? AND status = 'unknown' GROUP BY check_id ORDER BY 1",
            [AUDIT_DATE],
        ).fetchall()
    return {
        "by_status": dict(counts),
        "unknown": [{"check_id": c, "teams": n, "reason": r} for c, r, n in unknown],
    }


def dag_parse_times(env: dict[str, str]) -> dict[str, float]:
    """Seconds to parse each DAG file once ``airflow.sdk`` is imported (what the DAG processor pays)."""
    times = {}
    for dag_file in sorted((REPO / "dags").glob("*.py")):
        script = (
            "import time, runpy; import airflow.sdk; t = time.perf_counter(); "
            f"runpy.run_path({str(dag_file)!r}); print(time.perf_counter() - t)"
        )
        output = subprocess.run(
            [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True, timeout=300
        )
        times[dag_file.name] = round(float(output.stdout.strip().splitlines()[-1]), 3)
    return times


def migrated_metadata(out: Path) -> Path:
    """An Airflow metadata database migrated once, copied into each run's home."""
    template = out / "template-airflow" / "airflow.db"
    if not template.exists():
        template.parent.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "AIRFLOW_HOME": str(template.parent),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{template}",
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        }
        _say("Creating the Airflow metadata database (first run only)")
        airflow = str(Path(sys.executable).with_name("airflow"))
        subprocess.run([airflow, "db", "migrate"], env=env, check=True, capture_output=True)
    return template


def cache_bytecode(folder: Path) -> None:
    """Let this run's processes keep compiled bytecode (below ``folder``), as a built image has it.

    Without it (``PYTHONDONTWRITEBYTECODE``) every task compiles pandas, Airflow and Great
    Expectations from source again, and the figures measure the compiler.
    """
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    os.environ["PYTHONPYCACHEPREFIX"] = str(folder)


def _say(message: str) -> None:
    print(f"==> {message}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--teams", type=int, nargs="+", default=[50, 500, 2000], help="organisation sizes")
    parser.add_argument("--latency-ms", type=float, default=20.0, help="least round trip of an emulator request")
    parser.add_argument("--out", type=Path, default=REPO / ".benchmark", help="working folder and results")
    parser.add_argument(
        "--github-partial-over",
        type=int,
        default=None,
        metavar="N",
        help="GitHub answers a query of more than N repositories with partial data (the rest null, an error each)",
    )
    args = parser.parse_args(argv)
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    cache_bytecode(out / "pycache")
    template = migrated_metadata(out)
    results = []
    for teams in args.teams:
        result = measure(
            teams,
            latency_ms=args.latency_ms,
            out=out,
            template_db=template,
            github_partial_over=args.github_partial_over,
        )
        results.append(result)
        print(report.text(result), flush=True)
    (out / "results.md").write_text(report.markdown(results), encoding="utf-8")
    print(f"\nTables in Markdown: {out / 'results.md'}")
    return 0 if all(result["exit_code"] == 0 for result in results) else 1


if __name__ == "__main__":
    sys.exit(main())
