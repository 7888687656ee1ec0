"""The check catalogue (`checks.yaml`): definitions, default thresholds and per-team overrides."""

from __future__ import annotations

import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from oncall_readiness import schema

CATALOGUE_PATH = Path(__file__).with_name("checks.yaml")
STATUSES = schema.STATUSES  # worst first
THRESHOLD_ANNOTATION = "readiness/<check-id>.<threshold>"
CHECKS_PACKAGE = "oncall_readiness.checks"
# The thresholds that say how far a check reads a source back from, and ahead of, the audit instant.
LOOK_BACK_THRESHOLD = "window_days"
LOOK_AHEAD_THRESHOLD = "coverage_days"
DEFAULT_LOOK_BACK_DAYS = 28


class CatalogueError(ValueError):
    """checks.yaml or a threshold override is malformed; the message says where."""


@dataclass(frozen=True)
class Threshold:
    name: str
    default: Any
    per_team: bool
    description: str


@dataclass(frozen=True)
class CheckDefinition:
    id: str
    title: str
    status: str
    sources: tuple[str, ...]
    weight: float
    rationale: str
    rubric: dict[str, str]
    remediation: str
    thresholds: dict[str, Threshold] = field(default_factory=dict)
    # Sources whose absence makes only the subjects that need them unknown (the check decides).
    partial_sources: tuple[str, ...] = ()
    # "module:function" of an implemented check's evaluate function, named in checks.yaml.
    function: str | None = None

    @property
    def required_sources(self) -> tuple[str, ...]:
        return tuple(source for source in self.sources if source not in self.partial_sources)

    @property
    def implemented(self) -> bool:
        return self.status == "implemented"

    def evaluator(self) -> Callable:
        """The function the catalogue entry names (``function: oncall_readiness.checks.<module>:evaluate``)."""
        return pkgutil.resolve_name(self.function)


@dataclass(frozen=True)
class Catalogue:
    checks: dict[str, CheckDefinition]
    status_scores: dict[str, float]

    def implemented(self) -> list[CheckDefinition]:
        return [check for check in self.checks.values() if check.implemented]

    def look_back_days(self, source: str) -> int:
        """The longest look-back (``window_days``) of any implemented check that reads ``source``."""
        return max(self._days(source, LOOK_BACK_THRESHOLD), default=DEFAULT_LOOK_BACK_DAYS)

    def look_ahead_days(self, source: str) -> int:
        """The furthest look-ahead (``coverage_days``) of any implemented check that reads ``source``; 0: none."""
        return max(self._days(source, LOOK_AHEAD_THRESHOLD), default=0)

    def _days(self, source: str, threshold: str) -> list[int]:
        return [
            int(check.thresholds[threshold].default)
            for check in self.implemented()
            if source in check.sources and threshold in check.thresholds
        ]


@cache
def load_catalogue(path: Path = CATALOGUE_PATH) -> Catalogue:
    document = yaml.safe_load(path.read_text())
    checks = {}
    for entry in document["checks"]:
        check = _definition(entry, path)
        if check.id in checks:
            raise CatalogueError(f"{path}: check {check.id!r} is defined twice")
        checks[check.id] = check
    return Catalogue(checks=checks, status_scores=dict(document["status_scores"]))


def _definition(entry: dict, path: Path) -> CheckDefinition:
    missing = {"id", "title", "status", "sources", "weight", "rationale", "rubric", "remediation"} - entry.keys()
    if missing:
        raise CatalogueError(f"{path}: check {entry.get('id', '?')!r} lacks {', '.join(sorted(missing))}")
    if entry["status"] == "implemented":
        _check_function(entry, path)
    thresholds = {
        name: Threshold(name, spec["default"], bool(spec.get("per_team", True)), spec.get("description", ""))
        for name, spec in (entry.get("thresholds") or {}).items()
    }
    return CheckDefinition(
        id=entry["id"],
        title=entry["title"],
        status=entry["status"],
        sources=tuple(entry["sources"]),
        weight=float(entry["weight"]),
        rationale=" ".join(entry["rationale"].split()),
        rubric=dict(entry["rubric"]),
        remediation=" ".join(entry["remediation"].split()),
        thresholds=thresholds,
        partial_sources=tuple(entry.get("partial_sources") or ()),
        function=entry.get("function"),
    )


def _check_function(entry: dict, path: Path) -> None:
    """An implemented check names a callable in the checks package; say which entry when it does not."""
    function = entry.get("function")
    where = f"{path}: check {entry['id']!r}"
    if not isinstance(function, str) or not function.startswith(CHECKS_PACKAGE + ".") or ":" not in function:
        raise CatalogueError(f"{where}: `function` must name `{CHECKS_PACKAGE}.<module>:<function>`, got {function!r}")
    try:
        evaluate = pkgutil.resolve_name(function)
    except (ImportError, AttributeError) as error:
        raise CatalogueError(f"{where}: `function` {function!r} does not resolve: {error}") from None
    if not callable(evaluate):
        raise CatalogueError(f"{where}: `function` {function!r} is not callable")


def team_thresholds(check: CheckDefinition, teams: pd.Series, overrides: pd.DataFrame) -> pd.DataFrame:
    """One row per team, one column per threshold: the default, or the team's override.

    ``overrides`` has columns team, check_id, key, value (strings, from Group annotations).
    An override of an unknown threshold, of one that is not per team, or with a value of the
    wrong type raises ``CatalogueError`` naming the team and the annotation.
    """
    frame = pd.DataFrame({"team": teams.astype("string")})
    for name, threshold in check.thresholds.items():
        frame[name] = threshold.default
    mine = overrides[overrides["check_id"] == check.id] if len(overrides) else overrides
    for row in mine.itertuples(index=False):
        annotation = f"readiness/{check.id}.{row.key}"
        threshold = check.thresholds.get(row.key)
        if threshold is None or not threshold.per_team:
            allowed = ", ".join(n for n, t in check.thresholds.items() if t.per_team) or "none"
            raise CatalogueError(
                f"team {row.team!r}: annotation {annotation!r} is not a per-team threshold of "
                f"{check.id} (allowed: {allowed})"
            )
        frame.loc[frame["team"] == row.team, row.key] = _typed(row.value, threshold.default, row.team, annotation)
    return frame.set_index("team")


def _typed(value: str, default: Any, team: str, annotation: str) -> Any:
    try:
        return type(default)(value)
    except (TypeError, ValueError):
        raise CatalogueError(
            f"team {team!r}: annotation {annotation!r} must be a {type(default).__name__}, got {value!r}"
        ) from None
