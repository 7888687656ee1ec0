"""A real Prometheus (Debian package ``prometheus``) serving the sample organisation's rules.

One server per session on a free loopback port, started and stopped here. Without the
binary the tests that need it skip on a developer machine and fail in CI (``unavailable``).
"""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
import requests

from oncall_readiness.sandbox.prometheus import INSTALL_HINT, find_prometheus, find_promtool, running_prometheus


@pytest.fixture(scope="session")
def prometheus_server():
    """The session's server, or None when no binary is installed (see ``prometheus``)."""
    if not find_prometheus():
        yield None
        return
    with running_prometheus() as handle:
        yield handle


@pytest.fixture
def prometheus(prometheus_server, unavailable):
    if prometheus_server is None:
        unavailable(f"the prometheus binary is not installed: {INSTALL_HINT}")
    return prometheus_server


@pytest.fixture
def promtool(unavailable):
    binary = find_promtool()
    if not binary:
        unavailable(f"promtool is not installed: {INSTALL_HINT}")
    return binary


@dataclass
class Front:
    """A tiny HTTP front: answers from ``script`` first, then forwards GETs to ``upstream``."""

    upstream: str
    script: list[tuple[int, dict[str, str], bytes]] = field(default_factory=list)
    seen: list[dict[str, str]] = field(default_factory=list)  # request headers, in order
    url: str = ""


@pytest.fixture
def front(prometheus) -> Iterator[Front]:
    """A front to the session's Prometheus that can fail, rate-limit or record headers."""
    state = Front(upstream=prometheus.base_url)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (the stdlib's name)
            state.seen.append(dict(self.headers))
            if state.script:
                status, headers, body = state.script.pop(0)
            else:
                answer = requests.get(state.upstream + self.path, timeout=10)
                status, headers, body = answer.status_code, {"Content-Type": "application/json"}, answer.content
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
