"""The Confluence emulator's state: the pages it serves and their versions, read from YAML and validated.

State (YAML, see ``include/sample_org/confluence.yaml``)::

    emulator: {rate_limit: 100/1, fail_next: 0}   # optional (tests set it)
    users: [readiness-audit@example.com]          # optional: accounts whose token works
    pages:
      - id: "40960001"
        title: Payments Reconciler Runbook
        space: OPS
        status: current            # or trashed
        versions:                  # oldest first; a version without body keeps the previous one
          - {when: "2026-05-04T09:00:00Z", by: Liam Walsh, message: First draft, body: "<h1>...</h1>"}
        labels: [postmortem]       # optional: the page's labels (CQL ``label``)
        restrictions:              # optional: the page's own read restrictions
          read: {users: [Liam Walsh], groups: [payments-leads]}
"""

from __future__ import annotations

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


class ConfluenceStateError(ValueError):
    """The state file is malformed; the message says where."""


# --- state -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Version:
    number: int
    when: datetime
    by: str
    message: str
    minor_edit: bool
    body: str


@dataclass(frozen=True)
class Page:
    id: str
    title: str
    space: str
    status: str
    versions: tuple[Version, ...]  # oldest first
    labels: tuple[str, ...] = ()
    read_users: tuple[str, ...] = ()  # its own read restrictions: who may read it (none: everyone)
    read_groups: tuple[str, ...] = ()


@dataclass(frozen=True)
class EmulatorSettings:
    rate_limit: RateLimit = DEFAULT_RATE_LIMIT
    fail_next: int = 0


@dataclass(frozen=True)
class ConfluenceState:
    pages: Mapping[str, Page]
    users: frozenset[str] = frozenset()  # lower-cased emails; empty: any account
    settings: EmulatorSettings = field(default_factory=EmulatorSettings)


def load_confluence_state(path: str | Path) -> ConfluenceState:
    text = Path(path).read_text(encoding="utf-8")
    try:
        document = parse_document(text) or {}
    except yaml.YAMLError as error:
        raise ConfluenceStateError(f"{path}: not valid YAML: {error}") from None
    return parse_state(document, source=str(path))


def parse_state(document: Mapping[str, Any], *, source: str = "state") -> ConfluenceState:
    if not isinstance(document, Mapping):
        raise ConfluenceStateError(f"{source}: the state must be a mapping")
    pages: dict[str, Page] = {}
    for i, entry in enumerate(document.get("pages") or []):
        page = _page(entry, f"{source}: pages[{i}]")
        if page.id in pages:
            raise ConfluenceStateError(f"{source}: pages[{i}]: page {page.id} is defined twice")
        pages[page.id] = page
    emulator = document.get("emulator") or {}
    try:
        limit = emulator.get("rate_limit")
        settings = EmulatorSettings(
            rate_limit=RateLimit.parse(str(limit)) if limit else DEFAULT_RATE_LIMIT,
            fail_next=int(emulator.get("fail_next", 0)),
        )
    except (TypeError, ValueError) as error:
        raise ConfluenceStateError(f"{source}: emulator: {error}") from None
    users = frozenset(str(u).strip().lower() for u in document.get("users") or [])
    return ConfluenceState(pages=pages, users=users, settings=settings)


def _page(entry: Any, where: str) -> Page:
    if not isinstance(entry, Mapping) or not re.fullmatch(r"\d+", str(entry.get("id", ""))):
        raise ConfluenceStateError(f"{where}: a page needs a numeric id")
    if not entry.get("versions"):
        raise ConfluenceStateError(f"{where}: page {entry['id']} needs at least one version")
    status = str(entry.get("status") or "current")
    if status not in ("current", "trashed", "archived"):
        raise ConfluenceStateError(f"{where}: status must be current, archived or trashed")
    versions: list[Version] = []
    for j, raw in enumerate(entry["versions"]):
        at = f"{where}.versions[{j}]"
        if not isinstance(raw, Mapping):
            raise ConfluenceStateError(f"{at}: a version is a mapping with when, by and body")
        when = utc_moment(raw.get("when"), f"{at}.when", ConfluenceStateError)
        if versions and when < versions[-1].when:
            raise ConfluenceStateError(f"{at}: versions must be listed oldest first")
        body = raw.get("body")
        if body is None and not versions:
            raise ConfluenceStateError(f"{at}: the first version needs a body")
        versions.append(
            Version(
                number=j + 1,
                when=when,
                by=str(raw.get("by") or "Sandbox Bot"),
                message=str(raw.get("message") or ""),
                minor_edit=bool(raw.get("minor_edit", False)),
                body=str(body) if body is not None else versions[-1].body,
            )
        )
    read = (entry.get("restrictions") or {}).get("read") or {}
    if not isinstance(read, Mapping):
        raise ConfluenceStateError(f"{where}: restrictions.read is a mapping with users and groups")
    return Page(
        id=str(entry["id"]),
        title=str(entry.get("title") or f"Page {entry['id']}"),
        space=str(entry.get("space") or "OPS"),
        status=status,
        versions=tuple(versions),
        labels=tuple(str(label) for label in entry.get("labels") or ()),
        read_users=tuple(str(user) for user in read.get("users") or ()),
        read_groups=tuple(str(group) for group in read.get("groups") or ()),
    )
