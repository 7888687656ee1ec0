"""A throw-away S3 (moto's server) on a free loopback port, for tests of object-storage staging.

``running_s3_server(bucket)`` starts ``moto_server`` from this virtualenv (the sibling of
``sys.executable``) in its own process group, creates the bucket and yields an ``S3Server``;
on exit it stops the whole group by its pid. Tests import it as
``from tests.s3_server import running_s3_server`` (pytest puts the repository root on the path).
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import free_port, stop_process_group

# moto accepts any credentials; these only have to be the same on both sides.
ACCESS_KEY, SECRET_KEY, REGION = "readiness-test-key", "readiness-test-secret", "us-east-1"


@dataclass(frozen=True)
class S3Server:
    endpoint_url: str
    bucket: str

    def connection_env(self, conn_id: str = "readiness_staging") -> dict[str, str]:
        """The Airflow connection to this server (endpoint in the extra, as the amazon provider reads it)."""
        connection = {
            "conn_type": "aws",
            "login": ACCESS_KEY,
            "password": SECRET_KEY,
            "extra": {"endpoint_url": self.endpoint_url, "region_name": REGION},
        }
        return {f"AIRFLOW_CONN_{conn_id.upper()}": json.dumps(connection), "READINESS_STAGING_CONN_ID": conn_id}

    def client(self):
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            region_name=REGION,
        )

    def list_keys(self, prefix: str = "") -> list[str]:
        """Every object key in the bucket under ``prefix``, sorted (all pages)."""
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        return sorted(item["Key"] for page in pages for item in page.get("Contents", []))


@contextmanager
def running_s3_server(bucket: str) -> Iterator[S3Server]:
    """moto's S3 on 127.0.0.1 with ``bucket`` created; stopped (its process group) on exit."""
    moto = Path(sys.executable).with_name("moto_server")
    if not moto.exists():
        raise RuntimeError(f"{moto} is missing: moto[server] is a dev dependency (uv sync)")
    port = free_port()
    log = Path(tempfile.mkstemp(prefix="moto-", suffix=".log")[1])
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(moto), "--host", "127.0.0.1", "--port", str(port)],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopped whole, by its pid
        )
    server = S3Server(endpoint_url=f"http://127.0.0.1:{port}", bucket=bucket)
    _forget_cached_stores()  # an earlier test of this process may have cached a store for another endpoint
    try:
        _wait_until_listening(process, port, log)
        server.client().create_bucket(Bucket=bucket)
        yield server
    finally:
        stop_process_group(process)
        _forget_cached_stores()
        log.unlink(missing_ok=True)


def _wait_until_listening(process: subprocess.Popen, port: int, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"moto_server exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    stop_process_group(process)
    raise RuntimeError(f"moto_server did not listen within {timeout:.0f} s:\n{log.read_text()[-3000:]}")


def _forget_cached_stores() -> None:
    """Airflow caches one filesystem per protocol and connection for the process's life; the
    next server of this test process listens on another port, so drop the S3 ones."""
    store = sys.modules.get("airflow.sdk.io.store")
    if store is not None:
        for alias in [alias for alias in store._STORE_CACHE if alias == "s3" or alias.startswith("s3-")]:
            store._STORE_CACHE.pop(alias, None)
