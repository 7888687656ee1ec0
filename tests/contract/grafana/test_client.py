"""The Grafana collector against the emulator: fewest calls, pagination, the pool, throttling, errors."""

from __future__ import annotations

import json
import math
import time

import pandas as pd
import pytest

from oncall_readiness.errors import ConnectionConfigError, SourceError
from oncall_readiness.hooks.grafana import GrafanaHook
from oncall_readiness.registry import load_registry
from oncall_readiness.sources import grafana
from oncall_readiness.sources.grafana import GrafanaClient, collect
from oncall_readiness.sources.window import AuditWindow
from readiness_sandbox.process import running_sandbox
from readiness_sandbox.sample_org import CATALOG as SAMPLE_CATALOG

REGISTRY = load_registry(SAMPLE_CATALOG)
SELECTORS = list(REGISTRY.services["dashboard_selector"].dropna())
TEAMS = list(REGISTRY.teams["grafana_team"].dropna())


def collect_sample(client: GrafanaClient) -> dict[str, pd.DataFrame]:
    return collect(client, dashboard_selectors=SELECTORS, team_names=TEAMS)


def big_instance(dashboards: int, teams: int) -> dict:
    """Many dashboards of one service (``bulk``), tagged ``logs`` or ``monitoring`` but for every 1000th;
    many teams, one of them named ``wanted``."""
    kinds = ["monitoring", "logs"]
    return {
        "dashboards": [
            {
                "uid": f"d{i:05d}",
                "title": f"Dashboard {i:05d}",
                "tags": ["bulk"] if i % 1000 == 0 else ["bulk", kinds[i % 2]],
            }
            for i in range(dashboards)
        ],
        "teams": [
            {"id": i + 1, "name": "wanted" if i == 0 else f"team-{i:05d}", "members": [f"p{i}@example.com"]}
            for i in range(teams)
        ],
    }


@pytest.fixture(scope="module")
def sample_sandbox():
    with running_sandbox() as sandbox:
        yield sandbox


def test_sample_org_collects_in_the_fewest_calls(sample_sandbox):
    client = GrafanaClient(sample_sandbox.token, base_url=sample_sandbox.url("grafana"))
    facts = collect_sample(client)
    dashboards = facts["grafana_dashboards"]
    opened = (dashboards["kind_from"] == "panels").sum()
    assert opened == 8  # only dashboards a service selects whose tags do not tell their kind
    # one search page, the opened dashboards, one team search, the six named teams' members, one rules read,
    # one SLO list
    assert client.requests_made == 1 + opened + 1 + 6 + 1 + 1
    assert dashboards["uid"].is_unique and len(dashboards) == 35
    never_opened = dashboards.set_index("uid").loc["plt-kubernetes"]
    assert pd.isna(never_opened["kind"]) and pd.isna(never_opened["kind_from"])  # no service selects it
    ledger = dashboards.set_index("uid").loc["pay-ledger-logs"]
    assert (ledger["kind"], ledger["kind_from"]) == ("logging", "panels")  # its logs panel is in a collapsed row
    assert dashboards.set_index("uid").at["idn-sso-logs", "kind"] == "logging"  # tag "Logging"
    assert dashboards.set_index("uid").at["home", "folder_title"] is pd.NA


def test_sample_org_facts_have_their_documented_schema(sample_sandbox):
    facts = collect_sample(GrafanaClient(sample_sandbox.token, base_url=sample_sandbox.url("grafana")))
    for table, columns in grafana.FACT_COLUMNS.items():
        assert list(facts[table].columns) == list(columns), table
    members = facts["grafana_team_members"]
    assert set(members["team_name"]) == set(TEAMS)  # sre and data-platform members are never read
    assert "vikram.rao@example.com" in set(members["email"])  # Vikram.Rao@Example.com, lower-cased
    collections = facts["grafana_collections"].set_index("collection")
    assert collections.at["/api/teams/search", "reported_total"] == 8
    assert (collections["reported_total"] == collections["collected"]).all()
    rules = facts["grafana_alert_rules"].set_index("uid")
    assert json.loads(rules.at["cat-media-slow", "labels"]) == {"service": "catalog-media", "team": "catalog"}
    assert rules.at["src-suggest-latency", "is_paused"]
    assert str(rules["is_paused"].dtype) == "boolean"


def test_pagination_walks_every_page_at_the_largest_page_size():
    with running_sandbox(states={"grafana": big_instance(dashboards=6001, teams=1500)}) as sandbox:
        client = GrafanaClient(sandbox.token, base_url=sandbox.url("grafana"))
        facts = collect(client, dashboard_selectors=["bulk"], team_names=["wanted"])
    dashboards = facts["grafana_dashboards"]
    assert len(dashboards) == 6001 and dashboards["uid"].is_unique
    assert len(facts["grafana_teams"]) == 1500
    opened = 7  # d00000, d01000 ... d06000: their kind comes from their panels (none: monitoring)
    # two search pages (5000 + 1001), two team pages (1000 + 500), one member list, the rules, the SLOs
    assert client.requests_made == 2 + opened + 2 + 1 + 1 + 1
    assert set(dashboards["kind"]) == {"monitoring", "logging"}
    assert list(facts["grafana_team_members"]["email"]) == ["p0@example.com"]


def test_a_dashboard_deleted_between_search_and_read_is_left_out(sample_sandbox):
    client = GrafanaClient(sample_sandbox.token, base_url=sample_sandbox.url("grafana"))
    real_get = client.get

    def racing_get(path, params=None, **kwargs):
        if path == "/api/dashboards/uid/chk-tax":
            path = "/api/dashboards/uid/gone-meanwhile"
        return real_get(path, params, **kwargs)

    client.get = racing_get
    dashboards = collect_sample(client)["grafana_dashboards"]
    assert "chk-tax" not in set(dashboards["uid"]) and len(dashboards) == 34


def test_throttled_collection_gives_the_same_facts(sample_sandbox):
    unthrottled = collect_sample(GrafanaClient(sample_sandbox.token, base_url=sample_sandbox.url("grafana")))
    with running_sandbox(rate_limit="4/1") as throttled_sandbox:
        client = GrafanaClient(throttled_sandbox.token, base_url=throttled_sandbox.url("grafana"), backoff_factor=0.1)
        throttled = collect_sample(client)
    assert client.retries >= 1, "the sandbox should have answered 429 at least once"
    # The links name the server they were read from: the two sandboxes' addresses differ.
    for facts, sandbox in ((unthrottled, sample_sandbox), (throttled, throttled_sandbox)):
        links = facts["grafana_links"]
        facts["grafana_links"] = links.assign(url=links["url"].str.replace(sandbox.url("grafana"), "", regex=False))
    for table, frame in unthrottled.items():
        pd.testing.assert_frame_equal(frame, throttled[table], obj=table)


def test_server_errors_are_retried():
    with running_sandbox(fail_next=2) as sandbox:
        client = GrafanaClient(sandbox.token, base_url=sandbox.url("grafana"), backoff_factor=0.05)
        facts = collect_sample(client)
    assert client.retries == 2 and len(facts["grafana_dashboards"]) == 35


def test_a_wrong_token_fails_at_once_with_the_api_message_and_no_secret(sample_sandbox):
    client = GrafanaClient("glsa_wrong-secret-token", base_url=sample_sandbox.url("grafana"))
    with pytest.raises(SourceError) as error:
        collect_sample(client)
    message = str(error.value)
    assert message == "grafana: GET /grafana/api/search answered 401: Unauthorized"
    assert "wrong-secret-token" not in message
    assert client.requests_made == 1


def test_no_token_or_no_base_url_is_refused_before_any_call():
    with pytest.raises(SourceError, match="no service account token"):
        GrafanaClient("", base_url="https://grafana.example.com")
    with pytest.raises(SourceError, match="no base URL"):
        GrafanaClient("token", base_url="")


def test_the_client_comes_from_the_grafana_default_connection(monkeypatch, sample_sandbox):
    conn = {"conn_type": "readiness_grafana", "host": sample_sandbox.url("grafana"), "password": sample_sandbox.token}
    monkeypatch.setenv("AIRFLOW_CONN_GRAFANA_DEFAULT", json.dumps(conn))
    instant = pd.Timestamp("2026-11-16T00:00Z")
    facts = grafana.collect_for_audit(GrafanaHook(), REGISTRY.to_facts(), AuditWindow(instant, look_back_days=28))
    assert len(facts["grafana_dashboards"]) == 35


def test_a_connection_without_a_host_names_the_connection(monkeypatch):
    conn = {"conn_type": "readiness_grafana", "password": "secret-123"}
    monkeypatch.setenv("AIRFLOW_CONN_GRAFANA_DEFAULT", json.dumps(conn))
    with pytest.raises(ConnectionConfigError, match="'grafana_default' has no host") as error:
        GrafanaHook().get_conn()
    assert "secret-123" not in str(error.value)


def test_member_lists_are_read_by_the_pool_and_a_429_storm_adds_no_calls():
    names = ["wanted", *(f"team-{i:05d}" for i in range(1, 60))]
    with running_sandbox(states={"grafana": big_instance(dashboards=10, teams=60)}, rate_limit="10/1") as sandbox:
        client = GrafanaClient(sandbox.token, base_url=sandbox.url("grafana"), concurrency=8, backoff_factor=0.1)
        started = time.monotonic()
        facts = collect(client, dashboard_selectors=["bulk"], team_names=names)
        elapsed = time.monotonic() - started
    members = facts["grafana_team_members"]
    teams_in_order = list(facts["grafana_teams"]["team_name"])
    assert sorted(teams_in_order) == sorted(names)
    assert list(members["team_name"]) == teams_in_order  # every list, in the order Grafana lists the teams
    collections = facts["grafana_collections"]
    assert (collections["reported_total"] == collections["collected"]).all()
    # one search page, d00000 opened, one team page, 60 member lists, the rules, the SLOs: each counted once
    assert client.requests_made == 1 + 1 + 1 + 60 + 1 + 1
    assert client.gate.holds >= 1, "10 requests a second should have answered 429"
    # a 429 pauses the whole pool: at most the requests in flight are refused in each window
    assert client.retries <= client.concurrency * math.ceil(elapsed)


def test_the_concurrency_comes_from_the_environment_or_the_connection(monkeypatch, sample_sandbox):
    conn = {"conn_type": "readiness_grafana", "host": sample_sandbox.url("grafana"), "password": sample_sandbox.token}
    monkeypatch.setenv("AIRFLOW_CONN_GRAFANA_DEFAULT", json.dumps(conn))
    monkeypatch.delenv("READINESS_HTTP_CONCURRENCY", raising=False)
    assert GrafanaHook().get_conn().concurrency == 8
    monkeypatch.setenv("READINESS_HTTP_CONCURRENCY", "2")
    assert GrafanaHook().get_conn().concurrency == 2
    monkeypatch.setenv("AIRFLOW_CONN_GRAFANA_DEFAULT", json.dumps({**conn, "extra": {"concurrency": 16}}))
    assert GrafanaHook().get_conn().concurrency == 16


def test_the_links_are_grafanas_own_pages_of_each_rule_dashboard_and_service(sample_sandbox):
    base = sample_sandbox.url("grafana")
    facts = collect_sample(GrafanaClient(sample_sandbox.token, base_url=base))
    links = facts["grafana_links"].set_index("subject")
    assert links.at["alert-rule:grafana/cat-media-slow", "url"] == f"{base}/alerting/grafana/cat-media-slow/view"
    assert links.at["dashboard:chk-api", "url"] == f"{base}/d/chk-api"
    services = pd.DataFrame({"service": ["checkout tax"], "dashboard_selector": ["checkout tax"]})
    (service,) = grafana.grafana_links(base, facts, services).query("subject == 'service:checkout tax'")["url"]
    assert service == f"{base}/dashboards?tag=checkout+tax"
