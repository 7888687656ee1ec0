"""The SLO facts' contract (Prometheus's Sloth and Pyrra SLOs, Grafana SLOs): what it refuses and what it reports."""

from __future__ import annotations

import pandas as pd
import pytest

from oncall_readiness.quality import QualityContext, failure_summary, validate_source
from oncall_readiness.source_catalogue import SOURCES
from oncall_readiness.sources.prometheus import normalise
from tests.unit.checks.test_availability_target import pyrra, services_frame, sloth

INSTANT = pd.Timestamp("2026-11-16T00:00:00Z")
REGISTRY = services_frame([("api", "t", 99.9), ("ledger", "t", 99.9)])


def report_of(groups, registry=REGISTRY):
    facts = normalise([group for parts in groups for group in parts], registry)
    context = QualityContext(audit_instant=INSTANT, registry={"registry_services": registry})
    report = validate_source("prometheus", SOURCES["prometheus"].suites, facts, context)
    return report[report["facts_table"] == "prometheus_slos"], failure_summary(report)


def test_sloth_and_pyrra_slos_meet_the_contract_and_the_unmatched_are_reported():
    report, summary = report_of([sloth("api"), pyrra("ledger", labels={"service": "ledger"}), sloth("nobody")])
    assert summary is None, summary
    in_set = report["expectation"].str.startswith("expect_column_values_to_be_in_set(column=slo_id")
    (unmatched,) = report[in_set].to_dict("records")
    assert unmatched["success"] and unmatched["observed_value"] == "1 unexpected of 3"  # reported, not refused
    assert unmatched["details"] == "e.g. nobody-requests-availability"


@pytest.mark.parametrize(
    ("groups", "expected"),
    [
        ([sloth("api", objective="0")], "expect_column_values_to_be_between(column=objective_percent"),
        ([pyrra("ledger", target="99.9", labels={"service": "ledger"})], "column=objective_percent"),  # a percent
        ([sloth("api", days=0)], "expect_column_values_to_not_be_null(column=window_days) (1 unexpected"),
    ],
    ids=["objective-0", "objective-over-100", "window-does-not-parse"],
)
def test_an_slo_out_of_bounds_fails_the_contract(groups, expected):
    _, summary = report_of(groups)
    assert summary is not None and expected in summary, summary


def test_an_slo_two_services_claim_is_reported_and_the_source_stays_trusted():
    registry = services_frame([("api", "t", 99.9), ("api-v2", "t", 99.9, "sloth_service=api")])
    report, summary = report_of([sloth("api")], registry)
    assert summary is None, summary  # one team's loose selector never blanks the source for every team
    (claimed,) = report[report["expectation"].str.startswith("expect_column_values_to_be_null(column=claimed_by")][
        ["success", "observed_value", "details"]
    ].to_dict("records")
    assert claimed == {"success": True, "observed_value": "1 unexpected of 1", "details": "e.g. api, api-v2"}


def test_an_slo_given_a_service_it_is_not_the_only_match_of_fails_the_contract():
    registry = services_frame([("api", "t", 99.9), ("api-v2", "t", 99.9, "sloth_service=api")])
    facts = normalise(sloth("api"), registry)
    facts["prometheus_slos"].loc[0, "service"] = "api"  # a collector that gave the SLO to one of its claimants
    context = QualityContext(audit_instant=INSTANT, registry={"registry_services": registry})
    summary = failure_summary(validate_source("prometheus", SOURCES["prometheus"].suites, facts, context))
    assert summary is not None and "expect_column_values_to_be_between(column=matched_services" in summary, summary
