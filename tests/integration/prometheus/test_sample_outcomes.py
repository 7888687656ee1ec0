"""alert-definitions on the sample organisation: the real Prometheus read plus the Grafana rules.

The designed outcomes are in include/sample_org/README.md (section alert-definitions); the
Grafana-managed rules come from include/sample_org/grafana.yaml in the shape of Grafana's
``GET /api/v1/provisioning/alert-rules``, normalised by the Grafana source.
"""

from __future__ import annotations

import pandas as pd
import pytest
import yaml

from oncall_readiness.checks.catalogue import Catalogue, load_catalogue
from oncall_readiness.checks.runner import evaluate_checks
from oncall_readiness.registry import load_registry
from oncall_readiness.sources import grafana
from oncall_readiness.sources.prometheus import PrometheusClient, collect
from readiness_sandbox.sample_org import CATALOG as SAMPLE_CATALOG

pytestmark = pytest.mark.integration

INSTANT = pd.Timestamp("2026-11-16T00:00:00Z")
CHECK = "alert-definitions"
GRAFANA_STATE = SAMPLE_CATALOG.parent / "grafana.yaml"


def grafana_rules() -> pd.DataFrame:
    """The sample Grafana rules as the provisioning API lists them, through the Grafana source."""
    rules = [
        {
            "uid": rule["uid"],
            "title": rule["title"],
            "folderUID": rule.get("folder"),
            "ruleGroup": rule["rule_group"],
            "labels": rule.get("labels") or {},
            "annotations": rule.get("annotations") or {},
            "isPaused": bool(rule.get("is_paused", False)),
        }
        for rule in yaml.safe_load(GRAFANA_STATE.read_text())["alert_rules"]
    ]
    return grafana.normalise(dashboards=[], teams=[], members=[], rules=rules)["grafana_alert_rules"]


def evaluate(prometheus_rules: pd.DataFrame, grafana_rules: pd.DataFrame):
    catalogue = load_catalogue()
    only = Catalogue(checks={CHECK: catalogue.checks[CHECK]}, status_scores=catalogue.status_scores)
    facts = {
        **load_registry(SAMPLE_CATALOG).to_facts(),
        "prometheus_alert_rules": prometheus_rules,
        "grafana_alert_rules": grafana_rules,
    }
    results, findings = evaluate_checks(audit_instant=INSTANT, facts=facts, unavailable={}, catalogue=only)
    return results.set_index("team"), findings


@pytest.fixture
def prometheus_rules(prometheus):
    return collect(PrometheusClient(prometheus.base_url))["prometheus_alert_rules"]


def test_the_sample_org_passes_warns_and_fails_as_documented(prometheus_rules):
    results, findings = evaluate(prometheus_rules, grafana_rules())
    assert results["status"].to_dict() == {
        "payments": "pass",
        "checkout": "warn",
        "search": "fail",
        "catalog": "warn",
        "identity": "pass",
        "notifications": "fail",
    }
    reasons = results["reason"]
    assert "CheckoutFraudScorerSlowDecisions" in reasons["checkout"]
    assert "lacks a runbook_url annotation" in reasons["checkout"]
    assert reasons["search"] == (
        "search-suggest has no alerting rule matching service=search-suggest in Prometheus or Grafana "
        "(1 paused Grafana rule does not count)."
    )
    assert "notifications-sms has no alerting rule" in reasons["notifications"]
    warned = findings[(findings["team"] == "catalog") & (findings["outcome"] == "warn")].set_index("subject")
    assert warned["message"].to_dict() == {
        "alert-rule:grafana/cat-importer-stale": "Grafana rule 'Catalog importer feed older than 6 hours' "
        "(uid cat-importer-stale) for catalog-importer lacks a runbook_url annotation",
        "alert-rule:grafana/cat-media-slow": "Grafana rule 'Catalog media resizes slower than 2s' "
        "(uid cat-media-slow) for catalog-media lacks a severity label",
    }
    push = findings[findings["subject"] == "alert-rule:prometheus/notifications-push/NotificationsPushDeliveryFailing"]
    assert list(push["outcome"]) == ["warn"]  # a rule without annotations lacks its runbook_url
    identity = findings[findings["team"] == "identity"].set_index("subject")["message"]
    assert identity["service:identity-sso"] == "identity-sso has 2 alerting rules (1 in Prometheus, 1 in Grafana)"


def test_without_grafana_rules_the_prometheus_rules_alone_still_pass_warn_and_fail(prometheus_rules):
    results, _ = evaluate(prometheus_rules, grafana_rules().head(0))
    assert results["status"].to_dict() == {
        "payments": "pass",
        "checkout": "warn",
        "search": "fail",
        "catalog": "fail",  # catalog-media's only rule is in Grafana
        "identity": "pass",
        "notifications": "fail",
    }
