"""The sample organisation, collected from the sandbox, gives the designed Grafana outcomes.

The design is in include/sample_org/README.md (sections dashboard-coverage and
joiner-permissions); this runs the two checks the way the audit does, without Airflow.
"""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from oncall_readiness import hr
from oncall_readiness.checks.catalogue import load_catalogue
from oncall_readiness.checks.runner import evaluate_checks
from oncall_readiness.quality import QualityContext, failure_summary, validate_source
from oncall_readiness.registry import load_registry
from oncall_readiness.source_catalogue import SOURCES, with_oncall_facts
from oncall_readiness.sources import grafana, jsm_ops, pagerduty
from oncall_readiness.sources.window import AuditWindow
from readiness_sandbox.jsm_ops.app import SANDBOX_EMAIL
from readiness_sandbox.process import running_sandbox
from readiness_sandbox.sample_org import CATALOG as SAMPLE_CATALOG
from readiness_sandbox.sample_org import HR_EXPORT

INSTANT = pd.Timestamp("2026-11-16T00:00:00Z")
CHECKS = ("dashboard-coverage", "joiner-permissions")


@pytest.fixture(scope="module")
def audited():
    registry = load_registry(SAMPLE_CATALOG)
    facts = {**registry.to_facts(), **hr.joiner_facts(registry.teams["team"], path=HR_EXPORT)}
    window = AuditWindow(INSTANT, look_back_days=(INSTANT - pd.Timestamp("2026-10-19T00:00:00Z")).days)
    with running_sandbox() as sandbox:
        facts |= grafana.collect(
            grafana.GrafanaClient(sandbox.token, base_url=sandbox.url("grafana")),
            dashboard_selectors=registry.services["dashboard_selector"].dropna(),
            team_names=registry.teams["grafana_team"].dropna(),
        )
        facts |= pagerduty.collect(
            pagerduty.PagerDutyClient(sandbox.token, base_url=sandbox.url("pagerduty")),
            window,
            registry.team_schedules["schedule_id"],
        )
        # identity is on call in JSM Operations: its people's accounts are there
        facts |= jsm_ops.collect(
            jsm_ops.JsmOpsClient(SANDBOX_EMAIL, sandbox.token, site_url=sandbox.url("jsm_ops"), api_url="/jsm/ops/api"),
            registry.to_facts(),
            dataclasses.replace(window, look_ahead_days=14),
        )
    catalogue = load_catalogue()
    mine = dataclasses.replace(catalogue, checks={k: v for k, v in catalogue.checks.items() if k in CHECKS})
    facts = with_oncall_facts(facts)
    results, findings = evaluate_checks(audit_instant=INSTANT, facts=facts, unavailable={}, catalogue=mine)
    return facts, results, findings


def statuses(results, check_id):
    return results[results["check_id"] == check_id].set_index("team")["status"].to_dict()


def outcome(findings, check_id, subject):
    mine = findings[(findings["check_id"] == check_id) & (findings["subject"] == subject)]
    assert len(mine) == 1, f"{check_id} {subject}: {mine}"
    return mine.iloc[0]["outcome"], mine.iloc[0]["message"]


def test_the_sample_grafana_facts_meet_their_contract(audited):
    facts, _, _ = audited
    registry = {table: frame for table, frame in facts.items() if table.startswith("registry_")}
    context = QualityContext(audit_instant=INSTANT, registry=registry)
    report = validate_source("grafana", SOURCES["grafana"].suites, facts, context)
    assert failure_summary(report) is None, failure_summary(report)


def test_dashboard_coverage_passes_warns_and_fails_as_designed(audited):
    _, results, findings = audited
    assert statuses(results, "dashboard-coverage") == {
        "payments": "pass",
        "checkout": "warn",
        "search": "fail",
        "catalog": "warn",
        "identity": "pass",
        "notifications": "fail",
    }
    check = "dashboard-coverage"
    assert outcome(findings, check, "service:checkout-tax") == (
        "warn",
        'checkout-tax has a monitoring dashboard ("Checkout Tax") but no logging dashboard',
    )
    assert outcome(findings, check, "service:catalog-importer")[0] == "warn"
    assert "but no monitoring dashboard" in outcome(findings, check, "service:catalog-importer")[1]
    assert outcome(findings, check, "service:search-suggest") == (
        "fail",
        "search-suggest has no dashboard tagged 'search-suggest'",
    )
    assert outcome(findings, check, "service:notifications-sms")[0] == "fail"
    assert outcome(findings, check, "service:notifications-push")[0] == "warn"
    # one overview serves four services; the ledger's logs panel sits in a collapsed row
    assert '"Payments overview"' in outcome(findings, check, "service:payments-reconciler")[1]
    assert outcome(findings, check, "service:payments-ledger") == (
        "pass",
        'payments-ledger has monitoring ("Payments overview") and logging ("Payments Ledger journal") dashboards',
    )


def test_joiner_permissions_passes_warns_and_fails_as_designed(audited):
    _, results, findings = audited
    assert statuses(results, "joiner-permissions") == {
        "payments": "pass",
        "checkout": "warn",
        "search": "pass",
        "catalog": "fail",
        "identity": "fail",
        "notifications": "fail",
    }
    check = "joiner-permissions"
    assert outcome(findings, check, "person:noah-schulz") == (
        "fail",
        "Noah Schulz has no PagerDuty user and is not in the Grafana team catalog, 7 days after starting on 2026-11-09",
    )
    assert outcome(findings, check, "person:zara-malik") == (
        "fail",
        "Zara Malik is not in the Grafana team identity, 77 days after starting on 2026-08-31",
    )
    assert outcome(findings, check, "person:nora-diaz") == (
        "fail",
        "Nora Diaz has no PagerDuty user, 35 days after starting on 2026-10-12",
    )
    assert outcome(findings, check, "person:leo-park")[0] == "warn"
    isabel = outcome(findings, check, "person:isabel.moreno@example.com")
    assert isabel[0] == "warn" and "only the HR export lists them" in isabel[1]
    assert outcome(findings, check, "person:vikram-rao")[0] == "pass"  # Grafana spells his email in capitals
    assert not findings["subject"].str.contains("daniel|maya").any()  # a leaver, a future hire
    assert results.set_index(["team", "check_id"]).at[("search", check), "reason"] == (
        "Every joiner of the last 90 days has a PagerDuty user and the team's Grafana team membership."
    )


def test_without_the_hr_export_checkout_has_no_joiners(audited):
    facts, _, _ = audited
    catalogue = load_catalogue()
    only = dataclasses.replace(catalogue, checks={"joiner-permissions": catalogue.checks["joiner-permissions"]})
    without = {table: frame for table, frame in facts.items() if table != hr.TABLE}
    results, _ = evaluate_checks(audit_instant=INSTANT, facts=without, unavailable={}, catalogue=only)
    checkout = results.set_index("team").loc["checkout"]
    assert (checkout["status"], checkout["reason"]) == ("pass", "No one joined in the last 90 days.")
