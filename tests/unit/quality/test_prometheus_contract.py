"""Prometheus's data contract passes a clean read of the rules API and catches broken ones.

The clean read is a ``GET /api/v1/rules`` answer (alerting rules only: the SLOs' contract is
``test_slo_contract.py``) recorded from Debian's
Prometheus 2.42; every other case corrupts it the way an API change or a wrong host would.
"""

from __future__ import annotations

import copy

import pandas as pd
import pytest

from oncall_readiness.quality import QualityContext, failure_summary, validate_source
from oncall_readiness.source_catalogue import SOURCES
from oncall_readiness.sources.prometheus import normalise

INSTANT = pd.Timestamp("2026-11-16T00:00:00Z")
TABLE = "prometheus_alert_rules"

RECORDED = {
    "status": "success",
    "data": {
        "groups": [
            {
                "name": "payments-api",
                "file": "/etc/prometheus/rules/payments.yml",
                "rules": [
                    {
                        "state": "inactive",
                        "name": "PaymentsApiHighErrorRate",
                        "query": 'sum(rate(http_requests_total{code=~"5..",service="payments-api"}[5m])) > 0.02',
                        "duration": 300,
                        "keepFiringFor": 0,
                        "labels": {"service": "payments-api", "severity": "critical", "team": "payments"},
                        "annotations": {
                            "runbook_url": "https://github.com/example-org/payments-runbooks/blob/main/payments-api.md",
                            "summary": "More than 2% of payments-api requests fail.",
                        },
                        "alerts": [],
                        "health": "ok",
                        "evaluationTime": 0.000412,
                        "lastEvaluation": "2026-11-16T00:00:03.1Z",
                        "type": "alerting",
                    }
                ],
                "interval": 15,
                "limit": 0,
                "evaluationTime": 0.0005,
                "lastEvaluation": "2026-11-16T00:00:03.1Z",
            },
            {
                "name": "notifications-push",
                "file": "/etc/prometheus/rules/notifications.yml",
                "rules": [
                    {
                        "state": "inactive",
                        "name": "NotificationsPushDeliveryFailing",
                        "query": 'sum(rate(push_deliveries_total{outcome="failed"}[5m])) > 1',
                        "duration": 0,
                        "keepFiringFor": 0,
                        "labels": {"service": "notifications-push", "severity": "critical"},
                        "annotations": {},
                        "alerts": [],
                        "health": "unknown",
                        "evaluationTime": 0,
                        "lastEvaluation": "0001-01-01T00:00:00Z",
                        "type": "alerting",
                    }
                ],
                "interval": 15,
                "limit": 0,
                "evaluationTime": 0,
                "lastEvaluation": "0001-01-01T00:00:00Z",
            },
        ]
    },
}


def read(change=None):
    groups = copy.deepcopy(RECORDED["data"]["groups"])
    if change:
        change(groups[0]["rules"][0])
    return normalise(groups)


def summary_of(facts):
    context = QualityContext(audit_instant=INSTANT, registry={})
    report = validate_source("prometheus", SOURCES["prometheus"].suites, facts, context)
    return report, failure_summary(report)


def test_a_clean_read_meets_every_expectation():
    facts = read()
    assert len(facts[TABLE]) == 2
    report, summary = summary_of(facts)
    assert summary is None, summary
    assert len(report) >= 10 and report["success"].all()
    assert set(report["facts_table"]) == {TABLE, "prometheus_slos"}


def test_an_empty_read_is_valid():  # a server without alerting rules: the check fails the services, not the read
    _, summary = summary_of(normalise([]))
    assert summary is None


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda rule: rule.pop("name"), "expect_column_values_to_not_be_null(column=name) (1 unexpected"),
        (lambda rule: rule.pop("query"), "expect_column_values_to_not_be_null(column=query) (1 unexpected"),
        (
            lambda rule: rule.update(labels=[["service", "payments-api"]]),  # a pair list instead of a map
            "expect_column_values_to_not_be_null(column=labels) (1 unexpected",
        ),
        (
            lambda rule: rule.update(annotations="runbook_url=https://x"),
            "expect_column_values_to_not_be_null(column=annotations) (1 unexpected",
        ),
        (lambda rule: rule.update(duration=-60), "expect_column_values_to_be_between(column=duration_seconds"),
        (lambda rule: rule.update(duration="5m"), "expect_column_values_to_not_be_null(column=duration_seconds)"),
        (lambda rule: rule.update(health="broken"), "expect_column_values_to_be_in_set(column=health"),
    ],
    ids=["no-name", "no-query", "labels-not-a-map", "annotations-not-a-map", "negative-for", "for-as-text", "health"],
)
def test_a_broken_read_fails_the_contract(change, expected):
    _, summary = summary_of(read(change))
    assert summary is not None and expected in summary, summary


def test_labels_that_are_not_json_objects_fail():
    facts = read()
    rules = facts[TABLE].copy()
    rules.loc[0, "labels"] = "service=payments-api"  # text from a client that does not speak JSON
    rules.loc[1, "annotations"] = "[]"
    _, summary = summary_of({**facts, TABLE: rules})
    assert "expect_column_values_to_be_json_parseable(column=labels) (1 unexpected" in summary
    assert "expect_column_values_to_match_regex(column=labels" in summary
    assert "expect_column_values_to_match_regex(column=annotations" in summary


def test_a_rule_group_without_a_name_fails():
    groups = copy.deepcopy(RECORDED["data"]["groups"])
    del groups[1]["name"]
    _, summary = summary_of(normalise(groups))
    assert "expect_column_values_to_not_be_null(column=rule_group) (1 unexpected" in summary


def test_recording_rules_are_not_read_even_if_the_server_sends_them():
    groups = copy.deepcopy(RECORDED["data"]["groups"])
    groups[0]["rules"].append({"name": "job:up:sum", "query": "sum(up)", "health": "ok", "type": "recording"})
    assert len(normalise(groups)[TABLE]) == 2
