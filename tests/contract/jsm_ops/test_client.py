"""The JSM Operations client against the emulator: the requests the OpenAPI declares, every page, 429s, errors."""

from __future__ import annotations

import copy

import pandas as pd
import pytest
import yaml

from oncall_readiness.errors import SourceError
from oncall_readiness.sources.jsm_ops import JsmOpsClient, collect
from oncall_readiness.sources.window import AuditWindow
from readiness_sandbox.emulators import EMULATORS
from readiness_sandbox.in_thread import serving_in_thread
from readiness_sandbox.jsm_ops.app import create_app
from readiness_sandbox.rate_limit import RateLimit

from .conftest import every_request, record

TOKEN = "sandbox-token"
EMAIL = "readiness-audit@example.com"
DOCUMENT = yaml.safe_load(EMULATORS["jsm_ops"].sample_state.read_text())
TEAM = DOCUMENT["teams"][0]["id"]
WINDOW = AuditWindow(instant=pd.Timestamp("2026-11-16T00:00:00Z"), look_back_days=28, look_ahead_days=14)
REGISTRY = {
    "registry_teams": pd.DataFrame({"team": ["identity"], "jsm_ops_team": [TEAM], "oncall_platform": ["jsm_ops"]}),
    "registry_services": pd.DataFrame(
        {"service": ["identity-auth", "identity-accounts", "identity-sso"], "team": ["identity"] * 3}
    ),
}


def jsm_client(url: str, **options) -> JsmOpsClient:
    options.setdefault("max_retries", 0)
    return JsmOpsClient(EMAIL, TOKEN, site_url=url, api_url="/jsm/ops/api", **options)


def bigger(schedules: int, alerts: int) -> dict:
    """The sample site with more schedules and alerts of the team than one page holds."""
    document = copy.deepcopy(DOCUMENT)
    template, alert = document["schedules"][0], document["alerts"][-1]
    for n in range(schedules):
        document["schedules"].append(
            {**copy.deepcopy(template), "id": f"5c4e0000-0000-4000-8000-{n:012d}", "name": f"S{n}"}
        )
    for n in range(alerts):
        minute = pd.Timestamp("2026-11-14T00:00:00Z") + pd.Timedelta(minutes=n)
        document["alerts"].append(
            {
                **copy.deepcopy(alert),
                "id": f"a1e00000-0000-4000-8000-{n:012d}",
                "createdAt": minute.isoformat().replace("+00:00", "Z"),
                "notifications": [],
            }
        )
    return document


def test_the_sample_collection_sends_only_requests_the_openapi_declares(contract):
    app = EMULATORS["jsm_ops"].app(EMULATORS["jsm_ops"].load(), tokens=[TOKEN], rate_limit=None, fail_next=0)
    with serving_in_thread(app) as url:
        client = jsm_client(url)
        sent = record(client)
        facts = collect(client, REGISTRY, WINDOW)
    operations = list(every_request(sent))
    for method, request_url in operations:
        contract.assert_request(method, request_url)
    assert sum("/_edge/tenant_info" in u for _, u in sent) == 1  # the cloud id is read once
    assert client.requests_made == len(sent) == 17
    assert len(facts["jsm_ops_shifts"]) and len(facts["jsm_ops_escalation_levels"]) == 2


def test_every_page_is_read_following_links_next():
    app = create_app(bigger(schedules=60, alerts=230), tokens=[TOKEN], rate_limit=RateLimit(10_000, 60))
    with serving_in_thread(app) as url:
        client = jsm_client(url)
        sent = record(client)
        facts = collect(client, REGISTRY, WINDOW)
    schedule_pages = [u for _, u in sent if "/v1/schedules?" in u]
    alert_pages = [u for _, u in sent if "/v1/alerts?" in u]
    assert len(schedule_pages) == 2 and "offset=50" in schedule_pages[1]  # 61 schedules, 50 a page
    assert len(alert_pages) == 3  # 230 alerts of the last two days, then older ones: stop
    assert len(facts["jsm_ops_schedules"]) == 61
    assert facts["jsm_ops_incidents"]["incident_id"].is_unique and len(facts["jsm_ops_incidents"]) == 230 + 8


def test_a_429_is_waited_out_as_retry_after_says_then_the_read_goes_on(monkeypatch):
    app = EMULATORS["jsm_ops"].app(EMULATORS["jsm_ops"].load(), tokens=[TOKEN], rate_limit=RateLimit(5, 1), fail_next=0)
    with serving_in_thread(app) as url:
        client = jsm_client(url, max_retries=6)
        facts = collect(client, REGISTRY, WINDOW)
    assert client.retries >= 1 and client.gate.holds >= 1  # refused, waited, and read on
    assert len(facts["jsm_ops_incidents"]) == 8


def test_an_error_names_the_path_and_jsms_title_never_the_token():
    app = EMULATORS["jsm_ops"].app(EMULATORS["jsm_ops"].load(), tokens=[TOKEN], rate_limit=None, fail_next=0)
    with serving_in_thread(app) as url:
        client = jsm_client(url)
        with pytest.raises(SourceError) as raised:
            client.get("/v1/teams/nope/escalations")
        wrong = JsmOpsClient(EMAIL, "not-the-token", site_url=url, api_url="/jsm/ops/api", max_retries=0)
        with pytest.raises(SourceError) as refused:
            wrong.get("/v1/teams")
    assert "404" in str(raised.value) and "Team with id [nope] not found" in str(raised.value)
    assert "401" in str(refused.value) and "not-the-token" not in str(refused.value)


def test_a_team_jsm_does_not_have_leaves_its_services_without_an_escalation():
    registry = {
        **REGISTRY,
        "registry_teams": REGISTRY["registry_teams"].assign(jsm_ops_team=["00000000-dead-4000-8000-000000000000"]),
    }
    app = EMULATORS["jsm_ops"].app(EMULATORS["jsm_ops"].load(), tokens=[TOKEN], rate_limit=None, fail_next=0)
    with serving_in_thread(app) as url:
        facts = collect(jsm_client(url), registry, WINDOW)
    assert len(facts["jsm_ops_service_links"]) == 3 and facts["jsm_ops_services"].empty


def test_the_contract_refuses_a_body_the_schema_does_not_allow(contract):
    with pytest.raises(AssertionError, match="is not of type .array."):
        contract.assert_response("/v1/schedules", 200, {"values": "not a list"})
    with pytest.raises(AssertionError, match="not declared"):
        contract.assert_request("GET", "http://x/jsm/ops/api/c/v1/alerts?limit=100")
    with pytest.raises(AssertionError):
        contract.assert_request("GET", "http://x/jsm/ops/api/c/v1/schedules?size=51")


def test_an_alert_has_its_tiny_id_message_and_web_page_at_the_site():
    app = EMULATORS["jsm_ops"].app(EMULATORS["jsm_ops"].load(), tokens=[TOKEN], rate_limit=None, fail_next=0)
    with serving_in_thread(app) as url:
        facts = collect(jsm_client(url), REGISTRY, WINDOW)
    p1 = facts["jsm_ops_incidents"].set_index("incident_number").loc["77"]
    assert p1["title"] == "Sign-in error rate above 5%" and p1["team"] == "identity"
    assert p1["url"] == f"{url}/jira/ops/alerts/{p1['incident_id']}"


def test_the_alerts_are_read_as_they_were_at_the_audit_instant():
    # 2026-11-03 02:00Z: alert #77 was created at 01:50 and closed at 02:55; #87 was created on 11-05.
    window = AuditWindow(instant=pd.Timestamp("2026-11-03T02:00:00Z"), look_back_days=28, look_ahead_days=14)
    app = EMULATORS["jsm_ops"].app(EMULATORS["jsm_ops"].load(), tokens=[TOKEN], rate_limit=None, fail_next=0)
    with serving_in_thread(app) as url:
        facts = collect(jsm_client(url), REGISTRY, window)
    incidents = facts["jsm_ops_incidents"].set_index("incident_number")
    assert "87" not in incidents.index and (incidents["created_at"] <= window.instant).all()
    assert pd.isna(incidents.at["77", "resolved_at"]) and not pd.isna(incidents.at["73", "resolved_at"])
