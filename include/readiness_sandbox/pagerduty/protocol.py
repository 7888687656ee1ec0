"""The PagerDuty REST API's request conventions, as the emulator answers them.

Error bodies ``{"error": {"message", "code", "errors"}}`` with PagerDuty's codes,
query parameters (``name[]`` arrays, ``include[]``, times and ``time_zone``) and classic
pagination (``limit`` up to 100, ``offset``, ``more``, ``total`` on request, and the
10,000 cap on ``offset + limit``: past it, 400 with code 2002 "Arguments Caused Error", as
PagerDuty answers; ``total`` still counts every match, so a client can tell before it pages).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from .schedules import get_zone, parse_time

# PagerDuty error codes (developer.pagerduty.com "Errors" page).
CODE_INTERNAL = 2000
CODE_INVALID_INPUT = 2001
CODE_ARGUMENTS_CAUSED_ERROR = 2002
CODE_AUTH_FAILED = 2006
CODE_ACCESS_DENIED = 2010
CODE_RATE_LIMITED = 2020
CODE_NOT_FOUND = 2100
# 402 "Account does not have the abilities to perform the action": the spec documents the
# status and the body, not its code; 2015 is what PagerDuty's clients' fixtures show.
CODE_ABILITY_MISSING = 2015

MAX_LIMIT = 100
DEFAULT_LIMIT = 25
MAX_OFFSET_PLUS_LIMIT = 10_000
# What PagerDuty answers past the cap (400, code 2002), word for word as clients quote it.
OFFSET_CAP_ERRORS = (
    "Offset+limit exceeds maximum allowed value of 10000. Please try to refine your search to reduce "
    "the returned set of records below this number, like adding a date range.",
)


class ApiError(Exception):
    """An error answered with PagerDuty's body ``{"error": {"message", "code", "errors"}}``."""

    def __init__(self, status: int, message: str, code: int, errors: Sequence[str] = ()):
        super().__init__(message)
        self.status, self.message, self.code, self.errors = status, message, code, list(errors)

    def response(self, headers: Mapping[str, str] | None = None) -> JSONResponse:
        body: dict[str, Any] = {"message": self.message, "code": self.code}
        if self.errors:
            body["errors"] = self.errors
        return JSONResponse({"error": body}, status_code=self.status, headers=headers)


def invalid(*errors: str) -> ApiError:
    return ApiError(400, "Invalid Input Provided", CODE_INVALID_INPUT, errors)


def access_denied(why: str) -> ApiError:
    """403: the key is valid but may not do this (a read-only key writing)."""
    return ApiError(403, "Access Denied", CODE_ACCESS_DENIED, [why])


def refused(status: int, feature: str) -> ApiError:
    """What an account whose plan (402) or key (403) lacks ``feature`` gets for any request of it."""
    if status == 402:
        why = f"Account does not have the abilities to perform the action: {feature}"
        return ApiError(402, "Payment Required", CODE_ABILITY_MISSING, [why])
    return access_denied(f"the caller may not read {feature}")


def not_found() -> ApiError:
    return ApiError(404, "Not Found", CODE_NOT_FOUND)


async def json_body(request: Request) -> dict[str, Any]:
    """The request's JSON object body; an empty body is ``{}``; anything else is a 400."""
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise invalid(f"the request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise invalid("the request body must be a JSON object")
    return body


class Query:
    """PagerDuty-style query parameters: ``name[]`` arrays, classic pagination, times."""

    def __init__(self, request: Request):
        self.params = request.query_params

    def text(self, name: str) -> str | None:
        value = self.params.get(name)
        return value if value else None

    def ids(self, name: str) -> list[str]:
        return [v for v in self.params.getlist(f"{name}[]") if v]

    def includes(self) -> set[str]:
        return set(self.ids("include"))

    def flag(self, name: str) -> bool:
        return (self.params.get(name) or "").lower() == "true"

    def zone(self, default):
        name = self.text("time_zone")
        if name is None:
            return default
        try:
            return get_zone(name)
        except ValueError as exc:
            raise invalid(f"time_zone: {exc}") from None

    def moment(self, name: str, tz) -> datetime | None:
        value = self.text(name)
        if value is None:
            return None
        try:
            return parse_time(value, default_tz=tz)
        except ValueError as exc:
            raise invalid(f"{name}: {exc}") from None

    def _integer(self, name: str, default: int) -> int:
        raw = self.params.get(name)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            raise invalid(f"{name} must be an integer, got {raw!r}") from None
        if value < 0:
            raise invalid(f"{name} must not be negative, got {value}")
        return value

    def paginate(self, items: Sequence[Any]) -> tuple[Sequence[Any], dict[str, Any]]:
        limit = min(self._integer("limit", DEFAULT_LIMIT), MAX_LIMIT) or DEFAULT_LIMIT
        offset = self._integer("offset", 0)
        if offset + limit > MAX_OFFSET_PLUS_LIMIT:
            raise ApiError(400, "Arguments Caused Error", CODE_ARGUMENTS_CAUSED_ERROR, OFFSET_CAP_ERRORS)
        page = items[offset : offset + limit]
        meta = {
            "limit": limit,
            "offset": offset,
            "more": offset + limit < len(items),
            "total": len(items) if self.flag("total") else None,
        }
        return page, meta


def cursor_page(q: Query, items: Sequence[Any]) -> tuple[Sequence[Any], dict[str, Any]]:
    """Cursor pagination (``limit``, ``cursor``; ``next_cursor`` null on the last page, and ``more``).

    The cursor is opaque to clients: here the offset of the next object, base64-encoded; a cursor
    this emulator did not give is a 400.
    """
    limit = min(q._integer("limit", DEFAULT_LIMIT), MAX_LIMIT) or DEFAULT_LIMIT
    raw = q.text("cursor")
    offset = 0 if raw is None else _offset_of(raw)
    page = items[offset : offset + limit]
    more = offset + limit < len(items)
    next_cursor = base64.urlsafe_b64encode(f"offset:{offset + limit}".encode()).decode() if more else None
    return page, {"limit": limit, "next_cursor": next_cursor, "more": more}


def _offset_of(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
        kind, _, value = text.partition(":")
        if kind == "offset" and value.isdigit():
            return int(value)
    except (ValueError, UnicodeDecodeError):
        pass
    raise invalid("cursor: not a cursor of this collection")


def matches(query: str | None, *values: str | None) -> bool:
    if query is None:
        return True
    needle = query.casefold()
    return any(needle in value.casefold() for value in values if value)


def by_name(items: Iterable[Any]) -> list[Any]:
    return sorted(items, key=lambda item: item.name.casefold())
