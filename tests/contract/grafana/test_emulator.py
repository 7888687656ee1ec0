"""The Grafana HTTP API emulator: auth, Grafana's paging and caps, bare arrays, errors, throttling.

The instance (``STATE``): three folders' worth of dashboards, three teams, two alert rules.
"""

from __future__ import annotations

import re

import pytest
import requests
from fastapi.testclient import TestClient

from readiness_sandbox.grafana.app import create_app, load_grafana_state, parse_state
from readiness_sandbox.grafana.state import StateError
from readiness_sandbox.process import SandboxError, running_sandbox
from readiness_sandbox.rate_limit import RateLimit
from readiness_sandbox.sample_org import state_file

TOKEN = "glsa_test-token"
HEADERS = {"Authorization": f"Bearer {TOKEN}"}

STATE = {
    "folders": [{"uid": "shop", "title": "Shop"}, {"uid": "ops", "title": "Ops"}],
    "dashboards": [
        {"uid": "cart", "title": "Cart", "folder": "shop", "tags": ["cart", "monitoring"]},
        {
            "uid": "cart-logs",
            "title": "Cart logs",
            "folder": "shop",
            "tags": ["cart"],
            "panels": [
                {"type": "stat", "title": "Errors"},
                {"type": "row", "title": "Details", "panels": [{"type": "logs", "title": "Cart logs"}]},
            ],
            "version": 7,
            "updated": "2026-11-02T10:00:00Z",
            "updated_by": "ada",
        },
        {"uid": "infra", "title": "Infrastructure", "folder": "ops", "tags": ["platform"]},
        {"uid": "home", "title": "Home"},
    ],
    "teams": [
        {"id": 3, "name": "shop", "email": "shop@example.com", "members": ["ada@example.com", "Bob@Example.com"]},
        {"id": 1, "name": "ops", "members": ["cy@example.com"]},
        {"id": 2, "name": "empty"},
    ],
    "alert_rules": [
        {
            "uid": "cart-errors",
            "title": "Cart errors",
            "folder": "shop",
            "rule_group": "cart",
            "for": "10m",
            "labels": {"service": "cart", "severity": "critical"},
            "annotations": {"runbook_url": "https://runbooks.example.com/cart"},
        },
        {"uid": "infra-down", "title": "Infra down", "folder": "ops", "rule_group": "ops", "is_paused": True},
    ],
}


def make_client(state=STATE, *, headers=HEADERS, **options) -> TestClient:
    return TestClient(create_app(state, tokens=[TOKEN], **options), headers=headers)


@pytest.fixture
def client() -> TestClient:
    return make_client()


def many_dashboards(n: int) -> dict:
    return {"dashboards": [{"uid": f"d{i:05d}", "title": f"Dashboard {i:05d}", "tags": ["bulk"]} for i in range(n)]}


# --- authentication and errors ----------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-token"},
        {"Authorization": f"Token token={TOKEN}"},  # PagerDuty's scheme is not Grafana's
        {"Authorization": "Basic YWRtaW46YWRtaW4="},
    ],
)
def test_requests_without_a_valid_service_account_token_are_refused(headers):
    response = make_client(headers=headers).get("/api/search")
    assert response.status_code == 401
    assert response.json() == {"message": "Unauthorized"}


def test_errors_have_grafanas_message_body(client):
    assert client.get("/api/dashboards/uid/nope").json() == {"message": "Dashboard not found"}
    assert client.get("/api/dashboards/uid/nope").status_code == 404
    assert client.get("/api/teams/99/members").status_code == 404
    assert client.get("/api/teams/99/members").json() == {"message": "Team not found"}
    assert client.get("/api/teams/abc/members").status_code == 400
    assert client.get("/api/no-such-endpoint").json() == {"message": "Not found"}


def test_rate_limit_answers_429_with_retry_after():
    clock = [0.0]
    client = make_client(rate_limit=RateLimit(2, 10), clock=lambda: clock[0])
    assert client.get("/api/search").status_code == 200
    assert client.get("/api/search").status_code == 200
    throttled = client.get("/api/search")
    assert throttled.status_code == 429
    assert throttled.json() == {"message": "Too many requests"}
    assert throttled.headers["Retry-After"] == "10"
    clock[0] = 10.0  # a new window
    assert client.get("/api/search").status_code == 200


def test_injected_faults_answer_503_then_recover():
    client = make_client(fail_next=2)
    assert [client.get("/api/search").status_code for _ in range(3)] == [503, 503, 200]


# --- /api/search ---------------------------------------------------------------------------------


def test_search_is_a_bare_array_of_dashboard_hits_sorted_by_title(client):
    hits = client.get("/api/search", params={"type": "dash-db"}).json()
    assert [hit["title"] for hit in hits] == ["Cart", "Cart logs", "Home", "Infrastructure"]
    cart = hits[0]
    assert cart["uid"] == "cart" and cart["type"] == "dash-db" and cart["tags"] == ["cart", "monitoring"]
    assert cart["url"] == "/d/cart/cart" and isinstance(cart["id"], int)
    assert (cart["folderUid"], cart["folderTitle"]) == ("shop", "Shop")
    assert "folderUid" not in hits[2]  # Home lives in the General folder


def test_search_without_a_type_lists_folders_too(client):
    types = [hit["type"] for hit in client.get("/api/search").json()]
    assert types == ["dash-folder", "dash-folder", "dash-db", "dash-db", "dash-db", "dash-db"]
    folders = client.get("/api/search", params={"type": "dash-folder"}).json()
    assert {hit["uid"] for hit in folders} == {"shop", "ops"}


def test_search_filters_by_every_tag_by_query_and_by_folder(client):
    def uids(**params):
        return [hit["uid"] for hit in client.get("/api/search", params={"type": "dash-db", **params}).json()]

    assert uids(tag="cart") == ["cart", "cart-logs"]
    assert uids(tag=["cart", "monitoring"]) == ["cart"]
    assert uids(query="LOGS") == ["cart-logs"]
    assert uids(folderUIDs="ops") == ["infra"]
    assert uids(folderUIDs="general") == ["home"]


def test_search_pages_with_limit_and_page_from_one(client):
    def titles(**params):
        return [hit["title"] for hit in client.get("/api/search", params={"type": "dash-db", **params}).json()]

    assert titles(limit=3, page=1) == ["Cart", "Cart logs", "Home"]
    assert titles(limit=3, page=2) == ["Infrastructure"]
    assert titles(limit=3, page=3) == []
    assert titles(limit=3, page=0) == titles(limit=3, page=1)  # Grafana reads page < 1 as 1


def test_search_returns_1000_hits_by_default_and_refuses_a_limit_above_5000():
    client = make_client(many_dashboards(1200))
    assert len(client.get("/api/search", params={"type": "dash-db"}).json()) == 1000
    assert len(client.get("/api/search", params={"type": "dash-db", "page": 2}).json()) == 200
    assert len(client.get("/api/search", params={"type": "dash-db", "limit": 5000}).json()) == 1200
    refused = client.get("/api/search", params={"limit": 5001})
    assert refused.status_code == 422
    assert refused.json()["message"].startswith("Limit is above maximum allowed (5000)")


# --- dashboards ----------------------------------------------------------------------------------


def test_a_dashboard_by_uid_has_its_model_and_meta(client):
    body = client.get("/api/dashboards/uid/cart-logs").json()
    dashboard, meta = body["dashboard"], body["meta"]
    assert (dashboard["uid"], dashboard["title"], dashboard["version"]) == ("cart-logs", "Cart logs", 7)
    assert [panel["type"] for panel in dashboard["panels"]] == ["stat", "row"]
    row = dashboard["panels"][1]
    assert row["collapsed"] is True and [p["type"] for p in row["panels"]] == ["logs"]
    assert (meta["updated"], meta["updatedBy"], meta["folderTitle"]) == ("2026-11-02T10:00:00Z", "ada", "Shop")
    assert client.get("/api/dashboards/uid/home").json()["meta"]["folderTitle"] == "General"


# --- teams ---------------------------------------------------------------------------------------


def test_team_search_pages_with_perpage_and_reports_the_total(client):
    first = client.get("/api/teams/search", params={"perpage": 2, "page": 1}).json()
    assert (first["totalCount"], first["page"], first["perPage"]) == (3, 1, 2)
    assert [team["name"] for team in first["teams"]] == ["empty", "ops"]
    second = client.get("/api/teams/search", params={"perpage": 2, "page": 2}).json()
    assert [team["name"] for team in second["teams"]] == ["shop"]
    shop = second["teams"][0]
    assert (shop["id"], shop["email"], shop["memberCount"]) == (3, "shop@example.com", 2)
    everything = client.get("/api/teams/search").json()
    assert (everything["perPage"], len(everything["teams"])) == (1000, 3)


def test_team_search_by_query_and_exact_name(client):
    assert client.get("/api/teams/search", params={"query": "SH"}).json()["totalCount"] == 1
    assert client.get("/api/teams/search", params={"name": "sho"}).json()["teams"] == []


def test_team_members_are_a_bare_array(client):
    members = client.get("/api/teams/3/members").json()
    assert [(m["teamId"], m["email"], m["login"], m["name"]) for m in members] == [
        (3, "ada@example.com", "ada", "Ada"),
        (3, "Bob@Example.com", "bob", "Bob"),  # as stored: the client lower-cases
    ]
    assert len({m["userId"] for m in members}) == 2
    assert client.get("/api/teams/2/members").json() == []


# --- alert rules ---------------------------------------------------------------------------------


def test_alert_rules_are_one_bare_array_in_the_provisioning_shape(client):
    rules = client.get("/api/v1/provisioning/alert-rules").json()
    assert [rule["uid"] for rule in rules] == ["cart-errors", "infra-down"]
    cart = rules[0]
    assert cart["folderUID"] == "shop" and cart["ruleGroup"] == "cart" and cart["for"] == "10m"
    assert cart["labels"] == {"service": "cart", "severity": "critical"}
    assert cart["annotations"] == {"runbook_url": "https://runbooks.example.com/cart"}
    assert cart["isPaused"] is False and cart["updated"].endswith("Z")
    assert rules[1]["isPaused"] is True and rules[1]["labels"] == {} and rules[1]["for"] == "5m"


# --- state validation ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "problem"),
    [
        ({"dashboards": [{"uid": "a", "title": "A", "tagz": []}]}, "dashboards[0] 'a': tagz: Extra inputs"),
        ({"dashboards": [{"uid": "a", "title": "A", "folder": "nope"}]}, "unknown folder 'nope'"),
        ({"dashboards": [{"uid": "a", "title": "A"}, {"uid": "a", "title": "B"}]}, "duplicate uid 'a'"),
        ({"teams": [{"id": 1, "name": "x", "members": ["not-an-email"]}]}, "not an email"),
        ({"teams": [{"id": 1, "name": "x"}, {"id": 2, "name": "X"}]}, "duplicate name 'X'"),
        ({"alert_rules": [{"uid": "r", "title": "R", "folder": "f", "rule_group": "g"}]}, "unknown folder 'f'"),
        ({"alert_rules": [{"uid": "r", "title": "R", "rule_group": "g"}]}, "folder: Field required"),
        ({"widgets": []}, "unknown section(s) widgets"),
    ],
)
def test_bad_state_is_refused_naming_the_item_and_field(state, problem):
    with pytest.raises(StateError, match=re.escape(problem)):
        parse_state(state)


def test_the_sample_organisation_state_loads():
    state = parse_state(load_grafana_state(state_file("grafana.yaml")))
    assert len(state.teams) >= 6 and len(state.dashboards) > 20 and state.alert_rules


# --- through the sandbox process -----------------------------------------------------------------


def test_the_sandbox_serves_grafana_under_its_prefix():
    with running_sandbox(states={"grafana": STATE}, token=TOKEN) as sandbox:
        assert requests.get(sandbox.base_url + "/", timeout=5).json()["emulators"]["grafana"] == "/grafana"
        hits = requests.get(sandbox.url("grafana") + "/api/search", headers=HEADERS, timeout=5).json()
        assert len(hits) == 6
        assert requests.get(sandbox.url("grafana") + "/api/search", timeout=5).status_code == 401


def test_the_sandbox_refuses_a_bad_grafana_state(tmp_path):
    bad = tmp_path / "grafana.yaml"
    bad.write_text("dashboards: [{uid: a}]\n")
    with pytest.raises(SandboxError, match="cannot load the Grafana state"), running_sandbox(states={"grafana": bad}):
        pass
