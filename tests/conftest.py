"""Fixtures shared by the whole suite: real servers on free loopback ports, started and stopped here."""

from __future__ import annotations

import fcntl
import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
REFERENCE = REPO.parent / "shared" / "reference"

# Airflow reads its home when first imported: give the tests their own, never ~/airflow.
os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="readiness-airflow-home-"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")

TESTS = Path(__file__).resolve().parent
# Tests in these folders start real servers (CONVENTIONS.md): they are marked integration here,
# whether or not their module says so, so that a new file there never lands in `make test-fast`.
SERVER_FOLDERS = {"integration", "production"}


@pytest.hookimpl(tryfirst=True)  # before -m deselects by the markers added here
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the server folders' tests integration, then order the files slowest first.

    `make test-fast` is ``-m "not integration and not e2e"``: the unit and contract tests, and
    every other test that starts no Airflow and no server that costs seconds, including a new
    file under tests/unit/ or tests/contract/ without any marker. `make test` hands whole files
    to the xdist workers in collection order (``--dist loadfile --no-loadscope-reorder``): the
    production-shape stack first, then the DAG runs (e2e), then the other servers, then the
    quick files, so the long files start at once on different workers and the quick ones fill
    in behind them instead of one long file starting last with the other core idle.
    """
    rank: dict[Path, int] = {}
    for item in items:
        folder = _folder(item)
        if folder in SERVER_FOLDERS:
            item.add_marker(pytest.mark.integration)
        if folder == "production":
            item_rank = 0
        elif item.get_closest_marker("e2e"):
            item_rank = 1
        elif item.get_closest_marker("integration"):
            item_rank = 2
        else:
            item_rank = 3
        rank[item.path] = min(rank.get(item.path, item_rank), item_rank)
    items.sort(key=lambda item: rank[item.path])  # stable: each file's tests keep their order


def _folder(item: pytest.Item) -> str | None:
    try:
        return item.path.relative_to(TESTS).parts[0]
    except ValueError:
        return None


def stop_process_group(process: subprocess.Popen) -> None:
    """Stop a server started in a process group of its own, and whatever it started: by its pid."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=15)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def unavailable(reason: str):
    """Skip on a developer machine; fail in CI, where .ci/run must have installed the server."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI must provide it: see .ci/run)")
    pytest.skip(reason)


@pytest.fixture(name="unavailable")
def unavailable_fixture():
    """``unavailable(reason)``: skip here, fail in CI (see unavailable above)."""
    return unavailable


@pytest.fixture(scope="session", name="documented_queries")
def documented_queries_fixture() -> dict[str, str]:
    """Heading → SQL of every query in docs/warehouse.md."""
    return documented_queries()


def documented_queries() -> dict[str, str]:
    """Heading → SQL of every ```sql block; each block must sit under its own ### heading."""
    queries: dict[str, str] = {}
    heading, block = None, None
    for line in (REPO / "docs" / "warehouse.md").read_text().splitlines():
        if block is not None:
            if line.startswith("```"):
                assert heading and heading not in queries, f"a ```sql block without its own ### heading: {block}"
                queries[heading], block = "\n".join(block), None
            else:
                block.append(line)
        elif line.startswith("```sql"):
            block = []
        elif line.startswith("### "):
            heading = line.removeprefix("### ").strip()
        elif line.startswith("## ") or line.startswith("# "):
            heading = None
    return queries


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    if not REFERENCE.is_dir():
        pytest.skip(f"the shared reference material is not at {REFERENCE}")
    return REFERENCE


@pytest.fixture(scope="session")
def airflow_metadata(tmp_path_factory) -> Callable[[Path], Path]:
    """``airflow_metadata(path)``: Airflow's SQLite metadata database, migrated, at ``path``; the path.

    ``airflow db migrate`` costs seconds of CPU, and each ``airflow dags test`` run and API server
    of the suite needs a database of its own: the session migrates one template, shared by the
    xdist workers (under a lock), and each caller gets a copy of it.
    """
    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent  # the session's folder, above each worker's own
    template = shared / "airflow-metadata" / "airflow.db"
    with (shared / "airflow-metadata.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not template.exists():
            _migrate_sqlite(template)

    def copy(path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(template, path)
        return path

    return copy


def _migrate_sqlite(database: Path) -> None:
    """``airflow db migrate`` into a new SQLite file at ``database``, with no setting of the caller's."""
    home = database.parent
    home.mkdir(parents=True, exist_ok=True)
    partial = home / "migrating.db"
    env = {key: value for key, value in os.environ.items() if not key.startswith("AIRFLOW")} | {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{partial}",
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    }
    airflow = str(Path(sys.executable).with_name("airflow"))
    subprocess.run([airflow, "db", "migrate"], env=env, check=True, capture_output=True, timeout=300)
    partial.replace(database)  # whole, or not there


@pytest.fixture(scope="session")
def postgres_url():
    """A throw-away PostgreSQL server (Debian's postgresql package) on a free loopback port."""
    with running_postgres() as url:
        yield url


@contextmanager
def running_postgres() -> Iterator[str]:
    """Start a throw-away PostgreSQL cluster of its own (initdb, pg_ctl) on a free loopback port; its URL."""
    initdb = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not initdb:
        unavailable("PostgreSQL server binaries are not installed (Debian package postgresql)")
    bindir = Path(initdb[-1]).parent
    # PostgreSQL refuses to run as root; run it as the postgres user the package creates.
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    workdir = Path(tempfile.mkdtemp(prefix="readiness-pg-"))
    if as_user:
        shutil.chown(workdir, "postgres")
    data, port = workdir / "data", free_port()
    subprocess.run(
        [*as_user, bindir / "initdb", "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8"],
        check=True,
        capture_output=True,
    )
    options = f"-p {port} -k {workdir} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run(
        [*as_user, bindir / "pg_ctl", "-D", data, "-o", options, "-l", workdir / "log", "-w", "start"],
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgresql+psycopg2://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*as_user, bindir / "pg_ctl", "-D", data, "-m", "fast", "-w", "stop"], capture_output=True)
        shutil.rmtree(workdir, ignore_errors=True)
