"""The runbook hosts' data contracts catch a lost, duplicated or broken read, and pass a clean one.

The clean read is the sample organisation's GitHub and Confluence runbooks collected from
the sandbox; every other case corrupts it the way a real read goes wrong.
"""

from __future__ import annotations

import pandas as pd
import pytest

from oncall_readiness.quality import QualityContext, failure_summary, validate_source
from oncall_readiness.registry import load_registry
from oncall_readiness.runbook_facts import HOSTS, PART_COLUMNS
from oncall_readiness.source_catalogue import SOURCES
from oncall_readiness.sources import confluence, github
from oncall_readiness.sources.runbooks import frame
from readiness_sandbox.confluence.app import SANDBOX_EMAIL
from readiness_sandbox.process import running_sandbox
from readiness_sandbox.sample_org import CATALOG as SAMPLE_CATALOG

INSTANT = pd.Timestamp("2026-11-16T00:00:00Z")


@pytest.fixture(scope="module")
def registry():
    return load_registry(SAMPLE_CATALOG).to_facts()


@pytest.fixture(scope="module")
def clean(registry):
    services = registry["registry_services"]
    with running_sandbox() as sandbox:
        gh = github.GitHubClient(sandbox.token, base_url=sandbox.url("github"))
        cf = confluence.ConfluenceClient(SANDBOX_EMAIL, sandbox.token, base_url=sandbox.url("confluence"))
        return {
            "github": github.collect(gh, github.runbooks_to_collect(services), INSTANT),
            "confluence": confluence.collect(cf, confluence.runbooks_to_collect(services), INSTANT),
        }


def summary(source, facts, registry, instant=INSTANT):
    context = QualityContext(audit_instant=instant, registry=registry)
    report = validate_source(source, SOURCES[source].suites, facts, context)
    return report, failure_summary(report)


def corrupt(clean, source, change):
    table = HOSTS[source].table
    return {table: change(clean[source][table].copy())}


@pytest.mark.parametrize("source", ["github", "confluence"])
def test_a_clean_read_meets_every_expectation(clean, registry, source):
    report, problem = summary(source, clean[source], registry)
    assert problem is None, problem
    assert len(report) >= 14 and report["success"].all()


@pytest.mark.parametrize("source", ["github", "confluence"])
def test_no_runbook_links_and_no_facts_meet_the_contract(registry, source):
    table = HOSTS[source].table
    services = registry["registry_services"].assign(runbook_url=None)
    facts = {table: frame(table, [], SOURCES[source].fact_columns)}
    _, problem = summary(source, facts, {**registry, "registry_services": services})
    assert problem is None, problem


def test_a_lost_runbook(clean, registry):
    _, problem = summary("github", corrupt(clean, "github", lambda t: t.iloc[1:]), registry)
    assert "github_runbooks: expect_table_row_count_to_equal(value=11)" in problem
    assert "github_runbooks: expect_column_distinct_values_to_equal_set(column=service" in problem


def test_a_duplicated_runbook(clean, registry):
    _, problem = summary("confluence", corrupt(clean, "confluence", lambda t: pd.concat([t, t.head(1)])), registry)
    assert "confluence_runbooks: expect_column_values_to_be_unique(column=service) (2 unexpected" in problem


def test_a_field_dropped_by_an_api_change(clean, registry):
    def no_dates(table):
        table["last_changed"] = pd.NaT
        return table

    _, problem = summary("github", corrupt(clean, "github", no_dates), registry)
    assert (
        "expect_column_values_to_not_be_null(column=last_changed, where=found==True) (10 unexpected of 10)" in problem
    )


def test_found_null_or_parts_missing_on_a_found_runbook(clean, registry):
    def broken(table):
        table.loc[table.index[0], "found"] = pd.NA
        table.loc[table.index[1], "has_mitigations"] = pd.NA
        return table

    _, problem = summary("confluence", corrupt(clean, "confluence", broken), registry)
    assert (
        "confluence_runbooks: expect_column_values_to_not_be_null(column=error, where=found.isna()) (1 unexpected"
        in problem
    )
    assert "expect_column_values_to_not_be_null(column=has_mitigations, where=found==True)" in problem


def test_a_runbook_the_host_could_not_answer_for_is_within_the_contract_when_it_says_why(clean, registry):
    """A partial answer is an unknown runbook, not broken data: the rest of the source stays trusted."""

    def unread(table):
        table.loc[table.index[0], ["found", "error"]] = [
            pd.NA,
            "GitHub could not answer for it: RESOURCE_LIMITS_EXCEEDED at r0",
        ]
        for column in ("commit_sha", "last_changed", *PART_COLUMNS):
            table.loc[table.index[0], column] = None
        return table

    _, problem = summary("github", corrupt(clean, "github", unread), registry)
    assert problem is None


def test_a_change_after_the_audit_instant(clean, registry):
    def future(table):
        table.loc[table.index[0], "last_changed"] = pd.Timestamp("2026-11-20T00:00:00Z")
        return table

    _, problem = summary("github", corrupt(clean, "github", future), registry)
    assert "expect_column_values_to_be_between(column=last_changed, max_value=2026-11-16 00:00:00+00:00)" in problem


def test_an_unread_runbook_without_a_reason_and_a_url_the_registry_does_not_name(clean, registry):
    def broken(table):
        table.loc[table.index[0], ["found", "error"]] = [False, None]
        table.loc[table.index[1], "url"] = "https://github.com/elsewhere/r/blob/main/x.md"
        return table

    _, problem = summary("github", corrupt(clean, "github", broken), registry)
    assert "expect_column_values_to_not_be_null(column=error, where=found==False)" in problem
    assert "expect_column_values_to_be_in_set(column=url" in problem
