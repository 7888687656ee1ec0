"""alert-definitions over small, eye-checkable organisations, and the alert-selector parser.

Prometheus rules are written in the rules API's own shape and go through the source's
``normalise``; Grafana rules are rows of the ``grafana_alert_rules`` contract.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

from oncall_readiness.checks.alert_definitions import AlertSelectorError, Matcher, parse_alert_selector
from oncall_readiness.checks.catalogue import Catalogue, load_catalogue
from oncall_readiness.checks.runner import evaluate_checks
from oncall_readiness.sources.prometheus import normalise

INSTANT = pd.Timestamp("2026-11-16T00:00:00Z")
CHECK = "alert-definitions"
GRAFANA_COLUMNS = ["uid", "title", "rule_group", "folder_uid", "labels", "annotations", "is_paused"]
RUNBOOK = "https://runbooks.example.com/x"


def only_this_check() -> Catalogue:
    catalogue = load_catalogue()
    return Catalogue(checks={CHECK: catalogue.checks[CHECK]}, status_scores=catalogue.status_scores)


def prom_rule(name, *, service=None, severity="critical", runbook=RUNBOOK, labels=None, annotations=None, group=None):
    """One rule group holding one alerting rule, as ``GET /api/v1/rules?type=alert`` shows it."""
    labels = dict(labels or {})
    if service:
        labels["service"] = service
    if severity:
        labels["severity"] = severity
    if annotations is None:
        annotations = {"summary": f"{name} fired"} | ({"runbook_url": runbook} if runbook else {})
    rule = {
        "state": "inactive",
        "name": name,
        "query": "up == 0",
        "duration": 300,
        "labels": labels,
        "annotations": annotations,
        "alerts": [],
        "health": "ok",
        "type": "alerting",
    }
    return {"name": group or service or "misc", "file": "/etc/prometheus/rules/x.yml", "rules": [rule]}


def grafana_rule(uid, title, *, service, severity="critical", runbook=RUNBOOK, paused=False):
    labels = {"service": service} | ({"severity": severity} if severity else {})
    annotations = {"summary": title} | ({"runbook_url": runbook} if runbook else {})
    return {
        "uid": uid,
        "title": title,
        "rule_group": "g",
        "folder_uid": "f",
        "labels": json.dumps(labels),
        "annotations": json.dumps(annotations),
        "is_paused": paused,
    }


def audit(services, *, prometheus=(), grafana=(), teams=None, unavailable=None):
    """services: (service, team, alert_selector) triples. Returns results by team and findings."""
    # Production services: the check applies to them alone (checks.yaml applies_to).
    frame = pd.DataFrame(services, columns=["service", "team", "alert_selector"]).assign(lifecycle="production")
    teams = teams or sorted({team for _, team, _ in services if team})
    facts = normalise(list(prometheus))
    facts["grafana_alert_rules"] = pd.DataFrame(list(grafana), columns=GRAFANA_COLUMNS)
    facts["registry_services"] = frame
    facts["registry_teams"] = pd.DataFrame({"team": teams})
    facts["registry_thresholds"] = pd.DataFrame(columns=["team", "check_id", "key", "value"])
    results, findings = evaluate_checks(
        audit_instant=INSTANT, facts=facts, unavailable=unavailable or {}, catalogue=only_this_check()
    )
    return results.set_index("team"), findings.drop(columns="check_id")


# --- the selector parser -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("service=checkout", [("service", "=", "checkout")]),
        ('service="checkout"', [("service", "=", "checkout")]),
        ("service=checkout-api", [("service", "=", "checkout-api")]),
        (' { service = "checkout" , team!~"legacy.*", } ', [("service", "=", "checkout"), ("team", "!~", "legacy.*")]),
        ("service=~'pay(ments)?-.*',env!=dev", [("service", "=~", "pay(ments)?-.*"), ("env", "!=", "dev")]),
        (r'service="a \"quoted\", name"', [("service", "=", 'a "quoted", name')]),
    ],
)
def test_selectors_parse(text, expected):
    assert [(m.name, m.op, m.value) for m in parse_alert_selector(text)] == expected


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "it is empty"),
        ("service", "expected one of =~, !~, !=, = after 'service'"),
        ("service==checkout", "starts with '='"),
        ("9lives=x", "expected a label name"),
        ('service="checkout', 'has no closing "'),
        ("service=", "'service' has no value"),
        ('service="a" team="b"', "expected a comma"),
        ("service=~(unclosed", "invalid regular expression"),
        ("service!=checkout", "would match every rule"),
        ('service=~".*"', "would match every rule"),
    ],
)
def test_bad_selectors_say_what_is_wrong(text, problem):
    with pytest.raises(AlertSelectorError) as raised:
        parse_alert_selector(text)
    assert "readiness/alert-selector" in str(raised.value)
    assert problem in str(raised.value)


def test_matchers_follow_promql_semantics():
    labels = {"service": "payments-api", "env": "prod"}
    assert Matcher("service", "=~", "payments-.*").matches(labels)
    assert not Matcher("service", "=~", "payments").matches(labels)  # anchored: the whole value
    assert Matcher("service", "!~", "checkout-.*").matches(labels)
    assert Matcher("team", "=", "").matches(labels)  # an absent label is ""
    assert Matcher("team", "!=", "x").matches(labels)


# --- pass ------------------------------------------------------------------------------------


def test_services_with_complete_rules_in_prometheus_and_grafana_pass():
    results, findings = audit(
        [("pay-api", "payments", "service=pay-api"), ("pay-ledger", "payments", 'service="pay-ledger"')],
        prometheus=[prom_rule("PayApiDown", service="pay-api")],
        grafana=[grafana_rule("g1", "Ledger lag", service="pay-ledger")],
    )
    assert results.at["payments", "status"] == "pass"
    assert results.at["payments", "score"] == 10
    assert results.at["payments", "reason"].startswith("Every service of the team has alerting rules")
    assert set(findings["outcome"]) == {"pass"}
    messages = findings.set_index("subject")["message"]
    assert messages["service:pay-api"] == "pay-api has 1 alerting rule (1 in Prometheus)"
    assert messages["service:pay-ledger"] == "pay-ledger has 1 alerting rule (1 in Grafana)"


def test_rules_that_match_no_service_are_ignored_and_a_team_without_services_passes():
    results, findings = audit(
        [("pay-api", "payments", "service=pay-api")],
        prometheus=[prom_rule("PayApiDown", service="pay-api"), prom_rule("Watchdog", severity=None, runbook=None)],
        teams=["payments", "platform"],
    )
    assert results["status"].to_dict() == {"payments": "pass", "platform": "pass"}
    assert "Watchdog" not in " ".join(findings["message"])


def test_regex_and_multi_label_selectors():
    results, findings = audit(
        [("pay-api", "payments", 'service=~"pay-.*",env!="staging"')],
        prometheus=[
            prom_rule("A", service="pay-api", labels={"env": "prod"}),
            prom_rule("B", service="pay-worker"),
            prom_rule("C", service="pay-api", labels={"env": "staging"}),  # excluded
            prom_rule("D", service="payments"),  # not "pay-" followed by anything
        ],
    )
    assert results.at["payments", "status"] == "pass"
    assert findings.set_index("subject").at["service:pay-api", "message"].startswith("pay-api has 2 alerting rules")


# --- warn ------------------------------------------------------------------------------------


def test_rules_without_severity_or_runbook_warn_naming_the_rule_and_what_it_lacks():
    results, findings = audit(
        [("pay-api", "payments", "service=pay-api"), ("pay-ledger", "payments", "service=pay-ledger")],
        prometheus=[
            prom_rule("PayApiDown", service="pay-api", runbook=None),
            prom_rule("PayApiSlow", service="pay-api", severity=None, annotations={}),
        ],
        grafana=[grafana_rule("g1", "Ledger lag", service="pay-ledger", severity="")],
    )
    assert results.at["payments", "status"] == "warn"
    assert results.at["payments", "score"] == 5
    warned = findings[findings["outcome"] == "warn"].set_index("subject")["message"].to_dict()
    assert warned == {
        "alert-rule:prometheus/pay-api/PayApiDown": (
            "Prometheus rule PayApiDown (group pay-api) for pay-api lacks a runbook_url annotation"
        ),
        "alert-rule:prometheus/pay-api/PayApiSlow": (
            "Prometheus rule PayApiSlow (group pay-api) for pay-api lacks a severity label and a runbook_url annotation"
        ),
        "alert-rule:grafana/g1": "Grafana rule 'Ledger lag' (uid g1) for pay-ledger lacks a severity label",
    }
    assert results.at["payments", "reason"] == (
        "Grafana rule 'Ledger lag' (uid g1) for pay-ledger lacks a severity label (and 2 more findings)."
    )


def test_a_rule_shared_by_two_services_of_a_team_is_one_finding_naming_both():
    _, findings = audit(
        [("pay-api", "payments", "team=payments"), ("pay-ledger", "payments", "team=payments")],
        prometheus=[prom_rule("PaymentsSlo", labels={"team": "payments"}, runbook=None)],
    )
    warned = findings[findings["outcome"] == "warn"]
    assert len(warned) == 1
    assert "for pay-api, pay-ledger lacks a runbook_url annotation" in warned["message"].iloc[0]


def test_one_alert_name_twice_in_a_group_is_one_finding():
    group = prom_rule("PayApiErrors", service="pay-api", severity="warning", runbook=None)
    group["rules"].append({**group["rules"][0], "labels": {"service": "pay-api"}})  # the critical variant, unlabelled
    _, findings = audit([("pay-api", "payments", "service=pay-api")], prometheus=[group])
    warned = findings[findings["outcome"] == "warn"]
    assert list(warned["subject"]) == ["alert-rule:prometheus/pay-api/PayApiErrors"]
    assert "lacks a runbook_url annotation; " in warned["message"].iloc[0]
    assert "lacks a severity label and a runbook_url annotation" in warned["message"].iloc[0]


# --- fail ------------------------------------------------------------------------------------


def test_a_service_without_rules_fails_naming_it():
    results, findings = audit(
        [("pay-api", "payments", "service=pay-api"), ("pay-ledger", "payments", "service=pay-ledger")],
        prometheus=[prom_rule("PayApiDown", service="pay-api", runbook=None)],
    )
    assert results.at["payments", "status"] == "fail"  # the worst finding wins over the warning
    assert results.at["payments", "score"] == 0
    assert results.at["payments", "reason"] == (
        "pay-ledger has no alerting rule matching service=pay-ledger in Prometheus or Grafana (and 1 more finding)."
    )
    assert findings.set_index("subject").at["service:pay-ledger", "outcome"] == "fail"


def test_paused_grafana_rules_do_not_count():
    results, findings = audit(
        [("pay-api", "payments", "service=pay-api")],
        grafana=[grafana_rule("g1", "Api down", service="pay-api", paused=True, runbook=None)],
    )
    assert results.at["payments", "status"] == "fail"
    assert findings["message"].tolist() == [
        "pay-api has no alerting rule matching service=pay-api in Prometheus or Grafana "
        "(1 paused Grafana rule does not count)"
    ]  # and the paused rule is not warned about


def test_a_service_without_an_alert_selector_fails():
    results, findings = audit([("pay-api", "payments", None)], prometheus=[prom_rule("PayApiDown", service="pay-api")])
    assert results.at["payments", "status"] == "fail"
    assert "pay-api has no readiness/alert-selector annotation" in results.at["payments", "reason"]


def test_a_selector_that_does_not_parse_fails_with_the_parse_error():
    results, _ = audit([("pay-api", "payments", "service==pay-api")], prometheus=[prom_rule("A", service="pay-api")])
    assert results.at["payments", "status"] == "fail"
    assert results.at["payments", "reason"].startswith("pay-api: readiness/alert-selector 'service==pay-api': ")


def test_each_team_is_judged_on_its_own_services_and_unowned_services_are_skipped():
    results, findings = audit(
        [
            ("pay-api", "payments", "service=pay-api"),
            ("chk-api", "checkout", "service=chk-api"),
            ("orphan", None, "service=orphan"),
        ],
        prometheus=[prom_rule("PayApiDown", service="pay-api")],
    )
    assert results["status"].to_dict() == {"checkout": "fail", "payments": "pass"}
    assert "orphan" not in " ".join(findings["subject"])


# --- unknown ---------------------------------------------------------------------------------


@pytest.mark.parametrize("source", ["prometheus", "grafana"])
def test_an_unavailable_source_makes_the_check_unknown_never_pass_or_fail(source):
    reason = (
        "SourceError: prometheus: GET /api/v1/rules at http://127.0.0.1:9 failed after 6 retries: Connection refused"
    )
    results, findings = audit(
        [("pay-api", "payments", "service=pay-api")],
        prometheus=[prom_rule("PayApiDown", service="pay-api")],
        unavailable={source: reason},
    )
    assert results.at["payments", "status"] == "unknown"
    assert pd.isna(results.at["payments", "score"])
    assert f"{source} data is unavailable: {reason}" in results.at["payments", "reason"]
    assert findings.empty
