"""The source catalogue: one declarative record per source, and the only place that names them.

Everything source-specific derives from ``SOURCES``: the DAG's source plan (the sources an
implemented check reads), staging steps, the facts schemas and so the warehouse tables
(``facts_<table>``), the data-quality suite run for each source, the connection each source
reads through (its hook's ``default_conn_name`` and ``conn_type``, hence the provider's
connection types), and, in the sandbox package, the emulator and sample state served for it
(``readiness_sandbox.emulators``, keyed by the same names). Adding a source is a client and a
hook, an emulator, a suite, sample data and one ``Source`` here (docs/architecture.md).

The team registry (the Backstage catalog, with the HR export's joiners) is a source too,
loaded by its own task rather than collected through a connection: from files
(``READINESS_CATALOG``), or from a running Backstage's catalog API through
:data:`REGISTRY_API_HOOK` (``backstage_default``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import pandas as pd

from oncall_readiness import hr, oncall_facts, registry
from oncall_readiness.hooks.backstage import BackstageHook
from oncall_readiness.hooks.base import ReadinessHook
from oncall_readiness.hooks.chaos_calendar import ChaosCalendarHook
from oncall_readiness.hooks.confluence import ConfluenceHook
from oncall_readiness.hooks.github import GitHubHook
from oncall_readiness.hooks.grafana import GrafanaHook
from oncall_readiness.hooks.jira import JiraHook
from oncall_readiness.hooks.jsm_ops import JsmOpsHook
from oncall_readiness.hooks.pagerduty import PagerDutyHook
from oncall_readiness.hooks.prometheus import PrometheusHook
from oncall_readiness.quality import Suites
from oncall_readiness.quality import chaos_calendar as chaos_calendar_suite
from oncall_readiness.quality import confluence as confluence_suite
from oncall_readiness.quality import github as github_suite
from oncall_readiness.quality import grafana as grafana_suite
from oncall_readiness.quality import jira as jira_suite
from oncall_readiness.quality import jsm_ops as jsm_ops_suite
from oncall_readiness.quality import pagerduty as pagerduty_suite
from oncall_readiness.quality import prometheus as prometheus_suite
from oncall_readiness.quality import registry as registry_suite
from oncall_readiness.sources import chaos_calendar, confluence, github, grafana, jira, jsm_ops, pagerduty, prometheus
from oncall_readiness.sources.facts import Facts
from oncall_readiness.sources.window import AuditWindow

# (hook, the registry's facts, the audit window) -> facts tables by name: the source as of the
# audit instant, over the days back and ahead its checks look (sources.window).
Collector = Callable[[ReadinessHook, Mapping[str, pd.DataFrame], AuditWindow], Facts]

REGISTRY = "registry"
# The registry's second way: Backstage's catalog API (its hook, form and Test button; never collected).
REGISTRY_API_HOOK: type[ReadinessHook] = BackstageHook


@dataclass(frozen=True)
class Source:
    name: str  # staging step, data_quality.source, emulator prefix; facts tables start with it
    title: str  # how people call it: "PagerDuty"
    fact_columns: Mapping[str, Mapping[str, str]]  # table -> column -> kind (warehouse.TYPES)
    suites: Suites  # its data contract (GX expectations per facts table)
    hook: type[ReadinessHook] | None = None  # None: not read through a connection (the registry)
    collect: Collector | None = None
    docs: str = ""  # its reference page, below docs/
    # An on-call platform (its name one of oncall_facts.PLATFORMS): its facts (and the registry's)
    # as the platform-neutral on-call facts, the only ones the on-call checks read.
    oncall: Callable[[Mapping[str, pd.DataFrame]], dict[str, pd.DataFrame]] | None = None

    @property
    def conn_id(self) -> str | None:
        return self.hook.default_conn_name if self.hook else None


SOURCES: dict[str, Source] = {
    source.name: source
    for source in (
        Source(
            name=REGISTRY,
            title="Team registry",
            fact_columns={**registry.FACT_COLUMNS, **hr.FACT_COLUMNS},
            suites=registry_suite.suites,
            docs="sources/registry.md",
        ),
        Source(
            name="pagerduty",
            title="PagerDuty",
            fact_columns=pagerduty.FACT_COLUMNS,
            suites=pagerduty_suite.suites,
            hook=PagerDutyHook,
            collect=pagerduty.collect_for_audit,
            docs="sources/pagerduty.md",
            oncall=pagerduty.oncall_facts_of,
        ),
        Source(
            name="jsm_ops",
            title="JSM Operations",
            fact_columns=jsm_ops.FACT_COLUMNS,
            suites=jsm_ops_suite.suites,
            hook=JsmOpsHook,
            collect=jsm_ops.collect_for_audit,
            docs="sources/jsm_ops.md",
            oncall=jsm_ops.oncall_facts_of,
        ),
        Source(
            name="grafana",
            title="Grafana",
            fact_columns=grafana.FACT_COLUMNS,
            suites=grafana_suite.suites,
            hook=GrafanaHook,
            collect=grafana.collect_for_audit,
            docs="sources/grafana.md",
        ),
        Source(
            name="prometheus",
            title="Prometheus",
            fact_columns=prometheus.FACT_COLUMNS,
            suites=prometheus_suite.suites,
            hook=PrometheusHook,
            collect=prometheus.collect_for_audit,
            docs="sources/prometheus.md",
        ),
        Source(
            name="github",
            title="GitHub",
            fact_columns=github.FACT_COLUMNS,
            suites=github_suite.suites,
            hook=GitHubHook,
            collect=github.collect_for_audit,
            docs="sources/runbooks.md",
        ),
        Source(
            name="confluence",
            title="Confluence",
            fact_columns=confluence.FACT_COLUMNS,
            suites=confluence_suite.suites,
            hook=ConfluenceHook,
            collect=confluence.collect_for_audit,
            docs="sources/runbooks.md",
        ),
        Source(
            name="chaos_calendar",
            title="Chaos Day calendar",
            fact_columns=chaos_calendar.FACT_COLUMNS,
            suites=chaos_calendar_suite.suites,
            hook=ChaosCalendarHook,
            collect=chaos_calendar.collect_for_audit,
            docs="sources/chaos_calendar.md",
        ),
        Source(
            name="jira",
            title="Jira",
            fact_columns=jira.FACT_COLUMNS,
            suites=jira_suite.suites,
            hook=JiraHook,
            collect=jira.collect_for_audit,
            docs="sources/jira.md",
        ),
    )
}


def collected_sources() -> list[Source]:
    """The sources read through a connection (every one but the registry)."""
    return [source for source in SOURCES.values() if source.collect is not None]


def fact_schemas() -> dict[str, dict[str, str]]:
    """Every facts table of every source, with its columns: the warehouse's ``facts_<table>`` tables."""
    return {table: dict(columns) for source in SOURCES.values() for table, columns in source.fact_columns.items()}


def with_oncall_facts(
    facts: Mapping[str, pd.DataFrame], unavailable: Mapping[str, str] | None = None
) -> dict[str, pd.DataFrame]:
    """``facts`` with the on-call facts (``oncall_*``) of every on-call platform read and trusted.

    A platform unavailable in this run, or not collected, gives none: its teams' checks are
    ``unknown`` (the runner's ``unavailable``), never judged on nothing.
    """
    unavailable = unavailable or {}
    with_registry = {**_empty_registry_tables(), **facts}
    given = {
        source.name: source.oncall(with_registry)
        for source in SOURCES.values()
        if source.oncall is not None
        and source.name not in unavailable
        and any(table in facts for table in source.fact_columns)
    }
    return {**facts, **oncall_facts.combine(given)}


def _empty_registry_tables() -> dict[str, pd.DataFrame]:
    return {table: pd.DataFrame(columns=list(columns)) for table, columns in registry.FACT_COLUMNS.items()}
