"""The JSM Operations emulator answers as Atlassian's OpenAPI says: shapes, paging, auth, errors, 429."""

from __future__ import annotations

import warnings

import pytest

from readiness_sandbox.emulators import EMULATORS
from readiness_sandbox.rate_limit import RateLimit

from .conftest import ops_path

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

TOKEN = "sandbox-token"
AUTH = ("readiness-audit@example.com", TOKEN)
EMULATOR = EMULATORS["jsm_ops"]
STATE = EMULATOR.load()
CLOUD = STATE.cloud_id
TEAM = next(iter(STATE.teams))
SCHEDULE = STATE.schedules[0].id
ALERT = STATE.alerts[0]["id"]


def client(**options) -> TestClient:
    options.setdefault("rate_limit", None)
    return TestClient(EMULATOR.app(EMULATOR.load(), tokens=[TOKEN], fail_next=0, **options))


@pytest.fixture(scope="module")
def api() -> TestClient:
    return client()


READS = [
    ("/v1/teams", {}),
    ("/v1/schedules", {"expand": "rotation", "size": 50}),
    (f"/v1/schedules/{SCHEDULE}/rotations", {}),
    (f"/v1/schedules/{SCHEDULE}/timeline", {"date": "2026-10-19T00:00:00Z", "interval": 43, "intervalUnit": "days"}),
    (f"/v1/teams/{TEAM}/escalations", {"size": 100}),
    (f"/v1/teams/{TEAM}/routing-rules", {}),
    ("/v1/notification-rules", {}),
    ("/v1/alerts", {"sort": "createdAt", "order": "desc", "size": 100}),
    (f"/v1/alerts/{ALERT}/logs", {"size": 100}),
]


@pytest.mark.parametrize(("path", "params"), READS, ids=[path for path, _ in READS])
def test_every_read_answers_its_documented_schema(api, contract, path, params):
    contract.assert_request(
        "GET", f"http://site{ops_path(CLOUD, path)}?" + "&".join(f"{k}={v}" for k, v in params.items())
    )
    response = api.get(ops_path(CLOUD, path), params=params, auth=AUTH)
    assert response.status_code == 200, response.text
    contract.assert_response(path, 200, response.json())


def test_the_timeline_is_the_final_layer_with_the_override_cut_in(api):
    body = api.get(
        ops_path(CLOUD, f"/v1/schedules/{SCHEDULE}/timeline"),
        params={"date": "2026-11-02T12:00:00Z", "interval": 1, "intervalUnit": "weeks"},
        auth=AUTH,
    ).json()
    assert (body["startDate"], body["endDate"]) == (
        "2026-11-02T00:00:00Z",
        "2026-11-09T00:00:00Z",
    )  # the week of the date
    periods = body["finalTimeline"]["rotations"][0]["periods"]
    override = [p for p in periods if p["type"] == "override"]
    assert [(p["startDate"], p["endDate"]) for p in override] == [("2026-11-02T09:00:00Z", "2026-11-09T00:00:00Z")]
    assert override[0]["responder"] == {"id": "712020:1d000000-0000-4000-8000-000000000001", "type": "user"}


def test_pages_follow_links_next_until_it_is_absent(api):
    seen, url, params = [], ops_path(CLOUD, "/v1/alerts"), {"sort": "createdAt", "order": "asc", "size": 5}
    while True:
        body = api.get(url, params=params, auth=AUTH).json()
        seen += [alert["id"] for alert in body["values"]]
        following = body["links"].get("next")
        if not following:
            break
        assert following.startswith("/v1/alerts?") and "size=5" in following  # relative, as the spec's example
        url, params = (
            ops_path(CLOUD, following.split("?")[0]),
            dict(p.split("=") for p in following.split("?")[1].split("&")),
        )
    assert len(seen) == len(set(seen)) == len(STATE.alerts)
    assert seen == sorted(seen, key=lambda ident: next(a["createdAt"] for a in STATE.alerts if a["id"] == ident))


@pytest.mark.parametrize(
    ("path", "params"),
    [("/v1/schedules", {"size": 51}), ("/v1/alerts", {"size": 101}), ("/v1/alerts", {"offset": 19_950, "size": 50})],
)
def test_a_page_past_the_documented_limits_is_refused_with_the_error_body(api, contract, path, params):
    response = api.get(ops_path(CLOUD, path), params=params, auth=AUTH)
    assert response.status_code == 422
    contract.assert_response(path, 422, response.json())
    assert response.json()["errors"][0]["title"]


@pytest.mark.parametrize(
    "auth", [None, ("readiness-audit@example.com", "wrong"), ("oliver.bennett@example.com", TOKEN)]
)
def test_without_a_valid_account_and_token_the_answer_is_401(api, contract, auth):
    response = api.get(ops_path(CLOUD, "/v1/schedules"), auth=auth)
    assert response.status_code == 401
    contract.assert_response("/v1/schedules", 401, response.json())


def test_an_unknown_team_is_404_with_the_error_body(api, contract):
    path = "/v1/teams/00000000-0000-4000-8000-000000000000/escalations"
    response = api.get(ops_path(CLOUD, path), auth=AUTH)
    assert response.status_code == 404
    contract.assert_response(path, 404, response.json())


def test_notification_rules_are_the_callers_own():
    state = EMULATOR.load()
    oliver = next(ident for ident, account in state.accounts.items() if account["name"] == "Oliver Bennett")
    state.notification_rules.append({"account": oliver, "id": "r1", "steps": [{"sendAfter": 0, "method": "voice"}]})
    state.accounts[oliver]["api"] = True
    api = TestClient(EMULATOR.app(state, tokens=[TOKEN], rate_limit=None, fail_next=0))
    mine = api.get(ops_path(CLOUD, "/v1/notification-rules"), auth=AUTH).json()["values"]
    his = api.get(ops_path(CLOUD, "/v1/notification-rules"), auth=("oliver.bennett@example.com", TOKEN)).json()[
        "values"
    ]
    assert "r1" not in {rule["id"] for rule in mine} and [rule["id"] for rule in his] == ["r1"]


def test_over_the_rate_limit_the_answer_is_429_with_retry_after():
    api = client(rate_limit=RateLimit(2, 60))
    answers = [api.get(ops_path(CLOUD, "/v1/teams"), auth=AUTH) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert 1 <= int(answers[2].headers["Retry-After"]) <= 60
    assert answers[2].json()["errors"][0]["code"] == "TOO_MANY_REQUESTS"
    assert answers[0].headers["X-RateLimit-Limit"] == "2"


def test_the_site_answers_its_cloud_id_without_auth_and_its_users_with_emails(api):
    assert api.get("/_edge/tenant_info").json() == {"cloudId": CLOUD}
    ids = list(STATE.accounts)[:3]
    body = api.get(
        "/rest/api/3/user/bulk", params=[("accountId", i) for i in ids] + [("maxResults", 2)], auth=AUTH
    ).json()
    assert body["total"] == 3 and len(body["values"]) == 2 and not body["isLast"]
    assert all("@" in user["emailAddress"] for user in body["values"])
