"""Run a real Prometheus server (tests, the demo): ``running_prometheus(rule_files_dir)``.

Prometheus is not emulated: the binary of the Debian package ``prometheus`` (or any
``prometheus`` on ``PATH``, or ``$READINESS_PROMETHEUS_BIN``) is started on a free
loopback port with a throw-away TSDB, a configuration that only loads the rule files
(no scrape targets), and stopped by its pid on exit.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
import yaml

from readiness_sandbox.process import log_tail, stop_process
from readiness_sandbox.sample_org import PROMETHEUS_RULES

BINARY_ENV = "READINESS_PROMETHEUS_BIN"
RULE_FILE_PATTERNS = ("*.yml", "*.yaml")
INSTALL_HINT = (
    "install Prometheus (Debian/Ubuntu: `apt-get install prometheus`, which also brings promtool; "
    "elsewhere https://prometheus.io/download/) or set READINESS_PROMETHEUS_BIN to its binary"
)


class PrometheusError(RuntimeError):
    """Prometheus is missing or did not start (the message carries its log)."""


@dataclass(frozen=True)
class PrometheusHandle:
    base_url: str  # e.g. http://127.0.0.1:54321
    pid: int
    rule_files_dir: Path


def sample_rules_dir() -> Path:
    """The sample organisation's rule files (``include/sample_org/prometheus/rules``)."""
    return PROMETHEUS_RULES


def find_prometheus() -> str | None:
    """The ``prometheus`` binary: ``$READINESS_PROMETHEUS_BIN``, else ``prometheus`` on PATH."""
    configured = os.environ.get(BINARY_ENV)
    if configured:
        return configured if os.access(configured, os.X_OK) else None
    return shutil.which("prometheus")


def find_promtool() -> str | None:
    """``promtool`` next to the Prometheus binary, else on PATH."""
    binary = find_prometheus()
    if binary:
        sibling = Path(binary).with_name("promtool")
        if os.access(sibling, os.X_OK):
            return str(sibling)
    return shutil.which("promtool")


@contextmanager
def running_prometheus(
    rule_files_dir: str | Path | None = None,
    *,
    binary: str | None = None,
    evaluation_interval: str = "15s",
    web_config: Mapping[str, Any] | None = None,
    ready_auth: tuple[str, str] | None = None,
    timeout: float = 30.0,
    attempts: int = 3,
) -> Iterator[PrometheusHandle]:
    """Start Prometheus on a free loopback port with the rule files of a folder; stop it on exit.

    ``rule_files_dir`` defaults to the sample organisation's rules. ``web_config`` is
    Prometheus's ``--web.config.file`` content (e.g. ``basic_auth_users`` with bcrypt
    hashes); ``ready_auth`` the (user, password) the readiness probe then needs. Raises
    ``PrometheusError`` when the binary is missing or the server is not ready in time.
    """
    binary = binary or find_prometheus()
    if not binary:
        raise PrometheusError(f"no prometheus binary found: {INSTALL_HINT}")
    rules = Path(rule_files_dir or sample_rules_dir()).resolve()
    if not rules.is_dir():
        raise PrometheusError(f"rule files folder {rules} does not exist")
    with tempfile.TemporaryDirectory(prefix="readiness-prometheus-") as tmp:
        workdir = Path(tmp)
        config = workdir / "prometheus.yml"
        config.write_text(
            yaml.safe_dump(
                {
                    "global": {"evaluation_interval": evaluation_interval},
                    "rule_files": [str(rules / pattern) for pattern in RULE_FILE_PATTERNS],
                },
                sort_keys=False,
            ),
            encoding="utf-8",
        )
        web_args = []
        if web_config is not None:
            web_file = workdir / "web.yml"
            web_file.write_text(yaml.safe_dump(dict(web_config), sort_keys=False), encoding="utf-8")
            web_args = [f"--web.config.file={web_file}"]
        for attempt in range(1, attempts + 1):
            # The port is free when chosen; another process may take it before Prometheus binds it.
            port = _free_port()
            log_file = workdir / f"prometheus-{attempt}.log"
            command = [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                *web_args,
            ]
            with log_file.open("wb") as log:
                process = subprocess.Popen(
                    command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, cwd=workdir
                )
            base_url = f"http://127.0.0.1:{port}"
            try:
                _wait_until_ready(process, base_url, log_file, timeout, ready_auth)
            except PrometheusError:
                stop_process(process)
                if attempt < attempts and "address already in use" in log_tail(log_file):
                    continue
                raise
            break
        try:
            yield PrometheusHandle(base_url=base_url, pid=process.pid, rule_files_dir=rules)
        finally:
            stop_process(process)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until_ready(
    process: subprocess.Popen, base_url: str, log_file: Path, timeout: float, auth: tuple[str, str] | None
) -> None:
    """Poll ``/-/ready``: it answers 200 once the configuration and its rule files are loaded."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        code = process.poll()
        if code is not None:
            raise PrometheusError(
                f"prometheus (pid {process.pid}) exited with code {code} before it was ready; "
                f"log:\n{log_tail(log_file)}"
            )
        try:
            if requests.get(f"{base_url}/-/ready", timeout=1, auth=auth).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise PrometheusError(
        f"prometheus (pid {process.pid}) was not ready within {timeout:g}s; log:\n{log_tail(log_file)}"
    )
