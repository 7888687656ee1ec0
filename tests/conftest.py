"""Fixtures shared by the whole suite: real servers on free loopback ports, started and stopped here."""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
REFERENCE = REPO.parent / "shared" / "reference"

# Airflow reads its home when first imported: give the tests their own, never ~/airflow.
os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="readiness-airflow-home-"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")


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
