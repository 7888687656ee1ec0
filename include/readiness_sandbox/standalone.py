"""`make airflow`: Airflow (standalone) on the sample organisation, with the DAGs and the Readiness page.

Starts the sandbox (the emulated APIs of the sample organisation) and, when installed, a real
Prometheus with the sample alerting rules (as ``make demo`` does), runs the demo audit first
when the warehouse holds none (its six weekly audits, so the Readiness page has history), then ``airflow
standalone`` (scheduler, DAG processor, triggerer, API server and UI) on the demo's SQLite
metadata and DuckDB warehouse, with the repository's DAGs and plugins. It prints the URL and
the login, and stops everything it started on Ctrl-C.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path
from types import FrameType

import requests

from readiness_sandbox.demo import DEMO_WEEKS, REPO, airflow_env, latest_monday, run_audits, weekly_dates
from readiness_sandbox.emulators import EMULATORS
from readiness_sandbox.external_results import seed_external_results
from readiness_sandbox.process import running_sandbox
from readiness_sandbox.prometheus import INSTALL_HINT, PrometheusHandle, find_prometheus, running_prometheus
from readiness_sandbox.sample_times import shifted_sample_org

USER = PASSWORD = "admin"
STARTUP_TIMEOUT = 180.0
SHUTDOWN_TIMEOUT = 30.0


def standalone_env(env: dict[str, str], *, host: str, port: int, passwords_file: Path) -> dict[str, str]:
    """The demo's Airflow environment, served on ``host:port`` with a known SimpleAuthManager login."""
    passwords_file.parent.mkdir(parents=True, exist_ok=True)
    passwords_file.write_text(json.dumps({USER: PASSWORD}) + "\n")
    return env | {
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USER}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords_file),
        "AIRFLOW__API__HOST": host,
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__BASE_URL": f"http://localhost:{port}",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW__CORE__PARALLELISM": "8",
        # The connection form's Test button (off by default in Airflow): it only calls the sandbox here.
        "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",  # LocalExecutor starts this many workers; 32 is a lot for a laptop
    }


def warehouse_has_audit(path: Path) -> bool:
    """Whether the demo warehouse already holds a scorecard (the page then has something to show)."""
    from oncall_readiness.report.page import latest_audit_date, read_only_url
    from oncall_readiness.warehouse import Warehouse

    if not path.exists():
        return False
    warehouse = Warehouse(read_only_url(f"duckdb:///{path}"))
    try:
        return latest_audit_date(warehouse) is not None
    finally:
        warehouse.dispose()


def start_prometheus(services: ExitStack) -> PrometheusHandle | None:
    """A real Prometheus with the sample alerting rules, as ``make demo`` runs; without one, the checks
    that read Prometheus are unknown (and say why)."""
    if not find_prometheus():
        print(f"    no Prometheus: alert rules will be unknown ({INSTALL_HINT})", flush=True)
        return None
    prometheus = services.enter_context(running_prometheus())
    print(f"    Prometheus (sample alerting rules) at {prometheus.base_url} (pid {prometheus.pid})", flush=True)
    return prometheus


def first_audit(env: dict[str, str], audit_dates: list[str], log_path: Path, *, keep: set[int]) -> None:
    """The demo's audits (its weeks of history), so the page has data; if they fail, Airflow starts
    anyway (the page then says so).

    Interrupted, it stops the ``airflow dags test`` it started (every child process but those in
    ``keep``, the servers their own contexts stop): a terminal's Ctrl-C reaches it anyway, a SIGTERM does not.
    """
    try:
        run_audits(env, audit_dates, log_path)
    except KeyboardInterrupt:
        stop_children(keep=keep)
        raise
    except SystemExit as failure:
        print(f"    {failure}", flush=True)
        print("    Starting Airflow anyway: trigger readiness_audit there to fill the page.", flush=True)


def stop_children(*, keep: set[int]) -> None:
    """SIGINT to each child process of this one but those in ``keep`` (Linux ``/proc``), SIGKILL after 10 s."""
    children = [
        int(pid)
        for listing in Path(f"/proc/{os.getpid()}/task").glob("*/children")
        for pid in listing.read_text().split()
        if int(pid) not in keep
    ]
    for signum in (signal.SIGINT, signal.SIGKILL):
        for pid in children:
            with suppress(ProcessLookupError):
                os.kill(pid, signum)
        deadline = time.monotonic() + 10
        while signum == signal.SIGINT and time.monotonic() < deadline and any(_alive(pid) for pid in children):
            time.sleep(0.2)


def _alive(pid: int) -> bool:
    """Whether ``pid`` still runs (a zombie, exited but not yet reaped, does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1][:1]
    except (OSError, IndexError):
        return False
    return state != "Z"


@contextmanager
def running_airflow(env: dict[str, str], log_path: Path) -> Iterator[subprocess.Popen]:
    """``airflow standalone`` in a process group of its own; on exit it is asked to stop, then made to."""
    airflow = str(Path(sys.executable).with_name("airflow"))
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [airflow, "standalone"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches this process only; it stops Airflow in order
        )
    try:
        yield process
    finally:
        stop_airflow(process)


def stop_airflow(process: subprocess.Popen) -> None:
    """SIGINT lets ``airflow standalone`` stop its components in order; whatever is left of its process
    group (scheduler, executor workers, ...) is then terminated, and killed if it lingers."""
    if process.poll() is None:
        _step(f"Stopping Airflow (pid {process.pid})")
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=SHUTDOWN_TIMEOUT)
        except subprocess.TimeoutExpired:
            _signal_group(process.pid, signal.SIGTERM)
            with suppress(subprocess.TimeoutExpired):
                process.wait(timeout=10)
    if _group_alive(process.pid):
        _signal_group(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while _group_alive(process.pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        _signal_group(process.pid, signal.SIGKILL)
    with suppress(subprocess.TimeoutExpired):
        process.wait(timeout=5)


def _signal_group(pgid: int, signum: int) -> None:
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def wait_until_up(process: subprocess.Popen, port: int, log_path: Path, timeout: float = STARTUP_TIMEOUT) -> None:
    """Until the API server answers its health check; fail with the log's tail if Airflow exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"airflow standalone exited with {process.returncode}:\n{_tail(log_path)}")
        with suppress(requests.RequestException):
            if requests.get(f"http://127.0.0.1:{port}/api/v2/monitor/health", timeout=2).ok:
                return
        time.sleep(1)
    raise SystemExit(f"Airflow did not answer on port {port} within {timeout:.0f} s:\n{_tail(log_path)}")


def print_banner(port: int, log_path: Path) -> None:
    url = f"http://localhost:{port}"
    print(
        f"\nAirflow is up at {url}  (log in as {USER} / {PASSWORD})\n"
        f"  Readiness page: {url}/readiness/  (also 'Readiness' in the Airflow menu)\n"
        f"  DAGs:           {url}/dags/readiness_audit  (paused: unpause or trigger it to audit again)\n"
        f"  Airflow log:    {log_path}\n"
        "Press Ctrl-C to stop everything.",
        flush=True,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8080, help="port of the Airflow UI and API server")
    parser.add_argument("--host", default="127.0.0.1", help="address to serve on (0.0.0.0 to reach it from outside)")
    parser.add_argument(
        "--audit-date",
        type=dt.date.fromisoformat,
        default=latest_monday(),
        help="the sample organisation's date, the last of the first audits when needed (default: the latest Monday)",
    )
    parser.add_argument("--out", type=Path, default=REPO / "out", help="where the warehouse and logs go")
    parser.add_argument(
        "--registry",
        choices=("files", "backstage"),
        default=os.environ.get("READINESS_SANDBOX_REGISTRY", "files"),
        help="read the sample catalog from its files (READINESS_CATALOG) or from the sandbox's Backstage catalog "
        "API (connection backstage_default); default $READINESS_SANDBOX_REGISTRY, else files",
    )
    args = parser.parse_args(argv)
    # Ctrl-C and SIGTERM both stop everything (even where a shell started this with SIGINT ignored).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _interrupt)

    out, work = args.out.resolve(), REPO / ".demo"
    out.mkdir(parents=True, exist_ok=True)
    warehouse_path, log_path = out / "warehouse.duckdb", out / "airflow-standalone.log"
    try:
        with ExitStack() as services:
            _step("Starting the sandbox (the emulated APIs of the sample organisation)")
            # The sample dated as make demo dates it, so the history it wrote and today's runs agree.
            sample = shifted_sample_org(work / "sample_org", args.audit_date)
            states = {source: sample / emulator.sample_state.name for source, emulator in EMULATORS.items()}
            sandbox = services.enter_context(running_sandbox(states=states))
            print(f"    sandbox at {sandbox.base_url} (pid {sandbox.pid})", flush=True)
            print(f"    the sample organisation dated for {args.audit_date}: {sample}", flush=True)
            prometheus = start_prometheus(services)
            env = airflow_env(
                airflow_home=work / "airflow",
                sandbox=sandbox,
                warehouse=warehouse_path,
                staging=work / "staging",
                prometheus_url=prometheus.base_url if prometheus else None,
                registry_api=args.registry == "backstage",
                sample=sample,
            )
            if args.registry == "backstage":
                print(f"    registry: the sandbox's Backstage catalog API at {sandbox.base_url}/backstage", flush=True)
            passwords = work / "airflow" / "passwords.json"
            env = standalone_env(env, host=args.host, port=args.port, passwords_file=passwords)
            if not warehouse_has_audit(warehouse_path):
                _step(f"The warehouse holds no audit yet: running the demo's {DEMO_WEEKS} weekly audits first")
                servers = {handle.pid for handle in (sandbox, prometheus) if handle}
                seed_external_results(f"duckdb:///{warehouse_path}", sample / "external_results.yaml")
                dates = weekly_dates(args.audit_date, DEMO_WEEKS)
                first_audit(env, dates, out / "airflow-dags-test.log", keep=servers)
            _step(f"Starting `airflow standalone` on port {args.port} (log: {log_path})")
            with running_airflow(env, log_path) as airflow:
                wait_until_up(airflow, args.port, log_path)
                print_banner(args.port, log_path)
                airflow.wait()
                print(f"airflow standalone exited with {airflow.returncode}:\n{_tail(log_path)}", flush=True)
                return airflow.returncode or 1
    except KeyboardInterrupt:
        print("\nStopped Airflow, the sandbox and Prometheus.", flush=True)
        return 0


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _tail(path: Path, lines: int = 30) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""


def _step(message: str) -> None:
    print(f"==> {message}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
