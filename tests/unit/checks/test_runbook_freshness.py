"""runbook-freshness over small, eye-checkable organisations.

Audit instant 2026-11-16T00:00Z; defaults fresh_days 7, stale_days 30. Runbooks on GitHub
(github.com blob URLs) and Confluence (atlassian.net page URLs), facts as the sources write them.
"""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

from oncall_readiness.checks import CheckInput
from oncall_readiness.checks.catalogue import Catalogue, load_catalogue, team_thresholds
from oncall_readiness.checks.runbook_freshness import evaluate, runbook_host
from oncall_readiness.checks.runner import evaluate_checks
from oncall_readiness.runbook_facts import HOSTS, PART_COLUMNS
from oncall_readiness.sources.confluence import FACT_COLUMNS as CONFLUENCE_COLUMNS
from oncall_readiness.sources.github import FACT_COLUMNS as GITHUB_COLUMNS
from oncall_readiness.sources.runbooks import frame

INSTANT = pd.Timestamp("2026-11-16T00:00:00Z")
CHECK = load_catalogue().checks["runbook-freshness"]
ALL_PARTS = {column: True for column in PART_COLUMNS}
GITHUB, CONFLUENCE = HOSTS["github"], HOSTS["confluence"]


def gh(service: str) -> str:
    return f"https://github.com/example-org/runbooks/blob/main/{service}.md"


def cf(page_id: int, title: str = "Runbook") -> str:
    return f"https://example.atlassian.net/wiki/spaces/OPS/pages/{page_id}/{title}"


def ago(days: float) -> str:
    return (INSTANT - pd.Timedelta(days=days)).isoformat()


def fact(service: str, url: str, *, days: float | None = 2, found: bool = True, error: str | None = None, **parts):
    row = {"service": service, "url": url, "found": found, "error": error}
    if found:
        row.update({"last_changed": ago(days), **ALL_PARTS, **parts})
    return row


def org(services: dict[str, tuple[str, str | None]], facts: list[dict], *, thresholds=(), teams=None):
    """services: name -> (team, runbook url); facts: runbook facts rows (GitHub or Confluence by URL)."""
    team_names = teams or sorted({team for team, _ in services.values()})
    registry_teams = pd.DataFrame({"team": team_names})
    registry_services = pd.DataFrame(
        [{"service": name, "team": team, "runbook_url": url} for name, (team, url) in services.items()],
        columns=["service", "team", "runbook_url"],
    ).assign(lifecycle="production")  # the check's scope
    overrides = pd.DataFrame(
        [{"team": t, "check_id": CHECK.id, "key": k, "value": v} for t, k, v in thresholds],
        columns=["team", "check_id", "key", "value"],
    )
    gh_rows = [row for row in facts if GITHUB.holds(row["url"])]
    cf_rows = [row for row in facts if CONFLUENCE.holds(row["url"])]
    return {
        "registry_teams": registry_teams,
        "registry_services": registry_services,
        "registry_thresholds": overrides,
        GITHUB.table: frame(GITHUB.table, gh_rows, GITHUB_COLUMNS),
        CONFLUENCE.table: frame(CONFLUENCE.table, cf_rows, CONFLUENCE_COLUMNS),
    }


def run(facts, unavailable=None):
    teams = facts["registry_teams"]
    thresholds = team_thresholds(CHECK, teams["team"], facts["registry_thresholds"])
    outcome = evaluate(CheckInput(INSTANT, teams, facts, thresholds, unavailable or {}))
    return outcome.results.set_index("team"), outcome.findings


def test_fresh_complete_runbooks_on_both_hosts_pass():
    facts = org(
        {"api": ("payments", gh("api")), "ledger": ("payments", cf(1))},
        [fact("api", gh("api"), days=1), fact("ledger", cf(1), days=6.9)],
    )
    results, findings = run(facts)
    assert results.at["payments", "status"] == "pass"
    assert results.at["payments", "reason"].startswith("Every service has a runbook changed in the last 7 days")
    assert list(findings["outcome"]) == ["pass", "pass"]
    assert findings.set_index("subject").at["service:api", "message"] == (
        "The runbook of api was last changed 1 day ago (2026-11-15) and covers all four parts"
    )


def test_a_runbook_older_than_fresh_days_warns_with_its_age():
    facts = org({"indexer": ("search", gh("indexer"))}, [fact("indexer", gh("indexer"), days=11.5)])
    results, _ = run(facts)
    assert results.at["search", "status"] == "warn"
    assert results.at["search", "reason"] == (
        "The runbook of indexer was last changed 11 days ago (2026-11-04), more than 7 days ago."
    )


def test_a_runbook_missing_parts_warns_naming_them():
    facts = org(
        {"media": ("catalog", gh("media"))},
        [fact("media", gh("media"), has_mitigations=False, has_alert_thresholds=False, has_step_by_step=False)],
    )
    results, _ = run(facts)
    assert results.at["catalog", "status"] == "warn"
    assert results.at["catalog", "reason"] == (
        "The runbook of media lacks mitigations, alert thresholds and step-by-step guides."
    )


def test_an_aging_runbook_missing_a_part_warns_once_with_both():
    facts = org({"web": ("checkout", cf(3))}, [fact("web", cf(3), days=16, has_alert_thresholds=False)])
    _, findings = run(facts)
    assert list(findings["outcome"]) == ["warn"]
    assert findings["message"].iloc[0].endswith("more than 7 days ago, and lacks alert thresholds")


def test_a_runbook_older_than_stale_days_fails_and_still_names_missing_parts():
    facts = org(
        {"email": ("notifications", gh("email"))}, [fact("email", gh("email"), days=75, has_step_by_step=False)]
    )
    results, _ = run(facts)
    assert results.at["notifications", "status"] == "fail"
    assert results.at["notifications", "reason"] == (
        "The runbook of email was last changed 75 days ago (2026-09-02), more than 30 days ago; "
        "it also lacks step-by-step guides."
    )


def test_a_service_without_a_runbook_link_fails():
    facts = org({"api": ("checkout", cf(2)), "fraud": ("checkout", None)}, [fact("api", cf(2))])
    results, findings = run(facts)
    assert results.at["checkout", "status"] == "fail"
    assert results.at["checkout", "reason"] == "fraud links no runbook (metadata.links with type: runbook)."
    assert set(findings["subject"]) == {"service:api", "service:fraud"}


def test_an_unreachable_runbook_fails_with_the_reason():
    error = "notifications-push.md was deleted or renamed by commit 1a2b3c4 on 2026-10-01T09:00:00Z"
    facts = org({"push": ("notifications", gh("push"))}, [fact("push", gh("push"), found=False, error=error)])
    results, _ = run(facts)
    assert results.at["notifications", "status"] == "fail"
    assert results.at["notifications", "reason"] == f"The runbook of push cannot be read: {error}."


@pytest.mark.parametrize(("days", "status"), [(7, "pass"), (7.01, "warn"), (30, "warn"), (30.01, "fail")])
def test_boundaries_are_inclusive(days, status):
    facts = org({"api": ("team", gh("api"))}, [fact("api", gh("api"), days=days)])
    results, _ = run(facts)
    assert results.at["team", "status"] == status


def test_thresholds_are_overridden_per_team():
    facts = org(
        {"a": ("relaxed", gh("a")), "b": ("strict", gh("b"))},
        [fact("a", gh("a"), days=12), fact("b", gh("b"), days=12)],
        thresholds=[("relaxed", "fresh_days", "14")],
    )
    results, _ = run(facts)
    assert results["status"].to_dict() == {"relaxed": "pass", "strict": "warn"}
    assert "changed in the last 14 days" in results.at["relaxed", "reason"]


def test_runbooks_on_a_host_that_is_down_are_unknown_and_worse_findings_still_count():
    down = {"github": "SourceError: github: GET /repos/example-org/runbooks/commits answered 401: Bad credentials."}
    facts = org(
        {
            "a": ("only-github", gh("a")),
            "b": ("mixed-pass", gh("b")),
            "c": ("mixed-pass", cf(3)),
            "d": ("mixed-fail", gh("d")),
            "e": ("mixed-fail", cf(5)),
        },
        [fact("c", cf(3)), fact("e", cf(5), days=90)],
    )
    del facts[GITHUB.table]  # an unavailable source's facts are not gathered
    results, findings = run(facts, unavailable=down)
    assert results["status"].to_dict() == {"mixed-fail": "fail", "mixed-pass": "unknown", "only-github": "unknown"}
    assert results.at["only-github", "reason"] == (
        "The runbook of a is on GitHub, whose data is unavailable: SourceError: github: "
        "GET /repos/example-org/runbooks/commits answered 401: Bad credentials."
    )
    by_subject = findings.set_index("subject")["outcome"].to_dict()
    assert by_subject == {
        "service:a": "unknown",
        "service:b": "unknown",
        "service:c": "pass",
        "service:d": "unknown",
        "service:e": "fail",
    }


def test_a_runbook_on_a_host_the_audit_does_not_read_is_unknown():
    facts = org({"api": ("team", "https://wiki.example.com/display/OPS/API+Runbook")}, [])
    results, _ = run(facts)
    assert results.at["team", "status"] == "unknown"
    assert "is on wiki.example.com, which this audit cannot read" in results.at["team", "reason"]


def test_a_team_without_services_passes_and_says_why():
    facts = org({"api": ("payments", gh("api"))}, [fact("api", gh("api"))], teams=["payments", "platform"])
    results, _ = run(facts)
    assert results.at["platform", "status"] == "pass"
    assert results.at["platform", "reason"] == "The team owns no service in the catalog, so no runbook is due."


def test_unowned_services_are_not_scored():
    facts = org({"api": ("payments", gh("api"))}, [fact("api", gh("api"))])
    extra = pd.DataFrame([{"service": "orphan", "team": None, "runbook_url": None, "lifecycle": "production"}])
    facts["registry_services"] = pd.concat([facts["registry_services"], extra], ignore_index=True)
    results, findings = run(facts)
    assert results.at["payments", "status"] == "pass" and "service:orphan" not in set(findings["subject"])


def test_the_runner_runs_the_check_when_only_one_runbook_host_is_down():
    catalogue = Catalogue(checks={CHECK.id: CHECK}, status_scores=load_catalogue().status_scores)
    facts = org(
        {"a": ("payments", gh("a")), "b": ("checkout", cf(2)), "c": ("checkout", None)},
        [fact("a", gh("a"))],
    )
    del facts[CONFLUENCE.table]
    results, findings = evaluate_checks(
        audit_instant=INSTANT,
        facts=facts,
        unavailable={"confluence": "it failed validation with 1 failed expectation"},
        catalogue=catalogue,
    )
    statuses = results.set_index("team")["status"].to_dict()
    assert statuses == {"checkout": "fail", "payments": "pass"}
    assert set(findings["check_id"]) == {CHECK.id}
    assert results.set_index("team").at["checkout", "reason"] == (
        "c links no runbook (metadata.links with type: runbook) (and 1 more finding)."
    )


def test_the_registry_down_makes_every_team_unknown():
    catalogue = Catalogue(checks={CHECK.id: CHECK}, status_scores=load_catalogue().status_scores)
    facts = org({"a": ("payments", gh("a"))}, [fact("a", gh("a"))])
    results, _ = evaluate_checks(
        audit_instant=INSTANT, facts=facts, unavailable={"registry": "it failed validation"}, catalogue=catalogue
    )
    assert set(results["status"]) == {"unknown"}


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("https://github.com/o/r/blob/main/x.md", "github"),
        ("https://github.com/o/r", "github"),
        ("https://example.atlassian.net/wiki/spaces/OPS/pages/1/T", "confluence"),
        ("https://example.atlassian.net/jira/browse/OPS-1", None),
        ("https://gitlab.com/o/r/-/blob/main/x.md", None),
        (None, None),
    ],
)
def test_runbook_hosts(url, host):
    assert runbook_host(url) == host


def test_the_check_imports_no_source_client_or_hook():
    """A check only reads facts: importing it loads no source module, hook, HTTP client or Airflow."""
    code = (
        "import sys\n"
        "import oncall_readiness.checks.runbook_freshness\n"
        "loaded = [m for m in sys.modules if m.startswith(('oncall_readiness.sources', 'oncall_readiness.hooks'))]\n"
        "print(sorted(loaded + [m for m in ('requests', 'airflow') if m in sys.modules]))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == "[]"
