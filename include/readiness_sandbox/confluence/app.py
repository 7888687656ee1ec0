"""A local emulator of the Confluence Cloud REST API (v1, read-only): runbook pages and their versions.

``create_app(state, tokens=...)`` answers under the site's base URL, like
``https://example.atlassian.net`` (developer.atlassian.com/cloud/confluence/rest/v1):

- ``GET /wiki/rest/api/content/{id}?expand=version,body.storage``: ``{id, type: "page",
  status, title, space, version: {number, when, by, message, minorEdit}, body: {storage:
  {value, representation: "storage"}}, _links}``; without ``expand`` the defaults are
  ``space``, ``history`` and ``version`` (no body). ``version=N`` returns version N
  (``status: "historical"`` when it is not the latest); a trashed page, an unknown id or
  an unknown version answer 404 ``{"statusCode": 404, "message": ...}``;
- ``GET /wiki/rest/api/content/{id}/version?start=&limit=``: the page's versions, newest
  first (``results``, ``start``, ``limit``, ``size``, ``_links.next`` while there are more;
  ``limit`` at most 200);
- ``GET /wiki/api/v2/pages?id=..&body-format=storage``: the v2 bulk page read (``v2``);
- ``GET /wiki/rest/api/search?cql=...`` and ``GET /wiki/rest/api/content/{id}/restriction/
  byOperation/read``: the CQL search (labels, spaces, last modified) and a page's read
  restrictions (``search``);
- ``GET /wiki/rest/api/user/current``: the account the request authenticated as (``type:
  "known"``, ``accountId``, ``accountType: "atlassian"``, ``email``, ``publicName``,
  ``displayName``, ``profilePicture``, ``_expandable``, ``_links``); the hook's Test button
  calls it.

Authentication is HTTP Basic ``email:api_token``: the token must be one of ``tokens`` and,
when the state lists ``users``, the email one of them; otherwise 401. Over the rate limit
(``emulator.rate_limit``, per account) the answer is 429 with ``Retry-After`` (seconds)
and ``X-RateLimit-Limit``/``-Remaining``/``-Reset`` (ISO 8601), as Atlassian documents.

The state (pages, their versions, the accounts and the ``emulator`` settings) is read and
validated by ``state``, whose docstring describes its YAML format. This module
holds the rate limiter, the rendering, the handlers and the app.
"""

from __future__ import annotations

import hashlib
import math
import re
import threading
import time as _time
from collections.abc import Callable, Collection, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote_plus

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..atlassian import basic_account
from ..rate_limit import RateLimit
from .search import CqlError, read_restrictions, search
from .state import (
    DEFAULT_RATE_LIMIT,
    ConfluenceState,
    ConfluenceStateError,
    EmulatorSettings,
    Page,
    Version,
    load_confluence_state,
    parse_state,
)
from .v2 import PagesV2

__all__ = [
    "DEFAULT_RATE_LIMIT",
    "SANDBOX_EMAIL",
    "ApiError",
    "ConfluenceState",
    "ConfluenceStateError",
    "EmulatorSettings",
    "Page",
    "Version",
    "create_app",
    "load_confluence_state",
    "parse_state",
]

DEFAULT_VERSION_LIMIT = 200
MAX_VERSION_LIMIT = 200
DEFAULT_EXPAND = ("space", "history", "version")
SANDBOX_EMAIL = "readiness-audit@example.com"


class ApiError(Exception):
    """An error answered with Confluence's body ``{"statusCode", "message", "reason"}``."""

    REASONS = {401: "Unauthorized", 404: "Not Found", 429: "Too Many Requests", 400: "Bad Request"}

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message

    def response(self, headers: Mapping[str, str] | None = None) -> JSONResponse:
        body = {
            "statusCode": self.status,
            "data": {"authorized": self.status != 401, "valid": True, "errors": [], "successful": False},
            "message": self.message,
            "reason": self.REASONS.get(self.status, "Error"),
        }
        return JSONResponse(body, status_code=self.status, headers=dict(headers or {}))


# --- rate limiting ---------------------------------------------------------------------------


class _RateLimiter:
    def __init__(self, limit: RateLimit, clock: Callable[[], float]):
        self.limit, self.clock = limit, clock
        self._windows: dict[str, tuple[float, int]] = {}
        self._lock = threading.Lock()

    def hit(self, account: str) -> tuple[bool, dict[str, str]]:
        with self._lock:
            now = self.clock()
            start, count = self._windows.get(account, (now, 0))
            if now - start >= self.limit.per_seconds:
                start, count = now, 0
            count += 1
            self._windows[account] = (start, count)
        reset_at = start + self.limit.per_seconds
        headers = {
            "X-RateLimit-Limit": str(self.limit.requests),
            "X-RateLimit-Remaining": str(max(0, self.limit.requests - count)),
            "X-RateLimit-Reset": datetime.fromtimestamp(reset_at, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        }
        allowed = count <= self.limit.requests
        if not allowed:
            headers["Retry-After"] = str(max(1, math.ceil(round(reset_at - now, 6))))
            headers["RateLimit-Reason"] = "confluence-quota-based"
        return allowed, headers


# --- rendering -------------------------------------------------------------------------------


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _account_id(name: str) -> str:
    return "5b10a2844c20165700ede" + hashlib.sha1(name.encode()).hexdigest()[:6]


def _display_name(email: str) -> str:
    """``readiness-audit@example.com`` -> ``Readiness Audit``: a name for an account known only by its email."""
    return " ".join(part.capitalize() for part in re.split(r"[._-]+", email.partition("@")[0]) if part) or email


class _Renderer:
    def __init__(self, request: Request):
        root = request.url.replace(path=request.scope.get("root_path", ""), query="", fragment="")
        self.base = str(root).rstrip("/") + "/wiki"

    def version(self, page: Page, version: Version, *, with_content: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "by": {
                "type": "known",
                "accountId": _account_id(version.by),
                "accountType": "atlassian",
                "email": "",
                "publicName": version.by,
                "displayName": version.by,
                "isExternalCollaborator": False,
            },
            "when": _when(version.when),
            "friendlyWhen": version.when.strftime("%b %d, %Y"),
            "message": version.message,
            "number": version.number,
            "minorEdit": version.minor_edit,
            "contentTypeModified": False,
            "_expandable": {"collaborators": "", "content": f"/rest/api/content/{page.id}"},
            "_links": {"self": f"{self.base}/rest/api/content/{page.id}/version/{version.number}"},
        }
        if with_content:
            out["content"] = {"id": page.id, "type": "page", "status": page.status, "title": page.title}
        return out

    def user(self, email: str) -> dict[str, Any]:
        """An account as ``GET /wiki/rest/api/user/current`` shows it (developer.atlassian.com, User)."""
        account_id = _account_id(email)
        name = _display_name(email)
        return {
            "type": "known",
            "accountId": account_id,
            "accountType": "atlassian",
            "email": email,
            "publicName": name,
            "profilePicture": {
                "path": "/wiki/aa-avatar/default.png",
                "width": 48,
                "height": 48,
                "isDefault": True,
            },
            "displayName": name,
            "isExternalCollaborator": False,
            "_expandable": {"operations": "", "personalSpace": ""},
            "_links": {
                "self": f"{self.base}/rest/api/user?accountId={account_id}",
                "base": self.base,
                "context": "/wiki",
            },
        }

    def page(self, page: Page, version: Version, expand: set[str]) -> dict[str, Any]:
        latest = version is page.versions[-1]
        webui = f"/spaces/{page.space}/pages/{page.id}/{quote_plus(page.title)}"
        out: dict[str, Any] = {
            "id": page.id,
            "type": "page",
            "status": page.status if latest else "historical",
            "title": page.title,
            "macroRenderedOutput": {},
            "extensions": {"position": 0},
            "_expandable": {
                key: f"/rest/api/content/{page.id}?expand={key}"
                for key in ("space", "history", "version", "body", "ancestors", "children", "metadata")
                if key not in {e.split(".", 1)[0] for e in expand}
            },
            "_links": {
                "webui": webui,
                "edit": f"/pages/resumedraft.action?draftId={page.id}",
                "tinyui": f"/x/{page.id[-6:]}",
                "self": f"{self.base}/rest/api/content/{page.id}",
                "base": self.base,
                "context": "/wiki",
            },
        }
        if "space" in expand:
            out["space"] = {
                "id": int(hashlib.sha1(page.space.encode()).hexdigest()[:7], 16),
                "key": page.space,
                "name": page.space,
                "type": "global",
                "status": "current",
                "_links": {"webui": f"/spaces/{page.space}", "self": f"{self.base}/rest/api/space/{page.space}"},
            }
        if "version" in expand:
            out["version"] = self.version(page, version)
        if "history" in expand:
            out["history"] = {
                "latest": latest,
                "createdBy": self.version(page, page.versions[0])["by"],
                "createdDate": _when(page.versions[0].when),
            }
        if "body.storage" in expand:
            out["body"] = {
                "storage": {
                    "value": version.body,
                    "representation": "storage",
                    "embeddedContent": [],
                    "_expandable": {"content": f"/rest/api/content/{page.id}"},
                },
                "_expandable": {"view": "", "export_view": "", "styled_view": "", "editor": "", "atlas_doc_format": ""},
            }
        elif "body" in expand:
            out["body"] = {"_expandable": {"storage": "", "view": "", "export_view": "", "styled_view": ""}}
        return out


# --- the emulator ----------------------------------------------------------------------------


class _ConfluenceEmulator:
    def __init__(self, state: ConfluenceState, *, fail_next: int):
        self.state, self.fail_next = state, fail_next

    def _page(self, page_id: str, status: str | None = None) -> Page:
        page = self.state.pages.get(page_id)
        wanted = {s.strip() for s in (status or "current").split(",")}
        visible = page is not None and ("any" in wanted or page.status in wanted or page.status == "archived")
        if not visible:
            raise ApiError(404, f"No content found with id: ContentId{{id={page_id}}}")
        return page

    def get_content(self, request: Request, id: str) -> dict[str, Any]:
        params = request.query_params
        page = self._page(id, params.get("status"))
        version = page.versions[-1]
        if params.get("version"):
            number = _int(params.get("version"), "version")
            if not 1 <= number <= len(page.versions):
                raise ApiError(404, f"No content found with id: ContentId{{id={id}}} and version: {number}")
            version = page.versions[number - 1]
        raw_expand = params.get("expand")
        expand = {e.strip() for e in raw_expand.split(",") if e.strip()} if raw_expand else set(DEFAULT_EXPAND)
        return _Renderer(request).page(page, version, expand)

    def search(self, request: Request) -> dict[str, Any]:
        try:
            return search(self.state, request, when=_when, base=_Renderer(request).base)
        except CqlError as error:
            raise ApiError(400, str(error)) from None

    def read_restrictions(self, request: Request, id: str) -> dict[str, Any]:
        return read_restrictions(self._page(id), request, account_id=_account_id, base=_Renderer(request).base)

    def current_user(self, request: Request) -> dict[str, Any]:
        account = basic_account(request)  # the guard has let only an authenticated account through
        return _Renderer(request).user(account[0] if account else "")

    def list_versions(self, request: Request, id: str) -> dict[str, Any]:
        page = self._page(id)
        params = request.query_params
        start = max(_int(params.get("start"), "start", 0), 0)
        limit = min(max(_int(params.get("limit"), "limit", DEFAULT_VERSION_LIMIT), 1), MAX_VERSION_LIMIT)
        newest_first = list(reversed(page.versions))
        chunk = newest_first[start : start + limit]
        render = _Renderer(request)
        with_content = "content" in (params.get("expand") or "")
        links = {
            "base": render.base,
            "context": "/wiki",
            "self": f"{render.base}/rest/api/content/{id}/version",
        }
        if start + limit < len(newest_first):
            links["next"] = f"/rest/api/content/{id}/version?limit={limit}&start={start + limit}"
        return {
            "results": [render.version(page, v, with_content=with_content) for v in chunk],
            "start": start,
            "limit": limit,
            "size": len(chunk),
            "_links": links,
        }


def _int(value: str | None, name: str, default: int | None = None) -> int:
    if value in (None, ""):
        if default is None:
            raise ApiError(400, f"{name} is required")
        return default
    try:
        return int(value)
    except ValueError:
        raise ApiError(400, f"{name} must be an integer, got {value!r}") from None


def create_app(
    state: Mapping[str, Any] | ConfluenceState,
    *,
    tokens: Collection[str],
    rate_limit: RateLimit | None = None,
    fail_next: int = 0,
    clock: Callable[[], float] = _time.monotonic,
) -> FastAPI:
    """The Confluence Cloud REST API emulator over ``state`` (a state mapping or a parsed state).

    ``tokens`` are the accepted API tokens (with any email the state's ``users`` allow);
    rate limit and injected 503s come from the state's ``emulator`` section unless
    ``rate_limit`` or ``fail_next`` (the sandbox's ``--rate-limit``/``--fail-next``) are
    given (``app.state.confluence.fail_next`` may be changed later).
    """
    parsed = state if isinstance(state, ConfluenceState) else parse_state(state)
    emulator = _ConfluenceEmulator(parsed, fail_next=fail_next or parsed.settings.fail_next)
    limiter = _RateLimiter(rate_limit or parsed.settings.rate_limit, clock)
    allowed_tokens = frozenset(tokens)

    app = FastAPI(title="Confluence Cloud REST API emulator", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.confluence = emulator
    app.add_api_route("/wiki/rest/api/content/{id}", emulator.get_content, methods=["GET"])
    app.add_api_route("/wiki/rest/api/content/{id}/version", emulator.list_versions, methods=["GET"])
    app.add_api_route("/wiki/rest/api/user/current", emulator.current_user, methods=["GET"])
    app.add_api_route("/wiki/rest/api/search", emulator.search, methods=["GET"])
    app.add_api_route(
        "/wiki/rest/api/content/{id}/restriction/byOperation/read", emulator.read_restrictions, methods=["GET"]
    )
    app.add_api_route("/wiki/api/v2/pages", PagesV2(parsed, account_id=_account_id, when=_when), methods=["GET"])

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return exc.response()

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = "null for uri: " + str(request.url) if exc.status_code == 404 else str(exc.detail)
        return ApiError(exc.status_code, message).response()

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
        allowed, headers = limiter.hit(account[0])
        if not allowed:
            return ApiError(429, "Rate limit exceeded.").response(headers)
        if emulator.fail_next > 0:
            emulator.fail_next -= 1
            return ApiError(503, "Service Unavailable (fault injected by the emulator)").response(headers)
        response = await call_next(request)
        response.headers.update(headers)
        return response

    return app
