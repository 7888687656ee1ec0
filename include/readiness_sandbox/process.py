"""Run the sandbox server as a subprocess (tests, the demo): ``running_sandbox()``."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
import yaml

from .emulators import EMULATORS, connections
from .rate_limit import RateLimit
from .server import READ_ONLY_TOKENS_ENV, TOKEN_ENV, default_token
from .traffic import COUNTS_PATH

State = str | Path | Mapping[str, Any]


class SandboxError(RuntimeError):
    """The sandbox process did not start (the message carries its stderr)."""


@dataclass(frozen=True)
class SandboxHandle:
    base_url: str  # e.g. http://127.0.0.1:54321
    token: str
    pid: int

    def url(self, source: str) -> str:
        """Base URL of a source's emulator (what its client uses instead of, say, api.pagerduty.com)."""
        return self.base_url + EMULATORS[source].prefix

    def connections(self) -> dict[str, dict[str, str]]:
        """Source name -> the Airflow connection fields that aim its hook at this sandbox."""
        return connections(self.base_url, self.token)

    def request_counts(self, *, reset: bool = False) -> list[dict[str, Any]]:
        """The requests the emulators received: {source, method, endpoint, status, requests} rows."""
        response = requests.get(self.base_url + COUNTS_PATH, params={"reset": "true" if reset else "false"}, timeout=30)
        response.raise_for_status()
        return response.json()["requests"]

    def request_log(self, *, reset: bool = False) -> list[dict[str, Any]]:
        """The emulator requests in arrival order (source, method, path, query, body, status, arrived, answered).

        Empty unless the sandbox was started with ``record_requests``.
        """
        params = {"log": "true", "reset": "true" if reset else "false"}
        response = requests.get(self.base_url + COUNTS_PATH, params=params, timeout=30)
        response.raise_for_status()
        return response.json()["log"]


@contextmanager
def running_sandbox(
    *,
    states: Mapping[str, State] | None = None,
    token: str | None = None,
    read_only_tokens: Sequence[str] = (),
    rate_limit: RateLimit | str | None = None,
    fail_next: int = 0,
    latency_ms: float = 0.0,
    source_rate_limits: Mapping[str, RateLimit | str] | None = None,
    record_requests: bool = False,
    timeout: float = 30.0,
) -> Iterator[SandboxHandle]:
    """Start ``python -m readiness_sandbox`` on a free loopback port; stop it on exit.

    ``states`` maps a source name to a state YAML path or a state mapping; every other
    emulator serves the sample organisation. The token reaches the process through its
    environment, not its argv. ``latency_ms`` is every emulator request's least round trip, the
    emulator's work inside it (the benchmark's stand-in for a SaaS API's round trip);
    ``SandboxHandle.request_counts`` reads what arrived.
    ``source_rate_limits`` sets one emulator's rate limit (``{"grafana": "100000/1"}``).
    ``record_requests`` keeps every emulator request for ``SandboxHandle.request_log``.
    ``read_only_tokens``: keys accepted for reading only (a PagerDuty note posted with one is 403).
    """
    token = token or default_token()
    with tempfile.TemporaryDirectory(prefix="readiness-sandbox-") as tmp:
        workdir = Path(tmp)
        ready_file, stderr_file = workdir / "ready", workdir / "stderr.log"
        command = [sys.executable, "-m", "readiness_sandbox"]
        command += ["--host", "127.0.0.1", "--port", "0", "--ready-file", str(ready_file)]
        for source, state in (states or {}).items():
            command += [f"--{source}-state", str(_state_file(source, state, workdir))]
        if rate_limit is not None:
            limit = RateLimit.parse(rate_limit) if isinstance(rate_limit, str) else rate_limit
            command += ["--rate-limit", f"{limit.requests}/{limit.per_seconds:g}"]
        if fail_next:
            command += ["--fail-next", str(fail_next)]
        for source, limit in (source_rate_limits or {}).items():
            limit = RateLimit.parse(limit) if isinstance(limit, str) else limit
            command += ["--source-rate-limit", f"{source}={limit.requests}/{limit.per_seconds:g}"]
        if latency_ms:
            command += ["--latency-ms", f"{latency_ms:g}"]
        if record_requests:
            command.append("--record-requests")
        env = {**os.environ, TOKEN_ENV: token, READ_ONLY_TOKENS_ENV: " ".join(read_only_tokens)}
        with stderr_file.open("wb") as stderr:
            process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr, env=env
            )
        try:
            base_url = _wait_until_ready(process, ready_file, stderr_file, timeout)
            yield SandboxHandle(base_url=base_url, token=token, pid=process.pid)
        finally:
            stop_process(process)


def _state_file(source: str, state: State, workdir: Path) -> Path:
    if source not in EMULATORS:
        raise ValueError(f"no emulator for source {source!r} (known: {', '.join(EMULATORS)})")
    if isinstance(state, Mapping):
        path = workdir / f"{source}.yaml"
        path.write_text(yaml.safe_dump(dict(state), sort_keys=False), encoding="utf-8")
        return path
    return Path(state)


def _wait_until_ready(process: subprocess.Popen, ready_file: Path, stderr_file: Path, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready_file.exists():
            base_url = ready_file.read_text(encoding="utf-8").strip()
            if base_url:
                return base_url
        code = process.poll()
        if code is not None:
            raise SandboxError(
                f"sandbox process {process.pid} exited with code {code} before it was ready; "
                f"stderr:\n{log_tail(stderr_file)}"
            )
        time.sleep(0.05)
    raise SandboxError(
        f"sandbox process {process.pid} was not ready within {timeout:g}s; stderr:\n{log_tail(stderr_file)}"
    )


def log_tail(path: Path, limit: int = 4000) -> str:
    """The end of a child process's log, for an error message."""
    text = path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""
    return text[-limit:] or "(empty)"


def stop_process(process: subprocess.Popen) -> None:
    """SIGTERM to this pid only, then SIGKILL if it has not exited within 10 s."""
    if process.poll() is None:
        process.terminate()  # SIGTERM to this pid only
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
