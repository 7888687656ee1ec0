"""The runner's shared rules, on the real dashboard-coverage check: scopes, waivers, scores."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pandas as pd
import pytest
import yaml

from oncall_readiness.checks.catalogue import CATALOGUE_PATH, load_catalogue
from oncall_readiness.checks.runner import evaluate_checks
from oncall_readiness.errors import CatalogueError
from oncall_readiness.registry import SERVICE_COLUMNS, THRESHOLD_COLUMNS
from oncall_readiness.waivers import WAIVER_COLUMNS

INSTANT = pd.Timestamp("2026-11-16T00:00", tz="UTC")
CHECK = "dashboard-coverage"


def service(name: str, team: str, lifecycle: str | None = "production", tier: str | None = None) -> dict:
    return {column: None for column in SERVICE_COLUMNS} | {
        "service": name,
        "team": team,
        "dashboard_selector": name,
        "lifecycle": lifecycle,
        "type": "service",
        "tier": tier,
    }


FACTS = {
    "registry_teams": pd.DataFrame({"team": ["payments", "labs"]}),
    "registry_thresholds": pd.DataFrame(columns=THRESHOLD_COLUMNS),
    "registry_services": pd.DataFrame(
        [
            service("payments-api", "payments", tier="1"),
            service("payments-sandbox", "payments", lifecycle="experimental"),
            service("labs-prototype", "labs", lifecycle=None),
        ]
    ),
    "grafana_dashboards": pd.DataFrame(
        {"title": ["API", "API logs"], "kind": ["monitoring", "logging"], "tags": ["payments-api", "payments-api"]}
    ),
}


def catalogue(applies_to=None):
    full = load_catalogue()
    check = dataclasses.replace(full.checks[CHECK], applies_to=applies_to or {})
    return dataclasses.replace(full, checks={CHECK: check})


def run(applies_to=None, waivers=None):
    results, findings = evaluate_checks(
        audit_instant=INSTANT, facts=FACTS, unavailable={}, catalogue=catalogue(applies_to), waivers=waivers
    )
    return results.set_index("team"), findings


def test_without_a_scope_every_service_is_judged():
    results, _ = run()
    assert results.at["payments", "status"] == "fail" and results.at["labs", "status"] == "fail"


def test_out_of_scope_services_are_not_counted_and_the_findings_say_why():
    results, findings = run({"lifecycle": ("production",)})
    assert results.at["payments", "status"] == "pass" and results.at["payments", "score"] == 10
    skipped = findings.set_index("subject").loc["service:payments-sandbox"]
    assert skipped["outcome"] == "pass"
    assert skipped["message"] == (
        "Out of scope: payments-sandbox is not judged, lifecycle experimental "
        "(the check applies to lifecycle production)"
    )
    # a team with nothing in scope passes and says so; a service without a lifecycle is outside
    assert results.at["labs", "status"] == "pass"
    assert results.at["labs", "reason"] == (
        "No service of the team is in scope of this check (it applies to lifecycle production)."
    )
    assert "lifecycle not set" in findings.set_index("subject").at["service:labs-prototype", "message"]


def test_a_tier_scope_is_compared_as_text():
    results, findings = run({"tier": ("1",)})
    assert results.at["payments", "status"] == "pass"
    assert set(findings.loc[findings["message"].str.startswith("Out of scope"), "subject"]) == {
        "service:payments-sandbox",
        "service:labs-prototype",
    }


def test_an_active_waiver_makes_the_result_waived_and_scoreless():
    waivers = pd.DataFrame(
        [
            [
                "labs",
                CHECK,
                None,
                "Prototype until the pilot ends.",
                "Dana",
                dt.date(2026, 11, 1),
                dt.date(2026, 12, 1),
                True,
                "f:2",
            ]
        ],
        columns=WAIVER_COLUMNS,
    )
    results, findings = run(waivers=waivers)
    assert results.at["labs", "status"] == "waived" and pd.isna(results.at["labs", "score"])
    assert results.at["labs", "reason"] == "Waived until 2026-12-01 by Dana: Prototype until the pilot ends."
    assert results.at["labs", "remediation"] == catalogue().checks[CHECK].remediation
    assert findings.loc[findings["team"] == "labs", "outcome"].tolist() == ["waived"]
    expired = waivers.assign(active=False)
    assert run(waivers=expired)[0].at["labs", "status"] == "fail"


@pytest.mark.parametrize(
    ("applies_to", "message"),
    [
        ({"stage": ["production"]}, "unknown field 'stage'"),
        ({"lifecycle": []}, "lifecycle must be a non-empty list"),
        (["production"], "must map lifecycle, type, tier to lists"),
    ],
)
def test_a_malformed_scope_names_the_check(tmp_path, applies_to, message):
    document = yaml.safe_load(CATALOGUE_PATH.read_text())
    entry = next(e for e in document["checks"] if e["id"] == CHECK)
    entry["applies_to"] = applies_to
    path = tmp_path / "checks.yaml"
    path.write_text(yaml.safe_dump(document))
    with pytest.raises(CatalogueError, match=f"check '{CHECK}' `applies_to`.*{message}"):
        load_catalogue(path)


def test_level_requirements_and_waiver_length_are_read_from_checks_yaml(tmp_path):
    document = yaml.safe_load(CATALOGUE_PATH.read_text())
    assert load_catalogue().max_waiver_days == document["max_waiver_days"] == 90
    (requirement,) = load_catalogue().level_requirements
    assert requirement.level == "gold" and requirement.services == {"tier": ("1",)}
    document["level_requirements"] = [{"level": "gold", "services": {"tier": ["1"]}, "must_pass": ["no-such-check"]}]
    path = tmp_path / "checks.yaml"
    path.write_text(yaml.safe_dump(document))
    with pytest.raises(CatalogueError, match=r"level_requirements\[0\].must_pass must list known check ids"):
        load_catalogue(path)
    document["level_requirements"] = []
    document["max_waiver_days"] = 0
    path.write_text(yaml.safe_dump(document))
    with pytest.raises(CatalogueError, match="`max_waiver_days` must be a whole number of days >= 1"):
        load_catalogue(path)


def links(source: str, rows: list[tuple[str, str, str]]) -> dict[str, pd.DataFrame]:
    return {f"{source}_links": pd.DataFrame(rows, columns=["subject", "name", "url"])}


def test_a_finding_takes_the_url_and_name_its_own_sources_give():
    grafana = links("grafana", [("service:payments-api", "payments-api dashboards", "https://grafana.example/d?tag=1")])
    pagerduty = links(
        "pagerduty",
        [
            ("service:payments-api", "Payments API", "https://acme.pagerduty.com/service-directory/PV1"),
            ("service:labs-prototype", "Labs", "https://acme.pagerduty.com/service-directory/PV2"),
        ],
    )
    facts = {**FACTS, **pagerduty, **grafana}
    _, findings = evaluate_checks(audit_instant=INSTANT, facts=facts, unavailable={}, catalogue=catalogue())
    by_subject = findings.set_index("subject")
    # dashboard-coverage reads Grafana: its link, not PagerDuty's for the same subject.
    assert by_subject.at["service:payments-api", "url"] == "https://grafana.example/d?tag=1"
    assert by_subject.at["service:payments-api", "subject_name"] == "payments-api dashboards"
    # A source the check does not read never links its findings; a subject nobody links has none.
    assert pd.isna(by_subject.at["service:labs-prototype", "url"])
    assert pd.isna(by_subject.at["service:payments-sandbox", "url"])
    assert list(findings.columns) == ["team", "check_id", "subject", "outcome", "message", "url", "subject_name"]


def test_without_links_findings_have_empty_url_and_name():
    _, findings = run()
    assert findings["url"].isna().all() and findings["subject_name"].isna().all()


def test_a_link_that_is_not_a_web_address_is_never_kept():
    from oncall_readiness.sources.facts import links_frame

    kept = links_frame(
        [
            {"subject": "schedule:P1", "name": "a", "url": "javascript:alert(1)"},
            {"subject": "schedule:P2", "name": "b", "url": "/relative"},
            {"subject": "schedule:P3", "name": "c", "url": "https://acme.pagerduty.com/schedules/P3"},
            {"subject": "schedule:P3", "name": "again", "url": "https://elsewhere.example/P3"},
        ]
    )
    assert kept.to_dict("records") == [
        {"subject": "schedule:P3", "name": "c", "url": "https://acme.pagerduty.com/schedules/P3"}
    ]
