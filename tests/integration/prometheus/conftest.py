"""A real Prometheus (Debian package ``prometheus``) serving the sample organisation's rules.

One open server and one behind basic auth (user ``auditor``) per session, each on a free
loopback port, started and stopped here. Without the binary the tests that need them skip
on a developer machine and fail in CI (``unavailable``).
"""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
import requests

from readiness_sandbox.prometheus import (
    INSTALL_HINT,
    PrometheusHandle,
    find_prometheus,
    find_promtool,
    running_prometheus,
    sample_rules_dir,
)

AUDITOR = "auditor"
PASSWORD = "s3cret-prom-pass"
# bcrypt of PASSWORD (cost 10), as Prometheus's web.config.file wants it.
PASSWORD_HASH = "$2b$10$abcdefghijklmnopqrstuuR5S094A/WeOg2C5P2olL.UBFADgq3CG"


@dataclass(frozen=True)
class Protected:
    """A Prometheus that wants HTTP basic auth, and the login and password it accepts."""

    server: PrometheusHandle
    login: str = AUDITOR
    password: str = PASSWORD

    @property
    def base_url(self) -> str:
        return self.server.base_url


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


@pytest.fixture(scope="session")
def protected_server():
    """The session's server behind basic auth, or None when no binary is installed."""
    if not find_prometheus():
        yield None
        return
    web = {"basic_auth_users": {AUDITOR: PASSWORD_HASH}}
    with running_prometheus(sample_rules_dir(), web_config=web, ready_auth=(AUDITOR, PASSWORD)) as handle:
        yield Protected(handle)


@pytest.fixture
def protected_prometheus(protected_server, unavailable) -> Protected:
    if protected_server is None:
        unavailable(f"the prometheus binary is not installed: {INSTALL_HINT}")
    return protected_server


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
