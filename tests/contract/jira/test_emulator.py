"""The Jira Cloud REST API v3 emulator against Atlassian's documented behaviour.

developer.atlassian.com/cloud/jira/platform/rest/v3 (Issue search, "Search for issues using
JQL enhanced search (POST)"); the rate-limiting guide (429, Retry-After, X-RateLimit-*).
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from readiness_sandbox.jira.app import JiraStateError, create_app, parse_state
from readiness_sandbox.rate_limit import RateLimit

EMAIL, TOKEN = "bot@example.com", "test-token"
SEARCH = "/rest/api/3/search/jql"
FIELDS = ["status", "duedate", "resolutiondate", "assignee", "summary"]


def state(issues: int = 3, **emulator) -> dict:
    rows = [
        {
            "key": "PAY-1",
            "summary": "Alert on lag",
            "status": "In Progress",
            "assignee": "Liam Walsh",
            "duedate": "2026-11-06",
        },
        {"key": "PAY-2", "summary": "Runbook step", "status": "Done", "resolutiondate": "2026-11-10T09:00:00Z"},
        {"key": "OPS-7", "summary": "Unowned", "status": "To Do"},
    ]
    rows += [{"key": f"BIG-{n}", "summary": f"item {n}"} for n in range(1, issues - 2)]
    return {"emulator": emulator, "users": [EMAIL], "issues": rows}


def make_client(*, auth=(EMAIL, TOKEN), issues: int = 3, **options) -> TestClient:
    client = TestClient(create_app(state(issues), tokens=(TOKEN,), **options))
    client.auth = auth
    return client


def search(client: TestClient, jql: str, **body) -> dict:
    response = client.post(SEARCH, json={"jql": jql, "fields": FIELDS, **body})
    assert response.status_code == 200, response.text
    return response.json()


def test_an_issue_carries_the_fields_asked_in_jiras_shapes():
    answer = search(make_client(), "key in (PAY-1, PAY-2, OPS-7)")
    assert answer["isLast"] is True and "nextPageToken" not in answer  # left out on the last page
    issues = {issue["key"]: issue for issue in answer["issues"]}
    pay1 = issues["PAY-1"]
    assert set(pay1) == {"expand", "id", "self", "key", "fields"}
    assert set(pay1["fields"]) == set(FIELDS)
    assert pay1["fields"]["status"]["name"] == "In Progress"
    assert pay1["fields"]["status"]["statusCategory"]["key"] == "indeterminate"
    assert pay1["fields"]["assignee"]["displayName"] == "Liam Walsh"
    assert pay1["fields"]["duedate"] == "2026-11-06" and pay1["fields"]["resolutiondate"] is None
    assert issues["PAY-2"]["fields"]["resolutiondate"] == "2026-11-10T09:00:00.000+0000"
    assert issues["PAY-2"]["fields"]["status"]["statusCategory"]["key"] == "done"
    assert issues["OPS-7"]["fields"]["assignee"] is None


def test_only_the_fields_asked_come_back():
    answer = search(make_client(), "key = PAY-1", fields=["summary"])
    assert answer["issues"][0]["fields"] == {"summary": "Alert on lag"}


def test_pages_follow_next_page_token_until_is_last():
    client = make_client(issues=240)
    keys = [f"BIG-{n}" for n in range(1, 238)]
    jql = f"key in ({', '.join(keys)})"
    first = search(client, jql, maxResults=1000)
    assert len(first["issues"]) == 100  # capped when fields are asked for
    assert first["isLast"] is False and first["nextPageToken"]
    seen = [issue["key"] for issue in first["issues"]]
    token = first["nextPageToken"]
    while token:
        page = search(client, jql, maxResults=1000, nextPageToken=token)
        seen += [issue["key"] for issue in page["issues"]]
        token = page.get("nextPageToken")
        assert page["isLast"] is (token is None)
    assert sorted(seen) == sorted(keys) and len(seen) == len(set(seen))


def test_max_results_defaults_to_fifty():
    client = make_client(issues=80)
    answer = search(client, f"key in ({', '.join(f'BIG-{n}' for n in range(1, 78))})")
    assert len(answer["issues"]) == 50


def test_a_token_of_another_query_is_refused():
    client = make_client()
    response = client.post(SEARCH, json={"jql": "key = PAY-1", "nextPageToken": "bm90LWEtdG9rZW4="})
    assert response.status_code == 400
    assert response.json()["errorMessages"]


def test_unknown_keys_make_the_query_invalid_naming_each_key():
    response = make_client().post(SEARCH, json={"jql": "key in (PAY-1, PAY-99, UTF-8)", "fields": FIELDS})
    assert response.status_code == 400
    body = response.json()
    assert body["errors"] == {}
    assert body["errorMessages"] == [
        "An issue with key 'PAY-99' does not exist for field 'key'.",
        "The value 'UTF-8' does not exist for the field 'key'.",
    ]


def test_the_old_start_at_body_is_an_invalid_payload():
    response = make_client().post(SEARCH, json={"jql": "key = PAY-1", "startAt": 0})
    assert response.status_code == 400
    assert response.json()["errorMessages"] == [
        "Invalid request payload. Refer to the REST API documentation and try again."
    ]


def test_an_unbounded_query_is_refused():
    response = make_client().post(SEARCH, json={"jql": ""})
    assert response.status_code == 400


@pytest.mark.parametrize("auth", [None, (EMAIL, "wrong"), ("someone@example.com", TOKEN)])
def test_basic_auth_with_a_known_account_and_token_is_required(auth):
    response = make_client(auth=auth).post(SEARCH, json={"jql": "key = PAY-1"})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Basic")
    assert response.json()["errorMessages"] == ["Client must be authenticated to access this resource."]


def test_over_the_rate_limit_answers_429_with_retry_after():
    client = make_client(rate_limit=RateLimit(2, 60), clock=lambda: 1000.0)
    assert client.get("/rest/api/3/myself").status_code == 200
    assert client.get("/rest/api/3/myself").status_code == 200
    refused = client.get("/rest/api/3/myself")
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) >= 1
    assert refused.headers["X-RateLimit-Limit"] == "2" and refused.headers["X-RateLimit-Remaining"] == "0"
    assert refused.json()["errorMessages"]


def test_myself_names_the_account():
    answer = make_client().get("/rest/api/3/myself").json()
    assert answer["emailAddress"] == EMAIL and answer["accountType"] == "atlassian"


def test_a_bad_state_names_the_issue():
    with pytest.raises(JiraStateError, match=r"issues\[0\].*key"):
        parse_state({"issues": [{"key": "not a key"}]})
    with pytest.raises(JiraStateError, match=r"PAY-1.*duedate"):
        parse_state({"issues": [{"key": "PAY-1", "duedate": "soon"}]})
