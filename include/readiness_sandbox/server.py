"""The sandbox server: one FastAPI app with each emulator mounted under its own prefix.

``python -m readiness_sandbox --port 0 --ready-file PATH`` binds a free port, then
writes the base URL (``http://127.0.0.1:54321``) to the ready file and prints it. Every
emulator of ``emulators.EMULATORS`` answers under ``<base URL>/<source>`` (``/pagerduty``,
``/grafana``, ...), over the sample organisation unless ``--<source>-state`` names another
state file. ``--latency-ms`` is the least round trip of every emulator request, the emulator's
work inside it (default 0), and the server counts them by endpoint at ``/_sandbox/requests``
(``traffic.py``; the benchmark reads them). SIGTERM or SIGINT stop it.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import sys
from collections.abc import Collection, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI

from .emulators import EMULATORS, StateError
from .faults import Faults, parse_fault_option
from .rate_limit import RateLimit
from .traffic import ASGIApp, Traffic

TOKEN_ENV = "READINESS_SANDBOX_TOKEN"
# Keys that read but may not write (space-separated), like PagerDuty's read-only API keys.
READ_ONLY_TOKENS_ENV = "READINESS_SANDBOX_READ_ONLY_TOKENS"
DEFAULT_TOKEN = "sandbox-token"


def default_token() -> str:
    """``$READINESS_SANDBOX_TOKEN``, else ``sandbox-token``."""
    return os.environ.get(TOKEN_ENV) or DEFAULT_TOKEN


def build_app(
    states: Mapping[str, Any],
    *,
    tokens: Collection[str],
    read_only_tokens: Collection[str] = (),
    rate_limit: RateLimit | None = None,
    fail_next: int = 0,
    source_rate_limits: Mapping[str, RateLimit] | None = None,
) -> FastAPI:
    """The root app: each emulator of ``states`` (source name -> its state) under its prefix.

    Each emulator keeps its own rate-limit counters and injected faults. ``source_rate_limits``
    overrides ``rate_limit`` for the sources it names. ``read_only_tokens`` are keys every
    emulator accepts for reading and refuses for writing (PagerDuty's notes).
    """
    root = FastAPI(title="oncall-readiness sandbox", docs_url=None, redoc_url=None, openapi_url=None)
    mounted = {}
    for source, state in states.items():
        emulator = EMULATORS[source]
        limit = (source_rate_limits or {}).get(source, rate_limit)
        app = emulator.app(
            state, tokens=tokens, read_only_tokens=read_only_tokens, rate_limit=limit, fail_next=fail_next
        )
        root.mount(emulator.prefix, app)
        mounted[source] = emulator.prefix

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


def serve(app: FastAPI | ASGIApp, *, host: str, port: int, ready_file: Path | None = None) -> None:
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
        prog="python -m readiness_sandbox",
        description="Serve local emulators of the audited SaaS APIs, each under /<source>.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to bind; 0 picks a free one")
    for source, emulator in EMULATORS.items():
        parser.add_argument(
            f"--{source}-state",
            type=Path,
            default=emulator.sample_state,
            help=f"{emulator.title} state YAML, served under {emulator.prefix} (default: {emulator.sample_state})",
        )
    parser.add_argument(
        "--token",
        action="append",
        default=None,
        help=f"accepted API token, repeatable (default: ${TOKEN_ENV}, space-separated tokens, or {DEFAULT_TOKEN!r})",
    )
    parser.add_argument(
        "--rate-limit",
        type=RateLimit.parse,
        default=None,
        metavar="N/SECONDS",
        help="requests per window for each token, per emulator (default 960/60, like PagerDuty)",
    )
    parser.add_argument(
        "--source-rate-limit",
        type=_source_rate_limit,
        action="append",
        default=[],
        metavar="SOURCE=N/SECONDS",
        help="the rate limit of one emulator, over --rate-limit and its default (repeatable)",
    )
    parser.add_argument(
        "--fail-next",
        type=int,
        default=0,
        metavar="N",
        help="answer the first N authenticated requests of each emulator with 503",
    )
    parser.add_argument(
        "--latency-ms",
        type=float,
        default=0.0,
        metavar="MS",
        help=(
            "answer every emulator request MS milliseconds after it arrived at the soonest, the emulator's own "
            "work counting inside them, like a SaaS API's round trip across the internet (default 0)"
        ),
    )
    parser.add_argument(
        "--record-requests",
        action="store_true",
        help="keep every emulator request (method, path, query, body; no headers) for GET /_sandbox/requests?log=true",
    )
    parser.add_argument("--ready-file", type=Path, default=None, help="file to write the base URL to once listening")
    parser.add_argument(  # faults.py: also set and cleared at run time through /_sandbox/faults
        "--fault", type=parse_fault_option, action="append", default=[], metavar="SOURCE=KIND", help="inject a fault"
    )
    return parser.parse_args(argv)


def _source_rate_limit(text: str) -> tuple[str, RateLimit]:
    """``grafana=100000/1`` -> ("grafana", RateLimit(100000, 1))."""
    source, _, limit = text.partition("=")
    if source not in EMULATORS:
        raise argparse.ArgumentTypeError(f"no emulator {source!r} (known: {', '.join(EMULATORS)})")
    try:
        return source, RateLimit.parse(limit)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse_args(argv)
    try:
        states = {source: emulator.load(getattr(args, f"{source}_state")) for source, emulator in EMULATORS.items()}
    except StateError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    app = build_app(
        states,
        tokens=args.token or default_token().split(),  # the variable may hold several, space-separated
        read_only_tokens=os.environ.get(READ_ONLY_TOKENS_ENV, "").split(),
        rate_limit=args.rate_limit,
        fail_next=args.fail_next,
        source_rate_limits=dict(args.source_rate_limit),
    )
    # Counted and faulted by the first segment of the path: each emulator's prefix (the source's name, or
    # `backstage` for the registry's catalog API).
    sources = [emulator.prefix.strip("/") for emulator in EMULATORS.values()]
    counted = Traffic(app, sources=sources, latency=args.latency_ms / 1000, record=args.record_requests)
    faulted = Faults(counted, sources=sources, faults=dict(args.fault))  # outermost: it may reset the socket
    serve(faulted, host=args.host, port=args.port, ready_file=args.ready_file)
    return 0
