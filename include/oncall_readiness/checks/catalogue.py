"""The check catalogue (`checks.yaml`): definitions, default thresholds and per-team overrides."""

from __future__ import annotations

import dataclasses
import functools
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import yaml

from oncall_readiness import schema
from oncall_readiness.checks import organisation
from oncall_readiness.errors import CatalogueError
from oncall_readiness.oncall_facts import PLATFORMS

if TYPE_CHECKING:
    from oncall_readiness.checks import CheckInput, CheckOutcome

CATALOGUE_PATH = Path(__file__).with_name("checks.yaml")
STATUSES = schema.STATUSES  # worst first
THRESHOLD_ANNOTATION = "readiness/<check-id>.<threshold>"
CHECKS_PACKAGE = "oncall_readiness.checks"
# The thresholds that say how far a check reads a source back from, and ahead of, the audit instant.
LOOK_BACK_THRESHOLD = "window_days"
LOOK_AHEAD_THRESHOLD = "coverage_days"
DEFAULT_LOOK_BACK_DAYS = 28
# The longest a waiver may run (approved to expires), unless checks.yaml says `max_waiver_days`.
DEFAULT_MAX_WAIVER_DAYS = 90
# What a check's `applies_to` may select services by: the registry_services column of each.
SCOPE_FIELDS = {"lifecycle": "lifecycle", "type": "type", "tier": "tier"}


EXTERNAL = "external"
KINDS = ("computed", EXTERNAL)


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
    # `applies_to`: the services the check judges, by lifecycle, type and tier (empty: all).
    applies_to: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # `kind: external`: results pushed through the readiness API (checks/external.py), else computed here.
    kind: str = "computed"
    # An external check's pushers (the organisation declares them with the check: checks/organisation.py).
    pushers: organisation.Pushers | None = None
    # `platforms`: per on-call platform (oncall_facts.PLATFORMS) the check reads, what it judges
    # there and what that platform cannot give (that part is `unknown` for its teams).
    platforms: dict[str, str] = field(default_factory=dict)

    @property
    def required_sources(self) -> tuple[str, ...]:
        return tuple(source for source in self.sources if source not in self.partial_sources)

    @property
    def implemented(self) -> bool:
        return self.status == "implemented"

    def evaluator(self) -> Callable[[CheckInput], CheckOutcome]:
        """The function the catalogue entry names (``function: oncall_readiness.checks.<module>:evaluate``).

        An external check's function serves every external check: it is given the check's id.
        """
        if self.function is None:
            raise CatalogueError(f"check {self.id!r} names no `function` in checks.yaml")
        evaluate: Callable[..., CheckOutcome] = pkgutil.resolve_name(self.function)
        if self.kind != EXTERNAL:
            return evaluate

        @functools.wraps(evaluate)
        def evaluate_external(audit: CheckInput) -> CheckOutcome:
            return evaluate(audit, check_id=self.id)

        return evaluate_external


@dataclass(frozen=True)
class LevelRequirement:
    """A level asks more of some services: a team owning one holds ``level`` only if it passes ``must_pass``."""

    level: str
    services: dict[str, tuple[str, ...]]
    must_pass: tuple[str, ...]


@dataclass(frozen=True)
class Catalogue:
    checks: dict[str, CheckDefinition]
    status_scores: dict[str, float]
    max_waiver_days: int = DEFAULT_MAX_WAIVER_DAYS
    level_requirements: tuple[LevelRequirement, ...] = ()

    def implemented(self) -> list[CheckDefinition]:
        return [check for check in self.checks.values() if check.implemented]

    def look_back_days(self, source: str) -> int:
        """The longest look-back (``window_days``) of any implemented check that reads ``source``."""
        return max(self._days(source, LOOK_BACK_THRESHOLD), default=DEFAULT_LOOK_BACK_DAYS)

    def look_ahead_days(self, source: str) -> int:
        """The furthest look-ahead (``coverage_days``) of any implemented check that reads ``source``; 0: none."""
        return max(self._days(source, LOOK_AHEAD_THRESHOLD), default=0)

    def labels(self, source: str) -> tuple[str, ...]:
        """The ``label`` thresholds (page labels: ``postmortem``) of the implemented checks reading ``source``."""
        return tuple(
            sorted(
                {
                    str(check.thresholds["label"].default)
                    for check in self.implemented()
                    if source in check.sources and "label" in check.thresholds
                }
            )
        )

    def longest_threshold(self, name: str, teams: pd.Series, overrides: pd.DataFrame) -> int:
        """The largest value of threshold ``name`` of any team (its default, or its override) in any
        implemented check that has it; 0 when none has it."""
        longest = 0
        for check in self.implemented():
            if name in check.thresholds:
                values = team_thresholds(check, teams, overrides)[name]
                longest = max(longest, int(values.max()) if len(values) else int(check.thresholds[name].default))
        return longest

    def threshold_problems(self, overrides: pd.DataFrame, places: Mapping[tuple[str, str, str], str]) -> list[str]:
        """One line per team override (team, check_id, key, value) the checks cannot use, each
        starting where it was written (``places``, by (team, check_id, key))."""
        problems = []
        for row in overrides.itertuples(index=False):
            check = self.checks.get(str(row.check_id))
            problem = (
                threshold_problem(check, str(row.key), str(row.value))
                if check
                else f"no check {row.check_id!r} in checks.yaml (checks: {', '.join(sorted(self.checks))})"
            )
            if problem:
                where = places.get((str(row.team), str(row.check_id), str(row.key)), f"team {row.team!r}")
                problems.append(f"{where}: {problem}")
        return problems

    def _days(self, source: str, threshold: str) -> list[int]:
        return [
            int(check.thresholds[threshold].default)
            for check in self.implemented()
            if source in check.sources and threshold in check.thresholds
        ]


def load_catalogue(path: Path = CATALOGUE_PATH) -> Catalogue:
    """The checks of ``path`` (the built-in checks.yaml), and the organisation's external checks
    (``readiness-checks.yaml`` beside the catalog: :mod:`.organisation`), read again when that file changes."""
    own = organisation.checks_path()
    return _catalogue(path, own, own.stat().st_mtime_ns if own else None)


@cache
def _catalogue(path: Path, own: Path | None, changed: int | None) -> Catalogue:
    catalogue = _builtin(path)
    if own is None:
        return catalogue
    checks = dict(catalogue.checks)
    for entry, where in organisation.entries(own):
        if entry["id"] in checks:
            raise CatalogueError(f"{where}.id: {entry['id']!r} is a check already (checks.yaml, or an entry above)")
        check = _definition(entry, where)
        checks[check.id] = dataclasses.replace(check, pushers=organisation.pushers(entry["pushers"], where))
    return dataclasses.replace(catalogue, checks=checks)


@cache
def _builtin(path: Path) -> Catalogue:
    document = yaml.safe_load(path.read_text())
    checks = {}
    for entry in document["checks"]:
        check = _definition(entry, path)
        if check.id in checks:
            raise CatalogueError(f"{path}: check {check.id!r} is defined twice")
        checks[check.id] = check
    max_days = document.get("max_waiver_days", DEFAULT_MAX_WAIVER_DAYS)
    if isinstance(max_days, bool) or not isinstance(max_days, int) or max_days < 1:
        raise CatalogueError(f"{path}: `max_waiver_days` must be a whole number of days >= 1, got {max_days!r}")
    return Catalogue(
        checks=checks,
        status_scores=dict(document["status_scores"]),
        max_waiver_days=max_days,
        level_requirements=_level_requirements(document.get("level_requirements") or [], checks, path),
    )


def _definition(entry: dict[str, Any], path: Path | str) -> CheckDefinition:
    """One check of ``entry``; ``path``, where it is written, starts its problems (a file, or a file and a place)."""
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
        applies_to=_scope(entry.get("applies_to"), f"{path}: check {entry['id']!r} `applies_to`"),
        kind=_kind(entry, path),
        platforms=_platforms(entry, path),
    )


def _platforms(entry: dict[str, Any], path: Path | str) -> dict[str, str]:
    """``platforms: {<on-call platform>: what the check judges there}``: only the platforms there are."""
    raw = entry.get("platforms") or {}
    unknown = sorted(set(raw) - set(PLATFORMS)) if isinstance(raw, dict) else ["(not a map)"]
    if unknown:
        raise CatalogueError(
            f"{path}: check {entry['id']!r} `platforms` names {', '.join(unknown)}; "
            f"the on-call platforms are {', '.join(PLATFORMS)}"
        )
    return {name: " ".join(str(text).split()) for name, text in raw.items()}


def _kind(entry: dict[str, Any], path: Path | str) -> str:
    """``computed`` (the default) or ``external`` (pushed results; see checks/external.py)."""
    kind: str = entry.get("kind", "computed")
    if kind not in KINDS:
        raise CatalogueError(f"{path}: check {entry['id']!r} `kind` must be one of {', '.join(KINDS)}, got {kind!r}")
    return kind


def _scope(raw: Any, where: str) -> dict[str, tuple[str, ...]]:
    """``{lifecycle: [production], type: [...], tier: [...]}``: lower-cased values per known field."""
    if raw is None:
        return {}
    if not isinstance(raw, dict) or not raw:
        raise CatalogueError(f"{where} must map {', '.join(SCOPE_FIELDS)} to lists of values, got {raw!r}")
    scope = {}
    for key, values in raw.items():
        if key not in SCOPE_FIELDS:
            raise CatalogueError(f"{where}: unknown field {key!r} (known: {', '.join(SCOPE_FIELDS)})")
        if not isinstance(values, list) or not values or not all(isinstance(v, (str, int)) for v in values):
            raise CatalogueError(f"{where}.{key} must be a non-empty list of values, got {values!r}")
        scope[key] = tuple(str(value).strip().lower() for value in values)
    return scope


def _level_requirements(raw: Any, checks: dict[str, CheckDefinition], path: Path) -> tuple[LevelRequirement, ...]:
    if not isinstance(raw, list):
        raise CatalogueError(f"{path}: `level_requirements` must be a list, got {raw!r}")
    requirements = []
    for index, entry in enumerate(raw):
        where = f"{path}: level_requirements[{index}]"
        if not isinstance(entry, dict) or {"level", "services", "must_pass"} - entry.keys():
            raise CatalogueError(f"{where} needs `level`, `services` and `must_pass`")
        if entry["level"] not in schema.LEVELS[:-1]:
            raise CatalogueError(
                f"{where}.level must be one of {', '.join(schema.LEVELS[:-1])}, got {entry['level']!r}"
            )
        must_pass = entry["must_pass"]
        unknown = [c for c in must_pass or [] if c not in checks]
        if not isinstance(must_pass, list) or not must_pass or unknown:
            raise CatalogueError(f"{where}.must_pass must list known check ids, unknown: {unknown or must_pass!r}")
        scope = _scope(entry["services"], f"{where}.services")
        requirements.append(LevelRequirement(entry["level"], scope, tuple(must_pass)))
    return tuple(requirements)


def in_scope(services: pd.DataFrame, scope: dict[str, tuple[str, ...]]) -> pd.Series:
    """Which services (rows of ``registry_services``) a scope selects; a missing value is out of scope."""
    selected = pd.Series(True, index=services.index)
    for key, values in scope.items():
        column = services[SCOPE_FIELDS[key]] if SCOPE_FIELDS[key] in services else pd.Series(None, index=services.index)
        selected &= column.astype("string").str.strip().str.lower().isin(values).fillna(False).astype(bool)
    return selected


def out_of_scope_reason(service: pd.Series, scope: dict[str, tuple[str, ...]]) -> str:
    """Why a service is outside a scope, e.g. ``lifecycle experimental (the check applies to production)``."""
    for key, values in scope.items():
        text = _scope_text(service.get(SCOPE_FIELDS[key]))
        if text not in values:
            return _outside(key, text, values)
    return "in scope"


def out_of_scope_reasons(services: pd.DataFrame, scope: dict[str, tuple[str, ...]]) -> list[str]:
    """``out_of_scope_reason`` of every row of ``services``, a column at a time (not a Series per row)."""
    reasons: list[str | None] = [None] * len(services)
    for key, values in scope.items():
        column = SCOPE_FIELDS[key]
        texts = [_scope_text(value) for value in services[column]] if column in services else [None] * len(services)
        for position, text in enumerate(texts):
            if reasons[position] is None and text not in values:
                reasons[position] = _outside(key, text, values)
    return [reason or "in scope" for reason in reasons]


def _scope_text(value: Any) -> str | None:
    return str(value).strip().lower() if value is not None and not pd.isna(value) else None


def _outside(key: str, text: str | None, values: tuple[str, ...]) -> str:
    return f"{key} {text or 'not set'} (the check applies to {key} {' or '.join(values)})"


def _check_function(entry: dict[str, Any], path: Path | str) -> None:
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

    ``overrides`` has columns team, check_id, key, value (strings, from Group annotations),
    validated when the registry loaded (:meth:`Catalogue.threshold_problems`); one that is not
    valid still raises ``CatalogueError`` naming the team and the annotation.
    """
    frame = pd.DataFrame({"team": teams.astype("string")})
    for name, threshold in check.thresholds.items():
        frame[name] = threshold.default
    mine = overrides[overrides["check_id"] == check.id] if len(overrides) else overrides
    for row in mine.itertuples(index=False):
        key, value = str(row.key), str(row.value)  # annotations: text
        problem = threshold_problem(check, key, value)
        if problem:
            raise CatalogueError(f"team {row.team!r}: annotation 'readiness/{check.id}.{row.key}': {problem}")
        frame.loc[frame["team"] == row.team, key] = type(check.thresholds[key].default)(value)
    return frame.set_index("team")


def threshold_problem(check: CheckDefinition, key: str, value: str) -> str | None:
    """Why a team's override ``readiness/<check>.<key>: value`` cannot be used, or None."""
    threshold = check.thresholds.get(key)
    if threshold is None or not threshold.per_team:
        allowed = ", ".join(n for n, t in check.thresholds.items() if t.per_team) or "none"
        return f"not a per-team threshold of {check.id} (allowed: {allowed})"
    kind = type(threshold.default)
    try:
        number = kind(value)
    except (TypeError, ValueError):
        number = None
    if number is None or not number >= 0 or (kind is float and number == float("inf")):
        what = "a whole number" if kind is int else "a number"
        return f"must be {what}, 0 or more (the default is {threshold.default}), got {value!r}"
    return None
