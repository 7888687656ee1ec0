"""A local emulator of Backstage's catalog API, per its OpenAPI (``tests/reference/backstage_catalog/``).

``create_app(state, tokens=...)`` answers ``GET /api/catalog/entities/by-query`` as the catalog
backend does:

- **auth**: ``Authorization: Bearer <token>``, the static tokens of ``backend.auth.externalAccess``;
  none is 401 ``AuthenticationError: Missing credentials``, an unknown one 401
  ``AuthenticationError: Illegal token``, a token whose ``accessRestrictions`` leave the catalog out
  (``restricted_tokens``) 403 ``NotAllowedError: This token's access is restricted to plugin(s)
  'scaffolder'``; the messages are ``@backstage/backend-defaults``'s;
- **query**: ``filter`` (repeatable: filter sets OR-ed, the conditions of one set, comma-separated,
  AND-ed; ``key`` or ``key=value``, case-insensitive, over the entity's search keys and
  ``relations.<type>=<targetRef>``), ``fields`` (comma-separated paths; the rest pruned),
  ``orderField`` (``field,asc|desc``; default: by uid), ``offset``, ``totalItems=exclude``;
- **paging**: ``limit`` (default 200, the backend's ``DEFAULT_LIMIT``; the OpenAPI sets no maximum;
  ``max_limit`` stands for a gateway that caps a page, None by default as in Backstage) and
  ``cursor``: an opaque token carrying the query and the position; with a cursor, ``filter``
  and ``orderField`` are ignored, as the OpenAPI says. ``pageInfo.nextCursor`` while entities
  remain, ``prevCursor`` after the first page; ``totalItems`` on every page;
- **errors**: the OpenAPI's ``Error`` body (``error.name``, ``error.message``, ``request.method``
  and ``url``, ``response.statusCode``): 400 ``InputError`` for a malformed ``limit``, ``offset``
  or cursor; 429 with ``Retry-After`` past the rate limit (Backstage's optional
  ``backend.rateLimit``); 503 for the next ``fail_next`` requests (retry tests).

``app.state.backstage`` counts the requests (``requests``) for the tests.
"""

from __future__ import annotations

import base64
import binascii
import json
import time as _time
from collections.abc import Callable, Collection
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from ..json_answers import as_response
from ..rate_limit import DEFAULT_RATE_LIMIT, RateLimit, RateLimiter
from .state import CatalogState

QUERY_PATH = "/api/catalog/entities/by-query"
DEFAULT_LIMIT = 200
RESTRICTED_TO = "scaffolder"
# The sandbox's token that Backstage knows but restricts to another plugin: 403 from the catalog.
RESTRICTED_TOKEN = "sandbox-scaffolder-token"


def error_body(request: Request, status: int, name: str, message: str) -> JSONResponse:
    url = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    body = {
        "error": {"name": name, "message": message},
        "request": {"method": request.method, "url": url},
        "response": {"statusCode": status},
    }
    return JSONResponse(body, status_code=status)


class InputError(ValueError):
    pass


class _Catalog:
    def __init__(self, state: CatalogState, limiter: RateLimiter, fail_next: int, max_limit: int | None):
        self.state, self.limiter, self.fail_next, self.max_limit = state, limiter, fail_next, max_limit
        self.requests = 0
        # A query's matches, kept for its next pages (the state does not change while served): a cursor's
        # page then costs its slice, not a filter over the whole catalog, as the backend's index makes it.
        self._matches: dict[tuple[tuple[str, ...], str | None], list[dict[str, Any]]] = {}

    def query(self, request: Request) -> dict[str, Any]:
        params = request.query_params
        limit = _whole(params.get("limit"), "limit", DEFAULT_LIMIT)
        if self.max_limit is not None:
            limit = min(limit, self.max_limit)
        fields = [f.strip() for value in params.getlist("fields") for f in value.split(",") if f.strip()]
        cursor_text = params.get("cursor")
        if cursor_text:
            cursor = _decode_cursor(cursor_text)
            filters, order, offset, total = cursor["filter"], cursor["order"], cursor["offset"], cursor["total"]
        else:
            filters, order = params.getlist("filter"), params.get("orderField")
            offset, total = _whole(params.get("offset"), "offset", 0), None
        matches = self.matches(filters, order)
        if total is None and params.get("totalItems", "include") != "exclude":
            total = len(matches)
        page = matches[offset : offset + limit]
        page_info: dict[str, str] = {}
        if offset + limit < len(matches):
            page_info["nextCursor"] = _encode_cursor(filters, order, offset + limit, total)
        if offset > 0:
            page_info["prevCursor"] = _encode_cursor(filters, order, max(0, offset - limit), total)
        return {
            "items": [_pick(entity, fields) for entity in page],
            "totalItems": total if total is not None else 0,
            "pageInfo": page_info,
        }

    def matches(self, filters: list[str], order: str | None) -> list[dict[str, Any]]:
        key = (tuple(filters), order)
        if key not in self._matches:
            self._matches[key] = self._match(filters, order)
        return self._matches[key]

    def _match(self, filters: list[str], order: str | None) -> list[dict[str, Any]]:
        sets = [_filter_set(text) for text in filters]
        found = [e for e in self.state.entities if not sets or any(self._entity_matches(e, s) for s in sets)]
        if order:
            path, _, direction = order.partition(",")
            found.sort(
                key=lambda e: (str(_value(e, path.strip()) or "").lower(), e["metadata"]["uid"]),
                reverse=direction.strip().lower() == "desc",
            )
        return found

    def _entity_matches(self, entity: dict[str, Any], conditions: list[tuple[str, str | None]]) -> bool:
        pairs, keys = self.state.search_pairs(entity), self.state.search_keys(entity)
        return all((key in keys) if value is None else ((key, value) in pairs) for key, value in conditions)


def _filter_set(text: str) -> list[tuple[str, str | None]]:
    conditions = []
    for part in text.split(","):
        key, sep, value = part.partition("=")
        if not key.strip():
            raise InputError(f"Invalid filter, {text!r}")
        conditions.append((key.strip().lower(), value.strip().lower() if sep else None))
    return conditions


def _whole(text: str | None, name: str, default: int) -> int:
    if text is None or text == "":
        return default
    if not text.isdigit():
        raise InputError(f"Invalid {name} query parameter, must be a non-negative integer")
    return int(text)


def _encode_cursor(filters: list[str], order: str | None, offset: int, total: int | None) -> str:
    raw = json.dumps({"filter": filters, "order": order, "offset": offset, "total": total}, separators=(",", ":"))
    return base64.b64encode(raw.encode()).decode()


def _decode_cursor(text: str) -> dict[str, Any]:
    try:
        cursor = json.loads(base64.b64decode(text, validate=True))
        if not isinstance(cursor, dict) or not isinstance(cursor.get("offset"), int) or cursor["offset"] < 0:
            raise ValueError
        cursor.setdefault("filter", [])
        cursor.setdefault("order", None)
        cursor.setdefault("total", None)
        return cursor
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise InputError("Malformed cursor, could not be parsed") from None


def _value(entity: dict[str, Any], path: str) -> Any:
    value: Any = entity
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _pick(entity: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    """The entity pruned to ``fields`` (each path keeps its subtree), or whole without them."""
    if not fields:
        return entity
    picked: dict[str, Any] = {}
    for path in fields:
        parts = path.split(".")
        value = _value(entity, path)
        if value is None:
            continue
        target = picked
        for part in parts[:-1]:
            target = target.setdefault(part, {})
        target[parts[-1]] = value
    return picked


def create_app(
    state: CatalogState,
    *,
    tokens: Collection[str],
    restricted_tokens: Collection[str] = (RESTRICTED_TOKEN,),
    rate_limit: RateLimit | None = None,
    fail_next: int = 0,
    max_limit: int | None = None,
    clock: Callable[[], float] = _time.monotonic,
) -> FastAPI:
    """The catalog emulator over ``state``; ``tokens`` are the static tokens it accepts."""
    catalog = _Catalog(state, RateLimiter(rate_limit or DEFAULT_RATE_LIMIT, clock), fail_next, max_limit)
    allowed, restricted = frozenset(tokens), frozenset(restricted_tokens)
    app = FastAPI(title="Backstage catalog emulator", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.backstage = catalog

    @app.get(QUERY_PATH)
    def by_query(request: Request) -> Any:
        catalog.requests += 1
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return error_body(request, 401, "AuthenticationError", "Missing credentials")
        if token in restricted:
            return error_body(
                request, 403, "NotAllowedError", f"This token's access is restricted to plugin(s) '{RESTRICTED_TO}'"
            )
        if token not in allowed:
            return error_body(request, 401, "AuthenticationError", "Illegal token")
        ok, headers = catalog.limiter.hit(token)
        if not ok:
            response = error_body(request, 429, "Error", "Too many requests, please try again later.")
            response.headers["Retry-After"] = headers["Retry-After"]
            return response
        if catalog.fail_next > 0:
            catalog.fail_next -= 1
            return error_body(request, 503, "ServiceUnavailableError", "fault injected by the emulator")
        try:
            return as_response(catalog.query(request))
        except InputError as error:
            return error_body(request, 400, "InputError", str(error))

    return app
