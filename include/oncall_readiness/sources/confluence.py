"""Confluence runbooks: when each runbook page last changed, as of the audit, and what it covers.

Runbook links on Confluence Cloud are page URLs,
``https://<site>.atlassian.net/wiki/spaces/<SPACE>/pages/<id>/<Title>`` (also
``.../pages/edit-v2/<id>`` and ``/wiki/pages/viewpage.action?pageId=<id>``; short
``/wiki/x/...`` links carry no id and are reported as unreadable). Only runbooks of
services that belong to a team are read, one call per page:

``GET <site>/wiki/rest/api/content/{id}?expand=version,body.storage``: the page's current
version (``version.number``, ``version.when``) and its storage-format XHTML.

Confluence cannot give a page as of a past date in that call. When the current version is
younger than the audit instant (a backfill, or a page edited since), two more calls find
the page as it was: ``GET .../content/{id}/version`` (versions newest first, following
``_links.next``) for the last version at or before the instant, then ``GET
.../content/{id}?version=N&expand=version,body.storage`` for its body. A page that did not
exist yet at the instant is not found. So the daily audit costs one call per page, and a
backfill one to three.

Not found is a fact (``found`` false, with the reason in ``error``): an unknown, trashed
or hidden page (Confluence answers 404 to a page the account may not see). A rejected
login (401), another 4xx, or a 429 or 5xx that outlasts the retries raises ``SourceError``,
and the Confluence-hosted runbooks become ``unknown``.

The four parts are found in the page's headings (``<h1>``..``<h6>``), paragraphs that are
nothing but bold text, and the titles of expand macros, with the same synonyms as the
GitHub source (:func:`oncall_readiness.sources.runbooks.runbook_parts`).

Facts table (schema version 1; timestamps UTC):

- ``confluence_runbooks``: service, url, page_id, found, title, version (the version read),
  last_changed (that version's ``when``), has_failure_scenarios, has_mitigations,
  has_alert_thresholds, has_step_by_step (null when not found), error
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from html.parser import HTMLParser
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import pandas as pd
import requests

from oncall_readiness.runbook_facts import HOSTS, PART_COLUMNS, is_confluence_url
from oncall_readiness.sources import runbooks
from oncall_readiness.sources.http import ApiClient, SourceError, raise_for_error
from oncall_readiness.sources.runbooks import frame, heading_text, runbook_parts

if TYPE_CHECKING:
    from oncall_readiness.hooks.base import ReadinessHook

SOURCE = "confluence"
HOST = HOSTS[SOURCE]
TABLE = HOST.table
CONTENT_EXPAND = "version,body.storage"
VERSIONS_PAGE_LIMIT = 200

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
    }
}

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
    ) -> None:
        if not email or not token:
            raise SourceError(f"{SOURCE}: an account email and an API token are both needed")
        if not base_url:
            raise SourceError(f"{SOURCE}: no site URL given (e.g. https://example.atlassian.net)")
        site = base_url.rstrip("/").removesuffix("/wiki")
        super().__init__(site, max_retries=max_retries, backoff_factor=backoff_factor)
        self.session.auth = (email, token)
        self.session.headers.update({"Accept": "application/json", "User-Agent": "oncall-readiness"})

    def get(self, path: str, params: Mapping[str, Any] | None = None, *, absent=()) -> requests.Response:
        """One API call (``path`` below the site, e.g. ``/wiki/rest/api/content/1``)."""
        response = self._send(path, params)
        self.requests_made += 1
        if response.status_code not in set(absent):
            raise_for_error(response, SOURCE)
        return response

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
    read: dict[str, dict[str, Any]] = {}
    rows = []
    for service, url in zip(to_read["service"], to_read["url"], strict=True):
        page_id = parse_page_url(url)
        if page_id is None:
            error = f"{url} names no page id (expected .../wiki/spaces/<SPACE>/pages/<id>/...)"
            fact = {"found": False, "error": error}
        else:
            if page_id not in read:
                read[page_id] = _read_page(client, page_id, instant)
            fact = {"page_id": page_id, **read[page_id]}
        rows.append({"service": service, "url": url, **fact})
    return {TABLE: frame(TABLE, rows, FACT_COLUMNS)}


def _read_page(client: ConfluenceClient, page_id: str, instant: pd.Timestamp) -> dict[str, Any]:
    path = f"/wiki/rest/api/content/{page_id}"
    response = client.get(path, {"expand": CONTENT_EXPAND}, absent=(404,))
    if response.status_code == 404:
        return {"found": False, "error": f"Confluence has no page {page_id}, or the account cannot see it"}
    page = response.json()
    if _when(page) > instant:
        number = _version_at(client, page_id, instant)
        if number is None:
            return {"found": False, "title": page.get("title"), "error": f"page {page_id} was created after the audit"}
        page = client.get(path, {"version": number, "expand": CONTENT_EXPAND}).json()
    version = page.get("version") or {}
    xhtml = ((page.get("body") or {}).get("storage") or {}).get("value")
    if xhtml is None:
        raise SourceError(f"{SOURCE}: GET {path} answered without body.storage")
    return {
        "found": True,
        "title": page.get("title"),
        "version": version.get("number"),
        "last_changed": version.get("when"),
        **runbook_parts(storage_headings(xhtml)),
        "error": None,
    }


def _when(page_or_version: Mapping[str, Any]) -> pd.Timestamp:
    when = (page_or_version.get("version") or page_or_version).get("when")
    if not when:
        raise SourceError(f"{SOURCE}: a page version came without its date (version.when)")
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


def collect_for_audit(
    hook: ReadinessHook,
    instant: pd.Timestamp,
    registry: Mapping[str, pd.DataFrame],
    *,
    window_days: int,
    horizon_days: int = 0,
) -> dict[str, pd.DataFrame]:
    """The audit's collection: every team service's Confluence runbook as of the audit instant.

    Without any Confluence-hosted runbook nothing is called (and no connection is needed).
    """
    return runbooks.collect_for_audit(hook, instant, registry, host=HOST, read=collect, fact_columns=FACT_COLUMNS)
