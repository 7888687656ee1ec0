"""GitHub runbooks: when each runbook kept in a GitHub repository last changed, and what it covers.

A service's runbook is the registry's ``runbook_url`` (``metadata.links[]`` with ``type:
runbook``). Those on GitHub are blob URLs, ``https://github.com/<owner>/<repo>/blob/<ref>/<path>``
(the ref is the first segment after ``blob``: a branch, tag or commit sha without a slash).
Only runbooks of services that belong to a team are read, a URL shared by several services
once. Per runbook, as of the audit instant (so a backfill sees the runbook as it was): the
newest commit on the ref that touched the file at or before the instant (its committer
date, when the change landed on the branch, is ``last_changed``), and the file's Markdown
at that commit.

Two ways to read them, chosen by the client's ``api`` (the connection's extra ``api``):

- ``graphql`` (default): up to 100 runbooks per ``POST /graphql`` (:mod:`.graphql`): about
  ``runbooks / 100`` requests and as many points of GitHub's 5,000 an hour;
- ``rest``: two calls per runbook (:mod:`.rest`), for GitHub Enterprise hosts without
  GraphQL. A ``graphql`` client whose host answers 404 at ``/graphql`` reads with REST too
  (logged once).

An unreadable runbook is a fact (``found`` false with the reason in ``error``): an unknown
repository or ref (GitHub also hides a private repository the token cannot see), an empty
repository, a path without history at the instant, a file deleted or renamed by its last
commit, a folder. A bad token, another 4xx, or a rate limit or 5xx that outlasts the
retries raises ``SourceError``: the GitHub-hosted runbooks then become ``unknown``. Rate
limits are waited out as :mod:`.client` describes.

The four parts of a runbook (failure scenarios, mitigations, alert thresholds, step-by-step
guides; the playbook's list) are found in its Markdown headings (:func:`markdown_headings`),
with the synonyms of :func:`oncall_readiness.sources.runbooks.runbook_parts`.

Facts table (schema version 1; timestamps UTC):

- ``github_runbooks``: service, url, repository (``owner/repo``), ref, path, found,
  commit_sha, last_changed, has_failure_scenarios, has_mitigations, has_alert_thresholds,
  has_step_by_step (null when not found), error (why not found; null when found)
- ``github_links``: subject (``service:<name>``), name (the file's path), url (the runbook's
  URL in the registry): the findings' links
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from oncall_readiness import schema
from oncall_readiness.runbook_facts import HOSTS, PART_COLUMNS
from oncall_readiness.sources import runbooks
from oncall_readiness.sources.facts import Facts
from oncall_readiness.sources.github import graphql, rest
from oncall_readiness.sources.github.client import (
    SOURCE,
    GitHubClient,
    GraphQLUnavailable,
)
from oncall_readiness.sources.github.files import BlobLink, not_found, parse_blob_url
from oncall_readiness.sources.runbooks import frame
from oncall_readiness.sources.window import AuditWindow

if TYPE_CHECKING:
    from oncall_readiness.hooks.base import ReadinessHook

log = logging.getLogger(__name__)

HOST = HOSTS[SOURCE]
TABLE = HOST.table

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
    },
    "github_links": dict(schema.LINK_COLUMNS),
}


def collect(client: GitHubClient, to_read: pd.DataFrame, instant: pd.Timestamp) -> dict[str, pd.DataFrame]:
    """The ``github_runbooks`` facts of the runbooks ``to_read`` (columns service, url) as of ``instant``."""
    until = instant.tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ")
    links = {url: parse_blob_url(url) for url in to_read["url"]}
    read = read_runbooks(client, list(dict.fromkeys(link for link in links.values() if link)), until)
    rows = []
    for service, url in zip(to_read["service"], to_read["url"], strict=True):
        link = links[url]
        if link is None:
            fact = not_found(f"{url} is not a link to a file (https://github.com/<owner>/<repo>/blob/<ref>/<path>)")
        else:
            fact = {"repository": link.repository, "ref": link.ref, "path": link.path, **read[link]}
        rows.append({"service": service, "url": url, **fact})
    return {TABLE: frame(TABLE, rows, FACT_COLUMNS)}


def read_runbooks(client: GitHubClient, links: Sequence[BlobLink], until: str) -> dict[BlobLink, dict[str, Any]]:
    """Each link's facts, through GraphQL unless the client says REST or the host has no GraphQL."""
    if not links:
        return {}
    if client.api == "graphql":
        try:
            return graphql.read_runbooks(client, links, until)
        except GraphQLUnavailable as error:
            log.warning("%s; reading the runbooks through the REST API instead (two calls each)", error)
            client.api = "rest"
    return {link: rest.read_runbook(client, link, until) for link in links}


def runbooks_to_collect(services: pd.DataFrame) -> pd.DataFrame:
    """(service, url) of every team service whose runbook is on GitHub."""
    return runbooks.runbooks_to_collect(HOST, services)


def collect_for_audit(hook: ReadinessHook, registry: Mapping[str, pd.DataFrame], window: AuditWindow) -> Facts:
    """The audit's collection: every team service's GitHub runbook as of the audit instant.

    Without any GitHub-hosted runbook nothing is called (and no connection is needed).
    """
    return runbooks.collect_for_audit(hook, registry, window, host=HOST, read=collect, fact_columns=FACT_COLUMNS)
