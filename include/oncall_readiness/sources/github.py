"""GitHub runbooks: when each runbook kept in a GitHub repository last changed, and what it covers.

A service's runbook is the registry's ``runbook_url`` (``metadata.links[]`` with ``type:
runbook``). Those on GitHub are blob URLs, ``https://github.com/<owner>/<repo>/blob/<ref>/<path>``
(the ref is the first segment after ``blob``: a branch, tag or commit sha without a slash).
Only runbooks of services that belong to a team are read. Per runbook, as of the audit
instant (so a backfill sees the runbook as it was):

1. ``GET /repos/{owner}/{repo}/commits?sha=<ref>&path=<path>&until=<instant>&per_page=1``:
   the newest commit on the ref that touched the file at or before the audit instant; its
   ``commit.committer.date`` (when the change landed on the branch) is ``last_changed``;
2. ``GET /repos/{owner}/{repo}/contents/<path>?ref=<that commit's sha>``: the runbook's
   Markdown as it was then, skipped when step 1 found nothing.

Two calls per runbook, one when there is none; a URL shared by several services is read once.
An unreadable runbook is a fact (``found`` false with the reason in ``error``): an unknown
repository or ref (404; GitHub also answers 404 for a private repository the token cannot
see), an empty repository (409), a path without history at the instant, a file deleted or
renamed by its last commit, a folder. A bad token, another 4xx, or a 429/403 rate limit
or 5xx that outlasts the retries raises ``SourceError``: the GitHub-hosted runbooks then
become ``unknown``. Over GitHub's rate limit (403 or 429 with ``x-ratelimit-remaining: 0``,
or ``retry-after``) the client waits as asked (at most two minutes a time) and retries.

The four parts of a runbook (failure scenarios, mitigations, alert thresholds, step-by-step
guides; the playbook's list) are found in its Markdown headings (:func:`markdown_headings`),
with the synonyms of :func:`oncall_readiness.sources.runbooks.runbook_parts`.

Facts table (schema version 1; timestamps UTC):

- ``github_runbooks``: service, url, repository (``owner/repo``), ref, path, found,
  commit_sha, last_changed, has_failure_scenarios, has_mitigations, has_alert_thresholds,
  has_step_by_step (null when not found), error (why not found; null when found)
"""

from __future__ import annotations

import base64
import logging
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote, urlsplit

import pandas as pd
import requests

from oncall_readiness.runbook_facts import HOSTS, PART_COLUMNS, is_github_url
from oncall_readiness.sources import runbooks
from oncall_readiness.sources.http import (
    MAX_RETRY_WAIT_SECONDS,
    ApiClient,
    SourceError,
    raise_for_error,
)
from oncall_readiness.sources.runbooks import frame, heading_text, runbook_parts

if TYPE_CHECKING:
    from oncall_readiness.hooks.base import ReadinessHook

log = logging.getLogger(__name__)

SOURCE = "github"
HOST = HOSTS[SOURCE]
API_URL = "https://api.github.com"
API_VERSION = "2022-11-28"
ACCEPT = "application/vnd.github+json"
ACCEPT_RAW = "application/vnd.github.raw+json"
TABLE = HOST.table
# Without a hint from GitHub, wait this long before retrying a secondary rate limit.
SECONDARY_LIMIT_WAIT_SECONDS = 60.0

FACT_COLUMNS: dict[str, dict[str, str]] = {
    TABLE: {
        "service": "string",
        "url": "string",
        "repository": "string",
        "ref": "string",
        "path": "string",
        "found": "boolean",
        "commit_sha": "string",
        "last_changed": "timestamp",
        **{column: "boolean" for column in PART_COLUMNS},
        "error": "string",
    }
}


# --- runbook links and headings --------------------------------------------------------------


@dataclass(frozen=True)
class BlobLink:
    owner: str
    repo: str
    ref: str
    path: str

    @property
    def repository(self) -> str:
        return f"{self.owner}/{self.repo}"


_BLOB_PATH = re.compile(r"^/(?P<owner>[^/]+)/(?P<repo>[^/]+)/blob/(?P<ref>[^/]+)/(?P<path>.+?)/*$")


def parse_blob_url(url: str) -> BlobLink | None:
    """``https://github.com/o/r/blob/main/docs/x.md#anchor`` → BlobLink(o, r, main, docs/x.md); else None."""
    if not is_github_url(url):
        return None
    match = _BLOB_PATH.match(urlsplit(url.strip()).path)
    if not match:
        return None
    return BlobLink(match["owner"], match["repo"], unquote(match["ref"]), unquote(match["path"]))


_FENCE = re.compile(r"^\s{0,3}(```|~~~)")
_ATX = re.compile(r"^\s{0,3}#{1,6}(?:\s+(.*?))?\s*#*\s*$")
_SETEXT = re.compile(r"^\s{0,3}(?:=+|-+)\s*$")
_BOLD_LINE = re.compile(r"^\s*(?:\*\*|__)(.+?)(?:\*\*|__)\s*:?\s*$")


def markdown_headings(text: str) -> list[str]:
    """The headings of a Markdown document: ATX (``## Mitigations``), setext (underlined), and
    lines that are nothing but bold text (``**Mitigations**``); fenced code is skipped."""
    headings, fenced, previous = [], False, ""
    for line in text.splitlines():
        if _FENCE.match(line):
            fenced, previous = not fenced, ""
            continue
        if fenced:
            continue
        if match := _ATX.match(line):
            headings.append(match.group(1) or "")
        elif _SETEXT.match(line) and previous.strip() and not previous.lstrip().startswith(("-", "*", ">")):
            headings.append(previous.strip())
        elif match := _BOLD_LINE.match(line):
            headings.append(match.group(1))
        previous = line
    return [heading_text(heading) for heading in headings]


# --- the client ------------------------------------------------------------------------------


class GitHubClient(ApiClient):
    """A read-only GitHub REST API client: token auth, retries on 5xx, 429 and 403 rate limits."""

    def __init__(
        self,
        token: str,
        *,
        base_url: str = API_URL,
        max_retries: int = 6,
        backoff_factor: float = 0.5,
    ) -> None:
        if not token:
            raise SourceError(f"{SOURCE}: no API token given")
        super().__init__(base_url, max_retries=max_retries, backoff_factor=backoff_factor)
        self.session.headers.update(
            {
                "Authorization": f"Bearer {token}",
                "Accept": ACCEPT,
                "X-GitHub-Api-Version": API_VERSION,
                "User-Agent": "oncall-readiness",
            }
        )

    def get(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        *,
        absent: Iterable[int] = (),
        headers: Mapping[str, str] | None = None,
    ) -> requests.Response:
        """One API call; a status in ``absent`` is returned for the caller to read, other errors raise."""
        self.requests_made += 1
        for attempt in range(self.max_retries + 1):
            response = self._send(path, params, headers=headers)
            wait = _rate_limit_wait(response)
            if wait is None or attempt == self.max_retries:
                break
            self.retries += 1
            log.info("GitHub rate limit reached (HTTP %d): waiting %.0f s", response.status_code, wait)
            time.sleep(wait)
        if response.status_code not in set(absent):
            raise_for_error(response, SOURCE)
        return response


def _rate_limit_wait(response: requests.Response) -> float | None:
    """Seconds to wait before retrying a 403 that is GitHub's rate limit; None for anything else.

    (A 429 is already retried by the session, honouring ``retry-after`` and ``x-ratelimit-reset``.)
    """
    if response.status_code != 403:
        return None
    headers = response.headers
    retry_after = headers.get("retry-after", "").strip()
    if retry_after.isdigit():
        return min(float(retry_after), MAX_RETRY_WAIT_SECONDS)
    if headers.get("x-ratelimit-remaining") == "0":
        reset = headers.get("x-ratelimit-reset", "").strip()
        seconds = int(reset) - time.time() if reset.isdigit() else SECONDARY_LIMIT_WAIT_SECONDS
        return min(max(seconds, 1.0), MAX_RETRY_WAIT_SECONDS)
    try:
        message = str(response.json().get("message", ""))
    except (ValueError, AttributeError):
        message = ""
    return SECONDARY_LIMIT_WAIT_SECONDS if "rate limit" in message.lower() else None


# --- collection ------------------------------------------------------------------------------


def collect(client: GitHubClient, to_read: pd.DataFrame, instant: pd.Timestamp) -> dict[str, pd.DataFrame]:
    """The ``github_runbooks`` facts of the runbooks ``to_read`` (columns service, url) as of ``instant``."""
    until = instant.tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ")
    read: dict[BlobLink, dict[str, Any]] = {}
    rows = []
    for service, url in zip(to_read["service"], to_read["url"], strict=True):
        link = parse_blob_url(url)
        if link is None:
            fact = _not_found(f"{url} is not a link to a file (https://github.com/<owner>/<repo>/blob/<ref>/<path>)")
        else:
            if link not in read:
                read[link] = _read_runbook(client, link, until)
            fact = {"repository": link.repository, "ref": link.ref, "path": link.path, **read[link]}
        rows.append({"service": service, "url": url, **fact})
    return {TABLE: frame(TABLE, rows, FACT_COLUMNS)}


def _read_runbook(client: GitHubClient, link: BlobLink, until: str) -> dict[str, Any]:
    repo_path = f"/repos/{quote(link.owner)}/{quote(link.repo)}"
    params = {"sha": link.ref, "path": link.path, "until": until, "per_page": 1}
    response = client.get(f"{repo_path}/commits", params, absent=(404, 409))
    if response.status_code == 404:
        message = _message(response)
        return _not_found(
            f"GitHub has no {link.ref!r} in {link.repository}, or the token cannot see the repository ({message})"
            if message.startswith("No commit found")
            else f"GitHub has no repository {link.repository}, or the token cannot see it (404 {message})"
        )
    if response.status_code == 409:
        return _not_found(f"the repository {link.repository} is empty")
    commits = response.json()
    if not isinstance(commits, list):
        raise SourceError(f"{SOURCE}: GET {repo_path}/commits answered without a list of commits")
    if not commits:
        return _not_found(f"{link.path} has no commit on {link.ref} in {link.repository} at or before the audit")
    sha = commits[0]["sha"]
    changed = (commits[0].get("commit") or {}).get("committer", {}).get("date")
    fact = {"commit_sha": sha, "last_changed": changed}
    contents = client.get(f"{repo_path}/contents/{quote(link.path)}", {"ref": sha}, absent=(404,))
    if contents.status_code == 404:
        return {**_not_found(f"{link.path} was deleted or renamed by commit {sha[:7]} on {changed}"), **fact}
    body = contents.json()
    if isinstance(body, list):
        return {**_not_found(f"{link.path} is a folder, not a file"), **fact}
    if body.get("type") != "file":
        return {**_not_found(f"{link.path} is a {body.get('type')}, not a file"), **fact}
    text = _text(client, body, f"{repo_path}/contents/{quote(link.path)}", sha)
    return {"found": True, **fact, **runbook_parts(markdown_headings(text)), "error": None}


def _text(client: GitHubClient, body: Mapping[str, Any], path: str, sha: str) -> str:
    if body.get("encoding") == "base64":
        return base64.b64decode(body.get("content") or "").decode("utf-8", errors="replace")
    # Files over 1 MB come without content: ask for the raw file instead (one more call).
    return client.get(path, {"ref": sha}, headers={"Accept": ACCEPT_RAW}).text


def _not_found(error: str) -> dict[str, Any]:
    return {"found": False, "error": error}


def _message(response: requests.Response) -> str:
    try:
        return str(response.json().get("message") or response.reason)
    except (ValueError, AttributeError):
        return str(response.reason)


def runbooks_to_collect(services: pd.DataFrame) -> pd.DataFrame:
    """(service, url) of every team service whose runbook is on GitHub."""
    return runbooks.runbooks_to_collect(HOST, services)


def collect_for_audit(
    hook: ReadinessHook,
    instant: pd.Timestamp,
    registry: Mapping[str, pd.DataFrame],
    *,
    window_days: int,
    horizon_days: int = 0,
) -> dict[str, pd.DataFrame]:
    """The audit's collection: every team service's GitHub runbook as of the audit instant.

    Without any GitHub-hosted runbook nothing is called (and no connection is needed).
    """
    return runbooks.collect_for_audit(hook, instant, registry, host=HOST, read=collect, fact_columns=FACT_COLUMNS)
