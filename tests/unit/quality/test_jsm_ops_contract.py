"""JSM Operations' data contract passes a clean read of the sample site and catches broken ones."""

from __future__ import annotations

import pandas as pd
import pytest

from oncall_readiness.quality import QualityContext, failure_summary, validate_source
from oncall_readiness.source_catalogue import SOURCES
from oncall_readiness.sources.jsm_ops import JsmOpsClient, collect
from oncall_readiness.sources.window import AuditWindow
from readiness_sandbox.emulators import EMULATORS
from readiness_sandbox.in_thread import serving_in_thread

INSTANT = pd.Timestamp("2026-11-16T00:00:00Z")
TEAM = "3f6e1a2b-7c4d-4e5f-8a9b-1d0000000001"
PEOPLE = [
    "oliver.bennett",
    "isla.campbell",
    "jack.robinson",
    "ruby.ahmed",
    "harry.evans",
    "freya.collins",
    "zara.malik",
]
REGISTRY = {
    "registry_teams": pd.DataFrame({"team": ["identity"], "jsm_ops_team": [TEAM], "oncall_platform": ["jsm_ops"]}),
    "registry_services": pd.DataFrame({"service": ["identity-auth", "identity-sso"], "team": ["identity"] * 2}),
    "registry_people": pd.DataFrame({"email": [f"{p}@example.com" for p in PEOPLE], "team": ["identity"] * 7}),
}


@pytest.fixture(scope="module")
def sample() -> dict[str, pd.DataFrame]:
    emulator = EMULATORS["jsm_ops"]
    with serving_in_thread(emulator.app(emulator.load(), tokens=["t"], rate_limit=None, fail_next=0)) as url:
        client = JsmOpsClient("readiness-audit@example.com", "t", site_url=url, api_url="/jsm/ops/api", max_retries=0)
        return collect(client, REGISTRY, AuditWindow(INSTANT, look_back_days=28, look_ahead_days=14))


def validate(facts) -> pd.DataFrame:
    return validate_source("jsm_ops", SOURCES["jsm_ops"].suites, facts, QualityContext(INSTANT, REGISTRY, 14))


def test_the_sample_site_meets_the_contract(sample):
    assert failure_summary(validate(sample)) is None


def test_a_shift_of_someone_the_site_did_not_answer_fails(sample):
    facts = {name: frame.copy() for name, frame in sample.items()}
    facts["jsm_ops_shifts"].loc[0, "user_id"] = "712020:ghost"
    report = validate(facts)
    broken = report[~report["success"]]
    assert set(broken["facts_table"]) == {"jsm_ops_shifts"}
    assert broken["expectation"].str.startswith("expect_column_values_to_be_in_set(column=user_id").all()


def test_an_alert_after_the_audit_instant_or_twice_fails(sample):
    facts = {name: frame.copy() for name, frame in sample.items()}
    incidents = facts["jsm_ops_incidents"]
    facts["jsm_ops_incidents"] = pd.concat([incidents, incidents.head(1)], ignore_index=True)
    facts["jsm_ops_incidents"].loc[1, "created_at"] = INSTANT + pd.Timedelta(hours=1)
    broken = validate(facts)
    broken = broken[~broken["success"]]
    assert set(broken["facts_table"]) == {"jsm_ops_incidents"}
    assert broken["expectation"].str.contains("column=incident_id|column=created_at").sum() >= 2


def test_a_read_that_lost_the_teams_people_fails(sample):
    facts = {name: frame.copy() for name, frame in sample.items()}
    facts["jsm_ops_users"]["email"] = pd.NA
    broken = validate(facts)
    assert "registry_people" in set(broken.loc[~broken["success"], "facts_table"])


def test_a_schedule_the_escalation_pages_that_the_listing_lost_fails(sample):
    facts = {name: frame.copy() for name, frame in sample.items()}
    facts["jsm_ops_schedules"] = facts["jsm_ops_schedules"].iloc[0:0]
    broken = validate(facts)
    broken = broken[~broken["success"]]
    assert "jsm_ops_escalation_levels" in set(broken["facts_table"])
