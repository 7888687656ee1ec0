"""Runbooks through GitHub's GraphQL API, against the emulator: batches, splits, limits, REST fallback.

Every collection here must give the facts of the plain GraphQL read of the sample
organisation (``expected``); what changes is how many requests it took and how long it
waited, which each test pins down.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest
import yaml

from oncall_readiness.errors import SourceError
from oncall_readiness.registry import load_registry
from oncall_readiness.sources.github import GitHubClient, collect, runbooks_to_collect
from oncall_readiness.sources.github.graphql import query_cost
from readiness_sandbox.emulators import EMULATORS
from readiness_sandbox.process import running_sandbox
from readiness_sandbox.sample_org import CATALOG as SAMPLE_CATALOG

INSTANT = pd.Timestamp("2026-11-16T00:00:00Z")
SAMPLE_RUNBOOKS = runbooks_to_collect(load_registry(SAMPLE_CATALOG).to_facts()["registry_services"])
MANY = 250  # runbooks in the "scale" repository: three queries of at most 100


def state(**emulator) -> dict:
    document = yaml.safe_load(EMULATORS["github"].sample_state.read_text())
    files = {f"service-{i:03d}.md": f"# service {i}\n\n## Mitigations\n\nRestart it.\n" for i in range(MANY)}
    scale = {
        "name": "example-org/scale",
        "commits": [
            {"date": "2026-10-01T10:00:00Z", "message": "all runbooks", "files": files},
            {
                "date": "2026-11-10T10:00:00Z",
                "message": "one more part",
                "files": {"service-007.md": "# 7\n## Alerts\n"},
            },
        ],
    }
    return {**document, "repositories": [*document["repositories"], scale], "emulator": emulator}


def scale_runbooks() -> pd.DataFrame:
    urls = [f"https://github.com/example-org/scale/blob/main/service-{i:03d}.md" for i in range(MANY)]
    return pd.DataFrame({"service": [f"service-{i:03d}" for i in range(MANY)], "url": urls})


def client_for(sandbox, **options) -> GitHubClient:
    return GitHubClient(sandbox.token, base_url=sandbox.url("github"), backoff_factor=0.05, **options)


def graphql_requests(sandbox) -> int:
    return sum(row["requests"] for row in sandbox.request_counts() if row["endpoint"].endswith("/graphql"))


@pytest.fixture(scope="module")
def sandbox():
    with running_sandbox(states={"github": state()}) as running:
        yield running


@pytest.fixture(scope="module")
def expected(sandbox):
    return collect(client_for(sandbox), SAMPLE_RUNBOOKS, INSTANT)["github_runbooks"]


@pytest.mark.parametrize(("runbooks", "points"), [(1, 1), (11, 1), (100, 1), (149, 1), (150, 2), (250, 3)])
def test_a_query_costs_githubs_points(runbooks, points):
    assert query_cost(runbooks) == points  # connection requests / 100, rounded, at least one


def test_the_request_count_is_runbooks_over_the_batch_size(sandbox):
    sandbox.request_counts(reset=True)
    client = client_for(sandbox)
    facts = collect(client, scale_runbooks(), INSTANT)["github_runbooks"]
    assert client.requests_made == math.ceil(MANY / 100) == graphql_requests(sandbox) == 3
    assert client.points_spent == 3 and client.retries == 0  # 100 -> 1, 100 -> 1, 50 -> 1
    assert facts["found"].all() and facts["has_mitigations"].sum() == MANY - 1
    changed = facts.set_index("service").loc["service-007"]
    assert changed["last_changed"] == pd.Timestamp("2026-11-10T10:00:00Z") and changed["has_alert_thresholds"]


def test_a_smaller_batch_size_costs_more_requests(sandbox, expected):
    client = client_for(sandbox, batch_size=4)
    facts = collect(client, SAMPLE_RUNBOOKS, INSTANT)["github_runbooks"]
    assert client.requests_made == 3  # 4 + 4 + 3
    pd.testing.assert_frame_equal(expected, facts)


def test_a_file_without_history_at_the_instant_is_not_found(sandbox):
    urls = [
        "https://github.com/example-org/payments-runbooks/blob/main/never-existed.md",
        "https://github.com/example-org/payments-runbooks/blob/main/payments-api.md",
    ]
    runbooks = pd.DataFrame({"service": ["ghost", "api"], "url": urls})
    facts = collect(client_for(sandbox), runbooks, pd.Timestamp("2026-01-01T00:00:00Z"))["github_runbooks"]
    assert not facts["found"].any()  # payments-api.md was created on 2026-02-02
    assert list(facts["error"]) == [
        "never-existed.md has no commit on main in example-org/payments-runbooks at or before the audit",
        "payments-api.md has no commit on main in example-org/payments-runbooks at or before the audit",
    ]
    assert facts["last_changed"].isna().all() and facts["commit_sha"].isna().all()


@pytest.mark.parametrize(
    ("emulator", "requests", "batch"),
    [
        ({"graphql_resource_limit": 4}, 2 + 6, 2),  # 11 refused, 5 refused, then 2+2+2+2+2+1
        ({"graphql_timeout_over": 3}, 2 + 6, 2),  # the same with 502 timeouts
        ({"graphql_max_nodes": 5}, 1 + 3, 5),  # 11 nodes refused, then 5+5+1
    ],
    ids=["resource-limits", "timeout", "node-limit"],
)
def test_a_query_too_large_is_split_in_halves(expected, emulator, requests, batch):
    with running_sandbox(states={"github": state(**emulator)}) as sandbox:
        client = client_for(sandbox)
        facts = collect(client, SAMPLE_RUNBOOKS, INSTANT)["github_runbooks"]
    assert client.requests_made == requests and client.batch_size == batch
    pd.testing.assert_frame_equal(expected, facts)


def test_a_single_runbook_too_large_raises():
    with running_sandbox(states={"github": state(graphql_resource_limit=0)}) as sandbox:
        client = client_for(sandbox)
        with pytest.raises(SourceError, match="even a query for one runbook"):
            collect(client, SAMPLE_RUNBOOKS, INSTANT)


def test_the_client_waits_for_the_points_to_reset(expected):
    with running_sandbox(states={"github": state(graphql_rate_limit="2/2")}) as sandbox:
        client = client_for(sandbox, batch_size=3)
        facts = collect(client, SAMPLE_RUNBOOKS, INSTANT)["github_runbooks"]
        # A second client on the same token does not know the points are spent: GitHub refuses
        # its first query (RATE_LIMITED), it waits for x-ratelimit-reset and asks again.
        late = client_for(sandbox, batch_size=100)
        late_facts = collect(late, SAMPLE_RUNBOOKS, INSTANT)["github_runbooks"]
    # 4 queries of one point, 2 points per window: waited before the 3rd, none refused
    assert client.requests_made == 4 and client.retries == 0 and client.waited_seconds > 0
    pd.testing.assert_frame_equal(expected, facts)
    assert late.requests_made == 1 and late.retries == 1 and late.waited_seconds > 0
    pd.testing.assert_frame_equal(expected, late_facts)


@pytest.mark.parametrize("status", [403, 429])
def test_a_secondary_limit_is_waited_out(expected, status):
    limits = {"graphql_secondary_limit": "2/2", "rate_limit_status": status}
    with running_sandbox(states={"github": state(**limits)}) as sandbox:
        client = client_for(sandbox, batch_size=3)
        facts = collect(client, SAMPLE_RUNBOOKS, INSTANT)["github_runbooks"]
    assert client.requests_made == 4 and client.retries >= 1  # the 3rd query waits for retry-after
    pd.testing.assert_frame_equal(expected, facts)


def test_a_host_without_graphql_is_read_through_rest(expected):
    with running_sandbox(states={"github": state(graphql=False)}) as sandbox:
        client = client_for(sandbox)
        facts = collect(client, SAMPLE_RUNBOOKS, INSTANT)["github_runbooks"]
        counts = sandbox.request_counts()
    assert client.api == "rest" and client.requests_made == 1 + 2 * 11  # the 404, then two calls per runbook
    assert {row["status"] for row in counts if row["endpoint"].endswith("/graphql")} == {404}
    pd.testing.assert_frame_equal(expected, facts)
