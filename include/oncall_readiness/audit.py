"""The steps of the daily audit, each a transaction keyed on the audit date.

The DAG ``readiness_audit`` only wires these together. Every "now" is the audit instant
(the DAG run's data interval end), never the wall clock, so a backfill recomputes history.
"""

from __future__ import annotations

import datetime as dt
import importlib
import logging

import pandas as pd

from oncall_readiness import hr, staging
from oncall_readiness.checks.catalogue import load_catalogue
from oncall_readiness.checks.runner import evaluate_checks
from oncall_readiness.quality import (
    QUALITY_COLUMNS,
    DataQualityError,
    QualityContext,
    failure_summary,
    validate_source,
)
from oncall_readiness.registry import default_catalog_path, load_registry
from oncall_readiness.scorecard import score_teams
from oncall_readiness.warehouse import Warehouse

log = logging.getLogger(__name__)

REGISTRY = "registry"
DEFAULT_WINDOW_DAYS = 28


def audit_instant(data_interval_end: dt.datetime | str) -> pd.Timestamp:
    instant = pd.Timestamp(data_interval_end)
    return instant.tz_localize("UTC") if instant.tzinfo is None else instant.tz_convert("UTC")


def audit_date(instant: pd.Timestamp) -> dt.date:
    return instant.date()


def sources_to_collect() -> list[str]:
    """Every source an implemented check reads, apart from the registry."""
    needed = {source for check in load_catalogue().implemented() for source in check.sources}
    return sorted(needed - {REGISTRY})


def stage_registry(instant: pd.Timestamp, catalog_path: str | None = None) -> str:
    """Load and validate the registry (and the HR export of joiners); a bad one stops the run here."""
    catalog = catalog_path or default_catalog_path()
    registry = load_registry(catalog)
    log.info(
        "Registry: %d teams, %d people, %d services", len(registry.teams), len(registry.people), len(registry.services)
    )
    joiners = hr.joiner_facts(registry.teams["team"], catalog=catalog)  # the HR export, when there is one
    return staging.write_step(audit_date(instant), REGISTRY, {**registry.to_facts(), **joiners})


def stage_source(source: str, instant: pd.Timestamp) -> str:
    """Collect one source into staging; on failure record why (checks become unknown) and re-raise.

    A missing Airflow connection raises ``ConnectionConfigError``: the source is not configured.
    """
    try:
        frames = _collect(source, instant)
    except Exception as error:
        staging.mark_failed(audit_date(instant), source, f"{type(error).__name__}: {error}")
        raise
    for name, frame in frames.items():
        log.info("%s: %d rows", name, len(frame))
    return staging.write_step(audit_date(instant), source, frames)


def stage_quality(source: str, instant: pd.Timestamp) -> str:
    """Validate a source's staged facts against its data contract; fail loudly when broken."""
    day = audit_date(instant)
    registry = staging.read_step(day, REGISTRY)
    facts = registry if source == REGISTRY else staging.read_step(day, source)
    report = validate_source(source, facts, QualityContext(audit_instant=instant, registry=registry))
    path = staging.write_step(day, _quality_step(source), {"data_quality": report})
    log.info("%s: %d of %d expectations met", source, int(report["success"].sum()), len(report))
    problem = failure_summary(report)
    if problem:
        raise DataQualityError(f"{source} data failed validation, its checks will be unknown: {problem}")
    return path


def stage_checks(instant: pd.Timestamp) -> str:
    """Evaluate every implemented check over every team."""
    facts, unavailable = gather_facts(audit_date(instant))
    for source, reason in unavailable.items():
        log.warning("Source %s is unavailable, its checks will be unknown: %s", source, reason)
    results, findings = evaluate_checks(audit_instant=instant, facts=facts, unavailable=unavailable)
    return staging.write_step(audit_date(instant), "checks", {"check_results": results, "findings": findings})


def stage_scorecard(instant: pd.Timestamp, warehouse_url: str) -> str:
    """Score every team, comparing with the scorecard published seven days earlier."""
    day = audit_date(instant)
    results = staging.read_step(day, "checks")["check_results"]
    warehouse = Warehouse(warehouse_url)
    try:
        previous = warehouse.scores_on(day - dt.timedelta(days=7))
    finally:
        warehouse.dispose()
    card = score_teams(results, previous)
    log.info("Scorecard for %s:\n%s", day, card.to_string(index=False))
    return staging.write_step(day, "scorecard", {"scorecard": card})


def publish(instant: pd.Timestamp, warehouse_url: str) -> dict[str, int]:
    """Write the audit date's results, scorecard and facts to the warehouse in one transaction."""
    day = audit_date(instant)
    checks = staging.read_step(day, "checks")
    facts, _ = gather_facts(day)
    warehouse = Warehouse(warehouse_url)
    try:
        written = warehouse.publish(
            day,
            check_results=checks["check_results"],
            findings=checks["findings"],
            scorecard=staging.read_step(day, "scorecard")["scorecard"],
            data_quality=_quality_reports(day),
            facts=facts,
        )
    finally:
        warehouse.dispose()
    log.info("Published %s: %s", day, ", ".join(f"{table} {rows}" for table, rows in written.items()))
    return written


def gather_facts(day: dt.date) -> tuple[dict[str, pd.DataFrame], dict[str, str]]:
    """The staged facts of the registry and every source, and why any source is unavailable."""
    if not staging.step_status(day, REGISTRY).get("ok"):
        raise RuntimeError(f"the registry of {day} did not load in this run: see the load_registry task")
    facts = staging.read_step(day, REGISTRY)  # the teams are needed even when its contract failed
    unavailable = {}
    for source in [REGISTRY, *sources_to_collect()]:
        status = staging.step_status(day, source)
        problem = _quality_problem(day, source) if status.get("ok") else status.get("reason", "unknown reason")
        if problem:
            unavailable[source] = problem
        elif source != REGISTRY:
            facts.update(staging.read_step(day, source))
    return facts, unavailable


def _quality_step(source: str) -> str:
    return f"quality-{source}"


def _quality_problem(day: dt.date, source: str) -> str | None:
    """Why a collected source cannot be trusted, or None when its facts met their contract."""
    if not staging.step_status(day, _quality_step(source)).get("ok"):
        return "its data was not validated in this run"
    summary = failure_summary(staging.read_step(day, _quality_step(source))["data_quality"])
    return f"it failed validation with {summary}" if summary else None


def _quality_reports(day: dt.date) -> pd.DataFrame:
    reports = [
        staging.read_step(day, _quality_step(source))["data_quality"]
        for source in [REGISTRY, *sources_to_collect()]
        if staging.step_status(day, _quality_step(source)).get("ok")
    ]
    return pd.concat(reports, ignore_index=True) if reports else pd.DataFrame(columns=QUALITY_COLUMNS)


def window_days(source: str) -> int:
    """The longest look-back any implemented check needs from the source."""
    days = [
        int(check.thresholds["window_days"].default)
        for check in load_catalogue().implemented()
        if source in check.sources and "window_days" in check.thresholds
    ]
    return max(days, default=DEFAULT_WINDOW_DAYS)


def _collect(source: str, instant: pd.Timestamp) -> dict[str, pd.DataFrame]:
    """Every source module ``sources/<source>.py`` collects through the same entry point:

    ``collect_for_audit(instant, registry_facts, *, window_days) -> {table: DataFrame}``.
    """
    try:
        module = importlib.import_module(f"oncall_readiness.sources.{source}")
    except ModuleNotFoundError:
        raise ValueError(f"no collector for source {source!r} (oncall_readiness/sources/{source}.py)") from None
    registry = staging.read_step(audit_date(instant), REGISTRY)
    return module.collect_for_audit(instant, registry, window_days=window_days(source))
