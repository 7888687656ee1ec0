"""The warehouse under load: the API server's readers and pushers while the audit publishes.

The real ``airflow api-server`` (as in test_readiness_api.py) over the seeded history, on the
embedded DuckDB file and on a real PostgreSQL server. Five clients at once, as on a busy
morning: three scanners pushing external results one after another, and two deploy pipelines
reading a gate every 50 ms; meanwhile the publish of another audit date runs in a process of
its own, as the audit's ``publish`` task does on a worker. Nobody gets a 503, every push is
stored, and the publish waits for the file seconds at most (docs/deploy.md, "What each
warehouse supports").
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator

import pytest
import requests
import sqlalchemy as sa

from oncall_readiness.warehouse import Warehouse
from tests.integration.conftest import REPO, publish_history, readiness_api_env
from tests.integration.conftest import bearer as airflow_bearer

pytestmark = pytest.mark.integration

# The scanner pushes (a pusher of security-scan in the sample organisation's catalog); the pipelines read.
USERS = {"security-scanner": ("user", "load-test-scanner-password"), "viewer": ("viewer", "load-test-viewer-password")}
API = "/readiness/api/v1"
TIMEOUT = 60
PUSHERS, READERS = 3, 2
POLL = 0.05  # a gate read every 50 ms
AT_LEAST = 20  # requests per client, whatever the publish's timing
AFTER_PUBLISH = 1.0  # seconds of load after the publish finished
PUBLISHED_DATE = dt.date(2026, 11, 12)  # not in the seeded history, before its latest date (the gate's answer holds)
PUBLISH_BOUND = 15.0  # seconds: "delayed by seconds at most", with room for a busy two-core machine

# The publish in a process of its own: imports done, it says "ready", waits for a line, publishes, says how long.
PUBLISHER = """
import json, sys, time
import datetime as dt
from oncall_readiness.warehouse import Warehouse
from tests.integration.conftest import publish_history
warehouse = Warehouse(sys.argv[1])
print("ready", flush=True)
sys.stdin.readline()
started = time.monotonic()
try:
    publish_history(warehouse, [dt.date.fromisoformat(sys.argv[2])])
    outcome = {"ok": True}
except Exception as error:
    outcome = {"ok": False, "error": f"{type(error).__name__}: {error}"}
finally:
    warehouse.dispose()
print(json.dumps(outcome | {"seconds": time.monotonic() - started}), flush=True)
"""


@pytest.fixture(scope="module", params=["duckdb", "postgresql"])
def loaded_server(request, tmp_path_factory, seeded_duckdb, running_api_server) -> Iterator[tuple[str, str]]:
    """(base URL, warehouse URL): the API server over the seeded history on DuckDB or PostgreSQL."""
    home = tmp_path_factory.mktemp(f"airflow-home-{request.param}")
    if request.param == "duckdb":
        path = home / "warehouse.duckdb"
        shutil.copyfile(seeded_duckdb, path)
        url = f"duckdb:///{path}"
    else:
        url = request.getfixturevalue("postgres_url")
        warehouse = Warehouse(url)
        try:
            publish_history(warehouse)
        finally:
            warehouse.dispose()
    env = readiness_api_env(home, url, USERS)
    try:
        with running_api_server(env, home) as base_url:
            yield base_url, url
    finally:
        if request.param == "postgresql":
            engine = sa.create_engine(url)
            with engine.begin() as conn:
                conn.execute(sa.text("DROP SCHEMA IF EXISTS readiness CASCADE"))
            engine.dispose()


def bearer(base_url: str, user: str) -> dict[str, str]:
    return airflow_bearer(base_url, user, USERS[user][1], timeout=TIMEOUT)


class Load:
    """The clients' answers (status codes per kind, seconds per request) and when to stop."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.statuses: dict[str, Counter[int]] = {"push": Counter(), "read": Counter()}
        self.seconds: dict[str, list[float]] = {"push": [], "read": []}
        self.details: list[str] = []
        self.stop = threading.Event()

    def record(self, kind: str, response: requests.Response, seconds: float) -> None:
        with self.lock:
            self.statuses[kind][response.status_code] += 1
            self.seconds[kind].append(seconds)
            if response.status_code not in (200, 201) and len(self.details) < 5:
                self.details.append(f"{kind} {response.status_code}: {response.text[:300]}")

    def pushes_stored(self) -> int:
        return self.statuses["push"][201]


def push(base_url: str, headers: dict[str, str], pusher: int, load: Load) -> None:
    """One scanner: results one after another, each observed a second after the last (all new)."""
    session = requests.Session()
    observed = dt.datetime(2026, 11, 15, 10, tzinfo=dt.UTC) + dt.timedelta(hours=pusher)
    sent = 0
    while sent < AT_LEAST or not load.stop.is_set():
        result = {
            "team": "checkout",
            "check_id": "security-scan",
            "status": "pass",
            "reason": f"Scanner {pusher}: no finding in scan {sent}.",
            "subject": "service:checkout-api",
            "observed_at": (observed + dt.timedelta(seconds=sent)).isoformat(),
        }
        started = time.monotonic()
        response = session.post(f"{base_url}{API}/external-results", json=result, headers=headers, timeout=TIMEOUT)
        load.record("push", response, time.monotonic() - started)
        sent += 1


def read_gate(base_url: str, headers: dict[str, str], load: Load) -> None:
    """One deploy pipeline: the gate of a team every 50 ms."""
    session = requests.Session()
    read = 0
    while read < AT_LEAST or not load.stop.is_set():
        started = time.monotonic()
        response = session.get(f"{base_url}{API}/gate/teams/payments", headers=headers, timeout=TIMEOUT)
        load.record("read", response, time.monotonic() - started)
        read += 1
        time.sleep(POLL)


def stored_results(url: str) -> int:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(sa.text("SELECT COUNT(*) FROM readiness.external_results")).scalar_one())
    finally:
        engine.dispose()


def published_dates(url: str) -> set[dt.date]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            days = conn.execute(sa.text("SELECT DISTINCT audit_date FROM readiness.scorecard")).scalars()
            return {day if isinstance(day, dt.date) else dt.date.fromisoformat(str(day)[:10]) for day in days}
    finally:
        engine.dispose()


def test_reads_pushes_and_a_publish_all_succeed_at_once(loaded_server):
    base_url, url = loaded_server
    scanner, viewer = bearer(base_url, "security-scanner"), bearer(base_url, "viewer")
    warm = requests.get(f"{base_url}{API}/gate/teams/payments", headers=viewer, timeout=TIMEOUT)  # imports done
    assert warm.status_code == 200, warm.text
    publisher = subprocess.Popen(
        [sys.executable, "-c", PUBLISHER, url, PUBLISHED_DATE.isoformat()],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert publisher.stdout.readline().strip() == "ready"
        load = Load()
        clients = [threading.Thread(target=push, args=(base_url, scanner, n, load)) for n in range(PUSHERS)]
        clients += [threading.Thread(target=read_gate, args=(base_url, viewer, load)) for _ in range(READERS)]
        for client in clients:
            client.start()
        time.sleep(1.0)  # the load is on before the publish starts
        publisher.stdin.write("go\n")
        publisher.stdin.flush()
        published = json.loads(publisher.stdout.readline())
        time.sleep(AFTER_PUBLISH)
        load.stop.set()
        for client in clients:
            client.join(timeout=120)
    finally:
        publisher.kill()
        publisher.wait()
    summary = {
        kind: {"statuses": dict(load.statuses[kind]), "slowest": round(max(load.seconds[kind]), 2)}
        for kind in ("push", "read")
    }
    print(f"\n{url.split(':')[0]}: publish {published}; {summary}")
    assert published["ok"], published
    assert published["seconds"] < PUBLISH_BOUND, published
    assert set(load.statuses["read"]) == {200}, (summary, load.details)
    assert set(load.statuses["push"]) == {201}, (summary, load.details)
    assert stored_results(url) == load.pushes_stored()
    assert published_dates(url) >= {PUBLISHED_DATE, dt.date(2026, 11, 16)}
