"""The sandbox server: one FastAPI app with each emulator mounted under its own prefix.

``python -m oncall_readiness.sandbox --port 0 --ready-file PATH`` binds a free port, then
writes the base URL (``http://127.0.0.1:54321``) to the ready file and prints it. The
PagerDuty emulator answers under ``<base URL>/pagerduty``, the Grafana one under
``<base URL>/grafana``, GitHub under ``<base URL>/github`` and Confluence under
``<base URL>/confluence``. SIGTERM or SIGINT stop it.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import sys
from collections.abc import Collection, Iterator, Sequence
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI

import oncall_readiness

from .confluence import ConfluenceState, ConfluenceStateError, load_confluence_state
from .confluence import create_app as create_confluence_app
from .github import GitHubState, GitHubStateError, load_github_state
from .github import create_app as create_github_app
from .grafana import GrafanaState, load_grafana_state
from .grafana import StateError as GrafanaStateError
from .grafana import create_app as create_grafana_app
from .grafana import parse_state as parse_grafana_state
from .pagerduty import (
    PagerDutyState,
    RateLimit,
    StateError,
    create_app,
    load_pagerduty_state,
    parse_state,
)

TOKEN_ENV = "READINESS_SANDBOX_TOKEN"
DEFAULT_TOKEN = "sandbox-token"
PAGERDUTY_PREFIX = "/pagerduty"
GRAFANA_PREFIX = "/grafana"
GITHUB_PREFIX = "/github"
CONFLUENCE_PREFIX = "/confluence"


def default_pagerduty_state_path() -> Path:
    """The sample organisation's PagerDuty account (``include/sample_org/pagerduty.yaml``)."""
    return Path(oncall_readiness.__file__).parents[1] / "sample_org" / "pagerduty.yaml"


def default_grafana_state_path() -> Path:
    """The sample organisation's Grafana instance (``include/sample_org/grafana.yaml``)."""
    return Path(oncall_readiness.__file__).parents[1] / "sample_org" / "grafana.yaml"


def default_github_state_path() -> Path:
    """The sample organisation's runbook repositories (``include/sample_org/github.yaml``)."""
    return Path(oncall_readiness.__file__).parents[1] / "sample_org" / "github.yaml"


def default_confluence_state_path() -> Path:
    """The sample organisation's Confluence site (``include/sample_org/confluence.yaml``)."""
    return Path(oncall_readiness.__file__).parents[1] / "sample_org" / "confluence.yaml"


def default_token() -> str:
    """``$READINESS_SANDBOX_TOKEN``, else ``sandbox-token``."""
    return os.environ.get(TOKEN_ENV) or DEFAULT_TOKEN


def build_app(
    *,
    pagerduty_state: PagerDutyState,
    tokens: Collection[str],
    rate_limit: RateLimit | None = None,
    fail_next: int = 0,
    grafana_state: GrafanaState | None = None,
    github_state: GitHubState | None = None,
    confluence_state: ConfluenceState | None = None,
) -> FastAPI:
    """The root app: emulators mounted under their prefixes (only ``/pagerduty`` so far)."""
    root = FastAPI(title="oncall-readiness sandbox", docs_url=None, redoc_url=None, openapi_url=None)
    pagerduty = create_app(pagerduty_state, tokens=tokens, rate_limit=rate_limit, fail_next=fail_next)
    root.mount(PAGERDUTY_PREFIX, pagerduty)
    mounted = {"pagerduty": PAGERDUTY_PREFIX}
    if grafana_state is not None:  # Grafana: its own rate-limit counters and injected faults
        grafana = create_grafana_app(grafana_state, tokens=tokens, rate_limit=rate_limit, fail_next=fail_next)
        root.mount(GRAFANA_PREFIX, grafana)
        mounted["grafana"] = GRAFANA_PREFIX
    if github_state is not None:  # rate limit and faults from its state unless given here
        root.mount(
            GITHUB_PREFIX, create_github_app(github_state, tokens=tokens, rate_limit=rate_limit, fail_next=fail_next)
        )
        mounted["github"] = GITHUB_PREFIX
    if confluence_state is not None:
        confluence = create_confluence_app(confluence_state, tokens=tokens, rate_limit=rate_limit, fail_next=fail_next)
        root.mount(CONFLUENCE_PREFIX, confluence)
        mounted["confluence"] = CONFLUENCE_PREFIX

    @root.get("/")
    def index() -> dict[str, Any]:
        return {"emulators": mounted}

    return root


class _Server(uvicorn.Server):
    """uvicorn.Server that reports when it listens and leaves signal handling to ``serve``."""

    def __init__(self, config: uvicorn.Config, on_started):
        super().__init__(config)
        self._on_started = on_started

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started:
            self._on_started()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def serve(app: FastAPI, *, host: str, port: int, ready_file: Path | None = None) -> None:
    """Serve ``app`` until SIGTERM/SIGINT; announce the base URL once listening."""
    sock = _bind(host, port)
    base_url = _base_url(host, sock.getsockname()[1])
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    server = _Server(config, on_started=lambda: _announce(base_url, ready_file))

    def stop(signum: int, frame: Any) -> None:
        if server.should_exit:
            server.force_exit = True
        server.should_exit = True

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        server.run(sockets=[sock])
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        sock.close()
        if ready_file is not None:
            ready_file.unlink(missing_ok=True)


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    return sock


def _base_url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _announce(base_url: str, ready_file: Path | None) -> None:
    if ready_file is not None:
        tmp = ready_file.with_name(f".{ready_file.name}.{os.getpid()}.tmp")
        tmp.write_text(base_url + "\n", encoding="utf-8")
        os.replace(tmp, ready_file)
    print(base_url, flush=True)


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m oncall_readiness.sandbox",
        description="Serve local emulators of the audited SaaS APIs (PagerDuty under /pagerduty).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to bind; 0 picks a free one")
    parser.add_argument(
        "--pagerduty-state",
        type=Path,
        default=None,
        help=f"PagerDuty state YAML (default: {default_pagerduty_state_path()})",
    )
    parser.add_argument(
        "--grafana-state",
        type=Path,
        default=None,
        help=f"Grafana state YAML (default: {default_grafana_state_path()})",
    )
    parser.add_argument(
        "--github-state",
        type=Path,
        default=None,
        help=f"GitHub state YAML, served under /github (default: {default_github_state_path()})",
    )
    parser.add_argument(
        "--confluence-state",
        type=Path,
        default=None,
        help=f"Confluence state YAML, served under /confluence (default: {default_confluence_state_path()})",
    )
    parser.add_argument(
        "--token",
        action="append",
        default=None,
        help=f"accepted API token, repeatable (default: ${TOKEN_ENV} or {DEFAULT_TOKEN!r})",
    )
    parser.add_argument(
        "--rate-limit",
        type=RateLimit.parse,
        default=None,
        metavar="N/SECONDS",
        help="requests per window for each token, per emulator (default 960/60, like PagerDuty)",
    )
    parser.add_argument(
        "--fail-next",
        type=int,
        default=0,
        metavar="N",
        help="answer the first N authenticated requests of each emulator with 503",
    )
    parser.add_argument(
        "--ready-file",
        type=Path,
        default=None,
        help="file to write the base URL to once listening",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse_args(argv)
    state_path = args.pagerduty_state or default_pagerduty_state_path()
    try:
        state = parse_state(load_pagerduty_state(state_path), source=str(state_path))
    except (OSError, StateError) as exc:
        print(f"error: cannot load the PagerDuty state: {exc}", file=sys.stderr)
        return 2
    grafana_path = args.grafana_state or default_grafana_state_path()
    try:
        grafana_state = parse_grafana_state(load_grafana_state(grafana_path), source=str(grafana_path))
    except (OSError, GrafanaStateError) as exc:
        print(f"error: cannot load the Grafana state: {exc}", file=sys.stderr)
        return 2
    github_path = args.github_state or default_github_state_path()
    confluence_path = args.confluence_state or default_confluence_state_path()
    try:
        github_state = load_github_state(github_path)
        confluence_state = load_confluence_state(confluence_path)
    except (OSError, GitHubStateError, ConfluenceStateError) as exc:
        print(f"error: cannot load the runbook hosts' state: {exc}", file=sys.stderr)
        return 2
    app = build_app(
        github_state=github_state,
        confluence_state=confluence_state,
        grafana_state=grafana_state,
        pagerduty_state=state,
        tokens=args.token or [default_token()],
        rate_limit=args.rate_limit,
        fail_next=args.fail_next,
    )
    serve(app, host=args.host, port=args.port, ready_file=args.ready_file)
    return 0
