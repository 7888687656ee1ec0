"""The Jira client against the emulator: one JQL query per batch, next pages, unknown keys, errors."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest
import requests

from oncall_readiness.errors import SourceError
from oncall_readiness.sources import jira
from oncall_readiness.sources.jira import JiraClient, read_actions
from readiness_sandbox.in_thread import serving_in_thread
from readiness_sandbox.jira.app import create_app
from readiness_sandbox.rate_limit import RateLimit

EMAIL, TOKEN = "bot@example.com", "test-token"
INSTANT = pd.Timestamp("2026-11-16T00:00:00Z")
ISSUES = [
    {
        "key": "PAY-1",
        "summary": "Alert on lag",
        "status": "In Progress",
        "assignee": "Liam Walsh",
        "duedate": "2026-11-06",
    },
    {"key": "PAY-2", "summary": "Runbook step", "status": "Done", "resolutiondate": "2026-11-10T09:00:00Z"},
    {"key": "PAY-3", "summary": "Done later", "status": "Done", "resolutiondate": "2026-11-20T09:00:00Z"},
    *({"key": f"BIG-{n}", "summary": f"item {n}"} for n in range(1, 251)),
]


@pytest.fixture(scope="module")
def site():
    app = create_app({"users": [EMAIL], "issues": ISSUES}, tokens=(TOKEN,))
    with serving_in_thread(app) as url:
        yield url


def client_for(url: str, token: str = TOKEN, **options) -> JiraClient:
    return JiraClient(EMAIL, token, base_url=url, backoff_factor=0, **options)


def test_the_actions_read_as_of_the_audit(site):
    client = client_for(site)
    facts = read_actions(client, ["PAY-1", "PAY-2", "PAY-3"], INSTANT)
    assert client.requests_made == 1
    actions = facts["jira_action_items"].set_index("key")
    assert list(facts["jira_action_items"].columns) == list(jira.FACT_COLUMNS["jira_action_items"])
    assert actions.at["PAY-1", "status_category"] == "indeterminate"
    assert actions.at["PAY-1", "assignee"] == "Liam Walsh" and actions.at["PAY-1", "due"] == dt.date(2026, 11, 6)
    assert actions.at["PAY-2", "resolved"] == pd.Timestamp("2026-11-10T09:00:00Z")
    # Resolved after the audit instant: still open as of it (a backfill).
    assert actions.at["PAY-3", "status_category"] == "indeterminate" and pd.isna(actions.at["PAY-3", "resolved"])
    links = facts["jira_links"].set_index("subject")
    assert links.at["action:PAY-1", "url"] == f"{site}/browse/PAY-1"
    assert links.at["action:PAY-1", "name"] == "Alert on lag"


def test_a_batch_of_a_hundred_keys_is_one_query_and_its_next_pages(site):
    client = client_for(site)
    keys = [f"BIG-{n}" for n in range(1, 251)]
    facts = read_actions(client, keys, INSTANT)
    assert facts["jira_action_items"]["found"].all() and len(facts["jira_action_items"]) == 250
    assert client.requests_made == 3  # 100 keys a query, each within one page of 100


def test_keys_jira_does_not_know_are_facts_not_failures(site):
    client = client_for(site)
    facts = read_actions(client, ["PAY-1", "PAY-404", "UTF-8"], INSTANT)
    actions = facts["jira_action_items"].set_index("key")
    assert actions.at["PAY-1", "found"]
    assert not actions.at["PAY-404", "found"] and "does not exist" in actions.at["PAY-404", "error"]
    assert not actions.at["UTF-8", "found"]
    assert client.requests_made == 2  # refused once, asked again without the unknown keys


def test_a_rejected_token_is_a_source_error_without_the_token(site):
    with pytest.raises(SourceError, match="401") as raised:
        read_actions(client_for(site, token="wrong-token"), ["PAY-1"], INSTANT)
    assert "wrong-token" not in str(raised.value)


def test_a_rate_limit_is_waited_out():
    app = create_app({"users": [EMAIL], "issues": ISSUES}, tokens=(TOKEN,), rate_limit=RateLimit(1, 1))
    with serving_in_thread(app) as url:
        client = client_for(url)
        read_actions(client, ["PAY-1"], INSTANT)
        facts = read_actions(client, ["PAY-2"], INSTANT)
    assert facts["jira_action_items"]["found"].all()
    assert client.retries >= 1 and client.gate.holds >= 1


def test_a_down_jira_is_a_source_error():
    app = create_app({"users": [EMAIL], "issues": ISSUES}, tokens=(TOKEN,), fail_next=100)
    with serving_in_thread(app) as url, pytest.raises(SourceError, match="503"):
        read_actions(client_for(url, max_retries=1), ["PAY-1"], INSTANT)


def _answer(body: dict) -> requests.Response:
    response = requests.Response()
    response.status_code, response._content = 200, json.dumps(body).encode()
    response.url = "https://example.atlassian.net/rest/api/3/search/jql"
    return response


def _issue(key: str, **fields) -> dict:
    base = {"summary": "s", "status": {"name": "To Do", "statusCategory": {"key": "new"}}, "assignee": None}
    return {"id": "1", "key": key, "fields": {**base, "duedate": "2026-11-01", "resolutiondate": None, **fields}}


def test_an_issue_without_a_field_asked_for_is_refused_not_read_as_unset(monkeypatch, site):
    client = client_for(site)
    issue = _issue("PAY-1")
    del issue["fields"]["duedate"]  # the field gone, not null: "no due date" would hide an overdue action
    monkeypatch.setattr(client, "search_page", lambda body: _answer({"issues": [issue], "isLast": True}))
    with pytest.raises(SourceError, match="without duedate"):
        read_actions(client, ["PAY-1"], INSTANT)


def test_an_answer_cut_short_is_refused(monkeypatch, site):
    client = client_for(site)
    monkeypatch.setattr(client, "search_page", lambda body: _answer({"issues": [_issue("PAY-1")], "isLast": True}))
    with pytest.raises(SourceError, match="1 of the 2 issues"):
        read_actions(client, ["PAY-1", "PAY-2"], INSTANT)


def test_a_refused_query_names_jiras_own_message(monkeypatch, site):
    client = client_for(site)
    refused = _answer({"errorMessages": ["Unbounded JQL queries are not allowed here."], "errors": {}})
    refused.status_code, refused.reason = 400, "Bad Request"
    monkeypatch.setattr(client, "search_page", lambda body: refused)
    with pytest.raises(SourceError, match="answered 400: Unbounded JQL queries are not allowed here"):
        read_actions(client, ["PAY-1"], INSTANT)
