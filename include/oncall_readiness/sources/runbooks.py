"""Runbooks, wherever a team keeps them: what the GitHub and Confluence sources share.

Which host keeps a runbook link, each host's facts table and the columns every runbook facts
table has are ``oncall_readiness.runbook_facts`` (read by the check too). Here: which team
services' runbooks a host must read (:func:`runbooks_to_collect`), the four parts a runbook
covers, found in its headings (:func:`runbook_parts`), the facts table's frame, and the
audit's collection (:func:`collect_for_audit`), to which each source passes only its host,
its reader and its facts columns.

This module imports no client: it calls an API only through the client a hook returns.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

import pandas as pd

from oncall_readiness import schema
from oncall_readiness.runbook_facts import RunbookHost
from oncall_readiness.sources.facts import Facts, links_frame, typed_frame
from oncall_readiness.sources.window import AuditWindow

if TYPE_CHECKING:
    from oncall_readiness.hooks.base import ReadinessHook
    from oncall_readiness.sources.http import ApiClient

log = logging.getLogger(__name__)

ClientT = TypeVar("ClientT", bound="ApiClient")


# The headings that name each of the four parts (runbook_facts.PART_LABELS), matched case-insensitively against a
# heading's words, punctuation ignored: "Step-by-step" is "step by step".
PART_PATTERNS: dict[str, str] = {
    "has_failure_scenarios": (
        r"\bfailure (?:scenarios?|modes?|cases?)\b|\bknown (?:failures?|issues?)\b|\bwhat can go wrong\b|^failures?$"
    ),
    "has_mitigations": r"\bmitigat(?:e|es|ing|ions?)\b|\bremediations?\b|\bworkarounds?\b",
    "has_alert_thresholds": r"\balert(?:s|ing)?\b|\bthresholds?\b",
    "has_step_by_step": (
        r"\bstep by step\b|\b(?:runbook )?steps\b|\bprocedures?\b|\bplaybooks?\b|\bguides?\b|\binstructions\b"
    ),
}


# --- which runbooks --------------------------------------------------------------------------


def team_runbooks(services: pd.DataFrame, belongs: Callable[[str], Any]) -> pd.DataFrame:
    """(service, url) of every service of a team whose runbook link ``belongs(url)`` to a host."""
    owned = services[services["team"].notna() & services["runbook_url"].notna()]
    mine = owned[owned["runbook_url"].map(lambda url: bool(belongs(url))).astype(bool)]
    return mine[["service", "runbook_url"]].rename(columns={"runbook_url": "url"}).reset_index(drop=True)


def runbooks_to_collect(host: RunbookHost, services: pd.DataFrame) -> pd.DataFrame:
    """(service, url) of every service of a team whose runbook ``host`` keeps."""
    return team_runbooks(services, host.holds)


# --- the parts -------------------------------------------------------------------------------


def runbook_parts(headings: Iterable[str]) -> dict[str, bool]:
    """Which of the four parts the headings name (``has_failure_scenarios`` ... ``has_step_by_step``)."""
    words = [" ".join(re.sub(r"[^\w]+", " ", heading.lower()).replace("_", " ").split()) for heading in headings]
    return {column: any(re.search(pattern, heading) for heading in words) for column, pattern in PART_PATTERNS.items()}


def heading_text(text: str) -> str:
    """A heading as read: whitespace collapsed (non-breaking spaces too), no closing colon."""
    return " ".join(text.split()).rstrip(":").rstrip()


# --- facts and collection --------------------------------------------------------------------


def frame(table: str, rows: Iterable[Mapping[str, Any]], columns: Mapping[str, Mapping[str, str]]) -> pd.DataFrame:
    """The runbook facts table ``table`` of a host whose tables are ``columns``."""
    return typed_frame(rows, columns[table])


def collect_for_audit(
    hook: ReadinessHook,
    registry: Mapping[str, pd.DataFrame],
    window: AuditWindow,
    *,
    host: RunbookHost,
    read: Callable[[ClientT, pd.DataFrame, pd.Timestamp], Facts],
    fact_columns: Mapping[str, Mapping[str, str]],
) -> Facts:
    """The audit's collection of one host: every team service's runbook on it, as of the audit instant.

    ``read(client, runbooks, instant)`` is the host's collector (runbooks: columns service,
    url). Without any runbook on the host nothing is called, so no connection is needed.
    """
    runbooks = runbooks_to_collect(host, registry["registry_services"])
    links_table = f"{host.name}{schema.LINKS_SUFFIX}"
    if runbooks.empty:
        return {host.table: frame(host.table, [], fact_columns), links_table: links_frame([])}
    client = cast(ClientT, hook.get_conn())  # the host's hook builds the client its reader takes
    facts = read(client, runbooks, window.instant)
    log.info(
        "%s: %d runbooks, %d requests, %d retried after a rate limit or 5xx",
        host.title,
        len(runbooks),
        client.requests_made,
        client.retries,
    )
    return {
        **facts,
        links_table: runbook_links(facts[host.table], name="title" if "title" in facts[host.table] else "path"),
    }


def runbook_links(runbooks: pd.DataFrame, *, name: str) -> pd.DataFrame:
    """``<host>_links``: each service's runbook (``service:<name>``) at the URL the registry gives,
    named by its page title or file path (the URL when it was not found)."""
    names = runbooks[name].where(runbooks[name].notna(), runbooks["url"])
    return links_frame(
        {"subject": f"service:{service}", "name": label, "url": url}
        for service, label, url in zip(runbooks["service"], names, runbooks["url"], strict=True)
    )
