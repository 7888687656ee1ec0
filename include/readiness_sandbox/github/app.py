"""A local emulator of the GitHub REST API (read-only): the commits and contents of runbook repositories.

``create_app(state, tokens=...)`` answers, like ``api.github.com`` (REST API version
2022-11-28, docs.github.com/rest):

- ``GET /repos/{owner}/{repo}/commits?sha=&path=&since=&until=&per_page=&page=``: newest
  first, ``per_page`` at most 100 (default 30), pagination in the ``Link`` header
  (``rel="next"``, ``"last"``, and ``"first"``/``"prev"`` past page 1), ``[]`` when the
  path has no history, 404 ``{"message": "Not Found"}`` for an unknown repository,
  404 ``No commit found for SHA`` for an unknown ref, 409 for an empty repository;
  ``since``/``until`` filter on the committer date (both inclusive);
- ``GET /repos/{owner}/{repo}/contents/{path}?ref=``: a file as ``{"type": "file",
  "encoding": "base64", "content", "sha", ...}`` (files over 1 MB come with ``encoding:
  "none"`` and empty content, as on GitHub; ``Accept: application/vnd.github.raw+json``
  gives the raw text), a folder as a list of entries, 404 for a missing path;
- ``GET /rate_limit``: the token's quota (not counted against it, as on GitHub);
- ``POST /graphql``: the GraphQL API for the runbook reads, with its point costs, node
  limits and errors (``graphql``; its own points limit, not the REST one).

Authentication is ``Authorization: Bearer <token>`` or ``token <token>``: a missing header
answers 401 ``Requires authentication`` (every sandbox repository is private; GitHub
itself would answer 404 for a private repository), a wrong token 401 ``Bad credentials``.
``X-GitHub-Api-Version`` other than 2022-11-28 answers 400. Every answer carries
``x-ratelimit-limit``, ``-remaining``, ``-used``, ``-reset`` (epoch seconds) and
``-resource``; over the limit the answer is 403 (or 429) ``API rate limit exceeded``
with ``x-ratelimit-remaining: 0``, plus ``retry-after`` when configured.

The state (repositories, their commits and the ``emulator`` settings) is read and validated
by ``state``, whose docstring describes its YAML format; ``render`` shapes the
JSON of commits and contents. This module holds the rate limiter, the handlers and the app.
"""

from __future__ import annotations

import math
import re
import threading
import time as _time
from collections.abc import Callable, Collection, Mapping
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..rate_limit import RateLimit
from .graphql import PointsLimiter, answer_query
from .render import commit_json, entry_json, wrapped_base64
from .state import (
    DEFAULT_RATE_LIMIT,
    Commit,
    EmulatorSettings,
    GitHubState,
    GitHubStateError,
    Person,
    Repository,
    load_github_state,
    parse_state,
)

__all__ = [
    "DEFAULT_RATE_LIMIT",
    "ApiError",
    "Commit",
    "EmulatorSettings",
    "GitHubState",
    "GitHubStateError",
    "Person",
    "Repository",
    "create_app",
    "load_github_state",
    "parse_state",
]

API_VERSION = "2022-11-28"
DEFAULT_PER_PAGE = 30
MAX_PER_PAGE = 100
MAX_CONTENT_BYTES = 1024 * 1024  # larger files come without content (encoding "none")
DOCS = "https://docs.github.com/rest"
DOCS_COMMITS = f"{DOCS}/commits/commits#list-commits"
DOCS_CONTENTS = f"{DOCS}/repos/contents#get-repository-content"
DOCS_RATE_LIMITS = f"{DOCS}/using-the-rest-api/rate-limits-for-the-rest-api"
RAW_MEDIA_TYPES = ("application/vnd.github.raw+json", "application/vnd.github.raw", "application/vnd.github.v3.raw")


class ApiError(Exception):
    """An error answered with GitHub's body ``{"message", "documentation_url", "status"}``."""

    def __init__(self, status: int, message: str, documentation_url: str = DOCS):
        super().__init__(message)
        self.status, self.message, self.documentation_url = status, message, documentation_url

    def response(self, headers: Mapping[str, str] | None = None) -> JSONResponse:
        body = {"message": self.message, "documentation_url": self.documentation_url, "status": str(self.status)}
        return JSONResponse(body, status_code=self.status, headers=dict(headers or {}))


# --- rate limiting ---------------------------------------------------------------------------


class _RateLimiter:
    """GitHub's primary rate limit: a fixed window per token that resets at a whole epoch second."""

    def __init__(self, limit: RateLimit, clock: Callable[[], float]):
        self.limit, self.clock = limit, clock
        self._windows: dict[str, tuple[int, int]] = {}  # token -> (reset epoch, used)
        self._lock = threading.Lock()

    def _window(self, token: str, now: float) -> tuple[int, int]:
        reset, used = self._windows.get(token, (0, 0))
        if now >= reset:
            reset, used = math.ceil(now + self.limit.per_seconds), 0
        return reset, used

    def hit(self, token: str) -> tuple[bool, dict[str, str]]:
        with self._lock:
            now = self.clock()
            reset, used = self._window(token, now)
            allowed = used < self.limit.requests
            used += 1 if allowed else 0
            self._windows[token] = (reset, used)
        return allowed, self._headers(reset, used)

    def peek(self, token: str) -> dict[str, Any]:
        with self._lock:
            reset, used = self._window(token, self.clock())
        return {"limit": self.limit.requests, "used": used, "remaining": self.limit.requests - used, "reset": reset}

    def _headers(self, reset: int, used: int) -> dict[str, str]:
        return {
            "x-ratelimit-limit": str(self.limit.requests),
            "x-ratelimit-remaining": str(max(0, self.limit.requests - used)),
            "x-ratelimit-used": str(used),
            "x-ratelimit-reset": str(reset),
            "x-ratelimit-resource": "core",
        }


# --- the emulator ----------------------------------------------------------------------------


class _GitHubEmulator:
    def __init__(self, state: GitHubState, *, fail_next: int):
        self.state, self.fail_next = state, fail_next

    @staticmethod
    def api_base(request: Request) -> str:
        base = request.url.replace(path=request.scope.get("root_path", ""), query="", fragment="")
        return str(base).rstrip("/")

    def _repository(self, owner: str, repo: str, docs: str) -> Repository:
        repository = self.state.repository(owner, repo)
        if repository is None:
            raise ApiError(404, "Not Found", docs)
        return repository

    def list_commits(self, request: Request, owner: str, repo: str) -> Response:
        repository = self._repository(owner, repo, DOCS_COMMITS)
        params = request.query_params
        if not repository.commits:
            raise ApiError(409, "Git Repository is empty.", DOCS_COMMITS)
        head = repository.resolve(params.get("sha") or None)
        if head is None:
            raise ApiError(404, f"No commit found for SHA: {params.get('sha')}", DOCS_COMMITS)
        path = (params.get("path") or "").strip("/")
        since, until = _time_param(params, "since"), _time_param(params, "until")
        history = [
            commit
            for commit in reversed(repository.commits[: head + 1])
            if (not path or any(p == path or p.startswith(path + "/") for p in commit.changed))
            and (since is None or commit.committed_at >= since)
            and (until is None or commit.committed_at <= until)
        ]
        per_page = min(max(_int_param(params, "per_page", DEFAULT_PER_PAGE), 1), MAX_PER_PAGE)
        page = max(_int_param(params, "page", 1), 1)
        last = max(1, math.ceil(len(history) / per_page))
        chunk = history[(page - 1) * per_page : page * per_page]
        api = self.api_base(request)
        headers = {}
        link = _link_header(request, page, last)
        if link:
            headers["Link"] = link
        return JSONResponse([commit_json(repository, c, api) for c in chunk], headers=headers)

    def get_contents(self, request: Request, owner: str, repo: str, path: str = "") -> Response:
        repository = self._repository(owner, repo, DOCS_CONTENTS)
        ref = request.query_params.get("ref") or None
        index = repository.resolve(ref)
        if index is None:
            if not repository.commits:
                raise ApiError(404, "This repository is empty.", DOCS_CONTENTS)
            raise ApiError(404, f"No commit found for the ref {ref}", DOCS_CONTENTS)
        tree = repository.commits[index].tree
        path = path.strip("/")
        ref_name = ref or repository.default_branch
        api = self.api_base(request)
        if path in tree:
            return self._file(request, repository, path, tree[path], ref_name, api)
        prefix = f"{path}/" if path else ""
        children = sorted({p[len(prefix) :].split("/", 1)[0] for p in tree if p.startswith(prefix)})
        if not children:
            raise ApiError(404, "Not Found", DOCS_CONTENTS)
        entries = []
        for child in children:
            child_path = prefix + child
            kind = "file" if child_path in tree else "dir"
            entries.append(entry_json(repository, child_path, kind, ref_name, api, tree.get(child_path)))
        return JSONResponse(entries)

    def _file(self, request: Request, repository: Repository, path: str, text: str, ref: str, api: str) -> Response:
        accept = request.headers.get("accept", "")
        if any(media in accept for media in RAW_MEDIA_TYPES):
            return Response(text.encode("utf-8"), media_type="text/plain; charset=utf-8")
        body = entry_json(repository, path, "file", ref, api, text)
        data = text.encode("utf-8")
        if len(data) > MAX_CONTENT_BYTES:
            body.update(encoding="none", content="")
        else:
            body.update(encoding="base64", content=wrapped_base64(data))
        return JSONResponse(body)


def _time_param(params: Mapping[str, str], name: str) -> datetime | None:
    value = params.get(name)
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(422, f"Invalid value for parameter '{name}': {value!r} is not an ISO 8601 timestamp") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def _int_param(params: Mapping[str, str], name: str, default: int) -> int:
    value = params.get(name)
    if value in (None, ""):
        return default
    try:
        return int(value)
    except ValueError:
        raise ApiError(422, f"Invalid value for parameter '{name}': {value!r} is not an integer") from None


def _link_header(request: Request, page: int, last: int) -> str | None:
    """GitHub's ``Link``: next and last while there are more pages, prev and first after page 1."""
    if last <= 1:
        return None

    def url(n: int) -> str:
        return str(request.url.include_query_params(page=n))

    links = []
    if page < last:
        links += [f'<{url(page + 1)}>; rel="next"', f'<{url(last)}>; rel="last"']
    if page > 1:
        links += [f'<{url(min(page - 1, last))}>; rel="prev"', f'<{url(1)}>; rel="first"']
    return ", ".join(links)


_TOKEN_HEADER = re.compile(r"(?:Bearer|token)\s+(\S+)", re.IGNORECASE)


def create_app(
    state: Mapping[str, Any] | GitHubState,
    *,
    tokens: Collection[str],
    rate_limit: RateLimit | None = None,
    fail_next: int = 0,
    clock: Callable[[], float] = _time.time,
) -> FastAPI:
    """The GitHub REST API emulator over ``state`` (a state mapping or a parsed state).

    ``tokens`` are the accepted tokens; rate limit and injected 503s come from the state's
    ``emulator`` section unless ``rate_limit`` or ``fail_next`` (the sandbox's
    ``--rate-limit``/``--fail-next``) are given (``app.state.github.fail_next`` may be
    changed later); ``clock`` (epoch seconds) can be replaced in tests.
    """
    parsed = state if isinstance(state, GitHubState) else parse_state(state)
    settings = parsed.settings
    emulator = _GitHubEmulator(parsed, fail_next=fail_next or settings.fail_next)
    limiter = _RateLimiter(rate_limit or settings.rate_limit, clock)
    points = PointsLimiter(settings.graphql_rate_limit, clock)
    secondary = _RateLimiter(settings.graphql_secondary_limit, clock)
    allowed_tokens = frozenset(tokens)

    app = FastAPI(title="GitHub REST API emulator", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.github = emulator
    app.add_api_route("/repos/{owner}/{repo}/commits", emulator.list_commits, methods=["GET"])
    app.add_api_route("/repos/{owner}/{repo}/contents", emulator.get_contents, methods=["GET"])
    app.add_api_route("/repos/{owner}/{repo}/contents/{path:path}", emulator.get_contents, methods=["GET"])

    @app.get("/rate_limit")
    def rate_limit(request: Request) -> dict[str, Any]:
        core = limiter.peek(_token(request) or "")
        return {"resources": {"core": core}, "rate": core}

    @app.post("/graphql")
    async def graphql(request: Request) -> Response:
        if not settings.graphql:
            raise ApiError(404, "Not Found", "https://docs.github.com/graphql")
        try:
            body = await request.json()
        except ValueError:
            raise ApiError(400, "Problems parsing JSON", "https://docs.github.com/graphql") from None

        def over_secondary(token: str) -> int | None:
            allowed, headers = secondary.hit(token)
            return None if allowed else max(1, int(headers["x-ratelimit-reset"]) - int(clock()))

        return answer_query(
            body,
            state=emulator.state,
            token=_token(request) or "",
            points=points,
            secondary=over_secondary,
            status_over_secondary=settings.rate_limit_status,
        )

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return exc.response()

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return ApiError(exc.status_code, "Not Found" if exc.status_code == 404 else str(exc.detail)).response()

    @app.middleware("http")
    async def _guard(request: Request, call_next):
        token = _token(request)
        if token is None:
            return ApiError(401, "Requires authentication").response()
        if token not in allowed_tokens:
            return ApiError(401, "Bad credentials").response()
        if request.url.path.endswith("/rate_limit"):
            return await call_next(request)
        if request.url.path.endswith("/graphql"):  # GraphQL spends points of its own, not REST requests
            if emulator.fail_next > 0:
                emulator.fail_next -= 1
                return ApiError(503, "Service Unavailable (fault injected by the emulator)").response()
            return await call_next(request)
        allowed, headers = limiter.hit(token)
        if not allowed:
            if settings.retry_after:
                headers["retry-after"] = str(max(1, int(headers["x-ratelimit-reset"]) - int(clock())))
            message = (
                "API rate limit exceeded for user ID 1. If you reach out to GitHub Support for help, "
                "please include the request ID."
            )
            return ApiError(settings.rate_limit_status, message, DOCS_RATE_LIMITS).response(headers)
        if emulator.fail_next > 0:
            emulator.fail_next -= 1
            return ApiError(503, "Service Unavailable (fault injected by the emulator)").response(headers)
        version = request.headers.get("x-github-api-version")
        if version and version != API_VERSION:
            message = f"API version '{version}' is not supported. Supported versions: {API_VERSION}."
            return ApiError(400, message, f"{DOCS}/about-the-rest-api/api-versions").response(headers)
        response = await call_next(request)
        response.headers.update(headers)
        response.headers["x-github-api-version-selected"] = API_VERSION
        return response

    return app


def _token(request: Request) -> str | None:
    match = _TOKEN_HEADER.fullmatch(request.headers.get("authorization", "").strip())
    return match.group(1) if match else None
