"""A local emulator of Jira Cloud's REST API v3 (read-only): the JQL search of issues by key.

``create_app(state, tokens=...)`` answers under the site's base URL, like
``https://example.atlassian.net`` (developer.atlassian.com/cloud/jira/platform/rest/v3):

- ``POST /rest/api/3/search/jql`` (Issue search, "Search for issues using JQL enhanced search
  (POST)"): body ``{jql, nextPageToken?, maxResults?, fields?, expand?, properties?,
  fieldsByKeys?, failFast?, reconcileIssues?}``; any other member (``startAt``, which the old
  ``/search`` took) answers 400 ``Invalid request payload. Refer to the REST API documentation
  and try again.``. The JQL understood is what the client sends: ``key in (A-1, B-2, ...)`` and
  ``key = A-1``; any other query answers 400 ``Error in the JQL Query: ...``. A key whose
  project exists but the issue does not answers 400 ``An issue with key 'A-9' does not exist
  for field 'key'.``, one whose project does not exist ``The value 'X-1' does not exist for the
  field 'key'.`` (one message each, all in ``errorMessages``, with ``errors: {}``), as Jira does.
  ``maxResults`` defaults to 50; Jira returns at most 100 issues a page when fields beyond
  ``id`` and ``key`` are asked for (5,000 otherwise). The answer is ``{"issues": [...],
  "nextPageToken": "...", "isLast": false}``; the last page has ``isLast: true`` and no
  ``nextPageToken`` (JRACLOUD-92184: the key is left out rather than null). An issue is
  ``{expand, id, self, key, fields}`` with only the fields asked (``*all`` or ``*navigable``:
  every one): ``summary``, ``status {self, description, iconUrl, name, id, statusCategory
  {self, id, key, colorName, name}}``, ``assignee {self, accountId, displayName, active,
  timeZone, accountType}`` or null, ``duedate`` (``2026-11-06``) or null, ``resolutiondate``
  (``2026-11-10T09:00:00.000+0000``) or null.
- ``GET /rest/api/3/myself``: the account the request authenticated as; the hook's Test button
  calls it.

Authentication is HTTP Basic ``email:api_token``: the token must be one of ``tokens`` and, when
the state lists ``users``, the email one of them; otherwise 401 with ``WWW-Authenticate``.
Over the rate limit (``emulator.rate_limit``, per account) the answer is 429 with
``Retry-After`` (seconds), ``X-RateLimit-Limit``, ``-Remaining``, ``-Reset`` (ISO 8601) and
``RateLimit-Reason``, as Atlassian's rate-limiting guide documents. Errors have Jira's body
``{"errorMessages": [...], "errors": {}}``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import time as _time
from collections.abc import Callable, Collection, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from ..atlassian import basic_account
from ..rate_limit import RateLimit, RateLimiter
from .state import Issue, JiraState, JiraStateError, load_jira_state, parse_state

__all__ = ["SANDBOX_EMAIL", "JiraState", "JiraStateError", "create_app", "load_jira_state", "parse_state"]

SANDBOX_EMAIL = "readiness-audit@example.com"
SEARCH_PATH = "/rest/api/3/search/jql"
DEFAULT_MAX_RESULTS = 50
MAX_RESULTS_WITH_FIELDS = 100
MAX_RESULTS_IDS_ONLY = 5000
BODY_MEMBERS = frozenset(
    {
        "jql",
        "nextPageToken",
        "maxResults",
        "fields",
        "expand",
        "properties",
        "fieldsByKeys",
        "failFast",
        "reconcileIssues",
    }
)
FIELDS = ("summary", "status", "assignee", "duedate", "resolutiondate")
_KEY_IN = re.compile(r"^\s*(?:issue)?key\s+in\s*\(([^)]*)\)\s*$", re.IGNORECASE)
_KEY_IS = re.compile(r"^\s*(?:issue)?key\s*=\s*\"?([A-Za-z0-9_-]+)\"?\s*$", re.IGNORECASE)
_CATEGORY = {
    "new": (2, "blue-gray", "To Do"),
    "indeterminate": (4, "yellow", "In Progress"),
    "done": (3, "green", "Done"),
}


class ApiError(Exception):
    """An error answered with Jira's body ``{"errorMessages": [...], "errors": {}}``."""

    def __init__(self, status: int, *messages: str):
        super().__init__("; ".join(messages))
        self.status, self.messages = status, list(messages)

    def response(self, headers: Mapping[str, str] | None = None) -> JSONResponse:
        body = {"errorMessages": self.messages, "errors": {}}
        return JSONResponse(body, status_code=self.status, headers=dict(headers or {}))


def _account_id(name: str) -> str:
    return "712020:" + hashlib.sha1(name.encode()).hexdigest()[:24]


def _moment(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


class _Search:
    def __init__(self, state: JiraState, *, fail_next: int):
        self.state, self.fail_next = state, fail_next

    def keys(self, jql: Any) -> list[str]:
        if not isinstance(jql, str) or not jql.strip():
            raise ApiError(
                400, "Unbounded JQL queries are not allowed here. Please add a search restriction to your query."
            )
        if match := _KEY_IN.match(jql):
            keys = [part.strip().strip('"') for part in match[1].split(",") if part.strip()]
        elif match := _KEY_IS.match(jql):
            keys = [match[1]]
        else:
            raise ApiError(
                400, f"Error in the JQL Query: the emulator understands only key in (...) and key = ..., got {jql!r}"
            )
        unknown = []
        for key in keys:
            if key in self.state.issues:
                continue
            if key.rsplit("-", 1)[0] in self.state.projects:
                unknown.append(f"An issue with key '{key}' does not exist for field 'key'.")
            else:
                unknown.append(f"The value '{key}' does not exist for the field 'key'.")
        if unknown:
            raise ApiError(400, *unknown)
        return sorted(dict.fromkeys(keys), key=lambda key: int(self.state.issues[key].id), reverse=True)

    async def search(self, request: Request) -> dict[str, Any]:
        try:
            body = json.loads(await request.body() or b"{}")
        except ValueError:
            body = None
        if not isinstance(body, dict) or set(body) - BODY_MEMBERS:
            raise ApiError(400, "Invalid request payload. Refer to the REST API documentation and try again.")
        keys = self.keys(body.get("jql"))
        fields = _fields(body.get("fields"))
        cap = MAX_RESULTS_WITH_FIELDS if fields else MAX_RESULTS_IDS_ONLY
        size = body.get("maxResults", DEFAULT_MAX_RESULTS)
        if not isinstance(size, int) or size < 0:
            raise ApiError(400, "Invalid request payload. Refer to the REST API documentation and try again.")
        size = min(size or DEFAULT_MAX_RESULTS, cap)
        start = _offset(body.get("nextPageToken"), str(body["jql"]))
        chunk = keys[start : start + size]
        base = str(request.base_url).rstrip("/")
        answer: dict[str, Any] = {"issues": [_issue(self.state.issues[key], fields, base) for key in chunk]}
        if start + size < len(keys):
            answer["nextPageToken"] = _token(start + size, body["jql"])
            answer["isLast"] = False
        else:
            answer["isLast"] = True
        return answer

    def myself(self, request: Request) -> dict[str, Any]:
        account = basic_account(request)
        email = account[0] if account else ""
        base = str(request.base_url).rstrip("/")
        return {
            "self": f"{base}/rest/api/3/user?accountId={_account_id(email)}",
            "accountId": _account_id(email),
            "accountType": "atlassian",
            "emailAddress": email,
            "displayName": email.partition("@")[0].replace("-", " ").title(),
            "active": True,
            "timeZone": "Etc/UTC",
            "locale": "en_GB",
        }


def _fields(asked: Any) -> tuple[str, ...]:
    """The fields an issue carries: those asked (``*all``/``*navigable``: every one; ``id``/``key``: none)."""
    if asked is None:
        return FIELDS  # the API's default is *navigable
    if not isinstance(asked, list):
        raise ApiError(400, "Invalid request payload. Refer to the REST API documentation and try again.")
    if "*all" in asked or "*navigable" in asked:
        return FIELDS
    return tuple(field for field in FIELDS if field in asked)


def _token(offset: int, jql: str) -> str:
    digest = hashlib.sha1(jql.encode()).hexdigest()[:12]
    return base64.urlsafe_b64encode(f"{offset}:{digest}".encode()).decode()


def _offset(token: Any, jql: str) -> int:
    if token in (None, ""):
        return 0
    try:
        offset, _, digest = base64.urlsafe_b64decode(str(token)).decode().partition(":")
        if offset.isdigit() and digest == hashlib.sha1(str(jql).encode()).hexdigest()[:12]:
            return int(offset)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise ApiError(400, "The provided next page token is invalid or expired.")


def _issue(issue: Issue, fields: tuple[str, ...], base: str) -> dict[str, Any]:
    values: dict[str, Any] = {
        "summary": issue.summary,
        "status": _status(issue, base),
        "assignee": _user(issue.assignee, base) if issue.assignee else None,
        "duedate": issue.duedate.isoformat() if issue.duedate else None,
        "resolutiondate": _moment(issue.resolutiondate) if issue.resolutiondate else None,
    }
    return {
        "expand": "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations",
        "id": issue.id,
        "self": f"{base}/rest/api/3/issue/{issue.id}",
        "key": issue.key,
        "fields": {field: values[field] for field in fields},
    }


def _status(issue: Issue, base: str) -> dict[str, Any]:
    category_id, colour, category_name = _CATEGORY[issue.status_category]
    status_id = str(10000 + int(hashlib.sha1(issue.status.encode()).hexdigest()[:4], 16) % 1000)
    return {
        "self": f"{base}/rest/api/3/status/{status_id}",
        "description": "",
        "iconUrl": f"{base}/images/icons/statuses/generic.png",
        "name": issue.status,
        "id": status_id,
        "statusCategory": {
            "self": f"{base}/rest/api/3/statuscategory/{category_id}",
            "id": category_id,
            "key": issue.status_category,
            "colorName": colour,
            "name": category_name,
        },
    }


def _user(name: str, base: str) -> dict[str, Any]:
    return {
        "self": f"{base}/rest/api/3/user?accountId={_account_id(name)}",
        "accountId": _account_id(name),
        "displayName": name,
        "active": True,
        "timeZone": "Etc/UTC",
        "accountType": "atlassian",
    }


def _atlassian_headers(headers: Mapping[str, str], now: float) -> dict[str, str]:
    """Atlassian's rate-limit headers from the shared limiter's: ``X-RateLimit-*`` with an ISO reset."""
    reset = int(headers["ratelimit-reset"])
    out = {
        "X-RateLimit-Limit": headers["ratelimit-limit"],
        "X-RateLimit-Remaining": headers["ratelimit-remaining"],
        "X-RateLimit-Reset": (datetime.now(UTC) + timedelta(seconds=reset)).strftime("%Y-%m-%dT%H:%MZ"),
    }
    if "Retry-After" in headers:
        out["Retry-After"] = headers["Retry-After"]
        out["RateLimit-Reason"] = "jira-quota-based"
    return out


def create_app(
    state: Mapping[str, Any] | JiraState,
    *,
    tokens: Collection[str],
    rate_limit: RateLimit | None = None,
    fail_next: int = 0,
    clock: Callable[[], float] = _time.monotonic,
) -> FastAPI:
    """The Jira Cloud REST API v3 emulator over ``state`` (a state mapping or a parsed state).

    ``tokens`` are the accepted API tokens (with any email the state's ``users`` allow); the
    rate limit and injected 503s come from the state's ``emulator`` section unless given.
    """
    parsed = state if isinstance(state, JiraState) else parse_state(state)
    emulator = _Search(parsed, fail_next=fail_next or parsed.settings.fail_next)
    limiter = RateLimiter(rate_limit or parsed.settings.rate_limit, clock)
    allowed_tokens = frozenset(tokens)

    app = FastAPI(title="Jira Cloud REST API v3 emulator", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.jira = emulator
    app.add_api_route(SEARCH_PATH, emulator.search, methods=["POST"])
    app.add_api_route("/rest/api/3/myself", emulator.myself, methods=["GET"])

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return exc.response()

    @app.exception_handler(404)
    async def _not_found(request: Request, exc: Exception) -> JSONResponse:
        return ApiError(404, "null for uri: " + str(request.url)).response()

    @app.exception_handler(405)
    async def _not_allowed(request: Request, exc: Exception) -> JSONResponse:
        return ApiError(405, f"Method {request.method} is not allowed for {request.url.path}").response()

    @app.middleware("http")
    async def _guard(request: Request, call_next):
        account = basic_account(request)
        if (
            account is None
            or account[1] not in allowed_tokens
            or (parsed.users and account[0] not in parsed.users)
            or "@" not in account[0]
        ):
            return ApiError(401, "Client must be authenticated to access this resource.").response(
                {"WWW-Authenticate": 'Basic realm="protected-area"'}
            )
        allowed, raw = limiter.hit(account[0])
        headers = _atlassian_headers(raw, clock())
        if not allowed:
            return ApiError(429, "Rate limit exceeded.").response(headers)
        if emulator.fail_next > 0:
            emulator.fail_next -= 1
            return ApiError(503, "Service Unavailable (fault injected by the emulator)").response(headers)
        response = await call_next(request)
        response.headers.update(headers)
        return response

    return app
