"""Grafana SLO's API in the emulator, and the client reading it.

The emulator answers ``GET /api/plugins/grafana-slo-app/resources/v1/slo`` in the shape of Grafana
SLO's OpenAPI (``api.SLOListResponse``: ``{"slos": [slo.v0_0.Slo]}``), behind Grafana's bearer auth;
a Grafana without the plugin answers 404, which the client reads as "no SLOs"; any other error
is never an absence: the collect keeps the rest of Grafana and records the SLOs as unreadable
(``grafana_unreadable``), so availability-target says unknown and the other checks still judge.
"""

from __future__ import annotations

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from oncall_readiness.errors import SourceError
from oncall_readiness.quality import QualityContext, failure_summary, validate_source
from oncall_readiness.source_catalogue import SOURCES
from oncall_readiness.sources.grafana import SLO_PATH, GrafanaClient, collect
from readiness_sandbox.grafana.app import create_app
from readiness_sandbox.grafana.state import StateError, parse_state
from readiness_sandbox.in_thread import serving_in_thread

TOKEN = "glsa_test-token"
INSTANT = pd.Timestamp("2026-11-16T00:00:00Z")
HEADERS = {"Authorization": f"Bearer {TOKEN}"}
STATE = {
    "slos": [
        {
            "uuid": "pay-api-avail",
            "name": "Payments API availability",
            "objectives": [{"value": 0.9995, "window": "28d"}],
            "labels": {"service": "payments-api", "team": "payments"},
        },
        {"uuid": "quiet", "name": "Quiet", "objectives": [{"value": 0.99, "window": "7d"}], "fast_burn": False},
    ],
}


@pytest.fixture
def api():
    return TestClient(create_app(STATE, tokens=[TOKEN]))


def test_the_list_has_grafana_slos_shape(api):
    answer = api.get(SLO_PATH, headers=HEADERS)
    assert answer.status_code == 200
    first, quiet = answer.json()["slos"]
    assert {"uuid", "name", "description", "query", "objectives", "labels", "alerting", "readOnly"} <= set(first)
    assert first["objectives"] == [{"value": 0.9995, "window": "28d"}]  # a ratio, as the API takes it
    assert first["labels"] == [{"key": "service", "value": "payments-api"}, {"key": "team", "value": "payments"}]
    assert set(first["alerting"]) == {"fastBurn", "slowBurn"}
    assert set(quiet["alerting"]) == {"slowBurn"}  # fast-burn alerting switched off
    assert first["readOnly"]["status"] == {"type": "created"}


def test_one_slo_by_uuid_and_an_unknown_one_is_the_plugins_404(api):
    assert api.get(f"{SLO_PATH}/quiet", headers=HEADERS).json()["name"] == "Quiet"
    missing = api.get(f"{SLO_PATH}/nope", headers=HEADERS)
    assert missing.status_code == 404 and missing.json() == {"code": 404, "error": "slo nope not found"}


def test_without_a_token_it_is_401(api):
    answer = api.get(SLO_PATH, headers={"Authorization": "Bearer wrong"})
    assert answer.status_code == 401 and answer.json() == {"message": "Unauthorized"}


def test_a_grafana_without_the_slo_plugin_answers_404(api):
    bare = TestClient(create_app({**STATE, "slo_plugin": False}, tokens=[TOKEN]))
    answer = bare.get(SLO_PATH, headers=HEADERS)
    assert answer.status_code == 404 and answer.json() == {"message": "Plugin not found"}


def test_the_state_refuses_an_objective_that_is_not_a_ratio():
    bad = {"slos": [{"uuid": "x", "name": "X", "objectives": [{"value": 99.9, "window": "28d"}]}]}
    with pytest.raises(StateError, match=r"slos\[0\] 'x': objectives.0.value"):
        parse_state(bad)


def test_the_client_reads_the_slos_and_a_missing_plugin_as_none():
    with serving_in_thread(create_app(STATE, tokens=[TOKEN])) as url:
        assert [slo["uuid"] for slo in GrafanaClient(TOKEN, base_url=url).slos()] == ["pay-api-avail", "quiet"]
    with serving_in_thread(create_app({**STATE, "slo_plugin": False}, tokens=[TOKEN])) as url:
        client = GrafanaClient(TOKEN, base_url=url)
        assert client.slos() == [] and client.requests_made == 1


def test_any_other_error_fails_the_read_and_never_reads_as_no_slos():
    with (
        serving_in_thread(create_app(STATE, tokens=[TOKEN], fail_next=10)) as url,
        pytest.raises(SourceError, match="503"),
    ):
        GrafanaClient(TOKEN, base_url=url, max_retries=0).slos()
    with (
        serving_in_thread(create_app(STATE, tokens=["another"])) as url,
        pytest.raises(SourceError, match="401") as raised,
    ):
        GrafanaClient(TOKEN, base_url=url, max_retries=0).slos()
    assert TOKEN not in str(raised.value)


def test_a_token_that_may_not_use_the_slo_plugin_costs_the_slos_and_nothing_else():
    state = {**STATE, "slo_access": False}
    with serving_in_thread(create_app(state, tokens=[TOKEN])) as url:
        with pytest.raises(SourceError, match="403"):
            GrafanaClient(TOKEN, base_url=url, max_retries=0).slos()
        facts = collect(GrafanaClient(TOKEN, base_url=url, max_retries=0))
    assert facts["grafana_slos"].empty
    (unread,) = facts["grafana_unreadable"].to_dict("records")
    assert unread["collection"] == SLO_PATH and "403" in unread["reason"] and TOKEN not in unread["reason"]
    registry = {  # a registry that names no Grafana team or dashboard: only Grafana's own tables are judged
        "registry_teams": pd.DataFrame({"grafana_team": pd.Series(dtype="string")}),
        "registry_services": pd.DataFrame({"dashboard_selector": pd.Series(dtype="string")}),
    }
    report = validate_source("grafana", SOURCES["grafana"].suites, facts, QualityContext(INSTANT, registry))
    assert failure_summary(report) is None  # not bad data: dashboards, teams and rules stay trusted


def test_the_slos_read_leaves_no_unreadable_row():
    with serving_in_thread(create_app(STATE, tokens=[TOKEN])) as url:
        facts = collect(GrafanaClient(TOKEN, base_url=url))
    assert len(facts["grafana_slos"]) == 2 and facts["grafana_unreadable"].empty
