"""The Confluence Cloud REST API emulator: Basic auth, content with expansions, versions, errors, 429.

Page 100 has three versions (2026-10-01, 11-01, 11-10); page 200 is in the trash.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from readiness_sandbox.confluence.app import ConfluenceStateError, create_app, parse_state
from readiness_sandbox.rate_limit import RateLimit

EMAIL, TOKEN = "bot@example.com", "test-token"
CONTENT = "/wiki/rest/api/content"


def state(**emulator) -> dict:
    return {
        "emulator": emulator,
        "users": [EMAIL],
        "pages": [
            {
                "id": "100",
                "title": "API Runbook",
                "space": "OPS",
                "versions": [
                    {"when": "2026-10-01T09:00:00Z", "by": "Ada", "body": "<h1>v1</h1>"},
                    {"when": "2026-11-01T09:00:00Z", "by": "Bob", "message": "alerts", "body": "<h2>Alerts</h2>"},
                    {"when": "2026-11-10T09:00:00Z", "by": "Ada", "minor_edit": True},  # keeps the body
                ],
            },
            {
                "id": "200",
                "title": "Old",
                "status": "trashed",
                "versions": [{"when": "2026-01-01T00:00:00Z", "body": ""}],
            },
        ],
    }


def make_client(*, auth=(EMAIL, TOKEN), tokens=(TOKEN,), clock=None, **emulator) -> TestClient:
    options = {"clock": clock} if clock else {}
    client = TestClient(create_app(state(**emulator), tokens=tokens, **options))
    client.auth = auth
    return client


@pytest.fixture
def client() -> TestClient:
    return make_client()


# --- authentication ---------------------------------------------------------------------------


@pytest.mark.parametrize("auth", [None, (EMAIL, "wrong"), ("someone@example.com", TOKEN), ("no-email", TOKEN)])
def test_basic_auth_needs_a_known_account_and_its_token(auth):
    response = make_client(auth=auth).get(f"{CONTENT}/100")
    assert response.status_code == 401
    body = response.json()
    assert body["statusCode"] == 401 and body["message"] == "Client must be authenticated to access this resource."


def test_the_current_user_is_the_authenticated_account(client):
    response = client.get("/wiki/rest/api/user/current")
    assert response.status_code == 200
    user = response.json()
    assert (user["type"], user["accountType"], user["email"]) == ("known", "atlassian", EMAIL)
    assert user["accountId"] and user["publicName"] == user["displayName"] == "Bot"
    assert user["_links"]["context"] == "/wiki" and user["_links"]["self"].endswith(f"accountId={user['accountId']}")


@pytest.mark.parametrize("auth", [None, (EMAIL, "wrong")])
def test_the_current_user_needs_authentication_too(auth):
    response = make_client(auth=auth).get("/wiki/rest/api/user/current")
    assert response.status_code == 401 and response.headers["WWW-Authenticate"].startswith("Basic")
    assert response.json()["message"] == "Client must be authenticated to access this resource."


def test_any_email_works_when_the_state_lists_no_users():
    client = TestClient(create_app({**state(), "users": []}, tokens=[TOKEN]))
    client.auth = ("anyone@example.com", TOKEN)
    assert client.get(f"{CONTENT}/100").status_code == 200


# --- content ----------------------------------------------------------------------------------


def test_content_with_version_and_storage_body(client):
    response = client.get(f"{CONTENT}/100", params={"expand": "version,body.storage"})
    assert response.status_code == 200
    page = response.json()
    assert (page["id"], page["type"], page["status"], page["title"]) == ("100", "page", "current", "API Runbook")
    assert page["version"]["number"] == 3 and page["version"]["when"] == "2026-11-10T09:00:00.000Z"
    assert page["version"]["by"]["displayName"] == "Ada" and page["version"]["minorEdit"] is True
    assert page["body"]["storage"] == {
        "value": "<h2>Alerts</h2>",
        "representation": "storage",
        "embeddedContent": [],
        "_expandable": {"content": "/rest/api/content/100"},
    }
    links = page["_links"]
    assert links["webui"] == "/spaces/OPS/pages/100/API+Runbook" and links["context"] == "/wiki"
    assert links["base"].endswith("/wiki") and "space" not in page  # only what was asked for


def test_without_expand_space_history_and_version_come_but_no_body(client):
    page = client.get(f"{CONTENT}/100").json()
    assert {"space", "history", "version"} <= page.keys() and "body" not in page
    assert page["space"]["key"] == "OPS" and page["history"]["createdDate"] == "2026-10-01T09:00:00.000Z"


def test_a_version_number_gives_that_version_as_historical(client):
    page = client.get(f"{CONTENT}/100", params={"version": 2, "expand": "version,body.storage"}).json()
    assert page["status"] == "historical" and page["version"]["number"] == 2
    assert (
        page["version"]["when"] == "2026-11-01T09:00:00.000Z" and page["body"]["storage"]["value"] == "<h2>Alerts</h2>"
    )
    assert client.get(f"{CONTENT}/100", params={"version": 9}).status_code == 404


def test_unknown_and_trashed_pages_are_404_with_confluences_body(client):
    for page_id in ("999", "200"):
        response = client.get(f"{CONTENT}/{page_id}")
        assert response.status_code == 404
        body = response.json()
        assert body["statusCode"] == 404 and body["message"] == f"No content found with id: ContentId{{id={page_id}}}"
    assert client.get(f"{CONTENT}/200", params={"status": "trashed"}).json()["status"] == "trashed"


def test_unknown_paths_are_404(client):
    response = client.get("/wiki/rest/api/space")
    assert response.status_code == 404 and response.json()["statusCode"] == 404


# --- versions ---------------------------------------------------------------------------------


def test_versions_are_newest_first_and_paginated_with_links_next(client):
    first = client.get(f"{CONTENT}/100/version", params={"limit": 2}).json()
    assert [v["number"] for v in first["results"]] == [3, 2]
    assert (first["start"], first["limit"], first["size"]) == (0, 2, 2)
    assert first["_links"]["next"] == "/rest/api/content/100/version?limit=2&start=2"
    second = client.get(f"{CONTENT}/100/version", params={"limit": 2, "start": 2}).json()
    assert [v["number"] for v in second["results"]] == [1] and "next" not in second["_links"]
    assert second["results"][0]["when"] == "2026-10-01T09:00:00.000Z"


def test_version_pages_are_capped_at_200():
    page = {
        "id": "1",
        "versions": [{"when": f"2026-01-01T00:{i // 60:02d}:{i % 60:02d}Z", "body": str(i)} for i in range(250)],
    }
    client = TestClient(create_app({"pages": [page]}, tokens=[TOKEN]))
    client.auth = (EMAIL, TOKEN)
    body = client.get(f"{CONTENT}/1/version", params={"limit": 1000}).json()
    assert body["size"] == 200 and body["results"][0]["number"] == 250 and "next" in body["_links"]


# --- rate limits and faults -------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_over_the_rate_limit_answers_429_with_retry_after_then_recovers():
    clock = FakeClock()
    client = make_client(clock=clock, rate_limit="2/10")
    ok = client.get(f"{CONTENT}/100")
    assert ok.headers["X-RateLimit-Limit"] == "2" and ok.headers["X-RateLimit-Remaining"] == "1"
    assert client.get(f"{CONTENT}/100").status_code == 200
    clock.now += 4
    limited = client.get(f"{CONTENT}/100")
    assert limited.status_code == 429 and limited.json()["statusCode"] == 429
    assert limited.headers["Retry-After"] == "6" and limited.headers["X-RateLimit-Remaining"] == "0"
    assert limited.headers["X-RateLimit-Reset"].endswith("Z")
    clock.now += 6
    assert client.get(f"{CONTENT}/100").status_code == 200


def test_injected_faults_answer_503_and_explicit_settings_override_the_state():
    client = make_client(fail_next=1)
    assert [client.get(f"{CONTENT}/100").status_code for _ in range(2)] == [503, 200]
    client = TestClient(create_app(state(), tokens=[TOKEN], rate_limit=RateLimit(1, 60), fail_next=1))
    client.auth = (EMAIL, TOKEN)
    assert [client.get(f"{CONTENT}/100").status_code for _ in range(3)] == [503, 429, 429]


# --- state validation -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"pages": [{"id": "abc", "versions": [{"when": "2026-01-01T00:00:00Z", "body": ""}]}]}, "numeric id"),
        ({"pages": [{"id": "1"}]}, "at least one version"),
        ({"pages": [{"id": "1", "versions": [{"when": "2026-01-01T00:00:00Z"}]}]}, "first version needs a body"),
        ({"pages": [{"id": "1", "versions": [{"when": "2026-01-01", "body": ""}]}]}, "no time zone"),
        (
            {"pages": [{"id": "1", "status": "gone", "versions": [{"when": "2026-01-01T00:00:00Z", "body": ""}]}]},
            "status",
        ),
    ],
)
def test_a_malformed_state_is_refused_saying_where(document, message):
    with pytest.raises(ConfluenceStateError, match=message):
        parse_state(document)


# --- v2: GET /wiki/api/v2/pages ----------------------------------------------------------------

PAGES = "/wiki/api/v2/pages"


def test_v2_pages_by_id_with_storage_bodies(client):
    response = client.get(PAGES, params={"id": ["100", "200", "999"], "body-format": "storage"})
    assert response.status_code == 200
    body = response.json()
    assert [page["id"] for page in body["results"]] == ["100"]  # 200 is trashed, 999 unknown: left out
    page = body["results"][0]
    assert (page["status"], page["title"]) == ("current", "API Runbook")
    assert page["version"]["number"] == 3 and page["version"]["createdAt"] == "2026-11-10T09:00:00.000Z"
    assert page["version"]["minorEdit"] is True
    assert page["body"] == {"storage": {"representation": "storage", "value": "<h2>Alerts</h2>"}}
    assert page["_links"]["webui"] == "/spaces/OPS/pages/100/API+Runbook"
    assert "next" not in body["_links"] and body["_links"]["base"].endswith("/wiki")


def test_v2_pages_take_comma_separated_ids_statuses_and_no_body_by_default(client):
    body = client.get(PAGES, params={"id": "100,200", "status": "current,trashed"}).json()
    assert [page["id"] for page in body["results"]] == ["100", "200"]
    assert all("body" not in page for page in body["results"])


def test_v2_pages_refuse_more_than_250_ids_and_bad_parameters(client):
    too_many = client.get(PAGES, params={"id": [str(i) for i in range(251)]})
    assert too_many.status_code == 400
    error = too_many.json()["errors"][0]
    assert error["status"] == 400 and "Expected size 0 - 250" in error["title"]
    assert client.get(PAGES, params={"id": [str(i) for i in range(250)]}).status_code == 200
    for params in ({"limit": 251}, {"limit": 0}, {"id": "abc"}, {"body-format": "view"}, {"status": "gone"}):
        assert client.get(PAGES, params=params).status_code == 400, params


def test_v2_pages_are_paged_by_an_opaque_cursor_in_links_next_and_the_link_header():
    document = {
        "users": [EMAIL],
        "pages": [{"id": str(i), "versions": [{"when": "2026-01-01T00:00:00Z", "body": ""}]} for i in range(1, 6)],
    }
    client = TestClient(create_app(document, tokens=[TOKEN]))
    client.auth = (EMAIL, TOKEN)
    seen, url, calls = [], PAGES + "?limit=2&id=1&id=2&id=3&id=4&id=5", 0
    while url:
        response = client.get(url)
        calls += 1
        body = response.json()
        seen += [page["id"] for page in body["results"]]
        url = body["_links"].get("next")
        if url:
            assert response.headers["Link"].startswith(f'<{url}>; rel="next"')
    assert seen == ["1", "2", "3", "4", "5"] and calls == 3
    assert client.get(PAGES, params={"cursor": "not-a-cursor"}).status_code == 400
