"""The Jira emulator's state: the issues it serves, read from YAML and validated.

State (YAML, see ``include/sample_org/jira.yaml``)::

    emulator: {rate_limit: 100/1, fail_next: 0}   # optional (tests set it)
    users: [readiness-audit@example.com]          # optional: accounts whose token works
    issues:
      - key: PAY-101
        summary: Alert on reconciler lag before the queue backs up
        status: In Progress          # its category: To Do -> new, Done -> done, others indeterminate
        status_category: indeterminate   # optional, overrides the above
        assignee: Liam Walsh         # optional: unassigned when absent
        duedate: "2026-11-06"        # optional
        resolutiondate: "2026-11-10T09:00:00Z"   # optional; a done issue's resolution
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from readiness_sandbox.times import utc_moment

from ..rate_limit import RateLimit
from ..state_text import parse_document

DEFAULT_RATE_LIMIT = RateLimit(100, 1)
CATEGORIES = ("new", "indeterminate", "done")
KEY = re.compile(r"[A-Z][A-Z0-9_]+-[1-9]\d*")


class JiraStateError(ValueError):
    """The state file is malformed; the message says where."""


@dataclass(frozen=True)
class Issue:
    id: str
    key: str
    summary: str
    status: str
    status_category: str
    assignee: str | None
    duedate: dt.date | None
    resolutiondate: datetime | None

    @property
    def project(self) -> str:
        return self.key.rsplit("-", 1)[0]


@dataclass(frozen=True)
class EmulatorSettings:
    rate_limit: RateLimit = DEFAULT_RATE_LIMIT
    fail_next: int = 0


@dataclass(frozen=True)
class JiraState:
    issues: Mapping[str, Issue]  # by key
    users: frozenset[str] = frozenset()
    settings: EmulatorSettings = field(default_factory=EmulatorSettings)

    @property
    def projects(self) -> frozenset[str]:
        return frozenset(issue.project for issue in self.issues.values())


def load_jira_state(path: str | Path) -> JiraState:
    text = Path(path).read_text(encoding="utf-8")
    try:
        document = parse_document(text) or {}
    except yaml.YAMLError as error:
        raise JiraStateError(f"{path}: not valid YAML: {error}") from None
    return parse_state(document, source=str(path))


def parse_state(document: Mapping[str, Any], *, source: str = "state") -> JiraState:
    if not isinstance(document, Mapping):
        raise JiraStateError(f"{source}: the state must be a mapping")
    issues: dict[str, Issue] = {}
    for i, entry in enumerate(document.get("issues") or []):
        issue = _issue(entry, f"{source}: issues[{i}]", 10001 + i)
        if issue.key in issues:
            raise JiraStateError(f"{source}: issues[{i}]: issue {issue.key} is defined twice")
        issues[issue.key] = issue
    emulator = document.get("emulator") or {}
    try:
        limit = emulator.get("rate_limit")
        settings = EmulatorSettings(
            rate_limit=RateLimit.parse(str(limit)) if limit else DEFAULT_RATE_LIMIT,
            fail_next=int(emulator.get("fail_next", 0)),
        )
    except (TypeError, ValueError) as error:
        raise JiraStateError(f"{source}: emulator: {error}") from None
    users = frozenset(str(u).strip().lower() for u in document.get("users") or [])
    return JiraState(issues=issues, users=users, settings=settings)


def _issue(entry: Any, where: str, number: int) -> Issue:
    if not isinstance(entry, Mapping) or not KEY.fullmatch(str(entry.get("key", ""))):
        raise JiraStateError(f"{where}: an issue needs a key like PAY-101")
    key = str(entry["key"])
    status = str(entry.get("status") or "To Do")
    default = {"to do": "new", "done": "done"}.get(status.lower(), "indeterminate")
    category = str(entry.get("status_category") or default)
    if category not in CATEGORIES:
        raise JiraStateError(f"{where} ({key}): status_category must be one of {', '.join(CATEGORIES)}")
    due = entry.get("duedate")
    try:
        duedate = due if isinstance(due, dt.date) else dt.date.fromisoformat(str(due)) if due else None
    except ValueError:
        raise JiraStateError(f"{where} ({key}): duedate must be a date like 2026-11-06, got {due!r}") from None
    resolved = entry.get("resolutiondate")
    return Issue(
        id=str(number),
        key=key,
        summary=str(entry.get("summary") or key),
        status=status,
        status_category=category,
        assignee=str(entry["assignee"]) if entry.get("assignee") else None,
        duedate=duedate,
        resolutiondate=utc_moment(resolved, f"{where}.resolutiondate", JiraStateError) if resolved else None,
    )
