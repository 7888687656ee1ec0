"""Run the sandbox server as a subprocess (tests, the demo): ``running_sandbox()``."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .pagerduty import RateLimit
from .server import CONFLUENCE_PREFIX, GITHUB_PREFIX, GRAFANA_PREFIX, PAGERDUTY_PREFIX, TOKEN_ENV, default_token


class SandboxError(RuntimeError):
    """The sandbox process did not start (the message carries its stderr)."""


@dataclass(frozen=True)
class SandboxHandle:
    base_url: str  # e.g. http://127.0.0.1:54321
    token: str
    pid: int

    @property
    def pagerduty_url(self) -> str:
        """Base URL of the PagerDuty emulator (what a client uses instead of api.pagerduty.com)."""
        return self.base_url + PAGERDUTY_PREFIX

    @property
    def grafana_url(self) -> str:
        """Base URL of the Grafana emulator (what a client uses instead of https://grafana.example.com)."""
        return self.base_url + GRAFANA_PREFIX

    @property
    def github_url(self) -> str:
        """Base URL of the GitHub emulator (what a client uses instead of https://api.github.com)."""
        return self.base_url + GITHUB_PREFIX

    @property
    def confluence_url(self) -> str:
        """Base URL of the Confluence emulator (the site, like https://example.atlassian.net)."""
        return self.base_url + CONFLUENCE_PREFIX


@contextmanager
def running_sandbox(
    *,
    pagerduty_state: str | Path | Mapping[str, Any] | None = None,
    token: str | None = None,
    rate_limit: RateLimit | str | None = None,
    fail_next: int = 0,
    timeout: float = 30.0,
    grafana_state: str | Path | Mapping[str, Any] | None = None,
    github_state: str | Path | Mapping[str, Any] | None = None,
    confluence_state: str | Path | Mapping[str, Any] | None = None,
) -> Iterator[SandboxHandle]:
    """Start ``python -m oncall_readiness.sandbox`` on a free loopback port; stop it on exit.

    ``pagerduty_state``, ``grafana_state``, ``github_state`` and ``confluence_state`` are YAML
    paths or state mappings (default: the sample organisation). The token reaches the process
    through its environment, not its argv.
    """
    token = token or default_token()
    with tempfile.TemporaryDirectory(prefix="readiness-sandbox-") as tmp:
        workdir = Path(tmp)
        ready_file, stderr_file = workdir / "ready", workdir / "stderr.log"
        command = [sys.executable, "-m", "oncall_readiness.sandbox"]
        command += ["--host", "127.0.0.1", "--port", "0", "--ready-file", str(ready_file)]
        command += _state_args(pagerduty_state, workdir)
        command += _state_args(grafana_state, workdir, name="grafana")
        command += _state_args(github_state, workdir, name="github")
        command += _state_args(confluence_state, workdir, name="confluence")
        if rate_limit is not None:
            limit = RateLimit.parse(rate_limit) if isinstance(rate_limit, str) else rate_limit
            command += ["--rate-limit", f"{limit.requests}/{limit.per_seconds:g}"]
        if fail_next:
            command += ["--fail-next", str(fail_next)]
        env = {**os.environ, TOKEN_ENV: token}
        with stderr_file.open("wb") as stderr:
            process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr, env=env
            )
        try:
            base_url = _wait_until_ready(process, ready_file, stderr_file, timeout)
            yield SandboxHandle(base_url=base_url, token=token, pid=process.pid)
        finally:
            stop_process(process)


def _state_args(state: str | Path | Mapping[str, Any] | None, workdir: Path, name: str = "pagerduty") -> list[str]:
    if state is None:
        return []
    if isinstance(state, Mapping):
        path = workdir / f"{name}.yaml"
        path.write_text(yaml.safe_dump(dict(state), sort_keys=False), encoding="utf-8")
        state = path
    return [f"--{name}-state", str(state)]


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
