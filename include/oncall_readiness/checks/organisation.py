"""The organisation's own checks: external checks declared beside the catalog, and who may push them.

The built-in ``checks.yaml`` holds the checks this audit computes. A check computed elsewhere (a
security scanner, a load test) is the organisation's: it declares it in
``readiness-checks.yaml`` beside the catalog (``READINESS_CHECKS`` names another file), so an
organisation without such a system sees no check it never configured::

    external_checks:
      - id: security-scan
        title: Services pass the security scan
        weight: 1
        rationale: Why the check matters, in a sentence or two.
        rubric: {pass: ..., warn: ..., fail: ..., unknown: ...}
        remediation: What a team does about a fail.
        thresholds:                       # optional; max_age_days is 30 unless set
          max_age_days: {default: 30, per_team: true, description: ...}
        pushers:
          any_team: [security-scanner]    # Airflow users who may push results for every team
          teams:                          # Airflow users who may push for their own teams only
            payments-ci: [payments]

A result pushed by anyone else, or for a team its pusher may not write for, is refused (403)
by the readiness API. A bad file stops the audit at ``load_registry`` and the API's pushes
(``CatalogueError``, naming the file, the entry and the field).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from oncall_readiness import config, yaml_files
from oncall_readiness.config_files import beside_catalog, display_path
from oncall_readiness.errors import CatalogueError

ORGANISATION_CHECKS_FILE = "readiness-checks.yaml"
EXTERNAL_FUNCTION = "oncall_readiness.checks.external:evaluate"
REQUIRED = ("id", "title", "weight", "rationale", "rubric", "remediation", "pushers")
FIELDS = (*REQUIRED, "thresholds", "applies_to")
DEFAULT_THRESHOLDS = {
    "max_age_days": {
        "default": 30,
        "per_team": True,
        "description": "Age in days after which a pushed result no longer counts (the subject becomes unknown).",
    }
}


@dataclass(frozen=True)
class Pushers:
    """Who may push results of one external check (Airflow user names)."""

    any_team: frozenset[str]
    teams: Mapping[str, frozenset[str]]  # user -> the teams they may push for

    def refusal(self, user: str | None, team: str) -> str | None:
        """Why ``user`` may not push a result for ``team``; None when they may."""
        if user in self.any_team or (user is not None and team in self.teams.get(user, frozenset())):
            return None
        if user is not None and user in self.teams:
            return f"{user!r} may push results for {', '.join(sorted(self.teams[user]))} only, not {team!r}"
        names = sorted(self.any_team | set(self.teams))
        return f"{user!r} is not one of its pushers ({', '.join(names) or 'none declared'})"


def checks_path() -> Path | None:
    """``$READINESS_CHECKS``, else ``readiness-checks.yaml`` beside the catalog when there is one, else None."""
    catalog = config.CATALOG.get()
    if config.CHECKS.get() is None and catalog is None:
        return None
    return beside_catalog(config.CHECKS, catalog or Path("."), ORGANISATION_CHECKS_FILE, _error)


def entries(path: Path) -> list[tuple[dict[str, Any], str]]:
    """The file's external check entries, each with how to say where it is (``file:line: external_checks[i]``)."""
    shown = display_path(path)
    try:
        root, document = yaml_files.document(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise CatalogueError(f"{shown}: cannot read the file: {error}") from None
    except yaml_files.YamlError as error:
        raise CatalogueError(error.at(shown)) from None
    if document is None:
        return []
    listed = document.get("external_checks") if isinstance(document, dict) else None
    if not isinstance(listed, list) or set(document) != {"external_checks"}:
        raise CatalogueError(f"{shown}:1: expected one key, external_checks, holding a list of checks")
    assert root is not None
    nodes = next(value.value for key, value in root.value if key.value == "external_checks")
    found = []
    for index, (entry, node) in enumerate(zip(listed, nodes, strict=True)):
        where = f"{shown}:{node.start_mark.line + 1}: external_checks[{index}]"
        if not isinstance(entry, dict):
            raise CatalogueError(f"{where}: not a mapping")
        unknown = sorted(set(entry) - set(FIELDS))
        if unknown:
            raise CatalogueError(f"{where}.{unknown[0]}: unknown field (fields: {', '.join(FIELDS)})")
        missing = [field for field in REQUIRED if entry.get(field) in (None, "", [], {})]
        if missing:
            raise CatalogueError(f"{where}.{missing[0]}: missing")
        found.append((_as_catalogue_entry(entry), where))
    return found


def pushers(raw: Any, where: str) -> Pushers:
    """The ``pushers`` of an entry: ``any_team`` (a list of users) and ``teams`` (user -> list of teams)."""
    if not isinstance(raw, dict) or not set(raw) <= {"any_team", "teams"} or not raw:
        expected = "any_team (a list of Airflow users) and/or teams (user: [teams])"
        raise CatalogueError(f"{where}.pushers: expected {expected}")
    any_team = raw.get("any_team") or []
    teams = raw.get("teams") or {}
    if not isinstance(any_team, list) or not all(isinstance(user, str) and user.strip() for user in any_team):
        raise CatalogueError(f"{where}.pushers.any_team: expected a list of Airflow user names")
    if not isinstance(teams, dict) or not all(
        isinstance(users_teams, list) and all(isinstance(team, str) for team in users_teams)
        for users_teams in teams.values()
    ):
        raise CatalogueError(f"{where}.pushers.teams: expected Airflow user names mapped to lists of teams")
    return Pushers(
        frozenset(user.strip() for user in any_team),
        {str(user).strip(): frozenset(team.strip() for team in users_teams) for user, users_teams in teams.items()},
    )


def _as_catalogue_entry(entry: dict[str, Any]) -> dict[str, Any]:
    """An external check as a checks.yaml entry (implemented, read from the registry and the pushed results)."""
    return {
        "thresholds": DEFAULT_THRESHOLDS,
        **entry,
        "kind": "external",
        "function": EXTERNAL_FUNCTION,
        "status": "implemented",
        "sources": ["registry"],
    }


def _error(problems: list[str]) -> CatalogueError:
    return CatalogueError("; ".join(problems))
