"""A local emulator of the PagerDuty REST API v2, serving a YAML-described account.

``create_app(state, tokens=...)`` returns a FastAPI app answering the endpoints the
readiness audit uses (the GET endpoints, the two Analytics POSTs and incident notes), with
PagerDuty's object shapes (from its OpenAPI spec), classic and cursor pagination, ``[]``
array parameters, token auth, per-token rate limiting and error bodies.
``load_pagerduty_state(path)`` reads and validates the state file (see ``parse_state``).

This module assembles the app and guards every request (token auth, rate limit, injected
faults, API version). The rest lives beside it in this package: ``protocol`` (error bodies,
query parameters, pagination), ``handlers`` (the endpoints), ``analytics`` and
``interruptions`` (Analytics: interruptions, hours, time on call), ``notes`` (incident
notes), ``render`` (the JSON objects), ``state`` (the state file: its format, loading and
validation, with its per-section readers in ``state_sections`` and ``state_incidents``),
``model`` and ``schedules`` (the account and its rendered schedules); ``rate_limit`` (shared
by every emulator) is the sandbox's.
"""

from __future__ import annotations

import re
import time as _time
from collections.abc import Callable, Collection, Mapping
from datetime import datetime
from operator import attrgetter
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..json_answers import answered_as_json
from ..rate_limit import DEFAULT_RATE_LIMIT, RateLimit, RateLimiter
from .handlers import ROUTES, PagerDutyEmulator
from .protocol import (
    CODE_AUTH_FAILED,
    CODE_INTERNAL,
    CODE_INVALID_INPUT,
    CODE_RATE_LIMITED,
    ApiError,
    not_found,
)
from .schedules import UTC
from .state import PagerDutyState, StateError, load_pagerduty_state, parse_state

__all__ = [
    "DEFAULT_RATE_LIMIT",
    "PagerDutyState",
    "RateLimit",
    "StateError",
    "create_app",
    "load_pagerduty_state",
    "parse_state",
]

# The other emulators (grafana/app.py) import the limiter under this name.
_RateLimiter = RateLimiter

DEFAULT_HTML_BASE_URL = "https://sandbox.pagerduty.invalid"
_TOKEN_HEADER = re.compile(r"Token token=(\S+)")
_ACCEPT_VERSION = re.compile(r"application/vnd\.pagerduty\+json\s*;\s*version\s*=\s*([^\s,;]+)")


def create_app(
    state: Mapping[str, Any] | PagerDutyState,
    *,
    tokens: Collection[str],
    read_only_tokens: Collection[str] = (),
    rate_limit: RateLimit | None = None,
    fail_next: int = 0,
    html_base_url: str = DEFAULT_HTML_BASE_URL,
    clock: Callable[[], float] = _time.monotonic,
    now: Callable[[], datetime] | None = None,
) -> FastAPI:
    """The PagerDuty REST API v2 emulator over ``state`` (a state mapping or parsed state).

    - ``tokens``: the API keys accepted in ``Authorization: Token token=<KEY>``;
    - ``read_only_tokens``: keys accepted too, that may read but not write (PagerDuty's read-only
      API keys): a note posted with one is ``403 Access Denied``, as PagerDuty answers;
    - ``rate_limit``: requests per window for each token (default 960 per 60 s);
    - ``fail_next``: answer the next N authenticated requests with 503 (retry tests);
      change it later through ``app.state.pagerduty.fail_next``;
    - ``clock`` (monotonic seconds, for rate limits) and ``now`` (aware datetime, the
      default for since/until) can be replaced in tests.
    """
    parsed = state if isinstance(state, PagerDutyState) else parse_state(state)
    emulator = PagerDutyEmulator(
        parsed,
        html_base_url=html_base_url.rstrip("/"),
        fail_next=fail_next,
        now=now or (lambda: datetime.now(UTC)),
    )
    limiter = RateLimiter(rate_limit or DEFAULT_RATE_LIMIT, clock)
    read_only = frozenset(read_only_tokens)
    allowed_tokens = frozenset(tokens) | read_only

    app = FastAPI(title="PagerDuty REST API v2 emulator", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.pagerduty = emulator
    for method, path, handler in ROUTES:
        app.add_api_route(path, answered_as_json(attrgetter(handler)(emulator)), methods=[method])

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return exc.response()

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 404:
            return not_found().response()
        return ApiError(exc.status_code, str(exc.detail), CODE_INVALID_INPUT).response()

    @app.middleware("http")
    async def _guard(request: Request, call_next):
        match = _TOKEN_HEADER.fullmatch(request.headers.get("authorization", "").strip())
        if not match or match.group(1) not in allowed_tokens:
            return ApiError(401, "Authentication failed", CODE_AUTH_FAILED).response()
        request.state.read_only = match.group(1) in read_only
        allowed, headers = limiter.hit(match.group(1))
        if not allowed:
            return ApiError(429, "Rate Limit Exceeded", CODE_RATE_LIMITED).response(headers)
        if emulator.fail_next > 0:
            emulator.fail_next -= 1
            message = "Service Unavailable (fault injected by the emulator)"
            return ApiError(503, message, CODE_INTERNAL).response(headers)
        version = _ACCEPT_VERSION.search(request.headers.get("accept", ""))
        if version and version.group(1) != "2":
            problem = f"unsupported API version {version.group(1)!r}; this is version 2"
            return ApiError(406, "Not Acceptable", CODE_INVALID_INPUT, [problem]).response(headers)
        response = await call_next(request)
        response.headers.update(headers)
        return response

    return app
