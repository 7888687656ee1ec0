"""The UI's Test button for a saved readiness connection, on Airflow releases without apache/airflow#73298.

Airflow 3.3.2's connection list posts ``port: Number(connection.port)`` to
``POST /api/v2/connections/test``: ``0`` for the NULL port every readiness connection has (the
port, if any, is part of the host URL). The API takes ``0`` for another destination than the
stored NULL and answers 400 ("The host or port to test differs from the stored connection")
before any hook runs. Airflow fixes that in the API after 3.3.2 (apache/airflow#73298: ``0``
means "no port", as a blank does); :class:`PortlessConnectionTest` is the same normalisation,
applied only to the readiness connection types, as a root middleware of the readiness plugin.

It only turns ``port: 0`` into ``port: null`` for a ``readiness_*`` connection: the API's own
check that a test aimed at another host or port brings its own credentials still runs, so the
stored credentials are never sent anywhere else. Remove it once the deployed Airflow has the fix.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

TEST_PATH = "/api/v2/connections/test"
CONN_TYPE_PREFIX = "readiness_"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Asgi = Callable[[Scope, Receive, Send], Awaitable[None]]


def portless(body: bytes) -> bytes:
    """``body`` with ``port: 0`` made ``null`` when it tests a readiness connection; else unchanged."""
    try:
        test = json.loads(body)
    except ValueError:  # not JSON: the API answers it as it would
        return body
    if (
        not isinstance(test, dict)
        or not str(test.get("conn_type") or "").startswith(CONN_TYPE_PREFIX)
        or test.get("port") != 0
        or isinstance(test.get("port"), bool)
    ):
        return body
    return json.dumps({**test, "port": None}).encode()


class PortlessConnectionTest:
    """ASGI middleware: a readiness connection's test with ``port: 0`` reaches the API as ``port: null``."""

    def __init__(self, app: Asgi) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or not str(scope["path"]).endswith(TEST_PATH):
            await self.app(scope, receive, send)
            return
        body = await _whole_body(receive)
        sent = portless(body)
        headers = [(name, value) for name, value in scope["headers"] if name.lower() != b"content-length"]
        headers.append((b"content-length", str(len(sent)).encode()))
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:  # the body is read; what follows is the client's disconnect
                return await receive()
            replayed = True
            return {"type": "http.request", "body": sent, "more_body": False}

        await self.app({**scope, "headers": headers}, replay, send)


async def _whole_body(receive: Receive) -> bytes:
    chunks, more = [], True
    while more:
        message = await receive()
        if message["type"] != "http.request":  # the client left before sending it all
            break
        chunks.append(message.get("body", b""))
        more = bool(message.get("more_body"))
    return b"".join(chunks)
