"""Confluence runbooks: when each runbook page last changed, as of the audit, and what it covers.

Runbook links on Confluence Cloud are page URLs,
``https://<site>.atlassian.net/wiki/spaces/<SPACE>/pages/<id>/<Title>`` (also
``.../pages/edit-v2/<id>`` and ``/wiki/pages/viewpage.action?pageId=<id>``; short
``/wiki/x/...`` links carry no id and are reported as unreadable). Only runbooks of
services that belong to a team are read, 250 pages a call (the v2 API's most ids and
largest page, developer.atlassian.com/cloud/confluence/rest/v2, Page, "Get pages"):

``GET <site>/wiki/api/v2/pages?id=1&id=2&...&body-format=storage&limit=250``: each page's
current version (``version.number``, ``version.createdAt``) and its storage-format XHTML;
should Confluence page the answer anyway, its ``_links.next`` cursor is followed.

Confluence cannot give a page as of a past date in that call. When the current version is
younger than the audit instant (a backfill, or a page edited since), two more calls find
the page as it was: ``GET /wiki/rest/api/content/{id}/version`` (versions newest first,
following ``_links.next``) for the last version at or before the instant, then ``GET
/wiki/rest/api/content/{id}?version=N&expand=version,body.storage`` for its body. A page
that did not exist yet at the instant is not found. So the daily audit costs one call per
250 pages, and a backfill two more calls per page changed since the instant.

The batches and those per-page reads run concurrently, at most ``concurrency`` calls at once
(``sources/pool.py``: the connection extra ``concurrency``, ``READINESS_HTTP_CONCURRENCY``,
default 8); a 429 pauses every worker (``sources/http.py``).

Not found is a fact (``found`` false, with the reason in ``error``): an unknown, trashed
or hidden page (the v2 list leaves out a page the account may not see, or that is in the
trash). A rejected login (401), another 4xx, or a 429 or 5xx that outlasts the retries
raises ``SourceError``, and the Confluence-hosted runbooks become ``unknown``.

The four parts are found in the page's headings (``<h1>``..``<h6>``), paragraphs that are
nothing but bold text, and the titles of expand macros, with the same synonyms as the
GitHub source (:func:`oncall_readiness.sources.runbooks.runbook_parts`).

Facts table (schema version 1; timestamps UTC):

- ``confluence_runbooks``: service, url, page_id, found, title, version (the version read),
  last_changed (that version's ``when``), has_failure_scenarios, has_mitigations,
  has_alert_thresholds, has_step_by_step (null when not found), error
- ``confluence_links``: subject (``service:<name>``: the runbook, its title and the registry's
  URL; ``incident:<id>``: the incident's post-incident review page): the findings' links
- ``confluence_reviews``: the post-incident reviews
  (:mod:`oncall_readiness.sources.confluence_reviews`)
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from html.parser import HTMLParser
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import parse_qs, urlsplit

import pandas as pd
import requests

from oncall_readiness.errors import SourceError
from oncall_readiness.runbook_facts import HOSTS, PART_COLUMNS, is_confluence_url
from oncall_readiness.sources import confluence_reviews, runbooks
from oncall_readiness.sources.facts import Facts
from oncall_readiness.sources.http import ApiClient, raise_for_error
from oncall_readiness.sources.pool import DEFAULT_CONCURRENCY, bounded_map
from oncall_readiness.sources.runbooks import frame, heading_text, runbook_parts
from oncall_readiness.sources.window import AuditWindow

if TYPE_CHECKING:
    from oncall_readiness.hooks.base import ReadinessHook

SOURCE = "confluence"
HOST = HOSTS[SOURCE]
TABLE = HOST.table
CONTENT_EXPAND = "version,body.storage"
VERSIONS_PAGE_LIMIT = 200
PAGES_PATH = "/wiki/api/v2/pages"
# The v2 "Get pages" call takes at most 250 ids (the OpenAPI's maxItems) and answers at most 250 a page.
MAX_IDS_PER_CALL = 250
PAGE_LIMIT = 250
# Following cursors stops here whatever the server says: a server that ignores the cursor must not loop forever.
MAX_CURSOR_PAGES = 100

FACT_COLUMNS: dict[str, dict[str, str]] = {
    TABLE: {
        "service": "string",
        "url": "string",
        "page_id": "string",
        "found": "boolean",
        "title": "string",
        "version": "integer",
        "last_changed": "timestamp",
        **{column: "boolean" for column in PART_COLUMNS},
        "error": "string",
    },
    **confluence_reviews.FACT_COLUMNS,
}

LINKS = confluence_reviews.LINKS  # the runbooks' and the reviews' links, one table
_PAGE_PATH = re.compile(r"^/wiki/spaces/[^/]+/pages/(?:edit-v2/|edit/)?(?P<id>\d+)(?:/|$)")


def parse_page_url(url: str) -> str | None:
    """The page id of a Confluence page URL, or None."""
    if not is_confluence_url(url):
        return None
    parts = urlsplit(url.strip())
    if match := _PAGE_PATH.match(parts.path):
        return match["id"]
    page_ids = parse_qs(parts.query).get("pageId")
    return page_ids[0] if page_ids and page_ids[0].isdigit() else None


class _Headings(HTMLParser):
    """Headings of storage-format XHTML: h1-h6, bold-only paragraphs, expand macro titles."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.headings: list[str] = []
        self._heading: list[str] | None = None
        self._paragraph: list[tuple[bool, str]] | None = None
        self._bold = 0
        self._title: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if re.fullmatch(r"h[1-6]", tag):
            self._heading = []
        elif tag == "p":
            self._paragraph = []
        elif tag in ("strong", "b"):
            self._bold += 1
        elif tag == "ac:parameter" and dict(attrs).get("ac:name") == "title":
            self._title = []

    def handle_endtag(self, tag: str) -> None:
        if re.fullmatch(r"h[1-6]", tag) and self._heading is not None:
            self.headings.append("".join(self._heading).strip())
            self._heading = None
        elif tag == "p" and self._paragraph is not None:
            text = [(bold, chunk) for bold, chunk in self._paragraph if chunk.strip()]
            if text and all(bold for bold, _ in text):
                self.headings.append("".join(chunk for _, chunk in text))
            self._paragraph = None
        elif tag in ("strong", "b"):
            self._bold = max(0, self._bold - 1)
        elif tag == "ac:parameter" and self._title is not None:
            self.headings.append("".join(self._title).strip())
            self._title = None

    def handle_data(self, data: str) -> None:
        if self._heading is not None:
            self._heading.append(data)
        if self._paragraph is not None:
            self._paragraph.append((self._bold > 0, data))
        if self._title is not None:
            self._title.append(data)


def storage_headings(xhtml: str) -> list[str]:
    parser = _Headings()
    parser.feed(xhtml or "")
    parser.close()
    return [heading_text(heading) for heading in parser.headings if heading.strip()]


class ConfluenceClient(ApiClient):
    """A read-only Confluence Cloud REST API (v1) client: Basic auth with an API token, retries."""

    def __init__(
        self,
        email: str,
        token: str,
        *,
        base_url: str,
        max_retries: int = 6,
        backoff_factor: float = 0.5,
        concurrency: int = DEFAULT_CONCURRENCY,
    ) -> None:
        if not email or not token:
            raise SourceError(f"{SOURCE}: an account email and an API token are both needed")
        if not base_url:
            raise SourceError(f"{SOURCE}: no site URL given (e.g. https://example.atlassian.net)")
        site = base_url.rstrip("/").removesuffix("/wiki")
        super().__init__(site, max_retries=max_retries, backoff_factor=backoff_factor, concurrency=concurrency)
        self.session.auth = (email, token)
        self.session.headers.update({"Accept": "application/json", "User-Agent": "oncall-readiness"})

    def get(
        self, path: str, params: Mapping[str, Any] | None = None, *, absent: Iterable[int] = ()
    ) -> requests.Response:
        """One API call (``path`` below the site, e.g. ``/wiki/rest/api/content/1``)."""
        response = self._send(path, params)
        self.count_request()
        if response.status_code not in set(absent):
            raise_for_error(response, SOURCE)
        return response

    def pages(self, page_ids: list[str]) -> dict[str, dict[str, Any]]:
        """The current pages among ``page_ids`` (at most 250) by id, with their storage bodies; one call.

        A page Confluence leaves out (unknown, trashed, or not visible to the account) is
        simply absent.
        """
        if len(page_ids) > MAX_IDS_PER_CALL:
            raise ValueError(f"at most {MAX_IDS_PER_CALL} page ids a call, got {len(page_ids)}")
        wanted = set(page_ids)
        params: dict[str, Any] = {"id": list(page_ids), "body-format": "storage", "limit": PAGE_LIMIT}
        found: dict[str, dict[str, Any]] = {}
        for _ in range(MAX_CURSOR_PAGES):
            body = self.get(PAGES_PATH, params).json()
            results = body.get("results") if isinstance(body, dict) else None
            if not isinstance(results, list):
                raise SourceError(f"{SOURCE}: GET {PAGES_PATH} answered without results")
            found.update({str(page.get("id")): page for page in results if str(page.get("id")) in wanted})
            next_link = (body.get("_links") or {}).get("next")
            if not next_link or not results:
                return found
            cursor = parse_qs(urlsplit(next_link).query).get("cursor")
            if not cursor:
                raise SourceError(f"{SOURCE}: GET {PAGES_PATH} answered a next link without a cursor: {next_link}")
            params = {**params, "cursor": cursor[0]}
        raise SourceError(f"{SOURCE}: GET {PAGES_PATH} kept answering next links after {MAX_CURSOR_PAGES} pages")

    def versions(self, page_id: str) -> Iterator[dict[str, Any]]:
        """A page's versions, newest first, page by page (``_links.next``)."""
        path = f"/wiki/rest/api/content/{page_id}/version"
        params: dict[str, Any] = {"start": 0, "limit": VERSIONS_PAGE_LIMIT}
        while True:
            body = self.get(path, params).json()
            results = body.get("results")
            if results is None:
                raise SourceError(f"{SOURCE}: GET {path} answered without results")
            yield from results
            if not (body.get("_links") or {}).get("next") or not results:
                return
            params = {"start": int(body.get("start", params["start"])) + len(results), "limit": params["limit"]}


def collect(client: ConfluenceClient, to_read: pd.DataFrame, instant: pd.Timestamp) -> dict[str, pd.DataFrame]:
    """The ``confluence_runbooks`` facts of the runbooks ``to_read`` (columns service, url) as of ``instant``."""
    page_ids = list(dict.fromkeys(filter(None, map(parse_page_url, to_read["url"]))))
    batches = [page_ids[start : start + MAX_IDS_PER_CALL] for start in range(0, len(page_ids), MAX_IDS_PER_CALL)]
    current: dict[str, dict[str, Any]] = {}
    for found in bounded_map(client.pages, batches, workers=client.concurrency):
        current.update(found)
    current.update(_left_out(client, [page_id for page_id in page_ids if page_id not in current]))
    read = {page_id: _fact(page_id, current.get(page_id), instant) for page_id in page_ids}
    older = [page_id for page_id, fact in read.items() if fact is None]
    as_of = bounded_map(lambda page_id: _as_of(client, page_id, instant), older, workers=client.concurrency)
    facts = {page_id: fact for page_id, fact in read.items() if fact is not None}
    for page_id, fact in zip(older, as_of, strict=True):
        facts[page_id] = fact if fact["found"] else {"title": current[page_id].get("title"), **fact}
    rows = []
    for service, url in zip(to_read["service"], to_read["url"], strict=True):
        linked_id = parse_page_url(url)
        if linked_id is None:
            error = f"{url} names no page id (expected .../wiki/spaces/<SPACE>/pages/<id>/...)"
            fact = {"found": False, "error": error}
        else:
            fact = {"page_id": linked_id, **facts[linked_id]}
        rows.append({"service": service, "url": url, **fact})
    return {TABLE: frame(TABLE, rows, FACT_COLUMNS)}


def _left_out(client: ConfluenceClient, page_ids: list[str]) -> dict[str, dict[str, Any]]:
    """The pages the bulk read left out that exist after all, each asked for alone (v1 content).

    Only a 404 says a page is gone: a listing cut short (its last page short of items, and no
    next link) must not turn runbooks into missing ones. A page missing for real costs one call.
    """

    def alone(page_id: str) -> dict[str, Any] | None:
        response = client.get(f"/wiki/rest/api/content/{page_id}", {"expand": CONTENT_EXPAND}, absent=(404,))
        return None if response.status_code == 404 else response.json()

    pages = bounded_map(alone, page_ids, workers=client.concurrency)
    return {page_id: page for page_id, page in zip(page_ids, pages, strict=True) if page is not None}


def _fact(page_id: str, page: Mapping[str, Any] | None, instant: pd.Timestamp) -> dict[str, Any] | None:
    """The fact of a page from the bulk read; None when its current version is younger than ``instant``."""
    if page is None:
        return {"found": False, "error": f"Confluence has no page {page_id}, or the account cannot see it"}
    if _when(page) > instant:
        return None
    return _read(page, where=f"GET {PAGES_PATH} (page {page_id})")


def _as_of(client: ConfluenceClient, page_id: str, instant: pd.Timestamp) -> dict[str, Any]:
    """The fact of the page as it was at ``instant``, from its version history (v1: v2 has no date filter)."""
    path = f"/wiki/rest/api/content/{page_id}"
    number = _version_at(client, page_id, instant)
    if number is None:
        return {"found": False, "error": f"page {page_id} was created after the audit"}
    response = client.get(path, {"version": number, "expand": CONTENT_EXPAND}, absent=(404,))
    if response.status_code == 404:  # trashed between the bulk read and this one
        return {"found": False, "error": f"Confluence has no page {page_id}, or the account cannot see it"}
    return _read(response.json(), where=f"GET {path}")


def _read(page: Mapping[str, Any], *, where: str) -> dict[str, Any]:
    """The fact of a page as read (a v2 bulk item or a v1 content): version, date, title and parts."""
    version = page.get("version") or {}
    xhtml = ((page.get("body") or {}).get("storage") or {}).get("value")
    if xhtml is None:
        raise SourceError(f"{SOURCE}: {where} answered without body.storage")
    return {
        "found": True,
        "title": page.get("title"),
        "version": version.get("number"),
        "last_changed": _when(page),
        **runbook_parts(storage_headings(xhtml)),
        "error": None,
    }


def _when(page_or_version: Mapping[str, Any]) -> pd.Timestamp:
    """When a version was made: ``createdAt`` in the v2 API, ``when`` in v1."""
    version = page_or_version.get("version") or page_or_version
    when = version.get("createdAt") or version.get("when")
    if not when:
        raise SourceError(f"{SOURCE}: a page version came without its date (version.createdAt or version.when)")
    return pd.Timestamp(when).tz_convert("UTC")


def _version_at(client: ConfluenceClient, page_id: str, instant: pd.Timestamp) -> int | None:
    """The number of the page's last version at or before ``instant``; None if it was younger."""
    for version in client.versions(page_id):
        if _when(version) <= instant:
            return int(version["number"])
    return None


def runbooks_to_collect(services: pd.DataFrame) -> pd.DataFrame:
    """(service, url) of every team service whose runbook is on Confluence."""
    return runbooks.runbooks_to_collect(HOST, services)


def collect_for_audit(hook: ReadinessHook, registry: Mapping[str, pd.DataFrame], window: AuditWindow) -> Facts:
    """The audit's collection: every team service's Confluence runbook as of the audit instant, and
    the organisation's post-incident reviews (:mod:`.confluence_reviews`).

    Without any Confluence-hosted runbook no runbook is read; without a check that reads reviews
    (no review ``labels`` in the window) no review is, and then no connection is needed.
    """
    facts = runbooks.collect_for_audit(hook, registry, window, host=HOST, read=collect, fact_columns=FACT_COLUMNS)
    if not window.labels:
        unread = {table: frame(table, [], FACT_COLUMNS) for table in confluence_reviews.FACT_COLUMNS if table != LINKS}
        return {**facts, **unread}
    client = cast(ConfluenceClient, hook.get_conn())
    labels = window.labels
    spaces = confluence_reviews.review_spaces(registry["registry_teams"])
    reviews = confluence_reviews.read_reviews(client, labels=labels, spaces=spaces, window=window)
    # Both the runbooks and the reviews are linked: one links table, runbooks (service:) and reviews (incident:).
    links = pd.concat([facts[LINKS], reviews[LINKS]], ignore_index=True).drop_duplicates("subject", ignore_index=True)
    return {**facts, **reviews, LINKS: links}
