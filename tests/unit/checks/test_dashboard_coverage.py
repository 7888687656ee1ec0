"""dashboard-coverage over small, eye-checkable organisations.

Dashboards are Grafana search hits already classified the way the collector does it
(``kind`` from a tag or from panels), normalised into the facts table by the source module.
"""

from __future__ import annotations

import dataclasses

import pandas as pd

from oncall_readiness.checks.catalogue import load_catalogue
from oncall_readiness.checks.runner import evaluate_checks
from oncall_readiness.sources.grafana import normalise

INSTANT = pd.Timestamp("2026-11-16T00:00:00Z")
CHECK = "dashboard-coverage"


def service(name, team, selector="same"):
    return {"service": name, "team": team, "dashboard_selector": name if selector == "same" else selector}


def dashboard(uid, tags, kind, title=None):
    return {"uid": uid, "title": title or uid.title(), "tags": tags, "kind": kind, "kind_from": "tag"}


def audit(teams, services, dashboards, *, unavailable=None):
    facts = normalise(dashboards=dashboards, teams=[], members=[], rules=[])
    facts["registry_teams"] = pd.DataFrame({"team": teams, "grafana_team": teams})
    services = pd.DataFrame(services, columns=["service", "team", "dashboard_selector"])
    facts["registry_services"] = services.assign(lifecycle="production")  # the check's scope
    facts["registry_thresholds"] = pd.DataFrame(columns=["team", "check_id", "key", "value"])
    catalogue = load_catalogue()
    only = dataclasses.replace(catalogue, checks={CHECK: catalogue.checks[CHECK]})
    results, findings = evaluate_checks(
        audit_instant=INSTANT, facts=facts, unavailable=unavailable or {}, catalogue=only
    )
    return results.set_index("team"), findings.set_index("subject")


def test_a_service_with_both_kinds_passes():
    results, findings = audit(
        ["shop"],
        [service("cart", "shop")],
        [dashboard("cart", ["cart", "monitoring"], "monitoring"), dashboard("cart-logs", ["cart", "logs"], "logging")],
    )
    assert results.at["shop", "status"] == "pass" and results.at["shop", "score"] == 10
    assert results.at["shop", "reason"] == "Every service of the team has a monitoring and a logging dashboard."
    assert findings.at["service:cart", "message"] == 'cart has monitoring ("Cart") and logging ("Cart-Logs") dashboards'


def test_one_kind_missing_warns_and_says_which():
    results, findings = audit(
        ["shop"],
        [service("cart", "shop"), service("pay", "shop")],
        [
            dashboard("cart", ["cart"], "monitoring", title="Cart"),
            dashboard("pay-logs", ["pay"], "logging", title="Pay logs"),
        ],
    )
    assert results.at["shop", "status"] == "warn" and results.at["shop", "score"] == 5
    assert findings.at["service:cart", "message"] == 'cart has a monitoring dashboard ("Cart") but no logging dashboard'
    assert (
        findings.at["service:pay", "message"] == 'pay has a logging dashboard ("Pay logs") but no monitoring dashboard'
    )
    assert results.at["shop", "reason"].endswith("(and 1 more finding).")


def test_a_service_without_any_dashboard_fails_and_is_named():
    results, findings = audit(
        ["shop"],
        [service("cart", "shop"), service("pay", "shop")],
        [dashboard("cart", ["cart"], "monitoring"), dashboard("cart-logs", ["cart"], "logging")],
    )
    assert results.at["shop", "status"] == "fail"
    assert results.at["shop", "reason"] == "pay has no dashboard tagged 'pay'."
    assert findings.at["service:pay", "outcome"] == "fail"
    assert findings.at["service:cart", "outcome"] == "pass"


def test_a_service_without_a_selector_fails():
    results, findings = audit(["shop"], [service("cart", "shop", selector=None)], [])
    assert results.at["shop", "status"] == "fail"
    assert "cart has no grafana/dashboard-selector annotation" in results.at["shop", "reason"]


def test_tags_match_without_case_and_one_dashboard_may_serve_several_services():
    results, findings = audit(
        ["shop"],
        [service("cart", "shop", selector="Cart"), service("pay", "shop")],
        [
            dashboard("overview", ["CART", "pay", "monitoring"], "monitoring", title="Shop overview"),
            dashboard("cart-logs", ["cart"], "logging"),
            dashboard("pay-logs", [" pay "], "logging"),
        ],
    )
    assert results.at["shop", "status"] == "pass"
    assert '"Shop overview"' in findings.at["service:cart", "message"]
    assert '"Shop overview"' in findings.at["service:pay", "message"]


def test_unclassified_dashboards_do_not_count():
    results, _ = audit(
        ["shop"],
        [service("cart", "shop")],
        [{"uid": "draft", "title": "Draft", "tags": ["cart"], "kind": None, "kind_from": None}],
    )
    assert results.at["shop", "status"] == "fail"


def test_each_team_is_judged_by_its_own_services_and_a_team_without_services_passes():
    results, _ = audit(
        ["shop", "ops", "idle"],
        [service("cart", "shop"), service("deploy", "ops"), service("orphan", None)],
        [dashboard("cart", ["cart"], "monitoring"), dashboard("cart-logs", ["cart"], "logging")],
    )
    assert results["status"].to_dict() == {"shop": "pass", "ops": "fail", "idle": "pass"}
    assert results.at["idle", "reason"] == "The team owns no service in the registry."


def test_many_dashboards_of_a_kind_are_named_up_to_three():
    dashboards = [dashboard(f"m{i}", ["cart"], "monitoring", title=f"M{i}") for i in range(5)]
    _, findings = audit(["shop"], [service("cart", "shop")], dashboards)
    assert findings.at["service:cart", "message"] == (
        'cart has a monitoring dashboard ("M0", "M1", "M2" and 2 more) but no logging dashboard'
    )


def test_grafana_unavailable_makes_the_check_unknown_with_the_reason():
    results, findings = audit(
        ["shop"],
        [service("cart", "shop")],
        [],
        unavailable={"grafana": "SourceError: grafana: GET /api/search answered 503"},
    )
    assert results.at["shop", "status"] == "unknown"
    assert pd.isna(results.at["shop", "score"])
    assert results.at["shop", "reason"] == (
        "grafana data is unavailable: SourceError: grafana: GET /api/search answered 503."
    )
    assert findings.empty


def test_facts_that_were_never_collected_make_it_unknown_not_failed():
    catalogue = load_catalogue()
    only = dataclasses.replace(catalogue, checks={CHECK: catalogue.checks[CHECK]})
    facts = {
        "registry_teams": pd.DataFrame({"team": ["shop"]}),
        "registry_thresholds": pd.DataFrame(columns=["team", "check_id", "key", "value"]),
    }
    results, _ = evaluate_checks(audit_instant=INSTANT, facts=facts, unavailable={}, catalogue=only)
    assert results["status"].tolist() == ["unknown"]
    assert "was not collected" in results["reason"].iloc[0]
