"""The steps of the daily audit, each a transaction of one DAG run.

The DAG ``readiness_audit`` only wires these together. Every "now" is the audit instant
(the DAG run's data interval end, or its ``run_after`` for a manual run without a logical
date), never the wall clock, so a backfill recomputes history. Every step reads and writes
only its own run's staging (``staging.RunStaging``): a rerun never publishes what an
earlier run left behind.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from oncall_readiness import campaigns, config, hr, rollup, waivers
from oncall_readiness.checks.catalogue import load_catalogue
from oncall_readiness.checks.runner import evaluate_checks
from oncall_readiness.errors import (
    AuditInstantError,
    ConnectionConfigError,
    DataQualityError,
    RegistryError,
    RegistryNotValidated,
    SourceError,
)
from oncall_readiness.incidents.cost import incident_tables
from oncall_readiness.masking import redact
from oncall_readiness.oncall_facts import team_platforms
from oncall_readiness.quality import QUALITY_COLUMNS, QualityContext, failure_summary, validate_source
from oncall_readiness.registry import CATALOG_ENV_VAR, Registry, load_registry
from oncall_readiness.registry.tables import facts_as_of
from oncall_readiness.scorecard import score_teams, week_before
from oncall_readiness.slo_facts import slo_table
from oncall_readiness.source_catalogue import REGISTRY, SOURCES, with_oncall_facts
from oncall_readiness.sources.http import describe_failure
from oncall_readiness.sources.window import AuditWindow
from oncall_readiness.staging import RunStaging
from oncall_readiness.warehouse import Warehouse

log = logging.getLogger(__name__)

CAMPAIGNS = "campaigns"  # the staging step of the validated campaigns file
JOINER_DAYS = "joiner_days"  # joiner-permissions' window: which people PagerDuty is asked about by email
WAIVERS = "waivers"  # the staging step of the validated waivers, as of the audit instant


# A scheduler and a worker may disagree by seconds; an instant later than now by more is refused.
CLOCK_SKEW = pd.Timedelta(minutes=5)


def audit_instant(moment: dt.datetime | str, *, now: pd.Timestamp | None = None) -> pd.Timestamp:
    """The run's audit instant in UTC; one later than ``now`` is refused before anything is read or published.

    The data of a future date does not exist yet: its audit would judge today's data as of a day
    to come, and become every page's "latest" until that day.
    """
    instant = pd.Timestamp(moment)
    if pd.isna(instant):
        raise ValueError("the audit instant is missing: a DAG run needs a data interval end or a run_after")
    instant = instant.tz_localize("UTC") if instant.tzinfo is None else instant.tz_convert("UTC")
    now = now if now is not None else pd.Timestamp.now(tz="UTC")
    if instant > now + CLOCK_SKEW:
        raise AuditInstantError(
            f"the audit instant {instant:%Y-%m-%d %H:%M} UTC is later than now ({now:%Y-%m-%d %H:%M} UTC): "
            "a date can be audited once it has come; nothing is collected or published"
        )
    return instant


@dataclass(frozen=True)
class AuditRun:
    """One DAG run's audit: its instant, and the staging that belongs to it alone."""

    instant: pd.Timestamp
    run_id: str

    @classmethod
    def of(cls, data_interval_end: Any, dag_run: Any) -> AuditRun:
        """The run a task belongs to; a manual run without a logical date audits as of its ``run_after``."""
        return cls(audit_instant(data_interval_end or dag_run.run_after), dag_run.run_id)

    @property
    def day(self) -> dt.date:
        return self.instant.date()

    @property
    def staging(self) -> RunStaging:
        return RunStaging(self.day, self.run_id)


def sources_to_collect() -> list[str]:
    """Every source an implemented check reads, apart from the registry, in the catalogue's order."""
    needed = {source for check in load_catalogue().implemented() for source in check.sources}
    return [name for name in SOURCES if name in needed and name != REGISTRY]


def registry_catalog() -> Path | None:
    """Where the registry is read: ``READINESS_CATALOG``'s files, or None for Backstage's catalog API.

    Exactly one of the two ways: neither, or both (which would hold the audit to two catalogs that
    may disagree), raises ``RegistryError`` naming both.
    """
    from oncall_readiness.connections import get_connection
    from oncall_readiness.errors import ConnectionMissingError
    from oncall_readiness.hooks.backstage import BackstageHook

    files = config.CATALOG.get()
    conn_id = BackstageHook.default_conn_name
    try:
        get_connection(conn_id)
        api = True
    except ConnectionMissingError:
        api = False
    if files is not None and api:
        raise RegistryError(
            [
                f"{CATALOG_ENV_VAR} is set ({files}) and the Airflow connection {conn_id!r} is defined: the registry "
                f"is read one way, from the files or from Backstage's catalog API; unset {CATALOG_ENV_VAR} or delete "
                "the connection"
            ]
        )
    if files is None and not api:
        raise RegistryError(
            [
                f"no catalog: set {CATALOG_ENV_VAR} to your Backstage catalog's files (an entity YAML file or a folder "
                f"of them), or define the Airflow connection {conn_id!r} (type readiness_backstage) to read a running "
                "Backstage's catalog API; the demo and `make airflow` set one of them to the sample organisation"
            ]
        )
    return files


def load_configured_registry() -> tuple[Registry, Path | None]:
    """The registry, read the configured way (:func:`registry_catalog`), and its catalog folder when files."""
    from oncall_readiness.hooks.backstage import BackstageHook
    from oncall_readiness.sources.backstage_catalog import load_registry_from_api

    catalog = registry_catalog()
    if catalog is not None:
        return load_registry(catalog), catalog
    hook = BackstageHook()
    return load_registry_from_api(hook.get_conn(), hook.conn_id), None


def stage_registry(run: AuditRun, catalog: str | os.PathLike[str] | None = None) -> str:
    """Load and validate the registry (and the HR export of joiners); a bad one stops the run here.

    ``catalog``: a catalog's files, read whatever is configured; without it, the configured way.
    """
    registry, catalog = (load_registry(catalog), catalog) if catalog else load_configured_registry()
    catalogue = load_catalogue()
    problems = catalogue.threshold_problems(registry.thresholds, registry.threshold_places)
    if problems:  # a team's threshold the checks cannot use: named now, with its file, not mid-collect
        raise RegistryError(problems)
    log.info(
        "Registry: %d teams, %d people, %d services", len(registry.teams), len(registry.people), len(registry.services)
    )
    joiners = hr.joiner_facts(registry.teams["team"])  # the HR export, when one is configured
    # The campaigns file beside the catalog: a bad one stops the run here, like a bad catalog.
    run.staging.write(CAMPAIGNS, {"campaigns": campaigns.load_for_audit(catalog, registry.teams, registry.services)})
    # The waivers file beside the catalog and the Groups' annotations: a bad waiver stops the run here.
    waived = waivers.load_waivers(registry, catalogue, waivers.waivers_path(catalog))
    run.staging.write(WAIVERS, {"waivers": waivers.waiver_table(waived, run.instant)})
    # A past date's audit: what the catalog dates after the audit date was not so yet.
    return run.staging.write(REGISTRY, {**facts_as_of(registry.to_facts(), run.day), **joiners})


def stage_source(name: str, run: AuditRun) -> str:
    """Collect one source into staging; on failure record why (checks become unknown) and raise.

    A connection that is not defined raises ``ConnectionMissingError`` (the source is not
    configured); one that is malformed, ``ConnectionConfigError``. The recorded reason never
    holds a client's raw error text: that goes only to the task log, where Airflow masks secrets.
    """
    source = SOURCES[name]
    if source.hook is None or source.collect is None:
        raise ValueError(f"{source.title} is not collected through a connection")
    registry = run.staging.read(REGISTRY)
    try:
        frames = source.collect(source.hook(), registry, audit_window(name, run.instant, registry))
    except (SourceError, ConnectionConfigError) as error:  # our own messages, redacted: no secret in them
        run.staging.mark_failed(name, redact(str(error)))
        raise
    except Exception as error:
        reason = f"{describe_failure(source.title, error).removesuffix('.')}; the task log has the details."
        run.staging.mark_failed(name, reason)
        # The traceback quotes the client's error (a URL, a header): redacted, then Airflow masks known secrets.
        trace = redact("".join(traceback.format_exception(error)))
        log.error("%s collection failed:\n%s", source.title, trace)
        raise SourceError(reason) from None
    for table, frame in frames.items():
        log.info("%s: %d rows", table, len(frame))
    return run.staging.write(name, frames)


def audit_window(source: str, instant: pd.Timestamp, registry: dict[str, pd.DataFrame]) -> AuditWindow:
    """What ``source`` is read over: the days its implemented checks look back and ahead, and the
    longest joiner window of any team (the catalogue's thresholds, with the teams' overrides)."""
    catalogue = load_catalogue()
    teams, overrides = registry["registry_teams"]["team"], registry["registry_thresholds"]
    return AuditWindow(
        instant=instant,
        look_back_days=catalogue.look_back_days(source),
        look_ahead_days=catalogue.look_ahead_days(source),
        joiner_days=catalogue.longest_threshold(JOINER_DAYS, teams, overrides),
        labels=catalogue.labels(source),
    )


def stage_quality(name: str, run: AuditRun) -> str:
    """Validate a source's staged facts against its data contract; fail loudly when broken."""
    registry = run.staging.read(REGISTRY)
    facts = registry if name == REGISTRY else run.staging.read(name)
    look_ahead = load_catalogue().look_ahead_days(name) if name != REGISTRY else 0
    context = QualityContext(audit_instant=run.instant, registry=registry, look_ahead_days=look_ahead)
    report = validate_source(name, SOURCES[name].suites, facts, context)
    path = run.staging.write(_quality_step(name), {"data_quality": report})
    log.info("%s: %d of %d expectations met", name, int(report["success"].sum()), len(report))
    problem = failure_summary(report)
    if problem:
        raise DataQualityError(f"{name} data failed validation, its checks will be unknown: {problem}")
    return path


def stage_checks(run: AuditRun, warehouse_url: str | None = None) -> str:
    """Evaluate every implemented check over every team.

    ``warehouse_url``: where the results pushed for external checks are read (those observed up
    to the audit instant); without it external checks see no result (unknown).
    """
    facts, unavailable = gather_facts(run)
    facts = with_oncall_facts(facts, unavailable)  # what the on-call checks read, whatever the platform
    if warehouse_url:
        facts["external_results"] = _external_results(run, warehouse_url)
    for source, reason in unavailable.items():
        log.warning("Source %s is unavailable, its checks will be unknown: %s", source, reason)
    results, findings = evaluate_checks(
        audit_instant=run.instant, facts=facts, unavailable=unavailable, waivers=run.staging.read(WAIVERS)["waivers"]
    )
    return run.staging.write("checks", {"check_results": results, "findings": findings})


def stage_scorecard(run: AuditRun, warehouse_url: str) -> str:
    """Score every team, comparing with the scorecard published about seven days earlier (``week_before``)."""
    results = run.staging.read("checks")["check_results"]
    warehouse = Warehouse(warehouse_url)
    try:
        base = week_before(run.day, warehouse.audit_dates())
        previous = warehouse.scores_on(base) if base else None
    finally:
        warehouse.dispose()
    registry = run.staging.read(REGISTRY)
    teams, services = registry["registry_teams"], registry["registry_services"]
    card = score_teams(results, previous, services=services)
    log.info("Scorecard for %s:\n%s", run.day, card.to_string(index=False))
    staged_campaigns = campaigns.campaigns_from_frame(run.staging.read(CAMPAIGNS)["campaigns"])
    return run.staging.write(
        "scorecard",
        {
            "scorecard": card,
            "campaign_progress": campaigns.campaign_progress(staged_campaigns, run.day, card, results),
            "scorecard_rollup": rollup.scorecard_rollup(card, teams, services),
        },
    )


def publish(run: AuditRun, warehouse_url: str) -> dict[str, int]:
    """Write the audit date's results, scorecard and facts to the warehouse in one transaction."""
    checks = run.staging.read("checks")
    scored = run.staging.read("scorecard")
    facts, unavailable = gather_facts(run)
    # The incidents and their losses; none for the date when PagerDuty's incidents are unavailable.
    incidents, incident_costs = incident_tables(facts, run.instant, unavailable=unavailable.get("pagerduty"))
    warehouse = Warehouse(warehouse_url)
    try:
        written = warehouse.publish(
            run.day,
            check_results=checks["check_results"],
            findings=checks["findings"],
            scorecard=scored["scorecard"],
            campaign_progress=scored.get("campaign_progress"),
            scorecard_rollup=scored.get("scorecard_rollup"),
            data_quality=_quality_reports(run),
            facts=facts,
            incidents=incidents,
            incident_costs=incident_costs,
            waivers=run.staging.read(WAIVERS)["waivers"],
            slos=slo_table(facts),  # the SLOs of the sources read and trusted in this run
            reviews=review_tables_of(facts, run.instant, unavailable),
        )
    finally:
        warehouse.dispose()
    log.info("Published %s: %s", run.day, ", ".join(f"{table} {rows}" for table, rows in written.items()))
    return written


def export_to_backstage(run: AuditRun, location: str) -> int:
    """Write every scored Group's and every Component's score-card JSON (docs/backstage.md); files written."""
    from oncall_readiness import backstage_export

    checks, scored = run.staging.read("checks"), run.staging.read("scorecard")
    files = backstage_export.scorecard_files(
        generated=run.instant,
        registry=run.staging.read(REGISTRY),
        check_results=checks["check_results"],
        findings=checks["findings"],
        scorecard=scored["scorecard"],
        rollup=scored.get("scorecard_rollup"),
    )
    return backstage_export.write_export(files, run.day.isoformat(), location)


def review_tables_of(
    facts: Mapping[str, pd.DataFrame], instant: pd.Timestamp, unavailable: Mapping[str, str] | None = None
) -> dict[str, pd.DataFrame]:
    """``incident_reviews`` (with Confluence and every team's on-call platform read) and ``action_items``
    (with Jira too); none when one of their sources was not read or trusted (``gather_facts`` leaves
    its facts out): an empty table, or one without a platform's teams, would read as "no review due"."""
    from oncall_readiness.checks.post_incident_review import review_tables

    platforms = set(team_platforms(facts["registry_teams"]).values()) if "registry_teams" in facts else set()
    read = {name for name in platforms if name in SOURCES and any(t in facts for t in SOURCES[name].fact_columns)}
    if "confluence_reviews" not in facts or not platforms or read != platforms:
        return {}
    reviews, actions = review_tables(with_oncall_facts(facts, unavailable), instant)
    return {"incident_reviews": reviews, **({"action_items": actions} if "jira_action_items" in facts else {})}


def _external_results(run: AuditRun, warehouse_url: str) -> pd.DataFrame:
    """The results pushed for the external checks, latest per team and subject up to the instant."""
    from oncall_readiness import external_results

    warehouse = Warehouse(warehouse_url)
    try:
        pushed = external_results.results_as_of(warehouse, run.instant)
    finally:
        warehouse.dispose()
    log.info("External results observed up to %s: %d", run.instant, len(pushed))
    return pushed


def gather_facts(run: AuditRun) -> tuple[dict[str, pd.DataFrame], dict[str, str]]:
    """This run's facts of the registry and every source, and why any source is unavailable.

    Without a registry that loaded and met its contract in this run there is no audit:
    ``RegistryNotValidated`` stops the checks, the scorecard and the publish.
    """
    problem = _registry_problem(run)
    if problem:
        raise RegistryNotValidated(f"the registry of run {run.run_id} {problem}; nothing is evaluated or published")
    facts = run.staging.read(REGISTRY)
    unavailable = {}
    for name in sources_to_collect():
        status = run.staging.status(name)
        problem = _quality_problem(run, name) if status.get("ok") else status.get("reason", "unknown reason")
        if problem:
            unavailable[name] = problem
        else:
            facts.update(run.staging.read(name))
    return facts, unavailable


def _registry_problem(run: AuditRun) -> str | None:
    status = run.staging.status(REGISTRY)
    if not status.get("ok"):
        return f"did not load ({status.get('reason')}): see the load_registry task"
    problem = _quality_problem(run, REGISTRY)
    return f"is not trusted: {problem}: see the validate_registry task" if problem else None


def _quality_step(source: str) -> str:
    return f"quality-{source}"


def _quality_problem(run: AuditRun, source: str) -> str | None:
    """Why a collected source cannot be trusted, or None when its facts met their contract."""
    if not run.staging.status(_quality_step(source)).get("ok"):
        return "its data was not validated in this run"
    summary = failure_summary(run.staging.read(_quality_step(source))["data_quality"])
    return f"it failed validation with {summary}" if summary else None


def _quality_reports(run: AuditRun) -> pd.DataFrame:
    reports = [
        run.staging.read(_quality_step(source))["data_quality"]
        for source in [REGISTRY, *sources_to_collect()]
        if run.staging.status(_quality_step(source)).get("ok")
    ]
    return pd.DataFrame(columns=QUALITY_COLUMNS) if not reports else pd.concat(reports, ignore_index=True)
