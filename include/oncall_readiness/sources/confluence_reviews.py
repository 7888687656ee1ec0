"""Post-incident reviews on Confluence: the pages labelled ``postmortem``, what they name, who may read them.

Three reads (developer.atlassian.com/cloud/confluence/rest), each the cheapest the API has:

1. ``GET /wiki/rest/api/search?cql=type = page AND label in ("postmortem") AND space in ("OPS", ...)
   AND lastmodified >= "2026-10-12"&limit=50``, following ``_links.next`` (the v2 API has no
   CQL): every review page touched since the look-back began. The ``space in`` clause lists
   the review spaces of the Groups (``readiness/review-space``); it is left out, so the whole
   site is searched, when a team has no review space on its Group or any group above it.
2. ``GET /wiki/api/v2/pages?id=...&body-format=storage`` (250 ids a call, as the runbook reader,
   :meth:`ConfluenceClient.pages`): each page's creation date, space, title and storage body.
3. ``GET /wiki/rest/api/content/{id}/restriction/byOperation/read?expand=restrictions.user,
   restrictions.group``: the page's own read
   restrictions; a page with any user or group in them is readable by fewer than everyone.
   (Restrictions inherited from a parent page are not in this answer; Confluence shows them
   on the parent.) One call a review, at most ``concurrency`` at once.

What a review names, from its body: PagerDuty incident ids (``Q0ABC...``/``PABC123``-shaped
tokens and ``.../incidents/<id>`` URLs), JSM Operations alert ids (UUID-shaped tokens and
``.../jira/ops/alerts/<id>`` URLs), incident numbers (``#1234``: PagerDuty's number, a JSM
alert's ``tinyId``), and Jira issue keys (in the text, in ``/browse/<KEY>`` links or in a Jira
macro's ``key`` parameter). Pages created after the audit instant are left out (a backfill sees
what existed then).

Facts tables (schema version 1; timestamps UTC):

- ``confluence_reviews``: page_id, space, title, url, created, last_modified, restricted,
  incident_ids (comma-separated), incident_numbers (comma-separated), jira_keys
  (comma-separated), search (the CQL that found it).
- ``confluence_links``: subject (``incident:<id>``, the finding subject of
  ``post-incident-review``), name (the review's title), url (the review page).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from html import unescape
from typing import Any
from urllib.parse import urlsplit

import pandas as pd

from oncall_readiness.errors import SourceError
from oncall_readiness.registry.groups import nearest_value
from oncall_readiness.sources.facts import Facts, typed_frame
from oncall_readiness.sources.pool import bounded_map
from oncall_readiness.sources.window import AuditWindow

SOURCE = "confluence"
SEARCH_PATH = "/wiki/rest/api/search"
SEARCH_LIMIT = 50
MAX_SEARCH_PAGES = 1000
DEFAULT_LABEL = "postmortem"
REVIEWS = "confluence_reviews"
LINKS = "confluence_links"

FACT_COLUMNS: dict[str, dict[str, str]] = {
    REVIEWS: {
        "page_id": "string",
        "space": "string",
        "title": "string",
        "url": "string",
        "created": "timestamp",
        "last_modified": "timestamp",
        "restricted": "boolean",
        "incident_ids": "string",
        "incident_numbers": "string",
        "jira_keys": "string",
        "search": "string",
    },
    LINKS: {"subject": "string", "name": "string", "url": "string"},
}

# PagerDuty ids: capitals and digits, 7 (classic, ``PABC123``) to 14 (``Q0RIJJZL24RC6W``) long or a little
# more, with a digit; the check keeps only those of real incidents.
_INCIDENT_ID = re.compile(r"\b(?=[A-Z0-9]*\d)([PQ][A-Z0-9]{6,15})\b")
_INCIDENT_URL = re.compile(r"https?://[\w.-]+\.pagerduty\.com/incidents/([A-Z0-9]{6,16})\b")
# JSM Operations alert ids: a UUID, often with the creation's milliseconds after it; the JSM UI's
# page of an alert is <site>/jira/ops/alerts/<id>.
_ALERT_ID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(?:-\d{10,16})?"
_JSM_ALERT_ID = re.compile(rf"(?<![\w-])({_ALERT_ID})(?![\w-])")
_JSM_ALERT_URL = re.compile(rf"/jira/ops/alerts/({_ALERT_ID})(?![\w-])")
_INCIDENT_NUMBER = re.compile(r"(?<![\w&])#(\d{1,9})\b")
_TAGS = re.compile(r"<[^>]+>")
# An issue key: a project key (a capital letter, then capitals, digits or underscores) and a number.
ISSUE_KEY = re.compile(r"\b([A-Z][A-Z0-9_]{1,9}-[1-9]\d{0,8})\b")


def issue_keys(text: str) -> list[str]:
    """The issue keys a text names, in order, once each."""
    return list(dict.fromkeys(ISSUE_KEY.findall(text or "")))


def review_refs(xhtml: str) -> dict[str, list[str]]:
    """What a review's storage body names: incident ids, incident numbers and Jira issue keys."""
    text = unescape(_TAGS.sub(" ", xhtml or ""))
    raw = unescape(xhtml or "")  # links and macro parameters live in attributes and tags
    ids = dict.fromkeys(
        [*_INCIDENT_URL.findall(raw), *_JSM_ALERT_URL.findall(raw), *_INCIDENT_ID.findall(text)]
        + _JSM_ALERT_ID.findall(text)
    )
    keys = [key for key in issue_keys(f"{text} {raw}") if key not in ids]
    return {
        "incident_ids": list(ids),
        "incident_numbers": list(dict.fromkeys(_INCIDENT_NUMBER.findall(text))),
        "jira_keys": keys,
    }


def review_spaces(teams: pd.DataFrame) -> list[str] | None:
    """The review spaces to search, or None (search everywhere) when some group has none."""
    if "review_space" not in teams.columns or teams.empty:
        return None
    nearest = nearest_value(teams, "review_space")
    if any(group not in nearest for group in teams["team"]):
        return None
    return sorted({space.strip() for value, _ in nearest.values() for space in value.split(",") if space.strip()})


def cql(labels: Iterable[str], spaces: list[str] | None, since: pd.Timestamp) -> str:
    """The CQL of the review pages: labelled, in the spaces (when given), modified since ``since``."""
    clauses = ["type = page", f"label in ({', '.join(_quoted(label) for label in labels)})"]
    if spaces is not None:
        clauses.append(f"space in ({', '.join(_quoted(space) for space in spaces)})")
    clauses.append(f'lastmodified >= "{since.strftime("%Y-%m-%d")}"')
    return " AND ".join(clauses)


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def search(client: Any, query: str) -> list[dict[str, Any]]:
    """Every result of a CQL search, following ``_links.next`` (relative to ``/wiki``)."""
    params: Mapping[str, Any] | None = {"cql": query, "limit": SEARCH_LIMIT}
    path = SEARCH_PATH
    results: list[dict[str, Any]] = []
    total: int | None = None
    for _ in range(MAX_SEARCH_PAGES):
        body = client.get(path, params).json()
        page = body.get("results") if isinstance(body, dict) else None
        if not isinstance(page, list):
            raise SourceError(f"{SOURCE}: GET {SEARCH_PATH} answered without results")
        results.extend(page)
        total = body.get("totalSize") if total is None and isinstance(body.get("totalSize"), int) else total
        next_link = (body.get("_links") or {}).get("next")
        if not next_link or not page:
            # A listing cut short must not turn reviews into missing ones (a false fail).
            if total is not None and len(results) < total:
                raise SourceError(
                    f"{SOURCE}: GET {SEARCH_PATH} answered {len(results)} of the {total} results its totalSize "
                    "announced: the search was cut short"
                )
            return results
        parts = urlsplit(next_link)
        path = parts.path if parts.path.startswith("/wiki/") else "/wiki" + parts.path
        params = parts.query  # the server's cursor, as it wrote it
    raise SourceError(f"{SOURCE}: GET {SEARCH_PATH} kept answering next links after {MAX_SEARCH_PAGES} pages")


def restricted(client: Any, page_id: str) -> bool:
    """Whether the page's own read restrictions name any user or group."""
    path = f"/wiki/rest/api/content/{page_id}/restriction/byOperation/read"
    body = client.get(path, {"expand": "restrictions.user,restrictions.group"}).json()
    restrictions = body.get("restrictions") if isinstance(body, dict) else None
    if not isinstance(restrictions, dict) or not all(kind in restrictions for kind in ("user", "group")):
        raise SourceError(f"{SOURCE}: GET {path} answered without its user and group restrictions")
    for kind in ("user", "group"):
        listed = restrictions[kind] or {}
        size = listed.get("size")
        if not isinstance(listed.get("results"), list) or (isinstance(size, int) and size != len(listed["results"])):
            raise SourceError(f"{SOURCE}: GET {path} answered {kind} restrictions that do not add up")
    return any(restrictions[kind]["results"] for kind in ("user", "group"))


def read_reviews(
    client: Any, *, labels: Iterable[str], spaces: list[str] | None, window: AuditWindow, restrictions: bool = True
) -> Facts:
    """The ``confluence_reviews`` and ``confluence_links`` facts: every review page found by CQL."""
    since = window.instant - pd.Timedelta(days=window.look_back_days)
    query = cql(labels, spaces, since)
    found = search(client, query)
    ids = list(dict.fromkeys(str((hit.get("content") or {}).get("id")) for hit in found if hit.get("content")))
    pages: dict[str, dict[str, Any]] = {}
    batches = [ids[start : start + 250] for start in range(0, len(ids), 250)]
    for batch in bounded_map(client.pages, batches, workers=client.concurrency):
        pages.update(batch)
    if lost := [page_id for page_id in ids if page_id not in pages]:
        # The search found them: a page the read leaves out is an answer cut short (or a page trashed
        # in between), and a review read as missing would fail its incident.
        raise SourceError(
            f"{SOURCE}: GET /wiki/api/v2/pages left out {len(lost)} review page(s) the search found "
            f"(e.g. {', '.join(lost[:3])})"
        )
    # Pages created after the audit instant did not exist then (a backfill).
    kept = [page_id for page_id in ids if _created(pages[page_id]) <= window.instant]
    closed: list[bool | None] = (
        list(bounded_map(lambda page_id: restricted(client, page_id), kept, workers=client.concurrency))
        if restrictions
        else [None] * len(kept)
    )
    space_of = _spaces(found)
    rows, links = [], []
    for page_id, is_restricted in zip(kept, closed, strict=True):
        page = pages[page_id]
        refs = review_refs(((page.get("body") or {}).get("storage") or {}).get("value") or "")
        url = _page_url(client.base_url, page)
        rows.append(
            {
                "page_id": page_id,
                "space": space_of.get(page_id),
                "title": page.get("title"),
                "url": url,
                "created": page.get("createdAt"),
                "last_modified": (page.get("version") or {}).get("createdAt"),
                "restricted": is_restricted,
                **{column: ",".join(values) for column, values in refs.items()},
                "search": query,
            }
        )
        links += [{"subject": f"incident:{i}", "name": page.get("title"), "url": url} for i in refs["incident_ids"]]
    return {REVIEWS: typed_frame(rows, FACT_COLUMNS[REVIEWS]), LINKS: typed_frame(links, FACT_COLUMNS[LINKS])}


def _created(page: Mapping[str, Any]) -> pd.Timestamp:
    created = page.get("createdAt")
    if not created:
        raise SourceError(f"{SOURCE}: page {page.get('id')} came without its createdAt")
    return pd.Timestamp(created).tz_convert("UTC")


def _spaces(found: list[dict[str, Any]]) -> dict[str, str]:
    """Each found page's space key, from its search hit (the v2 page gives only a space id):
    the hit's container links the space (``resultGlobalContainer.displayUrl``: ``/spaces/OPS``)."""
    spaces = {}
    for hit in found:
        content = hit.get("content") or {}
        display = str((hit.get("resultGlobalContainer") or {}).get("displayUrl") or "")
        key = (content.get("space") or {}).get("key") or display.rstrip("/").rpartition("/spaces/")[2]
        if key:
            spaces[str(content.get("id"))] = str(key)
    return spaces


def _page_url(site: str, page: Mapping[str, Any]) -> str:
    links = page.get("_links") or {}
    webui = links.get("webui") or f"/pages/viewpage.action?pageId={page.get('id')}"
    base = links.get("base") or f"{site}/wiki"
    return f"{base}{webui}"


def collect_reviews(client: Any, registry: Mapping[str, pd.DataFrame], window: AuditWindow) -> pd.DataFrame:
    """The review pages of the organisation (``confluence_reviews``), for readers that need only what they name."""
    labels = window.labels or (DEFAULT_LABEL,)
    facts = read_reviews(
        client, labels=labels, spaces=review_spaces(registry["registry_teams"]), window=window, restrictions=False
    )
    return facts[REVIEWS]
