"""The runbook facts' shared vocabulary: which host keeps a runbook link, each host's facts
table, and the columns every runbook facts table has, with the four parts' labels.

One declaration, read by the runbook sources (``sources/runbooks.py``, ``sources/github.py``,
``sources/confluence.py``), their data contracts (``quality/github.py``, ``quality/confluence.py``)
and the ``runbook-freshness`` check. A check only reads facts, so this module imports no
client, no source and no hook: nothing but the standard library.

The four parts are the playbook's list: failure scenarios, mitigations, alert thresholds and
step-by-step guides; ``sources.runbooks.runbook_parts`` finds them in a runbook's headings.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

GITHUB_WEB_HOSTS = ("github.com", "www.github.com")
CONFLUENCE_CLOUD_SUFFIX = ".atlassian.net"

# facts column -> the part's name in a finding ("lacks mitigations and alert thresholds")
PART_LABELS: dict[str, str] = {
    "has_failure_scenarios": "failure scenarios",
    "has_mitigations": "mitigations",
    "has_alert_thresholds": "alert thresholds",
    "has_step_by_step": "step-by-step guides",
}
PART_COLUMNS = list(PART_LABELS)
# The columns every host's runbook facts table has (each host adds its own, such as commit_sha).
RUNBOOK_COLUMNS = ["service", "url", "found", "last_changed", *PART_COLUMNS, "error"]


def is_github_url(url: str | None) -> bool:
    """Whether a runbook link points at github.com (a blob URL or not)."""
    return isinstance(url, str) and (urlsplit(url.strip()).hostname or "").lower() in GITHUB_WEB_HOSTS


def is_confluence_url(url: str | None) -> bool:
    """Whether a runbook link points into a Confluence Cloud site (``*.atlassian.net/wiki``)."""
    if not isinstance(url, str):
        return False
    parts = urlsplit(url.strip())
    return (parts.hostname or "").lower().endswith(CONFLUENCE_CLOUD_SUFFIX) and parts.path.startswith("/wiki")


@dataclass(frozen=True)
class RunbookHost:
    """A system that keeps runbooks: the source that reads it, its facts table, its links."""

    name: str  # the source's name in the catalogue: github, confluence
    title: str  # how people call it
    table: str  # its facts table
    holds: Callable[[str | None], bool]  # whether a runbook link points into it


HOSTS: dict[str, RunbookHost] = {
    host.name: host
    for host in (
        RunbookHost("github", "GitHub", "github_runbooks", is_github_url),
        RunbookHost("confluence", "Confluence", "confluence_runbooks", is_confluence_url),
    )
}


def runbook_host(url: str | None) -> str | None:
    """The name of the host that keeps a runbook link (``github``, ``confluence``), or None for
    a link this audit cannot read (or no link)."""
    return next((host.name for host in HOSTS.values() if host.holds(url)), None)
