"""The GitHub API client: REST calls and GraphQL queries, each within GitHub's rate limits.

REST (``get``): 5xx and 429 are retried by the session with backoff and ``Retry-After``;
a 403 that is a rate limit (``x-ratelimit-remaining: 0``, ``retry-after``, or a message
saying so) waits as asked (at most two minutes a time) and retries.

GraphQL (``graphql``): ``POST /graphql`` (``/api/graphql`` beside an Enterprise host's
``/api/v3``). GitHub spends points per query (5,000 an hour per token); the client keeps
what the last answer said remains (``rateLimit { cost remaining resetAt }``, else the
``x-ratelimit-*`` headers) and :meth:`GitHubClient.wait_for_points` sleeps until
``resetAt`` when the next query would cost more than that. A query GitHub refuses over
its primary limit (200 with a ``RATE_LIMITED`` error) waits for ``x-ratelimit-reset``; a
secondary limit (403 or 429) waits for ``retry-after`` (or the reset, or a minute); 500
and 503 back off; each is retried at most ``max_retries`` times. A query too large for
GitHub (``MAX_NODE_LIMIT_EXCEEDED``, ``RESOURCE_LIMITS_EXCEEDED``, or a 502/504 timeout)
raises :class:`QueryTooLarge` for the caller to split; a 404 raises
:class:`GraphQLUnavailable` (a host without GraphQL). No wait is longer than
``max_wait_seconds`` (an hour: GitHub's window); a longer one raises ``SourceError``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlparse

import requests

from oncall_readiness.errors import SourceError
from oncall_readiness.sources.http import ApiClient, max_retry_wait_seconds, raise_for_error

log = logging.getLogger(__name__)

SOURCE = "github"
API_URL = "https://api.github.com"
API_VERSION = "2022-11-28"
ACCEPT = "application/vnd.github+json"
ACCEPT_RAW = "application/vnd.github.raw+json"
APIS = ("graphql", "rest")
# Runbooks per GraphQL query: each costs one history connection, so 100 make one point.
DEFAULT_BATCH_SIZE = 100
MAX_BATCH_SIZE = 100
# Without a hint from GitHub, wait this long before retrying a secondary rate limit.
SECONDARY_LIMIT_WAIT_SECONDS = 60.0
MAX_POINTS_WAIT_SECONDS = 3600.0
TOO_LARGE = frozenset({"MAX_NODE_LIMIT_EXCEEDED", "RESOURCE_LIMITS_EXCEEDED"})


class GraphQLUnavailable(SourceError):
    """The host answers 404 at its GraphQL endpoint (a GitHub Enterprise host without GraphQL)."""


class QueryTooLarge(SourceError):
    """GitHub refused a query for its size (node or resource limit, or a timeout): send less per query."""


def graphql_url(base_url: str) -> str:
    """``https://api.github.com`` → ``.../graphql``; ``https://host/api/v3`` → ``https://host/api/graphql``."""
    base = base_url.rstrip("/")
    return f"{base.removesuffix('/v3')}/graphql" if base.endswith("/api/v3") else f"{base}/graphql"


class GitHubClient(ApiClient):
    """A read-only GitHub client: token auth, REST ``get`` and GraphQL ``graphql`` within the rate limits.

    ``api`` is how runbooks are read: ``graphql`` (many per query, the default) or ``rest``
    (two calls each); ``batch_size`` the runbooks per GraphQL query (1-100).
    """

    def __init__(
        self,
        token: str,
        *,
        base_url: str = API_URL,
        api: str = "graphql",
        batch_size: int = DEFAULT_BATCH_SIZE,
        max_retries: int = 6,
        backoff_factor: float = 0.5,
        max_wait_seconds: float = MAX_POINTS_WAIT_SECONDS,
    ) -> None:
        if not token:
            raise SourceError(f"{SOURCE}: no API token given")
        if api not in APIS:
            raise SourceError(f"{SOURCE}: api must be one of {', '.join(APIS)}, not {api!r}")
        if not 1 <= batch_size <= MAX_BATCH_SIZE:
            raise SourceError(f"{SOURCE}: the GraphQL batch size must be 1 to {MAX_BATCH_SIZE}, not {batch_size}")
        super().__init__(base_url, max_retries=max_retries, backoff_factor=backoff_factor)
        self.api, self.batch_size = api, batch_size
        self.backoff_factor, self.max_wait_seconds = backoff_factor, max_wait_seconds
        self.graphql_url = graphql_url(self.base_url)
        self.points_remaining: int | None = None  # as the last GraphQL answer said
        self.points_reset: float | None = None  # epoch seconds
        self.points_spent = 0
        self.waited_seconds = 0.0
        self.session.headers.update(
            {
                "Authorization": f"Bearer {token}",
                "Accept": ACCEPT,
                "X-GitHub-Api-Version": API_VERSION,
                "User-Agent": "oncall-readiness",
            }
        )

    # --- REST ----------------------------------------------------------------------------------

    def get(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        *,
        absent: Iterable[int] = (),
        headers: Mapping[str, str] | None = None,
    ) -> requests.Response:
        """One API call; a status in ``absent`` is returned for the caller to read, other errors raise."""
        self.requests_made += 1
        for attempt in range(self.max_retries + 1):
            response = self._send(path, params, headers=headers)
            wait = rate_limit_wait(response) if response.status_code == 403 else None
            if wait is None or attempt == self.max_retries:
                break
            self._sleep(wait, f"GitHub rate limit reached (HTTP {response.status_code})")
        if response.status_code not in set(absent):
            raise_for_error(response, SOURCE)
        return response

    # --- GraphQL -------------------------------------------------------------------------------

    def graphql(self, query: str, variables: Mapping[str, Any]) -> dict[str, Any]:
        """One GraphQL query (one request, however often retried): the answer's ``data`` and ``errors``."""
        self.requests_made += 1
        for attempt in range(self.max_retries + 1):
            response = self.session.post(
                self.graphql_url, json={"query": query, "variables": dict(variables)}, timeout=60
            )
            status = response.status_code
            if status == 404:
                raise GraphQLUnavailable(f"{SOURCE}: POST {_path(response)} answered 404: this host has no GraphQL API")
            if status in (502, 504):
                raise QueryTooLarge(f"{SOURCE}: POST {_path(response)} answered {status} (GitHub timed out)")
            wait, why = self._graphql_wait(response, attempt)
            if wait is None:
                raise_for_error(response, SOURCE)
                body: dict[str, Any] = response.json()
                self._note_points(response, body)
                too_large = _error_types(body) & TOO_LARGE
                if too_large and not body.get("data"):
                    raise QueryTooLarge(f"{SOURCE}: GitHub refused the query ({_error_text(body)})")
                return body
            if attempt == self.max_retries:
                break
            self._sleep(wait, why)
        raise SourceError(f"{SOURCE}: POST {_path(response)} still over a limit after {self.max_retries} retries")

    def _graphql_wait(self, response: requests.Response, attempt: int) -> tuple[float | None, str]:
        status = response.status_code
        if status in (403, 429):
            wait = rate_limit_wait(response)
            if wait is not None or status == 429:
                return (
                    wait if wait is not None else SECONDARY_LIMIT_WAIT_SECONDS,
                    f"GitHub GraphQL limit (HTTP {status})",
                )
        if status in (500, 503):
            return self.backoff_factor * 2**attempt, f"GitHub GraphQL answered {status}"
        if status == 200:
            try:
                body = response.json()
            except ValueError:
                return None, ""
            if "RATE_LIMITED" in _error_types(body):
                return self._until_reset(_reset_header(response)), "GitHub GraphQL points used up"
        return None, ""

    def wait_for_points(self, cost: int) -> None:
        """Sleep until the window resets when fewer than ``cost`` points remain (as last answered)."""
        if self.points_remaining is None or self.points_remaining >= cost:
            return
        wait = self._until_reset(self.points_reset)
        self._sleep(wait, f"{self.points_remaining} GraphQL points left, the next query costs {cost}", retry=False)
        self.points_remaining = None

    def _until_reset(self, reset: float | None) -> float:
        if reset is None:
            return SECONDARY_LIMIT_WAIT_SECONDS
        wait = reset - time.time() + 1.0  # a second past the reset: clocks differ
        if wait > self.max_wait_seconds:
            raise SourceError(f"{SOURCE}: the GraphQL rate limit resets in {wait:.0f} s, longer than this audit waits")
        return max(wait, 0.0)

    def _note_points(self, response: requests.Response, body: Mapping[str, Any]) -> None:
        rate = (body.get("data") or {}).get("rateLimit") if isinstance(body.get("data"), Mapping) else None
        if isinstance(rate, Mapping) and rate.get("remaining") is not None:
            self.points_remaining = int(rate["remaining"])
            self.points_spent += int(rate.get("cost") or 0)
            if rate.get("resetAt"):
                self.points_reset = datetime.fromisoformat(str(rate["resetAt"]).replace("Z", "+00:00")).timestamp()
            return
        remaining = response.headers.get("x-ratelimit-remaining", "").strip()
        if remaining.isdigit():
            self.points_remaining = int(remaining)
            self.points_reset = _reset_header(response)

    def _sleep(self, seconds: float, why: str, *, retry: bool = True) -> None:
        """Wait ``seconds``; ``retry``: the wait is before repeating a refused request (counted in ``retries``)."""
        self.retries += 1 if retry else 0
        self.waited_seconds += seconds
        log.info("%s: waiting %.1f s", why, seconds)
        time.sleep(seconds)


def rate_limit_wait(response: requests.Response) -> float | None:
    """Seconds to wait before retrying a 403/429 that is GitHub's rate limit; None for anything else."""
    headers = response.headers
    retry_after = headers.get("retry-after", "").strip()
    if retry_after.isdigit():
        return min(float(retry_after), max_retry_wait_seconds())
    if headers.get("x-ratelimit-remaining") == "0":
        reset = _reset_header(response)
        seconds = reset - time.time() if reset is not None else SECONDARY_LIMIT_WAIT_SECONDS
        return min(max(seconds, 1.0), max_retry_wait_seconds())
    try:
        message = str(response.json().get("message", ""))
    except (ValueError, AttributeError):
        message = ""
    return SECONDARY_LIMIT_WAIT_SECONDS if "rate limit" in message.lower() else None


def _reset_header(response: requests.Response) -> float | None:
    reset = response.headers.get("x-ratelimit-reset", "").strip()
    return float(reset) if reset.isdigit() else None


def _error_types(body: Any) -> set[str]:
    errors = body.get("errors") if isinstance(body, Mapping) else None
    return {str(error.get("type")) for error in errors or [] if isinstance(error, Mapping)}


def _error_text(body: Mapping[str, Any]) -> str:
    return "; ".join(f"{e.get('type') or 'error'}: {e.get('message')}" for e in body.get("errors") or [])


def _path(response: requests.Response) -> str:
    return urlparse(response.url).path
