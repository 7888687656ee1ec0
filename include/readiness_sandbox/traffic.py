"""What every emulator gets from the sandbox server: a round-trip latency, and requests counted.

``Traffic`` wraps the root app (pure ASGI, so it adds no thread hop). Each request below an
emulator's prefix is answered no sooner than ``latency`` seconds after it arrived
(``--latency-ms``: a SaaS API's round trip seen from a data centre, not loopback; it blocks no
other request). That round trip already holds the real server's own work, so the emulator's
work counts inside it: a request the emulator answers in 5 ms is held back until the latency
has passed, one that takes longer than the latency is not padded further. Each request is
counted by source, method, endpoint and status, the endpoint being the path with every
segment that holds a digit folded to ``{id}`` (``/grafana/api/teams/{id}/members``), with the
seconds the emulator spent answering them (its own CPU and waiting, without the wait for the
latency: the share of a client's wall time that comes from this machine's emulator rather
than from the round trip it stands for). The counts are what the benchmark compares with the
minimum each API allows, so they are taken where the requests arrive, not trusted from the
clients. ``GET /_sandbox/requests`` answers them (``?reset=true`` also starts the counts
afresh); it is not counted, not delayed and needs no token.

With ``record=True`` (``--record-requests``) each emulator request is also kept in arrival
order, as sent (method, path, query string and body, never its headers), with the status it
got and when it arrived and was answered (``perf_counter`` seconds of the sandbox: only their
differences mean something), and ``?log=true`` adds them to the answer: the benchmark sends
them again with a client that does nothing else, and reads the time between them, to tell
this machine's share of a collect's time from the audit's.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Collection, MutableMapping
from typing import Any
from urllib.parse import parse_qs

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

COUNTS_PATH = "/_sandbox/requests"
_HAS_DIGIT = re.compile(r"\d")
# Deeper paths (a file inside a repository) fold into their first segments: the endpoint is enough.
MAX_ENDPOINT_SEGMENTS = 6


def endpoint(path: str) -> str:
    """``/grafana/api/teams/42/members`` -> ``/grafana/api/teams/{id}/members``."""
    segments = [segment for segment in path.split("/") if segment][:MAX_ENDPOINT_SEGMENTS]
    return "/" + "/".join("{id}" if _HAS_DIGIT.search(segment) else segment for segment in segments)


class Traffic:
    """ASGI middleware: each emulator request answered ``latency`` seconds after it arrived or later, and counted."""

    def __init__(self, app: ASGIApp, *, sources: Collection[str], latency: float = 0.0, record: bool = False):
        if latency < 0:
            raise ValueError(f"latency must be >= 0 seconds, got {latency}")
        self.app, self.sources, self.latency, self.record = app, frozenset(sources), latency, record
        self._counts: Counter[tuple[str, str, str, int]] = Counter()
        self._seconds: Counter[tuple[str, str, str, int]] = Counter()
        self._log: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def counts(self, *, reset: bool = False) -> list[dict[str, Any]]:
        """Every (source, method, endpoint, status) seen, with its number of requests and server seconds."""
        with self._lock:
            rows = [
                {
                    "source": key[0],
                    "method": key[1],
                    "endpoint": key[2],
                    "status": key[3],
                    "requests": n,
                    "server_seconds": round(self._seconds[key], 3),
                }
                for key, n in sorted(self._counts.items())
            ]
            if reset:
                self._counts.clear()
                self._seconds.clear()
        return rows

    def log(self, *, reset: bool = False) -> list[dict[str, Any]]:
        """The requests recorded since the last reset, in arrival order (empty unless recording)."""
        with self._lock:
            log = list(self._log)
            if reset:
                self._log.clear()
        return log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        if path == COUNTS_PATH:
            await self._answer_counts(scope, send)
            return
        source = path.split("/", 2)[1] if path.count("/") >= 1 else ""
        if source not in self.sources:
            await self.app(scope, receive, send)
            return
        status = 500  # what the client sees when the app raises before answering
        arrived = time.perf_counter()
        entry: dict[str, Any] = {}
        if self.record:
            entry, receive = self._recorded(source, scope, receive)
            entry["arrived"] = arrived
        held = 0.0  # seconds spent waiting for the latency, not the emulator's own
        settled = False

        def settle() -> None:
            """Count the request (and log its end) once, before the client can read the end of its answer."""
            nonlocal settled
            if settled:
                return
            settled, answered = True, time.perf_counter()
            entry.update(status=status, answered=answered)
            key = (source, scope["method"], endpoint(path), status)
            with self._lock:
                self._counts[key] += 1
                self._seconds[key] += answered - arrived - held

        async def send_counted(message: Message) -> None:
            nonlocal status, held
            if message["type"] == "http.response.start":
                status = message["status"]
                held = await self._hold_until(arrived + self.latency)
            elif not message.get("more_body", False):
                settle()
            await send(message)

        try:
            await self.app(scope, receive, send_counted)
        finally:
            settle()  # when the app raised before its answer was complete

    def _recorded(self, source: str, scope: Scope, receive: Receive) -> tuple[dict[str, Any], Receive]:
        """The request's log entry (in arrival order), and a ``receive`` that fills in its body as the app reads it."""
        query = scope.get("query_string", b"").decode("latin-1")
        entry = {"source": source, "method": scope["method"], "path": scope["path"], "query": query, "body": ""}
        body = bytearray()
        with self._lock:
            self._log.append(entry)

        async def receive_recorded() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                body.extend(message.get("body", b""))
                entry["body"] = body.decode("utf-8", errors="replace")
            return message

        return entry, receive_recorded

    @staticmethod
    async def _hold_until(moment: float) -> float:
        """Wait until ``moment`` (``perf_counter`` seconds) unless it has passed; the seconds waited."""
        waiting_from = time.perf_counter()
        if moment <= waiting_from:
            return 0.0
        await asyncio.sleep(moment - waiting_from)
        return time.perf_counter() - waiting_from

    async def _answer_counts(self, scope: Scope, send: Send) -> None:
        query = parse_qs(scope.get("query_string", b"").decode())
        reset, with_log = (query.get(name, ["false"])[-1].lower() in ("1", "true", "yes") for name in ("reset", "log"))
        answer: dict[str, Any] = {"latency_ms": self.latency * 1000, "requests": self.counts(reset=reset)}
        log = self.log(reset=reset)
        if with_log:
            answer["log"] = log
        body = json.dumps(answer).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})
