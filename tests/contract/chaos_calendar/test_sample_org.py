"""The sample organisation, collected from the sandbox's feed, gives the designed chaos-day outcomes.

The design is in include/sample_org/README.md (section chaos-day); this runs the check the
way the audit does, without Airflow: collect through the hook, validate, evaluate.
"""

from __future__ import annotations

import dataclasses
import json

import pandas as pd
import pytest

from oncall_readiness.checks.catalogue import load_catalogue
from oncall_readiness.checks.runner import evaluate_checks
from oncall_readiness.hooks.chaos_calendar import ChaosCalendarHook
from oncall_readiness.quality import QualityContext, failure_summary, validate_source
from oncall_readiness.registry import load_registry
from oncall_readiness.source_catalogue import SOURCES
from oncall_readiness.sources.chaos_calendar import collect_for_audit
from oncall_readiness.sources.window import AuditWindow
from readiness_sandbox.process import running_sandbox
from readiness_sandbox.sample_org import CATALOG

INSTANT = pd.Timestamp("2026-11-16T00:00:00Z")
CHECK = "chaos-day"

EXPECTED = {
    "payments": (
        "pass",
        'Last Chaos Day 2026-10-28 ("Payments: kill the ledger primary"), 19 days ago; '
        'next Chaos Day on 2026-12-03 ("Payments: lose a region").',
    ),
    "checkout": (
        "warn",
        'Last Chaos Day 2026-09-30 ("Checkout: payment provider timeouts"), 47 days ago, '
        "and its event links no write-up.",
    ),
    "search": ("warn", 'Last Chaos Day 2026-07-15 ("Search: index node loss"), 124 days ago: more than 90 days.'),
    "catalog": (
        "fail",
        "No Chaos Day recorded, neither in readiness/last-chaos-day nor in the Chaos Day calendar; "
        'next Chaos Day on 2026-12-10 ("Catalog: importer backlog storm").',
    ),
    "identity": (
        "pass",
        'Last Chaos Day 2026-10-14 ("Identity: quarterly game day"), 33 days ago; '
        'next Chaos Day on 2027-01-14 ("Identity: quarterly game day").',
    ),
    "notifications": (
        "fail",
        'Last Chaos Day 2025-11-03 ("Notifications: SMS provider outage"), 378 days ago: more than 180 days.',
    ),
}


def chaos_day(facts, unavailable=None) -> tuple[pd.DataFrame, pd.DataFrame]:
    catalogue = load_catalogue()
    only = dataclasses.replace(catalogue, checks={CHECK: catalogue.checks[CHECK]})
    results, findings = evaluate_checks(
        audit_instant=INSTANT, facts=facts, unavailable=unavailable or {}, catalogue=only
    )
    return results.set_index("team"), findings


@pytest.fixture(scope="module")
def collected():
    registry = load_registry(CATALOG).to_facts()
    with running_sandbox() as sandbox, pytest.MonkeyPatch.context() as patch:
        conn = {"conn_type": ChaosCalendarHook.conn_type, **sandbox.connections()["chaos_calendar"]}
        patch.setenv("AIRFLOW_CONN_CHAOS_CALENDAR_DEFAULT", json.dumps(conn))
        calendar = collect_for_audit(ChaosCalendarHook(), registry, AuditWindow(INSTANT, look_back_days=28))
    return registry, calendar


def test_the_sample_feed_meets_its_contract(collected):
    registry, calendar = collected
    report = validate_source(
        "chaos_calendar", SOURCES["chaos_calendar"].suites, calendar, QualityContext(INSTANT, registry)
    )
    assert failure_summary(report) is None


def test_every_team_gets_its_designed_outcome_and_reason(collected):
    registry, calendar = collected
    results, _ = chaos_day({**registry, **calendar})
    assert {team: (row.status, row.reason) for team, row in results.iterrows()} == EXPECTED


def test_the_findings_name_the_events(collected):
    registry, calendar = collected
    _, findings = chaos_day({**registry, **calendar})
    subjects = findings.groupby("team")["subject"].apply(sorted).to_dict()
    assert subjects["identity"] == [
        "event:chaos-identity-quarterly@chaos.example.com/2026-10-14",
        "event:chaos-identity-quarterly@chaos.example.com/2027-01-14",
    ]
    assert subjects["checkout"] == ["event:chaos-2026-09-30-checkout@chaos.example.com"]
    assert subjects["catalog"] == ["event:chaos-2026-12-10-catalog@chaos.example.com", "team:catalog"]
    guild = "chaos-2026-09-09-guild@chaos.example.com"  # in the feed, but no team's
    assert guild in set(calendar["chaos_calendar_events"]["uid"]) and not findings["subject"].str.contains(guild).any()


def test_without_the_calendar_the_annotations_alone_decide(collected):
    registry, _ = collected
    results, _ = chaos_day(registry)
    assert results["status"].to_dict() == {
        "catalog": "fail",
        "checkout": "pass",
        "identity": "pass",
        "notifications": "fail",
        "payments": "pass",
        "search": "fail",
    }


def test_with_the_calendar_down_every_team_is_unknown(collected):
    # checkout's annotation alone passes, yet its calendar event without a write-up makes it warn.
    registry, _ = collected
    results, _ = chaos_day(registry, {"chaos_calendar": "chaos_calendar: GET /x answered 503: Service Unavailable"})
    assert set(results["status"]) == {"unknown"}
    assert results["reason"].str.startswith("The Chaos Day calendar could not be read: chaos_calendar: GET /x").all()
