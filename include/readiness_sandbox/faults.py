"""Faults the sandbox injects per source, to prove an audit survives what real APIs do.

``Faults`` wraps the sandbox's root app (pure ASGI, outermost, so it sees uvicorn's own
``send``). A fault is set per source and stays until cleared; every request below that
source's prefix then meets it:

- ``rate_limited``: 429 with ``Retry-After`` (option ``retry_after``, default 1 second);
- ``server_error``: 500; ``unavailable``: 503;
- ``read_timeout``: the answer comes only after ``seconds`` (default 5): longer than a client
  with a shorter timeout waits;
- ``connection_reset``: the socket is closed with a TCP reset, no response at all;
- ``malformed_json``: the real answer cut in half (JSON that does not parse, a calendar
  without its end);
- ``schema_drift``: one field the collector needs (option ``field``, default
  ``DRIFTED_FIELDS[source]``) removed from every object of the answer (a calendar loses
  that property's lines);
- ``truncated_page``: the last page of a listing loses its last item but still claims to be
  complete (``more: false``, the same ``total``, no next link, Jira's ``isLast: true``; a
  calendar loses its last event).

Control (no token, never delayed or faulted): ``PUT /_sandbox/faults/<source>`` with
``{"fault": "...", ...options}``, ``DELETE /_sandbox/faults/<source>`` (or
``/_sandbox/faults`` for all), ``GET /_sandbox/faults``. ``python -m readiness_sandbox
--fault SOURCE=KIND`` starts with one set. Prometheus is real, not emulated: ``fault_proxy``
serves ``Faults`` over a proxy to it, under ``/prometheus``, with the same control routes.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import struct
from collections import Counter
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from typing import Any

import requests

from .in_thread import serving_in_thread
from .traffic import ASGIApp, Message, Receive, Scope, Send

CONTROL_PATH = "/_sandbox/faults"
FAULTS = (
    "rate_limited",
    "server_error",
    "unavailable",
    "read_timeout",
    "connection_reset",
    "malformed_json",
    "schema_drift",
    "truncated_page",
)
# The field each source's collector needs, removed by ``schema_drift`` unless another is named.
DRIFTED_FIELDS = {
    "pagerduty": "email",  # of users: who is on call cannot be matched to people
    "grafana": "uid",  # of dashboards: they cannot be opened
    "github": "committedDate",  # of a runbook's last commit: its age is unknown
    "confluence": "version",  # of pages: their age is unknown
    "chaos_calendar": "DTSTART",  # of events: when a Chaos Day was is unknown
    "prometheus": "annotations",  # of alert rules: their runbook links are gone
    "jsm_ops": "emailAddress",  # of the site's users: who is on call cannot be matched to people
    "jira": "duedate",  # of issues: whether an action is overdue is unknown
}
STATUS_FAULTS = {"rate_limited": 429, "server_error": 500, "unavailable": 503}
REWRITE_FAULTS = frozenset({"malformed_json", "schema_drift", "truncated_page"})
_NEXT_PAGE_KEYS = ("next", "nextLink", "next_page", "nextPageToken")
_PAGING_PARAMS = re.compile(rb"(^|&)(offset|limit|page|start|cursor|per_page|perpage)=")


class Faults:
    """ASGI middleware: the fault set for a source applied to every request below its prefix."""

    def __init__(self, app: ASGIApp, *, sources: Collection[str], faults: dict[str, dict] | None = None):
        self.app, self.sources = app, frozenset(sources)
        self.active: dict[str, dict[str, Any]] = {}
        # Answers each source's fault changed (a truncation finds no listing to cut in most answers).
        self.applied: Counter[str] = Counter()
        for source, spec in (faults or {}).items():
            self.set(source, spec)

    def set(self, source: str, spec: dict[str, Any]) -> None:
        if source not in self.sources:
            raise ValueError(f"no source {source!r} (known: {', '.join(sorted(self.sources))})")
        if spec.get("fault") not in FAULTS:
            raise ValueError(f"unknown fault {spec.get('fault')!r} (known: {', '.join(FAULTS)})")
        self.active[source] = dict(spec)
        self.applied[source] = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        if path == CONTROL_PATH or path.startswith(CONTROL_PATH + "/"):
            await self._control(scope, receive, send)
            return
        source = path.split("/", 2)[1] if path.count("/") >= 1 else ""
        spec = self.active.get(source)
        if spec is None:
            await self.app(scope, receive, send)
            return
        if spec["fault"] in REWRITE_FAULTS:
            await _rewritten(self.app, scope, receive, send, _rewriter(spec, source, scope), self._count(source))
            return
        self.applied[source] += 1  # before: a client that gave up may cut the answer short
        await _inject(spec, self.app, scope, receive, send)

    def _count(self, source: str):
        def count() -> None:
            self.applied[source] += 1

        return count

    async def _control(self, scope: Scope, receive: Receive, send: Send) -> None:
        source = scope["path"].removeprefix(CONTROL_PATH).strip("/")
        method = scope["method"]
        try:
            if method in ("PUT", "POST") and source:
                self.set(source, json.loads(await _read_body(receive) or b"{}"))
            elif method == "DELETE":
                self.active.pop(source, None) if source else self.active.clear()
            elif method != "GET":
                raise ValueError(f"{method} is not allowed here")
        except ValueError as error:
            await _answer(send, 400, {"error": str(error)})
            return
        await _answer(send, 200, {"faults": self.active, "applied": dict(self.applied)})


async def _inject(spec: dict[str, Any], app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
    """Answer with a fault that needs no answer of the emulator's (or only a late one)."""
    fault = spec["fault"]
    if fault in STATUS_FAULTS:
        status = STATUS_FAULTS[fault]
        headers = {"retry-after": str(spec.get("retry_after", 1))} if status == 429 else {}
        await _answer(send, status, {"error": {"message": f"injected fault: {fault}"}}, headers)
    elif fault == "connection_reset":
        await _reset_connection(send)
    else:  # read_timeout
        await asyncio.sleep(float(spec.get("seconds", 5)))
        await app(scope, receive, send)


def _rewriter(spec: dict[str, Any], source: str, scope: Scope):
    return lambda body, kind: _rewrite(spec["fault"], spec, source, scope, body, kind)


async def _reset_connection(send: Send) -> None:
    """Close the client's socket with a TCP reset; without uvicorn's transport at hand, a 500 instead."""
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    if transport is None:
        raise RuntimeError("injected connection_reset: no transport to reset, answered 500")
    sock = transport.get_extra_info("socket")
    if sock is not None:  # SO_LINGER 0: close() sends RST, not FIN
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()
    await asyncio.sleep(0)  # let uvicorn see the connection lost, so it sends nothing more


async def _rewritten(app: ASGIApp, scope: Scope, receive: Receive, send: Send, rewrite, on_changed) -> None:
    """Run the app, buffer its answer, and send ``rewrite(body, content_type)`` instead.

    ``on_changed()`` runs before the answer is sent when the rewrite changed it: the app may go on
    after its answer, and a client that has read the answer may already be asking what changed.
    """
    start: Message = {}
    chunks: list[bytes] = []

    async def buffer(message: Message) -> None:
        nonlocal start
        if message["type"] == "http.response.start":
            start = dict(message)
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                headers = dict(start.get("headers", []))
                body = b"".join(chunks)
                if 200 <= start.get("status", 500) < 300:
                    original, body = body, rewrite(body, headers.get(b"content-type", b"").decode("latin-1"))
                    if body != original:
                        on_changed()
                headers[b"content-length"] = str(len(body)).encode()
                await send({**start, "headers": list(headers.items())})
                await send({"type": "http.response.body", "body": body})

    await app(scope, receive, buffer)


def _rewrite(fault: str, spec: dict[str, Any], source: str, scope: Scope, body: bytes, kind: str) -> bytes:
    if fault == "malformed_json":
        return body[: len(body) // 2]
    if "calendar" in kind or body.lstrip().startswith(b"BEGIN:VCALENDAR"):
        return _rewrite_calendar(fault, spec.get("field", DRIFTED_FIELDS.get(source, "")), body)
    try:
        data = json.loads(body)
    except ValueError:
        return body
    before = json.dumps(data)
    if fault == "schema_drift":
        _drop_field(data, spec.get("field", DRIFTED_FIELDS.get(source, "")))
    elif fault == "truncated_page" and _is_last_page(data, scope):
        listing = _longest_listing(data)
        if listing:
            listing.pop()
    after = json.dumps(data)
    return body if after == before else after.encode()


def _drop_field(data: Any, field: str) -> None:
    if isinstance(data, dict):
        data.pop(field, None)
        values = data.values()
    elif isinstance(data, list):
        values = data
    else:
        return
    for value in values:
        _drop_field(value, field)


def _is_last_page(data: Any, scope: Scope) -> bool:
    """A page of a listing that announces no next page (PagerDuty ``more``, a next link, GraphQL ``pageInfo``)."""
    headers = dict(scope.get("headers", []))
    paged = (
        bool(_PAGING_PARAMS.search(scope.get("query_string", b"")))
        or isinstance(data, dict)
        and bool({"more", "total", "totalCount", "results", "isLast"} & set(data))
    )
    text = json.dumps(data)
    announces_next = (
        (isinstance(data, dict) and data.get("more") is True)
        or '"hasNextPage": true' in text
        or any(f'"{key}": "' in text for key in _NEXT_PAGE_KEYS)
        or b'rel="next"' in headers.get(b"link", b"")
    )
    return bool(paged or '"pageInfo"' in text) and not announces_next


def _longest_listing(data: Any) -> list | None:
    """The longest list of objects anywhere in the answer (the page's items)."""
    best: list | None = None
    stack = [data]
    while stack:
        item = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        if isinstance(item, list) and item and all(isinstance(x, dict) for x in item):
            best = item if best is None or len(item) > len(best) else best
        stack.extend(children)
    return best


def _rewrite_calendar(fault: str, field: str, body: bytes) -> bytes:
    text = body.decode("utf-8", errors="replace")
    lines = text.replace("\r\n ", "").split("\r\n")  # unfolded: one property per line
    if fault == "schema_drift":
        lines = [line for line in lines if not re.match(rf"{re.escape(field)}[;:]", line)]
    elif fault == "truncated_page" and "END:VEVENT" in lines:
        last_end = len(lines) - 1 - lines[::-1].index("END:VEVENT")
        last_begin = max(i for i, line in enumerate(lines[:last_end]) if line == "BEGIN:VEVENT")
        del lines[last_begin : last_end + 1]
    return "\r\n".join(lines).encode()


async def _read_body(receive: Receive) -> bytes:
    body, more = b"", True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    return body


async def _answer(send: Send, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
    body = json.dumps(payload).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(name.encode(), value.encode()) for name, value in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


def parse_fault_option(text: str) -> tuple[str, dict[str, Any]]:
    """``--fault pagerduty=server_error`` -> ("pagerduty", {"fault": "server_error"})."""
    source, _, fault = text.partition("=")
    if fault not in FAULTS:
        raise ValueError(f"unknown fault {fault!r} (known: {', '.join(FAULTS)})")
    return source, {"fault": fault}


def set_fault(base_url: str, source: str, fault: str | None, **options: Any) -> int:
    """Set (or, with ``fault=None``, clear) the fault of ``source`` in a running sandbox or proxy.

    Returns how many answers the fault being replaced had changed.
    """
    url = f"{base_url.rstrip('/')}{CONTROL_PATH}/{source}"
    applied = requests.get(f"{base_url.rstrip('/')}{CONTROL_PATH}", timeout=10).json()["applied"].get(source, 0)
    if fault is None:
        response = requests.delete(url, timeout=10)
    else:
        response = requests.put(url, json={"fault": fault, **options}, timeout=10)
    response.raise_for_status()
    return applied


# --- Prometheus: the real server behind a faulting proxy ---------------------------------------


class Proxy:
    """ASGI app: ``/<prefix>/<path>`` forwarded to ``upstream`` + ``/<path>`` (GETs; query kept)."""

    def __init__(self, upstream: str, prefix: str):
        self.upstream, self.prefix = upstream.rstrip("/"), f"/{prefix}"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        import httpx

        path = scope["path"].removeprefix(self.prefix)
        query = scope.get("query_string", b"").decode()
        headers = {k.decode(): v.decode() for k, v in scope["headers"] if k.lower() not in (b"host", b"content-length")}
        async with httpx.AsyncClient(timeout=60) as client:
            upstream = await client.request(
                scope["method"], f"{self.upstream}{path}" + (f"?{query}" if query else ""), headers=headers
            )
        kept = [
            (k.encode(), v.encode())
            for k, v in upstream.headers.items()
            if k.lower() not in ("content-length", "content-encoding", "transfer-encoding", "connection")
        ]
        body = upstream.content
        kept.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": upstream.status_code, "headers": kept})
        await send({"type": "http.response.body", "body": body})


@contextmanager
def fault_proxy(upstream: str, *, source: str = "prometheus") -> Iterator[str]:
    """A faulting proxy to ``upstream`` on a free loopback port, in a thread: yields its base URL.

    The source is served under ``<base URL>/<source>``; faults are set with ``set_fault(base URL, ...)``.
    """
    with serving_in_thread(Faults(Proxy(upstream, source), sources=[source])) as base_url:
        yield base_url
