"""The Confluence emulator's v2 bulk page read: ``GET /wiki/api/v2/pages``, as the v2 OpenAPI declares it.

developer.atlassian.com/cloud/confluence/rest/v2 (Page, "Get pages"; openapi-v2.v3.json):

- ``id``: page ids, repeated (``id=1&id=2``) or comma-separated, at most 250 (the schema's
  ``maxItems``); more, or one that is not a number, answers 400;
- ``status``: ``current``, ``archived``, ``deleted``, ``trashed``, repeated or
  comma-separated; by default ``current`` and ``archived`` (so a trashed page is left out);
- ``body-format``: ``storage`` adds ``body.storage {representation, value}``; without it no
  body (``atlas_doc_format`` is valid for the API but not emulated: 400 saying so);
- ``limit``: 1 to 250, default 25; ``cursor``: the opaque cursor of ``_links.next``.

The answer is ``{"results": [PageBulk...], "_links": {"next"?, "base"}}`` sorted by id, with
the next page's relative URL in ``_links.next`` and in the ``Link`` header (``rel="next"``).
A PageBulk is ``{id, status, title, spaceId, parentId, parentType, position, authorId,
ownerId, lastOwnerId, createdAt, version: {createdAt, message, number, minorEdit, authorId},
body, _links: {webui, editui, tinyui}}``; ids are strings, as the API serialises them. Errors
have v2's shape: ``{"errors": [{"status", "code", "title", "detail"}]}``.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from typing import Any
from urllib.parse import quote_plus, urlencode

from fastapi import Request
from fastapi.responses import JSONResponse

from .state import ConfluenceState, Page

MAX_IDS = 250
MAX_LIMIT = 250
DEFAULT_LIMIT = 25
STATUSES = ("current", "archived", "deleted", "trashed")
DEFAULT_STATUSES = ("current", "archived")
BODY_FORMATS = ("storage", "atlas_doc_format")


class V2Error(Exception):
    """A v2 error: ``{"errors": [{"status", "code", "title", "detail"}]}``."""

    def __init__(self, status: int, title: str, code: str = "INVALID_REQUEST_PARAMETER"):
        super().__init__(title)
        self.status, self.title, self.code = status, title, code

    def response(self) -> JSONResponse:
        body = {"errors": [{"status": self.status, "code": self.code, "title": self.title, "detail": None}]}
        return JSONResponse(body, status_code=self.status)


def _values(request: Request, name: str) -> list[str]:
    """A multi-valued parameter: ``name=a&name=b`` and ``name=a,b`` alike."""
    return [part.strip() for raw in request.query_params.getlist(name) for part in raw.split(",") if part.strip()]


def _cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode().rstrip("=")


def _offset(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        kind, _, number = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode().partition(":")
        if kind == "offset" and number.isdigit():
            return int(number)
    except (ValueError, UnicodeDecodeError):
        pass
    raise V2Error(400, f"Invalid cursor: {cursor}")


def _space_id(space: str) -> str:
    return str(int(hashlib.sha1(space.encode()).hexdigest()[:7], 16))


class PagesV2:
    """The handler of ``GET /wiki/api/v2/pages`` over the emulator's pages."""

    def __init__(self, state: ConfluenceState, *, account_id: Callable[[str], str], when: Callable[[Any], str]):
        self.state, self.account_id, self.when = state, account_id, when

    def __call__(self, request: Request) -> JSONResponse:
        try:
            return self._pages(request)
        except V2Error as error:
            return error.response()

    def _pages(self, request: Request) -> JSONResponse:
        ids = _values(request, "id")
        if len(ids) > MAX_IDS:
            raise V2Error(
                400, f"Provided value {len(ids)} for 'id' is not the correct size. Expected size 0 - {MAX_IDS}"
            )
        if bad := [page_id for page_id in ids if not page_id.isdigit()]:
            raise V2Error(400, f"Provided value {bad[0]!r} for 'id' is not a valid number")
        statuses = _values(request, "status") or list(DEFAULT_STATUSES)
        if bad := [status for status in statuses if status not in STATUSES]:
            raise V2Error(400, f"Provided value {bad[0]!r} for 'status' is not one of {', '.join(STATUSES)}")
        body_format = request.query_params.get("body-format")
        if body_format is not None and body_format not in BODY_FORMATS:
            raise V2Error(
                400, f"Provided value {body_format!r} for 'body-format' is not one of {', '.join(BODY_FORMATS)}"
            )
        if body_format == "atlas_doc_format":
            raise V2Error(400, "body-format atlas_doc_format is not emulated: ask for storage", code="NOT_EMULATED")
        raw_limit = request.query_params.get("limit") or str(DEFAULT_LIMIT)
        if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= MAX_LIMIT:
            raise V2Error(400, f"Provided value {raw_limit!r} for 'limit' must be between 1 and {MAX_LIMIT}")
        limit, offset = int(raw_limit), _offset(request.query_params.get("cursor"))

        wanted = set(ids) if ids else None
        matching = sorted(
            (page for page in self.state.pages.values() if page.status in statuses),
            key=lambda page: int(page.id),
        )
        matching = [page for page in matching if wanted is None or page.id in wanted]
        chunk = matching[offset : offset + limit]
        site = str(request.url.replace(path=request.scope.get("root_path", ""), query="", fragment="")).rstrip("/")
        links: dict[str, str] = {"base": f"{site}/wiki"}
        headers: dict[str, str] = {}
        if offset + limit < len(matching):
            query = [(key, value) for key, value in request.query_params.multi_items() if key != "cursor"]
            links["next"] = f"/wiki/api/v2/pages?{urlencode([*query, ('cursor', _cursor(offset + limit))])}"
            headers["Link"] = f'<{links["next"]}>; rel="next", <{site}/wiki>; rel="base"'
        results = [self._page(page, with_body=body_format == "storage") for page in chunk]
        return JSONResponse({"results": results, "_links": links}, headers=headers)

    def _page(self, page: Page, *, with_body: bool) -> dict[str, Any]:
        first, latest = page.versions[0], page.versions[-1]
        out: dict[str, Any] = {
            "id": page.id,
            "status": page.status,
            "title": page.title,
            "spaceId": _space_id(page.space),
            "parentId": None,
            "parentType": None,
            "position": 0,
            "authorId": self.account_id(first.by),
            "ownerId": self.account_id(first.by),
            "lastOwnerId": None,
            "createdAt": self.when(first.when),
            "version": {
                "createdAt": self.when(latest.when),
                "message": latest.message,
                "number": latest.number,
                "minorEdit": latest.minor_edit,
                "authorId": self.account_id(latest.by),
            },
            "_links": {
                "webui": f"/spaces/{page.space}/pages/{page.id}/{quote_plus(page.title)}",
                "editui": f"/pages/resumedraft.action?draftId={page.id}",
                "tinyui": f"/x/{page.id[-6:]}",
            },
        }
        if with_body:
            out["body"] = {"storage": {"representation": "storage", "value": latest.body}}
        return out
