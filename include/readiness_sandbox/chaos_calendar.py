"""A local emulator of a published iCalendar feed: the Chaos Day calendar, one ``.ics`` file.

Calendars publish a feed the way Google Calendar ("secret address in iCal format"), Outlook
("publish a calendar": an ICS link) and Confluence Team Calendars ("subscribe") do: a plain
``GET`` of one file holding every event, ``text/calendar; charset=utf-8``. ``create_app(state,
tokens=...)`` answers:

- ``GET /calendars/chaos-days.ics`` (:data:`FEED_PATH`): the feed behind HTTP Basic auth, any
  user with a password from ``tokens``; 401 with ``WWW-Authenticate: Basic`` otherwise;
- ``GET /calendars/private-<token>/chaos-days.ics`` (:func:`secret_path`): the same feed at
  its secret address, without auth: the path is the credential (an unknown one answers 404,
  as Google does);
- an ``ETag`` on the feed, and 304 to a matching ``If-None-Match``.

Each credential gets a rate limit (429 with ``Retry-After``), and ``fail_next`` answers the
next N authorised requests with 503, for retry tests. Errors are short ``text/plain`` bodies.
The state is the ``.ics`` file itself (``load_feed``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import time as _time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse, Response

from .rate_limit import DEFAULT_RATE_LIMIT, RateLimit, RateLimiter

__all__ = ["FEED_PATH", "SANDBOX_LOGIN", "FeedState", "FeedStateError", "create_app", "load_feed", "secret_path"]

FEED_PATH = "/calendars/chaos-days.ics"
SANDBOX_LOGIN = "readiness-audit"
CALENDAR_TYPE = "text/calendar; charset=utf-8"


class FeedStateError(ValueError):
    """The feed file is not an iCalendar file; the message names it."""


@dataclass(frozen=True)
class FeedState:
    """The bytes served as the feed (served as they are: a test may serve something broken)."""

    content: bytes
    content_type: str = CALENDAR_TYPE

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha256(self.content).hexdigest()[:32] + '"'


def load_feed(path: Path) -> FeedState:
    """The feed file, checked to parse as iCalendar."""
    from icalendar import Calendar

    content = Path(path).read_bytes()
    try:
        Calendar.from_ical(content)
    except ValueError as error:
        raise FeedStateError(f"{path} is not an iCalendar file: {error}") from None
    return FeedState(content)


def secret_path(token: str) -> str:
    """The feed's secret address below the emulator's prefix, like Google's ``private-<key>/basic.ics``."""
    return f"/calendars/private-{token}/chaos-days.ics"


def _basic_password(request: Request) -> str | None:
    header = request.headers.get("authorization", "").strip()
    if not header.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    _, sep, password = decoded.partition(":")
    return password if sep else None


class _FeedEmulator:
    def __init__(self, state: FeedState, limiter: RateLimiter, fail_next: int):
        self.state, self.limiter, self.fail_next = state, limiter, fail_next

    def answer(self, request: Request, credential: str) -> Response:
        allowed, headers = self.limiter.hit(credential)
        if not allowed:
            return PlainTextResponse(
                "Too many requests", status_code=429, headers={"Retry-After": headers["Retry-After"]}
            )
        if self.fail_next > 0:
            self.fail_next -= 1
            return PlainTextResponse("Service Unavailable (fault injected by the emulator)", status_code=503)
        etag = self.state.etag
        if etag in {tag.strip() for tag in request.headers.get("if-none-match", "").split(",")}:
            return Response(status_code=304, headers={"ETag": etag})
        return Response(self.state.content, media_type=self.state.content_type, headers={"ETag": etag})


def create_app(
    state: FeedState | bytes | str,
    *,
    tokens: Collection[str],
    rate_limit: RateLimit | None = None,
    fail_next: int = 0,
    clock: Callable[[], float] = _time.monotonic,
) -> FastAPI:
    """The feed emulator over ``state`` (a ``FeedState``, or the feed's bytes or text).

    - ``tokens``: the basic-auth passwords accepted, and the keys of the secret addresses;
    - ``rate_limit``: requests per window for each credential (default 960 per 60 s);
    - ``fail_next``: answer the next N authorised requests with 503 (``app.state.chaos_calendar``).
    """
    if not isinstance(state, FeedState):
        state = FeedState(state.encode("utf-8") if isinstance(state, str) else bytes(state))
    emulator = _FeedEmulator(state, RateLimiter(rate_limit or DEFAULT_RATE_LIMIT, clock), fail_next)
    allowed = frozenset(tokens)

    app = FastAPI(title="iCalendar feed emulator", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.chaos_calendar = emulator

    @app.get(FEED_PATH)
    def feed(request: Request) -> Response:
        password = _basic_password(request)
        if password is None or password not in allowed:
            return PlainTextResponse(
                "Unauthorized", status_code=401, headers={"WWW-Authenticate": 'Basic realm="Chaos Days"'}
            )
        return emulator.answer(request, password)

    @app.get(secret_path("{key}"))
    def secret_feed(key: str, request: Request) -> Response:
        if key not in allowed:
            return PlainTextResponse("Not Found", status_code=404)
        return emulator.answer(request, key)

    return app
