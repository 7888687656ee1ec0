"""The Confluence emulator's CQL search and page read restrictions (REST API v1).

developer.atlassian.com/cloud/confluence/rest/v1 (Search, "Search content by CQL"; Content
restrictions, "Get restrictions by operation"):

- ``GET /wiki/rest/api/search?cql=...&limit=&cursor=``: the CQL the emulator understands is
  what the audit sends, clauses joined by ``AND``: ``type = page``, ``label = "x"`` or
  ``label in ("x", "y")``, ``space = "X"`` or ``space in ("X", "Y")``, ``lastmodified >=
  "YYYY-MM-DD"`` (``>``, ``<=``, ``<`` too); anything else answers 400 ``Could not parse cql``.
  Only current pages match. ``limit`` defaults to 25 and is cut to 50 (the search's system
  limit with content); the answer is ``{results: [{content: {id, type, status, title,
  _links}, title, excerpt, url, resultGlobalContainer: {title, displayUrl}, breadcrumbs,
  entityType: "content", iconCssClass, lastModified, friendlyLastModified, score}], start,
  limit, size, totalSize, cqlQuery, searchDuration, _links: {base, context, self, next?}}``,
  ``next`` relative to the ``/wiki`` context and carrying an opaque ``cursor``.
- ``GET /wiki/rest/api/content/{id}/restriction/byOperation/read?expand=restrictions.user,
  restrictions.group``: ``{operation: "read", restrictions: {user: {results, start, limit,
  size}, group: {...}}, _expandable, _links}``; without the expansions, ``restrictions`` holds
  only ``_expandable`` entries. No one in either list: everyone who may see the space may read.
  An unknown or trashed page answers 404.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import quote_plus, urlencode

from fastapi import Request

from .state import ConfluenceState, Page

DEFAULT_LIMIT = 25
MAX_LIMIT = 50
_VALUE = r'"(?:[^"\\]|\\.)*"|[\w.-]+'
_LIST = re.compile(rf"^\s*(?:{_VALUE})(?:\s*,\s*(?:{_VALUE}))*\s*$")
_CLAUSE = re.compile(
    rf"^\s*(?P<field>type|label|space|lastmodified)\s*(?P<op>=|!=|>=|<=|>|<|\bin\b)\s*"
    rf"(?P<value>\((?P<list>[^)]*)\)|{_VALUE})\s*$",
    re.IGNORECASE,
)


class CqlError(ValueError):
    """A query the emulator cannot parse (Confluence answers 400)."""


def _unquote(value: str) -> str:
    value = value.strip()
    if value.startswith('"') and value.endswith('"'):
        return re.sub(r"\\(.)", r"\1", value[1:-1])
    return value


def matcher(cql: str) -> Callable[[Page], bool]:
    """A predicate for the pages ``cql`` selects."""
    tests: list[Callable[[Page], bool]] = []
    for clause in re.split(r"\s+AND\s+", cql.strip(), flags=re.IGNORECASE):
        match = _CLAUSE.match(clause)
        if not match:
            raise CqlError(f"Could not parse cql : {cql}")
        field, op = match["field"].lower(), match["op"].lower()
        if op == "in":
            if match["list"] is None or not _LIST.match(match["list"]):
                raise CqlError(f"Could not parse cql : {cql}")
            values = {_unquote(v) for v in re.findall(_VALUE, match["list"])}
        else:
            values = {_unquote(match["value"])}
        tests.append(_test(field, op, values, cql))
    return lambda page: all(test(page) for test in tests)


def _test(field: str, op: str, values: set[str], cql: str) -> Callable[[Page], bool]:
    if field == "lastmodified":
        if op not in (">=", ">", "<=", "<") or len(values) != 1:
            raise CqlError(f"Could not parse cql : {cql}")
        try:
            bound = dt.datetime.fromisoformat(next(iter(values))).replace(tzinfo=dt.UTC)
        except ValueError:
            raise CqlError(f"Could not parse cql : {cql}") from None
        compare = {">=": bound.__le__, ">": bound.__lt__, "<=": bound.__ge__, "<": bound.__gt__}[op]
        return lambda page: compare(page.versions[-1].when)
    if op not in ("=", "in", "!="):
        raise CqlError(f"Could not parse cql : {cql}")

    def has(page: Page) -> bool:
        if field == "type":
            return "page" in values
        if field == "label":
            return bool(values & set(page.labels))
        return page.space in values

    return (lambda page: not has(page)) if op == "!=" else has


def _cursor(start: int, cql: str) -> str:
    digest = hashlib.sha1(cql.encode()).hexdigest()[:10]
    return base64.urlsafe_b64encode(f"{start}:{digest}".encode()).decode().rstrip("=")


def _start(cursor: str | None, cql: str) -> int:
    if not cursor:
        return 0
    try:
        start, _, digest = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        raise CqlError(f"Invalid cursor: {cursor}") from None
    if not start.isdigit() or digest != hashlib.sha1(cql.encode()).hexdigest()[:10]:
        raise CqlError(f"Invalid cursor: {cursor}")
    return int(start)


def search(state: ConfluenceState, request: Request, *, when: Callable[[Any], str], base: str) -> dict[str, Any]:
    """The answer of ``GET /wiki/rest/api/search``; raises ``CqlError`` for a query it cannot parse."""
    params = request.query_params
    cql = params.get("cql") or ""
    if not cql.strip():
        raise CqlError("cql is required")
    raw_limit = params.get("limit") or str(DEFAULT_LIMIT)
    if not raw_limit.isdigit():
        raise CqlError(f"limit must be a number, got {raw_limit!r}")
    limit = min(max(int(raw_limit), 1), MAX_LIMIT)
    selected = matcher(cql)
    start = _start(params.get("cursor"), cql)
    pages = sorted(
        (page for page in state.pages.values() if page.status == "current" and selected(page)),
        key=lambda page: int(page.id),
    )
    chunk = pages[start : start + limit]
    links: dict[str, str] = {
        "base": base,
        "context": "/wiki",
        "self": f"{base}/rest/api/search?{urlencode({'cql': cql})}",
    }
    if start + limit < len(pages):
        query = urlencode({"next": "true", "cursor": _cursor(start + limit, cql), "limit": limit, "cql": cql})
        links["next"] = f"/rest/api/search?{query}"
    return {
        "results": [_hit(page, when) for page in chunk],
        "start": start,
        "limit": limit,
        "size": len(chunk),
        "totalSize": len(pages),
        "cqlQuery": cql,
        "searchDuration": 12,
        "_links": links,
    }


def _hit(page: Page, when: Callable[[Any], str]) -> dict[str, Any]:
    webui = f"/spaces/{page.space}/pages/{page.id}/{quote_plus(page.title)}"
    modified = page.versions[-1].when
    return {
        "content": {
            "id": page.id,
            "type": "page",
            "status": page.status,
            "title": page.title,
            "childTypes": {},
            "macroRenderedOutput": {},
            "restrictions": {},
            "_expandable": {"space": f"/rest/api/space/{page.space}", "version": "", "body": ""},
            "_links": {"webui": webui, "self": f"/rest/api/content/{page.id}", "tinyui": f"/x/{page.id[-6:]}"},
        },
        "title": page.title,
        "excerpt": "",
        "url": webui,
        "resultGlobalContainer": {"title": page.space, "displayUrl": f"/spaces/{page.space}"},
        "breadcrumbs": [],
        "entityType": "content",
        "iconCssClass": "aui-icon content-type-page",
        "lastModified": when(modified),
        "friendlyLastModified": modified.strftime("%b %d, %Y"),
        "score": 1.0,
    }


def read_restrictions(page: Page, request: Request, *, account_id: Callable[[str], str], base: str) -> dict[str, Any]:
    """The answer of ``GET /wiki/rest/api/content/{id}/restriction/byOperation/read``."""
    expand = {part.strip() for part in (request.query_params.get("expand") or "").split(",") if part.strip()}
    users = [
        {"type": "known", "accountId": account_id(name), "accountType": "atlassian", "displayName": name}
        for name in page.read_users
    ]
    groups = [
        {"type": "group", "name": name, "id": hashlib.sha1(name.encode()).hexdigest()[:12]} for name in page.read_groups
    ]
    restrictions: dict[str, Any] = {"_expandable": {}}
    for kind, rows in (("user", users), ("group", groups)):
        if f"restrictions.{kind}" in expand:
            restrictions[kind] = {"results": rows, "start": 0, "limit": 200, "size": len(rows)}
        else:
            restrictions["_expandable"][kind] = f"/rest/api/content/{page.id}/restriction/byOperation/read/{kind}"
    return {
        "operation": "read",
        "restrictions": restrictions,
        "_expandable": {"content": f"/rest/api/content/{page.id}"},
        "_links": {
            "self": f"{base}/rest/api/content/{page.id}/restriction/byOperation/read",
            "base": base,
            "context": "/wiki",
        },
    }
