"""Local stand-ins for the mail server and Slack's webhook that count what arrives, for the email benchmark.

``running_smtp_server()``: a real SMTP server (aiosmtpd, as the tests use) on a free loopback
port that accepts everything and keeps, per message, only what the benchmark reports: who it
was for, its kind and team (the ``X-Readiness-*`` headers), its size and the session it came
by. ``running_slack_webhook()``: an HTTP server answering like Slack's incoming webhook ("ok")
that keeps each post's body. Both run on a thread of the calling process, so the measured
process (a child) pays only the client's side.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.parser import BytesHeaderParser
from email.policy import default as default_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

KIND_HEADER, TEAM_HEADER = "X-Readiness-Kind", "X-Readiness-Team"


@dataclass(frozen=True)
class Received:
    """One message as the server accepted it, for one recipient."""

    recipient: str
    kind: str
    team: str
    size: int
    session: tuple[str, int]


@dataclass
class Mailbox:
    """What the SMTP server accepted; an aiosmtpd handler."""

    received: list[Received] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd's name)
        # Headers only: parsing whole messages here would take the measured process's cores.
        headers = BytesHeaderParser(policy=default_policy).parsebytes(envelope.original_content)
        size = len(envelope.original_content)
        with self._lock:
            for recipient in envelope.rcpt_tos:
                kind, team = str(headers[KIND_HEADER] or ""), str(headers[TEAM_HEADER] or "")
                self.received.append(Received(recipient.lower(), kind, team, size, tuple(session.peer)))
        return "250 2.0.0 OK"

    def deliveries(self) -> Counter[tuple[str, str, str]]:
        """How many times each (kind, team, recipient) arrived: 1 each when exactly once."""
        with self._lock:
            return Counter((message.kind, message.team, message.recipient) for message in self.received)

    def sessions(self) -> int:
        with self._lock:
            return len({message.session for message in self.received})

    def largest(self) -> int:
        with self._lock:
            return max((message.size for message in self.received), default=0)

    def clear(self) -> None:
        with self._lock:
            self.received.clear()


@contextmanager
def running_smtp_server() -> Iterator[tuple[Mailbox, int]]:
    """An SMTP server on a free loopback port: the mailbox it fills and the port."""
    from aiosmtpd.controller import Controller

    # aiosmtpd logs every command at INFO: thousands of lines a run, and the harness's CPU, for nothing.
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    mailbox, port = Mailbox(), free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield mailbox, port
    finally:
        controller.stop()


class SlackWebhook(BaseHTTPRequestHandler):
    """Answers every post "ok", as Slack's incoming webhook does, keeping its body (``posts``)."""

    posts: list[dict[str, Any]]

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.posts.append(body)
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: Any) -> None:  # quiet: the benchmark prints its own lines
        pass


@contextmanager
def running_slack_webhook() -> Iterator[tuple[list[dict[str, Any]], str]]:
    """A Slack webhook receiver on a free loopback port: the list of bodies it received, and its base URL."""
    posts: list[dict[str, Any]] = []
    handler = type("BenchmarkSlackWebhook", (SlackWebhook,), {"posts": posts})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield posts, f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
