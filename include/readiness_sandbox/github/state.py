"""The GitHub emulator's state: the repositories it serves, read from YAML and validated.

State (YAML, see ``include/sample_org/github.yaml``)::

    emulator:                  # optional behaviour (tests set it)
      rate_limit: 5000/3600    # requests per window for each token (GitHub: 5,000 an hour)
      rate_limit_status: 403   # 403 (GitHub's usual) or 429
      retry_after: false       # send retry-after with the rate-limit answer
      fail_next: 0             # answer the first N authenticated requests with 503
      graphql: true            # false: POST /graphql answers 404 (an Enterprise host without GraphQL)
      graphql_rate_limit: 5000/3600      # GraphQL points per window for each token
      graphql_secondary_limit: 2000/60   # GraphQL queries per window (GitHub: 2,000 points a minute)
      graphql_max_nodes: 500000          # nodes one query may ask for
      graphql_resource_limit: null       # more repositories in one query: RESOURCE_LIMITS_EXCEEDED
      graphql_timeout_over: null         # more repositories in one query: a 502 timeout
      graphql_partial_over: null         # more repositories in one query: the rest answered null, partly
    repositories:
      - name: example-org/payments-runbooks
        default_branch: main   # optional, default main
        commits:               # oldest first, a linear history of the default branch
          - date: "2026-11-12T10:15:00Z"   # committer date (authored: optional author date)
            author: {name: Amara Okafor, email: amara.okafor@example.com, login: amara-okafor}
            message: "payments-api: card network outage scenario"
            files: {payments-api.md: "# Payments API runbook ...", old.md: null}  # null deletes

Commit shas are derived from the repository, position, date and message (stable).
"""

from __future__ import annotations

import hashlib
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

DEFAULT_RATE_LIMIT = RateLimit(5000, 3600)
DEFAULT_GRAPHQL_RATE_LIMIT = RateLimit(5000, 3600)  # points, not requests
DEFAULT_GRAPHQL_SECONDARY_LIMIT = RateLimit(2000, 60)


class GitHubStateError(ValueError):
    """The state file is malformed; the message says where."""


# --- state -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    name: str
    email: str
    login: str | None


@dataclass(frozen=True)
class Commit:
    sha: str
    parent: str | None
    author: Person
    authored_at: datetime
    committed_at: datetime
    message: str
    changed: frozenset[str]  # paths added, modified or deleted
    tree: Mapping[str, str]  # every file (path -> text) after this commit


@dataclass(frozen=True)
class Repository:
    owner: str
    name: str
    default_branch: str
    commits: tuple[Commit, ...]  # oldest first

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    def resolve(self, ref: str | None) -> int | None:
        """Index of the commit a branch name or (abbreviated) sha points at; None if unknown."""
        if not self.commits:
            return None
        if ref is None or ref in (self.default_branch, f"refs/heads/{self.default_branch}", "HEAD"):
            return len(self.commits) - 1
        if re.fullmatch(r"[0-9a-f]{4,40}", ref):
            for index, commit in enumerate(self.commits):
                if commit.sha.startswith(ref):
                    return index
        return None


@dataclass(frozen=True)
class EmulatorSettings:
    rate_limit: RateLimit = DEFAULT_RATE_LIMIT
    rate_limit_status: int = 403
    retry_after: bool = False
    fail_next: int = 0
    graphql: bool = True
    graphql_rate_limit: RateLimit = DEFAULT_GRAPHQL_RATE_LIMIT
    graphql_secondary_limit: RateLimit = DEFAULT_GRAPHQL_SECONDARY_LIMIT
    graphql_max_nodes: int = 500_000
    graphql_resource_limit: int | None = None
    graphql_timeout_over: int | None = None
    graphql_partial_over: int | None = None


@dataclass(frozen=True)
class GitHubState:
    repositories: Mapping[str, Repository]  # lower-cased "owner/name" -> repository
    settings: EmulatorSettings = field(default_factory=EmulatorSettings)

    def repository(self, owner: str, name: str) -> Repository | None:
        return self.repositories.get(f"{owner}/{name}".lower())


def load_github_state(path: str | Path) -> GitHubState:
    """Read and validate a state file (see the module docstring)."""
    text = Path(path).read_text(encoding="utf-8")
    try:
        document = parse_document(text) or {}
    except yaml.YAMLError as error:
        raise GitHubStateError(f"{path}: not valid YAML: {error}") from None
    return parse_state(document, source=str(path))


def parse_state(document: Mapping[str, Any], *, source: str = "state") -> GitHubState:
    if not isinstance(document, Mapping):
        raise GitHubStateError(f"{source}: the state must be a mapping")
    repositories: dict[str, Repository] = {}
    for i, entry in enumerate(document.get("repositories") or []):
        where = f"{source}: repositories[{i}]"
        repository = _repository(entry, where)
        key = repository.full_name.lower()
        if key in repositories:
            raise GitHubStateError(f"{where}: repository {repository.full_name!r} is defined twice")
        repositories[key] = repository
    return GitHubState(repositories=repositories, settings=_settings(document.get("emulator") or {}, source))


def _settings(entry: Mapping[str, Any], source: str) -> EmulatorSettings:
    try:
        limit = entry.get("rate_limit")
        settings = EmulatorSettings(
            rate_limit=RateLimit.parse(str(limit)) if limit else DEFAULT_RATE_LIMIT,
            rate_limit_status=int(entry.get("rate_limit_status", 403)),
            retry_after=bool(entry.get("retry_after", False)),
            fail_next=int(entry.get("fail_next", 0)),
            graphql=bool(entry.get("graphql", True)),
            graphql_rate_limit=_limit(entry, "graphql_rate_limit", DEFAULT_GRAPHQL_RATE_LIMIT),
            graphql_secondary_limit=_limit(entry, "graphql_secondary_limit", DEFAULT_GRAPHQL_SECONDARY_LIMIT),
            graphql_max_nodes=int(entry.get("graphql_max_nodes", 500_000)),
            graphql_resource_limit=_optional_int(entry, "graphql_resource_limit"),
            graphql_timeout_over=_optional_int(entry, "graphql_timeout_over"),
            graphql_partial_over=_optional_int(entry, "graphql_partial_over"),
        )
    except (TypeError, ValueError) as error:
        raise GitHubStateError(f"{source}: emulator: {error}") from None
    if settings.rate_limit_status not in (403, 429):
        raise GitHubStateError(f"{source}: emulator.rate_limit_status must be 403 or 429")
    return settings


def _limit(entry: Mapping[str, Any], key: str, default: RateLimit) -> RateLimit:
    value = entry.get(key)
    return RateLimit.parse(str(value)) if value else default


def _optional_int(entry: Mapping[str, Any], key: str) -> int | None:
    value = entry.get(key)
    return None if value is None else int(value)


def _repository(entry: Any, where: str) -> Repository:
    if not isinstance(entry, Mapping) or not re.fullmatch(r"[\w.-]+/[\w.-]+", str(entry.get("name", ""))):
        raise GitHubStateError(f"{where}: needs a name like owner/repository")
    owner, name = str(entry["name"]).split("/")
    tree: dict[str, str] = {}
    commits: list[Commit] = []
    previous_date = None
    for j, raw in enumerate(entry.get("commits") or []):
        at = f"{where} ({entry['name']}) commits[{j}]"
        if not isinstance(raw, Mapping) or not isinstance(raw.get("files"), Mapping) or not raw["files"]:
            raise GitHubStateError(f"{at}: a commit needs files (path: text, or null to delete)")
        committed_at = utc_moment(raw.get("date"), f"{at}.date", GitHubStateError)
        authored_at = (
            utc_moment(raw.get("authored"), f"{at}.authored", GitHubStateError) if raw.get("authored") else committed_at
        )
        if previous_date and committed_at < previous_date:
            raise GitHubStateError(f"{at}: commits must be listed oldest first")
        previous_date = committed_at
        for path, text in raw["files"].items():
            if text is None:
                if path not in tree:
                    raise GitHubStateError(f"{at}: deletes {path!r}, which does not exist")
                del tree[path]
            else:
                tree[str(path).strip("/")] = str(text)
        author = raw.get("author") or {}
        message = str(raw.get("message") or "Update runbook")
        sha = hashlib.sha1(f"{owner}/{name}\n{j}\n{committed_at.isoformat()}\n{message}".encode()).hexdigest()
        commits.append(
            Commit(
                sha=sha,
                parent=commits[-1].sha if commits else None,
                author=Person(
                    name=str(author.get("name") or "Sandbox Bot"),
                    email=str(author.get("email") or "bot@example.com"),
                    login=author.get("login"),
                ),
                authored_at=authored_at,
                committed_at=committed_at,
                message=message,
                changed=frozenset(str(p).strip("/") for p in raw["files"]),
                tree=dict(tree),
            )
        )
    return Repository(
        owner=owner, name=name, default_branch=str(entry.get("default_branch") or "main"), commits=tuple(commits)
    )
