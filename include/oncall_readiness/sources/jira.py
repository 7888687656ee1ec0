"""Jira Cloud: the action items post-incident reviews link, their status, due date and assignee.

The reviews (Confluence pages labelled ``postmortem``, :mod:`.confluence_reviews`) name their
actions by issue key, in their text, in ``/browse/<KEY>`` links or in a Jira macro. Those keys
are read in one JQL search per batch of ``KEYS_PER_QUERY`` (developer.atlassian.com/cloud/jira/
platform/rest/v3, Issue search, "Search for issues using JQL enhanced search (POST)"; the older
``/rest/api/3/search`` is removed from Jira Cloud):

``POST <site>/rest/api/3/search/jql`` with ``{"jql": "key in (OPS-1, OPS-2, ...)", "fields":
["status", "duedate", "resolutiondate", "assignee", "summary"], "maxResults": 100}``, following
``nextPageToken`` until ``isLast`` (or no token). Jira may answer fewer issues a page than
asked when fields are requested; the client follows the token whatever the page size.

A key Jira does not know makes the whole JQL invalid: Jira answers 400 with ``errorMessages``
such as ``An issue with key 'OPS-99' does not exist for field 'key'.`` The client drops the keys
those messages name and asks again once; they become facts with ``found`` false and the reason,
so a typo in a review is reported, never a failure of the whole source. A rejected login
(401), another 4xx, or a 429 or 5xx that outlasts the retries raises ``SourceError``: the
check's action-item rules become ``unknown``.

Authentication is Basic ``email:api_token`` (an Atlassian API token), as for Confluence.

Facts tables (schema version 1; timestamps UTC):

- ``jira_action_items``: key, found, summary, status (its name), status_category (``new``,
  ``indeterminate``, ``done``: Jira's status category key), assignee (display name, NA when
  unassigned), due (date), resolved (timestamp), url (``<site>/browse/<key>``), error.
- ``jira_links``: subject (``action:<KEY>``, the finding subject of ``post-incident-review``),
  name (the issue's summary), url: what a finding about the action links to.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

import pandas as pd
import requests

from oncall_readiness.errors import SourceError
from oncall_readiness.sources import confluence_reviews
from oncall_readiness.sources.facts import Facts, typed_frame
from oncall_readiness.sources.http import ApiClient, raise_for_error, retrying_session, settle_environment
from oncall_readiness.sources.window import AuditWindow

if TYPE_CHECKING:
    from oncall_readiness.hooks.base import ReadinessHook

log = logging.getLogger(__name__)

SOURCE = "jira"
SEARCH_PATH = "/rest/api/3/search/jql"
FIELDS = ("status", "duedate", "resolutiondate", "assignee", "summary")
# Jira answers at most 100 issues a page when fields beyond id and key are asked for.
PAGE_SIZE = 100
# Keys per JQL query: a query stays far below Jira's JQL length limits, and fills a page.
KEYS_PER_QUERY = 100
# Following tokens stops here whatever the server says: a server that ignores the token must not loop forever.
MAX_PAGES = 100
ACTIONS = "jira_action_items"
LINKS = "jira_links"

FACT_COLUMNS: dict[str, dict[str, str]] = {
    ACTIONS: {
        "key": "string",
        "found": "boolean",
        "summary": "string",
        "status": "string",
        "status_category": "string",
        "assignee": "string",
        "due": "date",
        "resolved": "timestamp",
        "url": "string",
        "error": "string",
    },
    LINKS: {"subject": "string", "name": "string", "url": "string"},
}

_QUOTED = re.compile(r"'([^']+)'")


class JiraClient(ApiClient):
    """A read-only Jira Cloud REST API v3 client: Basic auth with an API token, retries.

    The JQL search is a ``POST`` that only reads, so it is retried like a GET, through a
    session of its own that shares the client's rate-limit gate.
    """

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
        super().__init__(base_url, max_retries=max_retries, backoff_factor=backoff_factor)
        self.session.auth = (email, token)
        self.session.headers.update({"Accept": "application/json", "User-Agent": "oncall-readiness"})
        self.queries = retrying_session(
            max_retries=max_retries, backoff_factor=backoff_factor, methods=frozenset({"POST"}), gate=self.gate
        )
        self.queries.auth = self.session.auth
        self.queries.headers.update(self.session.headers)
        settle_environment(self.queries, self.base_url)

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> requests.Response:
        response = self._send(path, params)
        self.count_request()
        raise_for_error(response, SOURCE)
        return response

    def search_page(self, body: Mapping[str, Any]) -> requests.Response:
        """One ``POST /rest/api/3/search/jql``; the answer as it came (errors not raised)."""
        self.gate.wait()
        response = self.queries.post(f"{self.base_url}{SEARCH_PATH}", json=dict(body))
        self.count_retries(response)
        self.count_request()
        return response

    def issues(self, keys: Sequence[str]) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
        """The issues among ``keys`` by key, and the keys Jira says do not exist with its message.

        One JQL query (and its next pages); when Jira refuses it for keys it does not know, once
        more without them.
        """
        missing: dict[str, str] = {}
        wanted = list(dict.fromkeys(keys))
        for _ in range(2):
            if not wanted:
                return {}, missing
            response = self.search_page(_query(wanted))
            unknown = _unknown_keys(response, wanted)
            if not unknown:
                raise_for_error(response, SOURCE)
                return self._all_pages(wanted, response), missing
            missing.update(unknown)
            wanted = [key for key in wanted if key not in unknown]
        raise_for_error(response, SOURCE)
        return {}, missing

    def _all_pages(self, keys: Sequence[str], response: requests.Response) -> dict[str, dict[str, Any]]:
        """Every page of the query's answer; a key Jira neither returned nor refused means a cut answer.

        (Jira refuses a key it does not know, or that the account may not see, with a 400: it never
        leaves one out silently.)
        """
        found = self._pages(keys, response)
        if lost := [key for key in keys if key not in found]:
            raise SourceError(
                f"{SOURCE}: POST {SEARCH_PATH} answered {len(found)} of the {len(keys)} issues asked for, "
                f"without {', '.join(lost[:5])}: the answer was cut short"
            )
        return found

    def _pages(self, keys: Sequence[str], response: requests.Response) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for _ in range(MAX_PAGES):
            body = response.json()
            issues = body.get("issues") if isinstance(body, dict) else None
            if not isinstance(issues, list):
                raise SourceError(f"{SOURCE}: POST {SEARCH_PATH} answered without issues")
            found.update({str(issue.get("key")): issue for issue in issues if isinstance(issue, dict)})
            token = body.get("nextPageToken")
            if body.get("isLast") is True or not token:
                return found
            response = self.search_page({**_query(keys), "nextPageToken": token})
            raise_for_error(response, SOURCE)
        raise SourceError(f"{SOURCE}: POST {SEARCH_PATH} kept answering next pages after {MAX_PAGES} pages")


def _query(keys: Iterable[str]) -> dict[str, Any]:
    return {"jql": f"key in ({', '.join(keys)})", "fields": list(FIELDS), "maxResults": PAGE_SIZE}


def _unknown_keys(response: requests.Response, keys: Sequence[str]) -> dict[str, str]:
    """The keys a 400 answer's ``errorMessages`` name (Jira's "does not exist" for a key), with the message."""
    if response.status_code != 400:
        return {}
    try:
        messages = response.json().get("errorMessages") or []
    except (ValueError, AttributeError):
        return {}
    wanted = set(keys)
    unknown: dict[str, str] = {}
    for message in map(str, messages):
        for quoted in _QUOTED.findall(message):
            if quoted in wanted:
                unknown[quoted] = message
    return unknown


def read_actions(client: JiraClient, keys: Iterable[str], instant: pd.Timestamp) -> Facts:
    """The ``jira_action_items`` and ``jira_links`` facts of ``keys``, one query per batch."""
    keys = sorted(set(keys))
    rows: list[dict[str, Any]] = []
    for start in range(0, len(keys), KEYS_PER_QUERY):
        batch = keys[start : start + KEYS_PER_QUERY]
        found, missing = client.issues(batch)
        for key in batch:
            if key in found:
                rows.append(_action(client.base_url, found[key], instant))
            else:
                reason = missing.get(key) or "Jira did not return it (unknown, or not visible to the account)"
                rows.append({"key": key, "found": False, "url": _browse(client.base_url, key), "error": reason})
    links = [
        {"subject": f"action:{row['key']}", "name": row.get("summary") or row["key"], "url": row["url"]} for row in rows
    ]
    return {ACTIONS: typed_frame(rows, FACT_COLUMNS[ACTIONS]), LINKS: typed_frame(links, FACT_COLUMNS[LINKS])}


def _browse(site: str, key: str) -> str:
    return f"{site}/browse/{key}"


def _action(site: str, issue: Mapping[str, Any], instant: pd.Timestamp) -> dict[str, Any]:
    fields = issue.get("fields") or {}
    key = str(issue["key"])
    # Jira sends every field asked for, null when unset: a field missing is an answer we cannot read
    # (an absent duedate read as "none" would turn an overdue action into one not judged).
    if missing := [field for field in FIELDS if field not in fields]:
        raise SourceError(f"{SOURCE}: POST {SEARCH_PATH} answered issue {key} without {', '.join(missing)}")
    status = fields.get("status") or {}
    if not status.get("name") or not (status.get("statusCategory") or {}).get("key"):
        raise SourceError(f"{SOURCE}: POST {SEARCH_PATH} answered issue {key} without its status and category")
    resolved = fields.get("resolutiondate")
    category = (status.get("statusCategory") or {}).get("key")
    if resolved and pd.Timestamp(resolved) > instant:  # resolved after the audit instant: open as of it
        resolved, category = None, "indeterminate"
    return {
        "key": key,
        "found": True,
        "summary": fields.get("summary"),
        "status": status.get("name"),
        "status_category": category,
        "assignee": (fields.get("assignee") or {}).get("displayName"),
        "due": _date(fields.get("duedate"), key),
        "resolved": _iso(resolved),
        "url": _browse(site, key),
        "error": None,
    }


def _date(value: Any, key: str) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise SourceError(f"{SOURCE}: issue {key} has a duedate that is not a date: {value!r}") from None


def _iso(value: Any) -> str | None:
    """Jira's ``2026-11-03T10:15:00.000+0000`` as ISO 8601 with a zone pandas reads."""
    if not value:
        return None
    return pd.Timestamp(str(value)).isoformat()


def collect_for_audit(hook: ReadinessHook, registry: Mapping[str, pd.DataFrame], window: AuditWindow) -> Facts:
    """The action items the organisation's post-incident reviews link, as of the audit instant.

    The reviews are found as the Confluence source finds them (``confluence_reviews.collect_reviews``,
    through the Confluence connection the hook names, ``JiraHook.confluence_client``); without any
    review naming a key, Jira is not called.
    """
    reviews = confluence_reviews.collect_reviews(cast(Any, hook).confluence_client(), registry, window)
    keys = {key for text in reviews["jira_keys"].dropna() for key in str(text).split(",") if key}
    if not keys:
        return {table: typed_frame([], columns) for table, columns in FACT_COLUMNS.items()}
    client = cast(JiraClient, hook.get_conn())
    facts = read_actions(client, keys, window.instant)
    log.info("Jira: %d action items, %d requests, %d retried", len(keys), client.requests_made, client.retries)
    return facts
