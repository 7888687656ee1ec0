"""An ASGI app served in a thread of this process: the fault proxy, and tests that need a real socket."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from .traffic import ASGIApp


@contextmanager
def serving_in_thread(app: ASGIApp, *, start_timeout: float = 10.0) -> Iterator[str]:
    """``app`` on a free loopback port, served by uvicorn in a daemon thread: yields its base URL."""
    import uvicorn  # the sandbox's own process imports it; callers of faults.py alone may not need it

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + start_timeout
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        if not server.started:
            raise RuntimeError(f"uvicorn did not start serving {app!r} within {start_timeout:g} s")
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
