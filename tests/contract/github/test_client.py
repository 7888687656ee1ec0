"""The GitHub runbook collector against the emulator: fewest calls, as of the audit, throttling, errors.

Both ways of reading (GraphQL, the default, and REST) run against the same sandbox and must
give the same facts; GraphQL's batching and limits have their own tests (test_graphql_client.py).
"""

from __future__ import annotations

import json

import pandas as pd
import pytest
import yaml

from oncall_readiness.errors import SourceError
from oncall_readiness.hooks.github import GitHubHook
from oncall_readiness.registry import load_registry
from oncall_readiness.runbook_facts import PART_COLUMNS
from oncall_readiness.sources import github
from oncall_readiness.sources.github import GitHubClient, collect, collect_for_audit, runbooks_to_collect
from oncall_readiness.sources.window import AuditWindow
from readiness_sandbox.emulators import EMULATORS
from readiness_sandbox.process import running_sandbox
from readiness_sandbox.sample_org import CATALOG as SAMPLE_CATALOG

INSTANT = pd.Timestamp("2026-11-16T00:00:00Z")
REGISTRY = load_registry(SAMPLE_CATALOG).to_facts()
SAMPLE_RUNBOOKS = runbooks_to_collect(REGISTRY["registry_services"])


def sample_state(**emulator) -> dict:
    document = yaml.safe_load(EMULATORS["github"].sample_state.read_text())
    return {**document, "emulator": emulator}


def runbooks(*urls: str) -> pd.DataFrame:
    return pd.DataFrame({"service": [f"s{i}" for i in range(len(urls))], "url": list(urls)})


def blob(repo: str, path: str, ref: str = "main") -> str:
    return f"https://github.com/example-org/{repo}/blob/{ref}/{path}"


@pytest.fixture(scope="module")
def sandbox():
    with running_sandbox() as running:
        yield running


@pytest.fixture(scope="module")
def sample_facts(sandbox):
    client = GitHubClient(sandbox.token, base_url=sandbox.url("github"))
    facts = collect(client, SAMPLE_RUNBOOKS, INSTANT)["github_runbooks"]
    return client, facts


@pytest.fixture(scope="module")
def rest_facts(sandbox):
    client = GitHubClient(sandbox.token, base_url=sandbox.url("github"), api="rest")
    facts = collect(client, SAMPLE_RUNBOOKS, INSTANT)["github_runbooks"]
    return client, facts


def test_sample_org_costs_one_graphql_query(sample_facts):
    client, facts = sample_facts
    assert len(SAMPLE_RUNBOOKS) == 11
    assert client.api == "graphql" and client.requests_made == 1 and client.retries == 0
    assert client.points_spent == 1  # 11 history connections of first: 1 -> round(11 / 100) -> at least 1 point
    assert list(facts.columns) == list(github.FACT_COLUMNS["github_runbooks"])
    assert facts["service"].is_unique and set(facts["service"]) == set(SAMPLE_RUNBOOKS["service"])


def test_rest_costs_two_calls_per_runbook_and_gives_the_same_facts(sample_facts, rest_facts):
    client, facts = rest_facts
    assert client.requests_made == 2 * 11 and client.retries == 0  # last commit, then the file at that commit
    pd.testing.assert_frame_equal(sample_facts[1], facts)


def test_sample_org_facts_hold_the_designed_dates_and_parts(sample_facts):
    _, facts = sample_facts
    by_service = facts.set_index("service")
    assert by_service.at["payments-api", "last_changed"] == pd.Timestamp("2026-11-12T09:15:00Z")
    assert by_service.at["payments-api", "repository"] == "example-org/payments-runbooks"
    assert by_service.at["payments-api", "ref"] == "main" and by_service.at["payments-api", "path"] == "payments-api.md"
    assert by_service.at["search-indexer", "last_changed"] == pd.Timestamp("2026-11-04T12:00:00Z")
    media = by_service.loc["catalog-media"]
    assert media["found"] and media["has_failure_scenarios"] and not media["has_mitigations"]
    assert not media["has_alert_thresholds"] and not media["has_step_by_step"]  # a commented code block is no heading
    push = by_service.loc["notifications-push"]
    assert not push["found"] and "deleted or renamed by commit" in push["error"]
    assert push["last_changed"] == pd.Timestamp("2026-10-01T09:00:00Z")
    assert pd.isna(push["has_mitigations"])
    found = facts[facts["found"]]
    assert found[PART_COLUMNS].notna().all().all() and found["commit_sha"].str.len().eq(40).all()
    assert (facts["last_changed"] <= INSTANT).all()


@pytest.mark.parametrize("api", ["graphql", "rest"])
def test_a_backfill_reads_each_runbook_as_it_was(sandbox, api):
    client = GitHubClient(sandbox.token, base_url=sandbox.url("github"), api=api)
    earlier = pd.Timestamp("2026-11-09T00:00:00Z")
    facts = collect(client, SAMPLE_RUNBOOKS, earlier)["github_runbooks"].set_index("service")
    api = facts.loc["payments-api"]
    assert api["last_changed"] == pd.Timestamp("2026-02-02T10:00:00Z")  # not the 11-12 change
    assert not api["has_failure_scenarios"]  # the stub as it was then, not today's file
    assert not facts.at["catalog-media", "found"]  # created on 11-13
    assert "no commit on main" in facts.at["catalog-media", "error"]
    assert (facts["last_changed"].dropna() <= earlier).all()


@pytest.mark.parametrize(("api", "calls"), [("graphql", 1), ("rest", 2)])
def test_a_shared_runbook_is_read_once(sandbox, api, calls):
    client = GitHubClient(sandbox.token, base_url=sandbox.url("github"), api=api)
    url = blob("payments-runbooks", "payments-api.md")
    facts = collect(client, runbooks(url, url), INSTANT)["github_runbooks"]
    assert client.requests_made == calls and facts["found"].all() and len(facts) == 2


@pytest.mark.parametrize(("api", "calls"), [("graphql", 1), ("rest", 3)])
def test_unreadable_runbooks_are_facts_not_failures(sandbox, api, calls):
    client = GitHubClient(sandbox.token, base_url=sandbox.url("github"), api=api)
    urls = [
        blob("no-such-repo", "x.md"),
        blob("payments-runbooks", "x.md", ref="release"),
        blob("payments-runbooks", "never-existed.md"),
        "https://github.com/example-org/payments-runbooks",
        blob("payments-runbooks", ""),
    ]
    facts = collect(client, runbooks(*urls), INSTANT)["github_runbooks"]
    assert not facts["found"].any()
    errors = list(facts["error"])
    assert "GitHub has no repository example-org/no-such-repo" in errors[0]
    assert "GitHub has no 'release' in example-org/payments-runbooks" in errors[1]
    assert "never-existed.md has no commit on main" in errors[2]
    assert "is not a link to a file" in errors[3] and "is not a link to a file" in errors[4]
    # GraphQL: one query for the three; REST: one commits call each; none for the bad links
    assert client.requests_made == calls


@pytest.mark.parametrize(
    "emulator",
    [
        {"rate_limit": "10/1", "rate_limit_status": 403},
        {"rate_limit": "10/1", "rate_limit_status": 429},
        {"rate_limit": "10/1", "rate_limit_status": 403, "retry_after": True},
    ],
    ids=["403-reset", "429-reset", "403-retry-after"],
)
def test_throttled_rest_collection_gives_the_same_facts(sample_facts, emulator):
    _, unthrottled = sample_facts
    with running_sandbox(states={"github": sample_state(**emulator)}) as throttled:
        client = GitHubClient(throttled.token, base_url=throttled.url("github"), api="rest", backoff_factor=0.1)
        facts = collect(client, SAMPLE_RUNBOOKS, INSTANT)["github_runbooks"]
    assert client.retries >= 1, "the sandbox should have answered over the limit at least once"
    assert client.requests_made == 22
    pd.testing.assert_frame_equal(unthrottled, facts)


@pytest.mark.parametrize("api", ["graphql", "rest"])
def test_server_errors_are_retried(sample_facts, api):
    _, expected = sample_facts
    with running_sandbox(states={"github": sample_state(fail_next=2)}) as sandbox:
        client = GitHubClient(sandbox.token, base_url=sandbox.url("github"), api=api, backoff_factor=0.05)
        facts = collect(client, SAMPLE_RUNBOOKS, INSTANT)["github_runbooks"]
    assert client.retries == 2
    pd.testing.assert_frame_equal(expected, facts)


@pytest.mark.parametrize(
    ("api", "call"), [("graphql", "POST /github/graphql"), ("rest", "GET /github/repos/example-org/")]
)
def test_a_wrong_token_fails_at_once_with_the_api_message_and_no_secret(sandbox, api, call):
    client = GitHubClient("wrong-secret-token", base_url=sandbox.url("github"), api=api)
    with pytest.raises(SourceError) as error:
        collect(client, SAMPLE_RUNBOOKS, INSTANT)
    message = str(error.value)
    assert message.startswith(f"github: {call}")
    assert "answered 401: Bad credentials" in message and "wrong-secret-token" not in message
    assert client.requests_made == 1


def test_no_token_is_refused_before_any_call():
    with pytest.raises(SourceError, match="no API token"):
        GitHubClient("")


@pytest.mark.parametrize("extra", [None, {"api": "rest"}, {"graphql_batch_size": 4}])
def test_collect_for_audit_reads_the_connection(sandbox, monkeypatch, sample_facts, extra):
    conn = {"conn_type": "readiness_github", **sandbox.connections()["github"]}
    if extra:
        conn["extra"] = json.dumps(extra)
    monkeypatch.setenv("AIRFLOW_CONN_GITHUB_DEFAULT", json.dumps(conn))
    facts = collect_for_audit(GitHubHook(), REGISTRY, AuditWindow(INSTANT, look_back_days=28))
    pd.testing.assert_frame_equal(sample_facts[1], facts["github_runbooks"])


def test_without_github_runbooks_no_connection_is_needed(monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_GITHUB_DEFAULT", raising=False)
    services = REGISTRY["registry_services"].assign(runbook_url=None)
    facts = collect_for_audit(
        GitHubHook(), {**REGISTRY, "registry_services": services}, AuditWindow(INSTANT, look_back_days=28)
    )
    assert facts["github_runbooks"].empty
    assert list(facts["github_runbooks"].columns) == list(github.FACT_COLUMNS["github_runbooks"])
