"""availability-target over small organisations whose SLOs are in the shapes the tools generate.

Sloth and Pyrra rules are written as ``GET /api/v1/rules`` shows the rules Sloth
(``examples/_gen/getting-started.yml``) and Pyrra (``slo/rules_test.go``, ``--generic-rules``)
generate, and go through the Prometheus source's ``normalise``; Grafana SLOs are
``GET /api/plugins/grafana-slo-app/resources/v1/slo`` items with the Grafana-managed rules Grafana
SLO creates, through the Grafana source's ``slo_rows``.
"""

from __future__ import annotations

import pandas as pd
import pytest

from oncall_readiness.checks.catalogue import Catalogue, load_catalogue
from oncall_readiness.checks.runner import evaluate_checks
from oncall_readiness.slo_facts import slo_table, window_days
from oncall_readiness.sources import grafana
from oncall_readiness.sources.facts import typed_frame
from oncall_readiness.sources.prometheus import FACT_COLUMNS, normalise

INSTANT = pd.Timestamp("2026-11-16T00:00:00Z")
CHECK = "availability-target"
SERVICE_COLUMNS = ["service", "team", "availability_target", "slo_selector", "lifecycle"]


def only_this_check() -> Catalogue:
    catalogue = load_catalogue()
    return Catalogue(checks={CHECK: catalogue.checks[CHECK]}, status_scores=catalogue.status_scores)


def recording(record, expr, labels):
    return {"name": record, "query": expr, "labels": labels, "health": "ok", "type": "recording"}


def alerting(name, expr, labels):
    return {
        "state": "inactive",
        "name": name,
        "query": expr,
        "duration": 0,
        "labels": labels,
        "annotations": {},
        "alerts": [],
        "health": "ok",
        "type": "alerting",
    }


def sloth(service, slo="requests-availability", *, objective="99.9", days=30, alerts=("page", "ticket"), page_for=None):
    """The meta and alert groups Sloth generates for one SLO (its SLI recordings left out: not read)."""
    sloth_id = f"{service}-{slo}"
    ids = {"sloth_id": sloth_id, "sloth_service": service, "sloth_slo": slo, "owner": "team"}
    named = f'{{sloth_id="{page_for or sloth_id}", sloth_service="{service}", sloth_slo="{slo}"}}'
    expr = f"(max(slo:sli_error:ratio_rate5m{named} > (14.4 * 0.001)) without (sloth_window))"
    meta = [
        recording("slo:objective:ratio", f"vector({float(objective) / 100})", ids),
        recording("slo:time_period:days", f"vector({days})", ids),
        recording(
            "sloth_slo_info",
            "vector(1)",
            ids | {"sloth_mode": "cli-gen-prom", "sloth_objective": objective, "sloth_spec": "prometheus/v1"},
        ),
    ]
    rules = [alerting("HighErrorRate", expr, {"sloth_severity": severity, "category": "x"}) for severity in alerts]
    return [
        {"name": f"sloth-slo-meta-recordings-{sloth_id}", "file": "/rules/sloth.yml", "rules": meta},
        {"name": f"sloth-slo-alerts-{sloth_id}", "file": "/rules/sloth.yml", "rules": rules},
    ]


def pyrra(slo, *, target="0.999", window=2419200, labels=None, severities=("critical", "critical", "warning")):
    """The generic group and the burn-rate alerts Pyrra generates for one SLO (and its absent alert)."""
    common = {"slo": slo} | (labels or {})
    generic = [recording("pyrra_objective", target, common), recording("pyrra_window", str(window), common)]
    burn = [
        alerting(
            "ErrorBudgetBurn",
            f'http_requests:burnrate5m{{slo="{slo}"}} > (14 * (1-{target}))',
            common | {"severity": severity, "short": "5m", "long": "1h", "exhaustion": "2d"},
        )
        for severity in severities
    ]
    absent = alerting("SLOMetricAbsent", "absent(http_requests_total) == 1", common | {"severity": "critical"})
    return [
        {"name": f"{slo}-generic", "file": f"/rules/{slo}.yaml", "rules": generic},
        {"name": slo, "file": f"/rules/{slo}.yaml", "rules": [*burn, absent]},
    ]


def grafana_slo(uuid, name, *, value=0.999, window="28d", labels=None):
    return {
        "uuid": uuid,
        "name": name,
        "description": "",
        "query": {"type": "freeform", "freeform": {"query": "x"}},
        "objectives": [{"value": value, "window": window}],
        "labels": [{"key": k, "value": v} for k, v in (labels or {}).items()],
        "alerting": {"fastBurn": {}, "slowBurn": {}},
    }


def grafana_rule(uid, slo_uuid, severity="critical", *, paused=False):
    labels = {"grafana_slo_uuid": slo_uuid, "grafana_slo_severity": severity, "grafana_slo_window": "1h"}
    return {"uid": uid, "title": uid, "labels": labels, "isPaused": paused}


def services_frame(services):
    rows = [(*row, *(None,) * (4 - len(row)), "production") if len(row) < 5 else row for row in services]
    return pd.DataFrame(rows, columns=SERVICE_COLUMNS)


def facts_of(services, *, groups=(), slos=(), rules=()):
    registry = services_frame(services)
    facts = normalise([group for parts in groups for group in parts], registry)
    facts["grafana_slos"] = typed_frame(
        grafana.slo_rows(list(slos), list(rules), registry), grafana.FACT_COLUMNS["grafana_slos"]
    )
    facts["registry_services"] = registry
    facts["registry_teams"] = pd.DataFrame({"team": sorted({row[1] for row in services})})
    facts["registry_thresholds"] = pd.DataFrame(columns=["team", "check_id", "key", "value"])
    return facts


def audit(services, *, groups=(), slos=(), rules=(), unavailable=None, grafana_unreadable=()):
    """services: (service, team, availability_target[, slo_selector[, lifecycle]]). Results by team, findings."""
    facts = facts_of(services, groups=groups, slos=slos, rules=rules)
    facts["grafana_unreadable"] = pd.DataFrame(list(grafana_unreadable), columns=["collection", "reason"])
    for source in unavailable or {}:
        for table in [t for t in facts if t.startswith(f"{source}_")]:
            del facts[table]  # an unavailable source's facts are not gathered
    results, findings = evaluate_checks(
        audit_instant=INSTANT, facts=facts, unavailable=unavailable or {}, catalogue=only_this_check()
    )
    return results.set_index("team"), findings.drop(columns="check_id").set_index("subject")


# --- pass ------------------------------------------------------------------------------


def test_a_sloth_slo_as_strict_as_the_target_with_a_page_alert_passes():
    results, findings = audit([("pay-api", "pay", 99.9)], groups=[sloth("pay-api")])
    assert results.at["pay", "status"] == "pass"
    assert findings.at["service:pay-api", "message"] == (
        "pay-api's SLO pay-api-requests-availability (Sloth, 99.9% over 30d) meets its availability target 99.9% "
        "and pages (HighErrorRate)"
    )


def test_a_pyrra_slo_passes_with_a_critical_error_budget_burn_alert_and_its_ratio_meets_the_percent():
    groups = [pyrra("pay-ledger-errors", labels={"service": "pay-ledger"})]
    results, findings = audit([("pay-ledger", "pay", 99.9)], groups=groups)
    assert results.at["pay", "status"] == "pass"  # 0.999 * 100 is 99.9 within float noise
    assert "(Pyrra, 99.9% over 28d)" in findings.at["service:pay-ledger", "message"]


def test_a_grafana_slo_passes_with_its_unpaused_fast_burn_rule():
    slos = [grafana_slo("u1", "Webhooks availability", value=0.9995, labels={"service": "pay-hooks"})]
    results, findings = audit([("pay-hooks", "pay", 99.9)], slos=slos, rules=[grafana_rule("r-fast", "u1")])
    assert results.at["pay", "status"] == "pass"
    assert findings.at["service:pay-hooks", "message"] == (
        "pay-hooks's SLO Webhooks availability (Grafana SLO, 99.95% over 28d) meets its availability target 99.9% "
        "and pages (r-fast)"
    )


def test_the_best_of_several_slos_decides():
    groups = [sloth("api", "latency", objective="99"), sloth("api", "availability", objective="99.95")]
    results, _ = audit([("api", "t", 99.9)], groups=groups)
    assert results.at["t", "status"] == "pass"


def test_a_selector_ties_a_service_to_slos_labelled_otherwise():
    groups = [pyrra("checkout-availability")]  # no pyrra.dev/service label: its labels say only slo
    results, _ = audit([("checkout-api", "chk", 99.9, "slo=checkout-availability")], groups=groups)
    assert results.at["chk", "status"] == "pass"
    results, findings = audit([("checkout-api", "chk", 99.9)], groups=groups)
    assert results.at["chk", "status"] == "warn"
    assert 'matching service="checkout-api"' in findings.at["service:checkout-api", "message"]


# --- warn ------------------------------------------------------------------------------


def test_an_slo_weaker_than_the_target_warns_and_says_where_to_raise_it():
    results, findings = audit([("api", "t", 99.95)], groups=[sloth("api")])
    assert results.at["t", "status"] == "warn"
    assert findings.at["service:api", "message"] == (
        "api's SLO api-requests-availability (Sloth, 99.9% over 30d) is weaker than its availability target 99.95% "
        "(raise the `objective` of SLO api-requests-availability in the Sloth spec)"
    )


def test_a_sloth_slo_with_only_a_ticket_alert_warns():
    results, findings = audit([("api", "t", 99.9)], groups=[sloth("api", alerts=("ticket",))])
    assert results.at["t", "status"] == "warn"
    assert (
        "has no enabled page-severity burn-rate alert (add `alerting.page_alert`"
        in findings.at["service:api", "message"]
    )


def test_a_sloth_page_alert_counts_only_for_the_slo_its_expression_names():
    # The alert carries sloth_severity=page but selects another SLO's sloth_id: not this SLO's page.
    results, _ = audit([("api", "t", 99.9)], groups=[sloth("api", page_for="other-requests-availability")])
    assert results.at["t", "status"] == "warn"


def test_a_pyrra_slo_without_a_critical_burn_rate_alert_warns_the_absent_alert_does_not_page():
    groups = [pyrra("api-errors", labels={"service": "api"}, severities=("warning", "warning"))]
    results, findings = audit([("api", "t", 99.9)], groups=groups)
    assert results.at["t", "status"] == "warn"
    assert "ServiceLevelObjective api-errors" in findings.at["service:api", "message"]


@pytest.mark.parametrize(
    "rules",
    [[grafana_rule("r", "u1", paused=True)], [grafana_rule("r", "u1", "warning")], [grafana_rule("r", "u2")]],
    ids=["paused", "slow-burn only", "another SLO's rule"],
)
def test_a_grafana_slo_without_an_enabled_fast_burn_rule_warns(rules):
    slos = [grafana_slo("u1", "API", labels={"service": "api"})]
    results, _ = audit([("api", "t", 99.9)], slos=slos, rules=rules)
    assert results.at["t", "status"] == "warn"


def test_a_target_without_any_slo_warns():
    results, findings = audit([("api", "t", 99.5)], groups=[sloth("other")])
    assert results.at["t", "status"] == "warn"
    assert findings.at["service:api", "message"] == (
        'api has an availability target of 99.5% but no SLO in Sloth, Pyrra or Grafana SLO matching service="api"'
    )


def test_an_slo_without_a_target_warns():
    results, findings = audit([("api", "t", None)], groups=[sloth("api")])
    assert results.at["t", "status"] == "warn"
    assert "but no readiness/availability-target to hold it to" in findings.at["service:api", "message"]


# --- fail ------------------------------------------------------------------------------


def test_neither_a_target_nor_an_slo_fails_and_the_team_takes_its_worst_service():
    results, findings = audit([("api", "t", 99.9), ("batch", "t", None)], groups=[sloth("api")])
    assert results.at["t", "status"] == "fail"
    assert findings.at["service:batch", "outcome"] == "fail"
    assert results.at["t", "reason"].startswith("batch has neither an availability target")


def test_a_selector_that_does_not_parse_says_so():
    results, findings = audit([("api", "t", None, "service=~'('")])
    assert results.at["t", "status"] == "fail"
    assert "readiness/slo-selector" in findings.at["service:api", "message"]


def test_a_service_outside_production_is_not_judged():
    results, findings = audit([("api", "t", 99.9), ("lab", "t", None, None, "experimental")], groups=[sloth("api")])
    assert results.at["t", "status"] == "pass"
    assert findings.at["service:lab", "message"].startswith("Out of scope")


# --- unknown ---------------------------------------------------------------------------

DOWN = {"prometheus": "GET /api/v1/rules failed after 6 retries: connection refused"}


def test_a_source_down_makes_a_service_unknown_when_the_other_does_not_settle_it():
    results, findings = audit([("api", "t", 99.9)], groups=[sloth("api")], unavailable=DOWN)
    assert results.at["t", "status"] == "unknown"
    assert "Prometheus (Sloth and Pyrra rules) could not be read" in findings.at["service:api", "message"]


def test_a_pass_found_in_the_other_source_stands():
    slos = [grafana_slo("u1", "API", labels={"service": "api"})]
    results, _ = audit([("api", "t", 99.9)], slos=slos, rules=[grafana_rule("r", "u1")], unavailable=DOWN)
    assert results.at["t", "status"] == "pass"


def test_an_slo_without_a_target_warns_whatever_the_other_source_holds():
    slos = [grafana_slo("u1", "API", labels={"service": "api"})]
    results, _ = audit([("api", "t", None)], slos=slos, unavailable=DOWN)
    assert results.at["t", "status"] == "warn"


def test_grafana_slos_refused_leave_unknown_what_prometheus_does_not_settle():
    refused = [(grafana.SLO_PATH, "Grafana SLOs could not be read: answered 403")]
    services = [("api", "t", 99.9), ("web", "u", 99.9)]
    results, findings = audit(services, groups=[sloth("api")], grafana_unreadable=refused)
    assert results.at["t", "status"] == "pass"  # a Sloth SLO that pages settles it
    assert results.at["u", "status"] == "unknown"  # never a warning for "no SLO"
    message = findings.at["service:web", "message"]
    assert "Grafana SLO could not be read (Grafana SLOs could not be read: answered 403)" in message


def test_neither_source_read_leaves_every_unsettled_service_unknown():
    down = DOWN | {"grafana": "GET /api/search answered 500"}
    results, _ = audit([("api", "t", None)], unavailable=down)
    assert results.at["t", "status"] == "unknown"


# --- the facts -------------------------------------------------------------------------


def test_sloth_and_pyrra_facts_carry_objective_window_and_page_rules():
    registry = services_frame([("pay-api", "pay", 99.9), ("pay-ledger", "pay", 99.9)])
    groups = [*sloth("pay-api"), *pyrra("ledger", labels={"service": "pay-ledger"})]
    slos = normalise(groups, registry)["prometheus_slos"].set_index("slo_id")
    assert list(slos.columns) == [c for c in FACT_COLUMNS["prometheus_slos"] if c != "slo_id"]
    sloth_row, pyrra_row = slos.loc["pay-api-requests-availability"], slos.loc["ledger"]
    assert (sloth_row["source"], sloth_row["objective_percent"], sloth_row["window"]) == ("sloth", 99.9, "30d")
    assert (sloth_row["service"], sloth_row["page_alert_rules"]) == ("pay-api", "HighErrorRate")
    assert (pyrra_row["source"], pyrra_row["objective_percent"], pyrra_row["window"]) == ("pyrra", 99.9, "28d")
    assert (pyrra_row["service"], pyrra_row["page_alert_rules"]) == ("pay-ledger", "ErrorBudgetBurn")


def test_an_slo_two_selectors_claim_is_matched_to_neither_and_names_both():
    registry = services_frame([("api", "t", 99.9), ("api-v2", "t", 99.9, "sloth_service=api")])
    slos = normalise(sloth("api"), registry)["prometheus_slos"]
    assert slos["service"].isna().all() and list(slos["matched_services"]) == [2]
    assert list(slos["claimed_by"]) == ["api, api-v2"]


def test_an_slo_two_selectors_claim_passes_neither_and_tells_each_to_narrow_its_selector():
    services = [("api", "t", 99.9), ("api-v2", "u", None, "sloth_service=api"), ("batch", "u", None)]
    results, findings = audit(services, groups=[sloth("api")])
    assert (results.at["t", "status"], findings.at["service:api", "outcome"]) == ("warn", "warn")
    assert findings.at["service:api", "message"] == (
        'api has an availability target of 99.9% but no SLO in Sloth, Pyrra or Grafana SLO matching service="api" '
        "alone; SLO api-requests-availability matches the selector of api-v2 too, so it counts for neither: "
        'narrow each readiness/slo-selector (service="api" here) to the service\'s own SLOs'
    )
    # No target, but an SLO it shares: a warning to fix the selector, not a fail for having nothing.
    assert findings.at["service:api-v2", "outcome"] == "warn"
    assert "SLO api-requests-availability matches the selector of api too" in findings.at["service:api-v2", "message"]
    assert findings.at["service:batch", "outcome"] == "fail"  # the other team's own service is judged as ever


def test_a_shared_slo_does_not_spoil_a_service_that_passes_on_its_own():
    services = [("api", "t", 99.9, 'service=~"api|shared"'), ("web", "t", 99.9, 'service=~"web|shared"')]
    results, findings = audit(services, groups=[sloth("api"), sloth("web"), sloth("shared")])
    assert results.at["t", "status"] == "pass"
    assert findings["outcome"].to_dict() == {"service:api": "pass", "service:web": "pass"}


def test_the_warehouse_slos_table_lists_each_matched_slo_with_its_team():
    facts = facts_of(
        [("api", "t", 99.9), ("hooks", "t", 99.9)],
        groups=[sloth("api"), sloth("nobody")],
        slos=[grafana_slo("u1", "Hooks", labels={"service": "hooks"})],
        rules=[grafana_rule("r", "u1")],
    )
    table = slo_table(facts)
    assert table.to_dict("records") == [
        {"team": "t", "service": "api", "slo": "api-requests-availability", "objective": 99.9,
         "window": "30d", "source": "sloth", "page_burn_rate_alert": True},
        {"team": "t", "service": "hooks", "slo": "Hooks", "objective": 99.9,
         "window": "28d", "source": "grafana", "page_burn_rate_alert": True},
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "days"), [("30d", 30.0), ("4w", 28.0), ("1w3d", 10.0), ("12h", 0.5), ("a month", None), ("0d", None)]
)
def test_windows_parse_as_prometheus_durations(text, days):
    assert window_days(text) == days
