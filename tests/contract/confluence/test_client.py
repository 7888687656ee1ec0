"""The Confluence runbook collector against the emulator: 250 pages a call, backfills, throttling, errors."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import yaml

from oncall_readiness.errors import ConnectionConfigError, SourceError
from oncall_readiness.hooks.confluence import ConfluenceHook
from oncall_readiness.registry import load_registry
from oncall_readiness.runbook_facts import PART_COLUMNS
from oncall_readiness.sources import confluence
from oncall_readiness.sources.confluence import ConfluenceClient, collect, collect_for_audit, runbooks_to_collect
from oncall_readiness.sources.window import AuditWindow
from readiness_sandbox.confluence.app import SANDBOX_EMAIL
from readiness_sandbox.emulators import EMULATORS
from readiness_sandbox.process import running_sandbox
from readiness_sandbox.sample_org import CATALOG as SAMPLE_CATALOG

INSTANT = pd.Timestamp("2026-11-16T00:00:00Z")
REGISTRY = load_registry(SAMPLE_CATALOG).to_facts()
SAMPLE_RUNBOOKS = runbooks_to_collect(REGISTRY["registry_services"])


def sample_state(**emulator) -> dict:
    document = yaml.safe_load(EMULATORS["confluence"].sample_state.read_text())
    return {**document, "emulator": emulator}


def page_url(page_id: str, title: str = "Runbook") -> str:
    return f"https://example.atlassian.net/wiki/spaces/OPS/pages/{page_id}/{title}"


def runbooks(*urls: str) -> pd.DataFrame:
    return pd.DataFrame({"service": [f"s{i}" for i in range(len(urls))], "url": list(urls)})


def client_for(sandbox, **options) -> ConfluenceClient:
    return ConfluenceClient(SANDBOX_EMAIL, sandbox.token, base_url=sandbox.url("confluence"), **options)


@pytest.fixture(scope="module")
def sandbox():
    with running_sandbox() as running:
        yield running


@pytest.fixture(scope="module")
def sample_facts(sandbox):
    client = client_for(sandbox)
    return client, collect(client, SAMPLE_RUNBOOKS, INSTANT)["confluence_runbooks"]


def test_sample_org_costs_one_bulk_call(sample_facts):
    client, facts = sample_facts
    assert len(SAMPLE_RUNBOOKS) == 7
    assert client.requests_made == 1 and client.retries == 0  # GET /wiki/api/v2/pages?id=...&body-format=storage
    assert list(facts.columns) == list(confluence.FACT_COLUMNS["confluence_runbooks"])
    assert facts["found"].all() and facts[["version", "last_changed", "title"]].notna().all().all()


def test_sample_org_facts_hold_the_designed_dates_and_parts(sample_facts):
    _, facts = sample_facts
    by_service = facts.set_index("service")
    reconciler = by_service.loc["payments-reconciler"]
    assert (reconciler["page_id"], reconciler["version"]) == ("40960001", 3)
    assert reconciler["last_changed"] == pd.Timestamp("2026-11-11T10:05:00Z")
    assert reconciler["title"] == "Payments Reconciler Runbook"
    assert by_service.at["checkout-web", "last_changed"] == pd.Timestamp("2026-10-30T11:00:00Z")
    assert not by_service.at["catalog-api", "has_alert_thresholds"] and by_service.at["catalog-api", "has_step_by_step"]
    complete = by_service.drop(index="catalog-api")[PART_COLUMNS]
    assert complete.all().all()  # h2 headings, bold paragraphs (catalog-importer) and synonyms


def test_a_backfill_reads_the_version_current_at_the_instant(sandbox):
    client = client_for(sandbox)
    earlier = pd.Timestamp("2026-11-09T00:00:00Z")
    facts = collect(client, SAMPLE_RUNBOOKS, earlier)["confluence_runbooks"].set_index("service")
    # One bulk read; six pages changed after 11-09: for each, the versions listing and that version's body.
    assert client.requests_made == 1 + 2 * 6
    reconciler = facts.loc["payments-reconciler"]
    assert reconciler["version"] == 2 and reconciler["last_changed"] == pd.Timestamp("2026-08-20T13:10:00Z")
    assert reconciler["has_failure_scenarios"] and not reconciler["has_mitigations"]  # version 2's body
    assert facts.at["checkout-web", "version"] == 2  # unchanged since 10-30: one call
    assert (facts["last_changed"] <= earlier).all()


def test_a_page_younger_than_the_instant_is_not_found_and_long_histories_are_paged():
    versions = [{"when": "2026-06-01T00:00:00Z", "body": "<h2>Mitigations</h2>"}]
    versions += [{"when": f"2026-11-{1 + i // 24:02d}T{i % 24:02d}:00:00Z"} for i in range(250)]
    state = {
        "pages": [
            {"id": "1", "versions": versions},
            {"id": "2", "versions": [{"when": "2026-11-20T00:00:00Z", "body": "<h1>new</h1>"}]},
        ]
    }
    with running_sandbox(states={"confluence": state}) as sandbox:
        client = client_for(sandbox)
        facts = collect(client, runbooks(page_url("1"), page_url("2")), pd.Timestamp("2026-10-01T00:00:00Z"))
    old, new = facts["confluence_runbooks"].to_dict("records")
    assert old["found"] and old["version"] == 1 and old["has_mitigations"] and not old["has_alert_thresholds"]
    assert not new["found"] and new["error"] == "page 2 was created after the audit"
    # both in one bulk read; page 1: two pages of versions (200 + 51), version 1; page 2: one page of versions
    assert client.requests_made == 1 + 3 + 1


def test_unreadable_pages_are_facts_not_failures(sandbox):
    client = client_for(sandbox)
    urls = [
        page_url("99999999"),
        "https://example.atlassian.net/wiki/x/AbCdEf",
        "https://example.atlassian.net/wiki/pages/viewpage.action?pageId=40960002",
    ]
    facts = collect(client, runbooks(*urls), INSTANT)["confluence_runbooks"]
    assert list(facts["found"]) == [False, False, True]
    assert facts["error"].iloc[0] == "Confluence has no page 99999999, or the account cannot see it"
    assert "names no page id" in facts["error"].iloc[1]
    assert client.requests_made == 2  # the bulk read, and the page it left out asked for alone (a 404)


def test_throttled_collection_gives_the_same_facts(sandbox):
    backfill = pd.Timestamp("2026-11-09T00:00:00Z")  # 13 calls: the bulk read and two per changed page
    unthrottled = collect(client_for(sandbox), SAMPLE_RUNBOOKS, backfill)["confluence_runbooks"]
    with running_sandbox(states={"confluence": sample_state(rate_limit="5/1")}) as throttled:
        client = client_for(throttled, backoff_factor=0.1)
        facts = collect(client, SAMPLE_RUNBOOKS, backfill)["confluence_runbooks"]
    assert client.retries >= 1, "the sandbox should have answered 429 at least once"
    assert client.gate.holds >= 1  # the 429s paused the whole pool, not one worker
    pd.testing.assert_frame_equal(unthrottled, facts)


def test_server_errors_are_retried(sample_facts):
    _, expected = sample_facts
    with running_sandbox(states={"confluence": sample_state(fail_next=2)}) as sandbox:
        client = client_for(sandbox, backoff_factor=0.05)
        facts = collect(client, SAMPLE_RUNBOOKS, INSTANT)["confluence_runbooks"]
    assert client.retries == 2
    pd.testing.assert_frame_equal(expected, facts)


@pytest.mark.parametrize("email", [SANDBOX_EMAIL, "intruder@example.com"])
def test_a_rejected_login_fails_at_once_with_the_api_message_and_no_secret(sandbox, email):
    token = "wrong-secret-token" if email == SANDBOX_EMAIL else sandbox.token
    client = ConfluenceClient(email, token, base_url=sandbox.url("confluence"))
    with pytest.raises(SourceError) as error:
        collect(client, SAMPLE_RUNBOOKS, INSTANT)
    message = str(error.value)
    assert message.startswith("confluence: GET /confluence/wiki/api/v2/pages")
    assert "answered 401: Client must be authenticated" in message and token not in message
    assert client.requests_made == 1


def test_missing_credentials_are_refused_before_any_call():
    with pytest.raises(SourceError, match="email and an API token"):
        ConfluenceClient("", "token", base_url="https://example.atlassian.net")


def test_a_site_url_with_wiki_is_accepted(sandbox):
    client = ConfluenceClient(SANDBOX_EMAIL, sandbox.token, base_url=sandbox.url("confluence") + "/wiki/")
    facts = collect(client, runbooks(page_url("40960001")), INSTANT)["confluence_runbooks"]
    assert facts["found"].all()


def test_collect_for_audit_reads_the_connection(sandbox, monkeypatch):
    conn = {"conn_type": "readiness_confluence", **sandbox.connections()["confluence"]}
    monkeypatch.setenv("AIRFLOW_CONN_CONFLUENCE_DEFAULT", json.dumps(conn))
    facts = collect_for_audit(ConfluenceHook(), REGISTRY, AuditWindow(INSTANT, look_back_days=28))
    assert len(facts["confluence_runbooks"]) == 7 and facts["confluence_runbooks"]["found"].all()


def test_without_confluence_runbooks_no_connection_is_needed(monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_CONFLUENCE_DEFAULT", raising=False)
    services = REGISTRY["registry_services"].assign(runbook_url=None)
    facts = collect_for_audit(
        ConfluenceHook(), {**REGISTRY, "registry_services": services}, AuditWindow(INSTANT, look_back_days=28)
    )
    assert facts["confluence_runbooks"].empty
    assert list(facts["confluence_runbooks"].columns) == list(confluence.FACT_COLUMNS["confluence_runbooks"])


def test_a_connection_without_login_names_the_field(monkeypatch):
    conn = {"conn_type": "readiness_confluence", "host": "https://example.atlassian.net", "password": "t"}
    monkeypatch.setenv("AIRFLOW_CONN_CONFLUENCE_DEFAULT", json.dumps(conn))
    with pytest.raises(ConnectionConfigError, match="'confluence_default' has no account email in its login"):
        ConfluenceHook().get_conn()


def many_pages(count: int) -> dict:
    """``count`` current pages, ids 1000..; every 7th in the trash."""
    return {
        "pages": [
            {
                "id": str(1000 + i),
                "status": "trashed" if i % 7 == 6 else "current",
                "versions": [{"when": "2026-11-01T00:00:00Z", "body": "<h2>Mitigations</h2>"}],
            }
            for i in range(count)
        ]
    }


def test_600_pages_cost_three_bulk_calls_of_at_most_250_ids():
    urls = [page_url(str(1000 + i)) for i in range(600)]
    with running_sandbox(states={"confluence": many_pages(600)}) as sandbox:
        client = client_for(sandbox, concurrency=3)
        facts = collect(client, runbooks(*urls, urls[0]), INSTANT)["confluence_runbooks"]
    trashed_pages = sum(1 for i in range(600) if i % 7 == 6)
    # 250 + 250 + 100 ids (the emulator answers 400 past 250), then each trashed page alone: a 404 says it is gone
    assert client.requests_made == 3 + trashed_pages
    assert len(facts) == 601 and facts["page_id"].iloc[-1] == "1000"  # a page linked twice is read once
    trashed = facts["page_id"].astype(int).sub(1000).mod(7).eq(6)
    assert not facts.loc[trashed, "found"].any() and facts.loc[~trashed, "found"].all()
    assert facts.loc[~trashed, "has_mitigations"].all()


def test_a_paged_answer_is_followed_by_its_cursor(monkeypatch):
    monkeypatch.setattr(confluence, "PAGE_LIMIT", 2)
    with running_sandbox(states={"confluence": many_pages(5)}) as sandbox:
        client = client_for(sandbox)
        facts = collect(client, runbooks(*(page_url(str(1000 + i)) for i in range(5))), INSTANT)
    assert client.requests_made == 3  # 2 + 2 + 1 through _links.next
    assert facts["confluence_runbooks"]["found"].all()


def test_the_connection_extra_sets_the_concurrency(sandbox, monkeypatch):
    conn = {"conn_type": "readiness_confluence", **sandbox.connections()["confluence"], "extra": {"concurrency": 3}}
    monkeypatch.setenv("AIRFLOW_CONN_CONFLUENCE_DEFAULT", json.dumps(conn))
    monkeypatch.setenv("READINESS_HTTP_CONCURRENCY", "5")
    assert ConfluenceHook().get_conn().concurrency == 3  # the connection's setting wins over the environment
    conn["extra"] = {"concurrency": "lots"}
    monkeypatch.setenv("AIRFLOW_CONN_CONFLUENCE_DEFAULT", json.dumps(conn))
    with pytest.raises(ConnectionConfigError, match="'confluence_default' extra 'concurrency' is 'lots'"):
        ConfluenceHook().get_conn()
