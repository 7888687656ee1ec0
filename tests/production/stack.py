"""The production-shape stack's processes: PostgreSQL clusters, Redis, Airflow's components, each
on a free loopback port, in a process group of its own, logging to a file, stopped on exit.

Airflow runs as a deployment runs it: ``airflow db migrate`` on PostgreSQL, then ``api-server``,
``dag-processor``, ``triggerer`` and ``scheduler`` (and ``celery worker``s) as separate processes
sharing one environment; the scheduler (and workers) of one executor, then of the other, on the
same API server, DAG processor and triggerer. ``AirflowRest`` drives it through the public REST
API v2, with a JWT from ``POST /auth/token``, as an operator or a deploy pipeline would.
docs/production-test.md.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import requests

from tests.conftest import free_port, unavailable
from tests.integration.conftest import _wait_until_healthy

AIRFLOW = str(Path(sys.executable).with_name("airflow"))
REDIS_SERVER = "/usr/bin/redis-server"
ADMIN, PASSWORD = "admin", "production-shape-admin"
# Where worker_name.py and celery_config.py live: Airflow imports them by name (PYTHONPATH).
HERE = Path(__file__).resolve().parent
# What the tasks import beyond Airflow (seconds of CPU each): loaded once by the process that forks
# the task processes (LocalExecutor: its forkserver; Celery: each worker), not once per task.
TASK_MODULES = ("pandas", "oncall_readiness.audit", "oncall_readiness.quality", "great_expectations")

# Settings that make a quiet stack react within a second or two instead of Airflow's defaults
# (5 s heartbeats, DAG files re-parsed every 30 s, the folder listed every 5 min).
FAST = {
    "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
    "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.5",
    # Only the runs the test triggers: no scheduled run of the daily audit competes with them.
    "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
    # Parse the four DAG files once at start; re-parsing them costs CPU the tasks need.
    "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "600",
    "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
    "AIRFLOW__CORE__PARALLELISM": "4",
    # A busy 2-core CI machine can take longer than the default 5 s to answer a task's call.
    "AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT": "60",
    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
}


def airflow_settings(home: Path, metadata_url: str) -> dict[str, str]:
    """What every Airflow process of the stack shares: home, metadata database, login and secrets."""
    passwords = home / "passwords.json"
    passwords.write_text(json.dumps({ADMIN: PASSWORD}))
    shared = {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata_url,
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
        # The API server signs, and the workers present, the same tokens of the execution API.
        "AIRFLOW__API_AUTH__JWT_SECRET": os.urandom(24).hex(),
        "AIRFLOW__CORE__FERNET_KEY": _fernet_key(),
        # Each process that serves logs gets its own port: two stacks may run side by side.
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
    }
    return FAST | shared


def _fernet_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


@dataclass
class Component:
    name: str
    process: subprocess.Popen
    log: Path


@contextmanager
def running_component(name: str, command: list[str], env: dict[str, str], logs: Path) -> Iterator[Component]:
    """One long-running process in its own process group (so stopping it stops its children too)."""
    log = logs / f"{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        yield Component(name, process, log)
    finally:
        stop_tree(process)


def stop_tree(process: subprocess.Popen, grace: float = 20) -> None:
    """Stop a component, its process group and every process it started, by pid.

    Airflow runs each task in a session of its own, outside the component's process group, so
    the descendants are listed before the group gets SIGTERM; whatever of them outlives the
    grace period gets SIGKILL.
    """
    import psutil

    try:
        descendants = psutil.Process(process.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        descendants = []
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
    for child in descendants:
        with suppress(psutil.NoSuchProcess):
            child.terminate()
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    _, alive = psutil.wait_procs(descendants, timeout=5)
    for child in alive:
        with suppress(psutil.NoSuchProcess):
            child.kill()


@contextmanager
def running_redis(workdir: Path) -> Iterator[str]:
    """A throw-away Redis (no persistence) on a free loopback port: the Celery broker's URL."""
    if not os.access(REDIS_SERVER, os.X_OK):
        unavailable(f"{REDIS_SERVER} is not installed (Debian package redis-server)")
    port = free_port()
    command = [REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    command += ["--dir", str(workdir)]
    with running_component("redis", command, dict(os.environ), workdir) as redis:
        _wait_for(lambda: _answers_ping(port), f"redis-server on port {port}", redis)
        yield f"redis://127.0.0.1:{port}/0"


def _answers_ping(port: int) -> bool:
    import redis

    try:
        return redis.Redis(host="127.0.0.1", port=port, socket_timeout=1).ping()
    except redis.ConnectionError:
        return False


def _wait_for(ready, what: str, component: Component, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if component.process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not start:\n{tail(component.log)}")
        time.sleep(0.2)


def tail(path: Path, limit: int = 3000) -> str:
    return path.read_text(errors="replace")[-limit:] if path.exists() else "(no log)"


def local_settings() -> dict[str, str]:
    """LocalExecutor, its workers started by a forkserver that has imported what the tasks import."""
    return {
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__SCHEDULER__MP_START_METHOD": "forkserver",
        "AIRFLOW__SCHEDULER__MP_FORKSERVER_PRELOAD": ",".join(("airflow.executors.local_executor", *TASK_MODULES)),
    }


def celery_settings(broker_url: str, metadata_url: str) -> dict[str, str]:
    """CeleryExecutor with Redis as the broker and the metadata PostgreSQL as the result backend; each
    worker imports what the tasks import before it forks its pool (celery_config.py)."""
    return {
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__CELERY__BROKER_URL": broker_url,
        "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + metadata_url.replace("+psycopg2", ""),
        "AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS": "celery_config.CELERY_CONFIG",
        "READINESS_PRELOAD_MODULES": ",".join(TASK_MODULES),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")])),
    }


def worker_settings(name: str, env: dict[str, str]) -> dict[str, str]:
    """A Celery worker's own environment: the hostname its task instances record, its log server port.

    Both workers run on this one machine, so Airflow's default hostname (the FQDN) would be the
    same for both: ``worker_name.hostname`` returns ``<fqdn>-<name>`` instead.
    """
    return env | {
        "READINESS_WORKER_NAME": name,
        "AIRFLOW__CORE__HOSTNAME_CALLABLE": "worker_name.hostname",
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
    }


@contextmanager
def running_airflow(env: dict[str, str], home: Path) -> Iterator[AirflowRest]:
    """Migrate, then start the API server, DAG processor and triggerer; the scheduler comes per executor.

    None of these three hands a task to an executor, so one of each serves the runs of every
    executor in turn (``running_scheduler``), as they would serve a deployment whose executor changed.
    """
    logs = home / "component-logs"
    logs.mkdir(parents=True, exist_ok=True)
    migrate(env, logs / "db-migrate.log")
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = env | {"AIRFLOW__API__PORT": str(port), "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{base_url}/execution/"}
    with ExitStack() as stack:
        api_server = [AIRFLOW, "api-server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
        components = [stack.enter_context(running_component("api-server", api_server, env, logs))]
        for name in ("dag-processor", "triggerer"):
            components.append(stack.enter_context(running_component(name, [AIRFLOW, name], env, logs)))
        _wait_until_healthy(components[0].process, base_url, components[0].log, timeout=300)
        # The execution API builds its versioned routes on its first request (tens of seconds on a
        # busy machine); make that request here, not a task, whose calls time out after seconds.
        requests.get(f"{base_url}/execution/health", timeout=300).raise_for_status()
        yield AirflowRest.login(base_url, components, home, env)


@contextmanager
def running_scheduler(
    airflow: AirflowRest, settings: dict[str, str], logs: Path, *, celery_workers: int = 0
) -> Iterator[None]:
    """The scheduler (and Celery workers) of one executor, on the running API server, DAG processor and
    triggerer: ``settings`` (local_settings() or celery_settings()) on top of the stack's environment."""
    logs.mkdir(parents=True, exist_ok=True)
    env = airflow.env | settings
    with ExitStack() as stack:
        components = [stack.enter_context(running_component("scheduler", [AIRFLOW, "scheduler"], env, logs))]
        for number in range(1, celery_workers + 1):
            name = f"worker{number}"
            command = [AIRFLOW, "celery", "worker", "--concurrency", "2", "--celery-hostname", f"{name}@%h"]
            components.append(stack.enter_context(running_component(name, command, worker_settings(name, env), logs)))
        airflow.components += components
        try:
            yield
        finally:  # stopped on leaving the ExitStack: no longer watched by _check_alive
            for component in components:
                airflow.components.remove(component)


def migrate(env: dict[str, str], log: Path) -> None:
    """``airflow db migrate``: create Airflow's tables in the metadata database."""
    with log.open("wb") as out:
        done = subprocess.run([AIRFLOW, "db", "migrate"], env=env, stdout=out, stderr=subprocess.STDOUT, timeout=300)
    if done.returncode:
        raise RuntimeError(f"airflow db migrate failed ({done.returncode}):\n{tail(log)}")


@dataclass
class AirflowRest:
    """The stack's REST API v2, as its admin user."""

    base_url: str
    token: str
    components: list[Component]
    home: Path
    env: dict[str, str]  # what every process of the stack shares, the API server's port included

    @classmethod
    def login(cls, base_url: str, components: list[Component], home: Path, env: dict[str, str]) -> AirflowRest:
        response = requests.post(f"{base_url}/auth/token", json={"username": ADMIN, "password": PASSWORD}, timeout=30)
        assert response.status_code in (200, 201), response.text
        return cls(base_url, response.json()["access_token"], components, home, env)

    def call(self, method: str, path: str, **kwargs) -> dict:
        headers = {"Authorization": f"Bearer {self.token}"}
        response = requests.request(method, f"{self.base_url}/api/v2{path}", headers=headers, timeout=60, **kwargs)
        assert response.ok, f"{method} {path}: {response.status_code} {response.text[:2000]}"
        return response.json() if response.content else {}

    def delete_runs(self, dag_id: str) -> None:
        """Delete every run of the DAG (and its task instances), if the DAG processor has parsed it."""
        headers = {"Authorization": f"Bearer {self.token}"}
        response = requests.get(f"{self.base_url}/api/v2/dags/{dag_id}/dagRuns", headers=headers, timeout=60)
        if response.status_code == 404:
            return
        assert response.ok, f"GET /dags/{dag_id}/dagRuns: {response.status_code} {response.text[:2000]}"
        for run in response.json()["dag_runs"]:
            self.call("DELETE", f"/dags/{dag_id}/dagRuns/{run['dag_run_id']}")

    def wait_for_dag(self, dag_id: str, timeout: float = 180) -> None:
        """Until the DAG processor has parsed the DAG into the metadata database."""
        headers = {"Authorization": f"Bearer {self.token}"}
        deadline = time.monotonic() + timeout
        while requests.get(f"{self.base_url}/api/v2/dags/{dag_id}", headers=headers, timeout=30).status_code != 200:
            self._check_alive(f"waiting for {dag_id} to be parsed")
            if time.monotonic() > deadline:
                raise AssertionError(f"{dag_id} was not parsed within {timeout:.0f} s\n{self.diagnostics()}")
            time.sleep(1)

    def trigger(self, dag_id: str, logical_date: str, run_id: str) -> str:
        """Unpause the DAG and trigger the run ``run_id`` of it for ``logical_date``; the run id."""
        self.wait_for_dag(dag_id)
        self.call("PATCH", f"/dags/{dag_id}", json={"is_paused": False})
        body = {"dag_run_id": run_id, "logical_date": logical_date, "conf": {}}
        return self.call("POST", f"/dags/{dag_id}/dagRuns", json=body)["dag_run_id"]

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float) -> None:
        """Poll the run until it ends; fail with every task's state and the logs' tails unless it succeeded."""
        deadline = time.monotonic() + timeout
        while (state := self.call("GET", f"/dags/{dag_id}/dagRuns/{run_id}")["state"]) not in ("success", "failed"):
            self._check_alive(f"{dag_id} run {run_id} is {state}")
            if time.monotonic() > deadline:
                break
            time.sleep(2)
        if state != "success":
            raise AssertionError(f"{dag_id} run {run_id} ended {state}\n{self.diagnostics(dag_id, run_id)}")

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        path = f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances"
        return self.call("GET", path, params={"limit": 100})["task_instances"]

    def _check_alive(self, doing: str) -> None:
        for component in self.components:
            if component.process is not None and component.process.poll() is not None:
                raise AssertionError(f"airflow {component.name} exited while {doing}\n{tail(component.log)}")

    def diagnostics(self, dag_id: str | None = None, run_id: str | None = None) -> str:
        """Every task's state, the failed tasks' log tails, and each component's log tail."""
        parts = []
        if dag_id and run_id:
            run_logs = self.home / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}"
            for ti in self.task_instances(dag_id, run_id):
                parts.append(f"{ti['task_id']}[{ti['map_index']}] {ti['state']} on {ti['hostname']}")
                if ti["state"] not in ("success", "skipped"):
                    task_logs = run_logs / f"task_id={ti['task_id']}"
                    parts += [f"--- {log}\n{tail(log, 2000)}" for log in sorted(task_logs.glob("**/*.log"))]
        parts += [f"--- {c.name} ({c.log})\n{tail(c.log, 2000)}" for c in self.components]
        return "\n".join(parts)
