"""The data contracts of the post-incident reviews (Confluence) and their action items (Jira)."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from oncall_readiness.quality import QualityContext, failure_summary, validate_source
from oncall_readiness.registry import load_registry
from oncall_readiness.source_catalogue import SOURCES
from oncall_readiness.sources.confluence import FACT_COLUMNS as CONFLUENCE_COLUMNS
from oncall_readiness.sources.facts import typed_frame
from oncall_readiness.sources.jira import FACT_COLUMNS as JIRA_COLUMNS
from readiness_sandbox.sample_org import CATALOG

INSTANT = pd.Timestamp("2026-11-16T00:00:00Z")
REGISTRY = load_registry(CATALOG).to_facts()
CONTEXT = QualityContext(INSTANT, REGISTRY)


def jira_facts(**changes) -> dict[str, pd.DataFrame]:
    action = {
        "key": "IDN-31",
        "found": True,
        "summary": "Alert certificate owners",
        "status": "In Progress",
        "status_category": "indeterminate",
        "assignee": "Harry Evans",
        "due": dt.date(2026, 11, 13),
        "resolved": None,
        "url": "https://example.atlassian.net/browse/IDN-31",
        "error": None,
    } | changes
    link = {"subject": f"action:{action['key']}", "name": action["summary"], "url": action["url"]}
    return {
        "jira_action_items": typed_frame([action], JIRA_COLUMNS["jira_action_items"]),
        "jira_links": typed_frame([link], JIRA_COLUMNS["jira_links"]),
    }


def validate_jira(facts) -> str | None:
    return failure_summary(validate_source("jira", SOURCES["jira"].suites, facts, CONTEXT))


def test_a_clean_read_of_actions_meets_the_contract():
    assert validate_jira(jira_facts()) is None
    assert validate_jira(jira_facts(key="UTF-8", found=False, status_category=None, error="does not exist")) is None


def test_an_issue_without_a_status_category_or_resolved_after_the_audit_fails():
    assert "status_category" in validate_jira(jira_facts(status_category=None))
    assert "resolved" in validate_jira(jira_facts(resolved="2026-11-20T00:00:00Z", status_category="done"))


def test_a_key_not_found_without_a_reason_fails():
    assert "error" in validate_jira(jira_facts(found=False, error=None))


def review(**changes) -> dict:
    return {
        "page_id": "1",
        "space": "IDN",
        "title": "Review",
        "url": "https://example.atlassian.net/wiki/spaces/IDN/pages/1/Review",
        "created": "2026-11-10T10:00:00Z",
        "last_modified": "2026-11-10T10:00:00Z",
        "restricted": False,
        "incident_ids": "Q0IDN002",
        "incident_numbers": "87",
        "jira_keys": "IDN-31",
        "search": 'type = page AND label in ("postmortem")',
    } | changes


def validate_confluence(*reviews) -> str | None:
    facts = {
        "confluence_runbooks": typed_frame([], CONFLUENCE_COLUMNS["confluence_runbooks"]),
        "confluence_reviews": typed_frame(reviews, CONFLUENCE_COLUMNS["confluence_reviews"]),
        "confluence_links": typed_frame([], CONFLUENCE_COLUMNS["confluence_links"]),
    }
    report = validate_source("confluence", SOURCES["confluence"].suites, facts, CONTEXT)
    problems = report[~report["success"] & (report["facts_table"] != "confluence_runbooks")]
    return "; ".join(problems["expectation"]) or None


def test_reviews_meet_the_contract_and_a_review_twice_or_without_its_restriction_fails():
    assert validate_confluence(review()) is None
    assert "page_id" in validate_confluence(review(), review())
    assert "restricted" in validate_confluence(review(restricted=None))
