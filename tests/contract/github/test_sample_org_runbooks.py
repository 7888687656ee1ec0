"""The sample organisation's runbooks, read from both emulators, give the designed runbook-freshness results.

The design is in include/sample_org/README.md (section runbook-freshness).
"""

from __future__ import annotations

import pandas as pd
import pytest

from oncall_readiness.checks.catalogue import Catalogue, load_catalogue
from oncall_readiness.checks.runner import evaluate_checks
from oncall_readiness.registry import load_registry
from oncall_readiness.runbook_facts import HOSTS
from oncall_readiness.sources import confluence, github
from readiness_sandbox.confluence.app import SANDBOX_EMAIL
from readiness_sandbox.process import running_sandbox
from readiness_sandbox.sample_org import CATALOG as SAMPLE_CATALOG

CATALOGUE = load_catalogue()
# The runner, not the check alone: it scopes the check to production services and leaves out the department.
ONLY_THIS_CHECK = Catalogue(
    checks={"runbook-freshness": CATALOGUE.checks["runbook-freshness"]}, status_scores=CATALOGUE.status_scores
)


def audit(instant: pd.Timestamp, unavailable=None):
    facts = load_registry(SAMPLE_CATALOG).to_facts()
    services = facts["registry_services"]
    with running_sandbox() as sandbox:
        gh = github.GitHubClient(sandbox.token, base_url=sandbox.url("github"))
        cf = confluence.ConfluenceClient(SANDBOX_EMAIL, sandbox.token, base_url=sandbox.url("confluence"))
        facts.update(github.collect(gh, github.runbooks_to_collect(services), instant))
        facts.update(confluence.collect(cf, confluence.runbooks_to_collect(services), instant))
    for source in unavailable or {}:
        del facts[HOSTS[source].table]
    results, findings = evaluate_checks(
        audit_instant=instant, facts=facts, unavailable=unavailable or {}, catalogue=ONLY_THIS_CHECK
    )
    return results.set_index("team"), findings[~findings["message"].str.startswith("Out of scope")]


@pytest.fixture(scope="module")
def demo_audit():
    return audit(pd.Timestamp("2026-11-16T00:00:00Z"))


def test_teams_pass_warn_and_fail_as_designed(demo_audit):
    results, _ = demo_audit
    assert results["status"].to_dict() == {
        "catalog": "warn",
        "checkout": "fail",
        "identity": "pass",
        "notifications": "fail",
        "payments": "pass",
        "search": "warn",
    }


def test_the_reasons_name_the_services_and_what_is_wrong(demo_audit):
    results, findings = demo_audit
    reason = results["reason"].to_dict()
    assert reason["checkout"] == (
        "checkout-fraud-scorer links no runbook (metadata.links with type: runbook) (and 1 more finding)."
    )
    assert reason["search"] == (
        "The runbook of search-indexer was last changed 11 days ago (2026-11-04), more than 7 days ago."
    )
    assert reason["catalog"] == "The runbook of catalog-api lacks alert thresholds (and 1 more finding)."
    assert reason["notifications"].startswith(
        "The runbook of notifications-email was last changed 75 days ago (2026-09-01), more than 30 days ago"
    )
    outcome = findings.set_index("subject")[["outcome", "message"]]
    assert outcome.at["service:checkout-web", "outcome"] == "warn"
    assert outcome.at["service:catalog-media", "message"] == (
        "The runbook of catalog-media lacks mitigations, alert thresholds and step-by-step guides"
    )
    assert outcome.at["service:notifications-push", "message"].startswith(
        "The runbook of notifications-push cannot be read: notifications-push.md was deleted or renamed by commit"
    )
    assert outcome.at["service:notifications-sms", "outcome"] == "fail"
    assert len(findings) == 20 and findings["subject"].is_unique


def test_a_backfill_a_week_earlier_sees_the_runbooks_as_they_were():
    results, findings = audit(pd.Timestamp("2026-11-09T00:00:00Z"))
    # A week earlier, the weekly reviews of 11-09..11-15 had not happened yet: stubs and old pages.
    assert results.at["payments", "status"] == "fail"
    media = findings.set_index("subject").at["service:catalog-media", "message"]
    assert media.startswith("The runbook of catalog-media cannot be read: catalog-media.md has no commit on main")


def test_confluence_down_makes_only_its_runbooks_unknown():
    down = {"confluence": "SourceError: confluence: GET /wiki/rest/api/content/40960001 answered 503"}
    results, findings = audit(pd.Timestamp("2026-11-16T00:00:00Z"), unavailable=down)
    assert results["status"].to_dict() == {
        "catalog": "warn",  # catalog-media (GitHub) still lacks three parts
        "checkout": "fail",
        "identity": "unknown",  # identity-accounts is on Confluence, the rest passes
        "notifications": "fail",
        "payments": "unknown",
        "search": "warn",
    }
    unknown = findings[findings["outcome"] == "unknown"]
    assert set(unknown["subject"].str.removeprefix("service:")) == {
        "payments-reconciler",
        "checkout-api",
        "checkout-web",
        "search-suggest",
        "catalog-api",
        "catalog-importer",
        "identity-accounts",
    }
