"""The data-quality gate catches the ways real API reads go wrong, and passes a clean read.

The clean read is the sample organisation collected from the sandbox; every other case
corrupts it the way a real API or a real catalog fails.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

from oncall_readiness.quality import QualityContext, failure_summary, validate_source
from oncall_readiness.registry import load_registry
from oncall_readiness.source_catalogue import SOURCES
from oncall_readiness.sources.pagerduty import PagerDutyClient, collect, collect_for_audit, normalise
from oncall_readiness.sources.window import AuditWindow
from readiness_sandbox.process import running_sandbox
from readiness_sandbox.sample_org import CATALOG as SAMPLE_CATALOG

INSTANT = pd.Timestamp("2026-11-16T00:00:00Z")
WINDOW = AuditWindow(pd.Timestamp("2026-11-16T00:00:00Z"), look_back_days=28)


@pytest.fixture(scope="module")
def registry():
    return load_registry(SAMPLE_CATALOG).to_facts()


@pytest.fixture(scope="module")
def sandbox():
    with running_sandbox() as running:
        yield running


@pytest.fixture(scope="module")
def clean(sandbox, registry):
    class Hook:
        def get_conn(self):
            return PagerDutyClient(sandbox.token, base_url=sandbox.url("pagerduty"))

    return collect_for_audit(
        Hook(), registry, AuditWindow(INSTANT, look_back_days=28, look_ahead_days=14, joiner_days=90)
    )


def failures(facts, registry, source="pagerduty"):
    context = QualityContext(audit_instant=INSTANT, registry=registry, look_ahead_days=14)
    report = validate_source(source, SOURCES[source].suites, facts, context)
    return report, failure_summary(report)


def corrupted(facts, table, change):
    return {**facts, table: change(facts[table].copy())}


def test_a_clean_read_meets_every_expectation(clean, registry):
    report, summary = failures(clean, registry)
    assert summary is None, summary
    assert len(report) >= 25 and report["success"].all()
    assert set(report["facts_table"]) >= {"pagerduty_users", "pagerduty_oncall_shifts", "pagerduty_collections"}


def test_the_sample_registry_meets_its_contract(registry):
    _, summary = failures(registry, registry, source="registry")
    assert summary is None, summary


def test_a_field_dropped_by_an_api_change(sandbox, registry, clean):
    client = PagerDutyClient(sandbox.token, base_url=sandbox.url("pagerduty"))
    users = [{k: v for k, v in user.items() if k != "email"} for user in client.iter_all("/users", "users")]
    facts = {
        **clean,
        **{
            "pagerduty_users": normalise(users=users, schedules=[], services=[], policies=[], shifts=[])[
                "pagerduty_users"
            ]
        },
    }
    report, summary = failures(facts, registry)
    assert "pagerduty_users: expect_column_values_to_not_be_null(column=email)" in summary
    assert "registry_people: expect_column_values_to_be_in_set(column=email" in summary  # nobody matches now


def test_a_truncated_last_page(sandbox, registry, clean):
    client = PagerDutyClient(sandbox.token, base_url=sandbox.url("pagerduty"))
    real_page = client._page

    def lossy_page(path, params):  # the last page of users comes back short (pages are read as bytes)
        body = real_page(path, params)
        if path == "/users":
            page = json.loads(body)
            page["users"] = page["users"][:-3]
            body = json.dumps(page).encode()
        return body

    client._page = lossy_page
    facts = collect(client, WINDOW, registry["registry_team_schedules"]["schedule_id"])
    _, summary = failures({**clean, **facts}, registry)
    assert "pagerduty_collections: expect_column_pair_values_to_be_equal" in summary
    assert "1 unexpected" in summary


def test_duplicated_records(clean, registry):
    facts = corrupted(clean, "pagerduty_users", lambda users: pd.concat([users, users.head(2)], ignore_index=True))
    _, summary = failures(facts, registry)
    assert "pagerduty_users: expect_column_values_to_be_unique(column=user_id) (4 unexpected" in summary


def test_nulls_in_keys(clean, registry):
    def drop_keys(shifts):
        shifts.loc[shifts.index[:2], "user_id"] = None
        return shifts

    _, summary = failures(corrupted(clean, "pagerduty_oncall_shifts", drop_keys), registry)
    assert "pagerduty_oncall_shifts: expect_column_values_to_not_be_null(column=user_id) (2 unexpected" in summary


def test_timestamps_without_a_zone_are_rejected():
    shifts = [
        {"schedule_id": "PS1", "user_id": "PU1", "start": "2026-11-02T09:00:00", "end": "2026-11-09T09:00:00+00:00"}
    ]
    frame = normalise(users=[], schedules=[], services=[], policies=[], shifts=shifts)["pagerduty_oncall_shifts"]
    assert frame["start"].isna().all()  # never silently read as UTC
    assert frame["end"].iloc[0] == pd.Timestamp("2026-11-09T09:00:00Z")


def test_timestamps_without_a_zone_fail_the_gate(clean, registry):
    def unzoned(shifts):
        shifts.loc[shifts.index[0], "start"] = pd.NaT  # what normalise makes of "2026-11-02T09:00:00"
        return shifts

    _, summary = failures(corrupted(clean, "pagerduty_oncall_shifts", unzoned), registry)
    assert "pagerduty_oncall_shifts: expect_column_values_to_not_be_null(column=start)" in summary


def test_timestamps_in_the_future_of_the_audit(clean, registry):
    def future(services):
        services.loc[services.index[0], "created_at"] = INSTANT + pd.Timedelta(days=3)
        return services

    _, summary = failures(corrupted(clean, "pagerduty_services", future), registry)
    assert "pagerduty_services: expect_column_values_to_be_between(column=created_at" in summary


def test_shifts_are_read_up_to_the_look_ahead_and_no_further(clean, registry):
    def shifted(shifts, days):
        shifts.loc[shifts.index[0], ["start", "end"]] = [
            INSTANT + pd.Timedelta(days=days),
            INSTANT + pd.Timedelta(days=days + 1),
        ]
        return shifts

    _, within = failures(corrupted(clean, "pagerduty_oncall_shifts", lambda s: shifted(s, 13)), registry)
    assert within is None, within
    _, beyond = failures(corrupted(clean, "pagerduty_oncall_shifts", lambda s: shifted(s, 15)), registry)
    assert "pagerduty_oncall_shifts: expect_column_values_to_be_between(column=start" in beyond


def test_a_notification_rule_through_a_contact_method_that_was_not_read(clean, registry):
    def dangling(rules):
        rules.loc[rules.index[0], "contact_method_id"] = "PCGONE1"
        return rules

    _, summary = failures(corrupted(clean, "pagerduty_notification_rules", dangling), registry)
    assert "pagerduty_notification_rules: expect_column_values_to_be_in_set(column=contact_method_id" in summary


def test_a_read_that_lost_most_schedules(clean, registry):
    facts = corrupted(clean, "pagerduty_schedules", lambda schedules: schedules.head(1))
    _, summary = failures(facts, registry)
    assert "registry_team_schedules: expect_column_values_to_be_in_set(column=schedule_id" in summary


def test_registry_references_that_do_not_resolve(registry):
    broken = corrupted(registry, "registry_team_schedules", lambda links: links.assign(team="ghost-team"))
    _, summary = failures(broken, broken, source="registry")
    assert "registry_team_schedules: expect_column_values_to_be_in_set(column=team)" in summary
