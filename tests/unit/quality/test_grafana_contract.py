"""Grafana's data contract catches the ways real API reads go wrong, and passes a clean read.

The clean read is the sample organisation collected from the sandbox; every other case
corrupts it the way a real API or a real catalog fails.
"""

from __future__ import annotations

import pandas as pd
import pytest

from oncall_readiness.quality import QualityContext, failure_summary, validate_source
from oncall_readiness.registry import load_registry
from oncall_readiness.source_catalogue import SOURCES
from oncall_readiness.sources.grafana import GrafanaClient, collect, normalise
from readiness_sandbox.process import running_sandbox
from readiness_sandbox.sample_org import CATALOG as SAMPLE_CATALOG

INSTANT = pd.Timestamp("2026-11-16T00:00:00Z")


@pytest.fixture(scope="module")
def registry():
    return load_registry(SAMPLE_CATALOG).to_facts()


@pytest.fixture(scope="module")
def sandbox():
    with running_sandbox() as running:
        yield running


def read(client, registry):
    return collect(
        client,
        dashboard_selectors=registry["registry_services"]["dashboard_selector"].dropna(),
        team_names=registry["registry_teams"]["grafana_team"].dropna(),
    )


@pytest.fixture(scope="module")
def clean(sandbox, registry):
    return read(GrafanaClient(sandbox.token, base_url=sandbox.url("grafana")), registry)


def failures(facts, registry):
    context = QualityContext(audit_instant=INSTANT, registry=registry)
    report = validate_source("grafana", SOURCES["grafana"].suites, facts, context)
    return report, failure_summary(report)


def corrupted(facts, table, change):
    return {**facts, table: change(facts[table].copy())}


def test_a_clean_read_meets_every_expectation(clean, registry):
    report, summary = failures(clean, registry)
    assert summary is None, summary
    assert len(report) >= 20 and report["success"].all()
    assert set(report["facts_table"]) >= {
        "grafana_dashboards",
        "grafana_teams",
        "grafana_team_members",
        "grafana_alert_rules",
        "grafana_collections",
        "registry_teams",
        "registry_services",
    }


def test_a_truncated_team_search(sandbox, registry):
    client = GrafanaClient(sandbox.token, base_url=sandbox.url("grafana"))
    real_get = client.get

    def lossy_get(path, params=None, **kwargs):  # the page comes back short of totalCount
        body = real_get(path, params, **kwargs)
        if path == "/api/teams/search":
            body["teams"] = body["teams"][:-2]
        return body

    client.get = lossy_get
    _, summary = failures(read(client, registry), registry)
    assert "grafana_collections: expect_column_pair_values_to_be_equal" in summary
    assert "1 unexpected" in summary


def test_a_truncated_member_list(clean, registry):
    def short(collections):
        members = collections["collection"].str.endswith("/members")
        collections.loc[members[members].index[0], "collected"] -= 1
        return collections

    _, summary = failures(corrupted(clean, "grafana_collections", short), registry)
    assert "grafana_collections: expect_column_pair_values_to_be_equal" in summary


def test_duplicated_records(clean, registry):
    def twice(frame):
        return pd.concat([frame, frame.head(2)], ignore_index=True)

    facts = corrupted(corrupted(clean, "grafana_dashboards", twice), "grafana_team_members", twice)
    _, summary = failures(facts, registry)
    assert "grafana_dashboards: expect_column_values_to_be_unique(column=uid) (4 unexpected" in summary
    assert "grafana_team_members: expect_compound_columns_to_be_unique" in summary


def test_nulls_in_keys_and_emails(clean, registry):
    def drop(column, rows=2):
        def change(frame):
            frame.loc[frame.index[:rows], column] = None
            return frame

        return change

    facts = corrupted(clean, "grafana_team_members", drop("email"))
    facts = corrupted(facts, "grafana_alert_rules", drop("uid", 1))
    _, summary = failures(facts, registry)
    assert "grafana_team_members: expect_column_values_to_not_be_null(column=email) (2 unexpected" in summary
    assert "grafana_alert_rules: expect_column_values_to_not_be_null(column=uid) (1 unexpected" in summary


def test_labels_that_are_not_a_map_fail(clean, registry):
    rules = [{"uid": "r1", "title": "R1", "labels": ["service=cart"], "annotations": None}]
    facts = {
        **clean,
        **{"grafana_alert_rules": normalise(dashboards=[], teams=[], members=[], rules=rules)["grafana_alert_rules"]},
    }
    frame = facts["grafana_alert_rules"]
    assert pd.isna(frame.at[0, "labels"]) and frame.at[0, "annotations"] == "{}"
    _, summary = failures(facts, registry)
    assert "grafana_alert_rules: expect_column_values_to_not_be_null(column=labels)" in summary


def test_an_unknown_kind_fails(clean, registry):
    def odd(frame):
        frame.loc[frame.index[0], "kind"] = "dashboard"
        return frame

    _, summary = failures(corrupted(clean, "grafana_dashboards", odd), registry)
    assert "grafana_dashboards: expect_column_values_to_be_in_set(column=kind)" in summary


def test_a_read_that_lost_most_teams_and_dashboards_fails(clean, registry):
    facts = corrupted(clean, "grafana_teams", lambda teams: teams[teams["team_name"].isin(["sre", "payments"])])
    facts = corrupted(facts, "grafana_dashboards", lambda dashboards: dashboards.head(3))
    _, summary = failures(facts, registry)
    assert "registry_teams: expect_column_values_to_be_in_set(column=grafana_team, mostly=0.5)" in summary
    assert "registry_services: expect_column_values_to_be_in_set(column=dashboard_selector, mostly=0.5)" in summary


def test_a_single_typo_in_the_registry_is_left_to_the_checks(clean, registry):
    teams = registry["registry_teams"].copy()
    teams.loc[teams.index[0], "grafana_team"] = "paymnets"
    _, summary = failures(clean, {**registry, "registry_teams": teams})
    assert summary is None, summary
