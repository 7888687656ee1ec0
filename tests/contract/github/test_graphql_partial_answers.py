"""A partial GraphQL answer is no finding of absence: the unresolved runbooks are asked again, smaller.

GitHub answers a query it could only partly resolve with HTTP 200, ``data`` in which the
unresolved aliases are null, and an error per alias (``RESOURCE_LIMITS_EXCEEDED``, a timeout)
with its ``path``. Only ``NOT_FOUND`` at an alias says a repository does not exist. The emulator
answers so past ``graphql_partial_over`` repositories a query.
"""

from __future__ import annotations

import pandas as pd
import pytest
import requests

from oncall_readiness.checks.runbook_freshness import evaluate
from oncall_readiness.sources.github import collect
from readiness_sandbox.process import running_sandbox
from tests.contract.github.test_graphql_client import INSTANT, client_for, graphql_requests, scale_runbooks, state

# 250 runbooks in one repository: three whole queries of at most 100.
RUNBOOKS = scale_runbooks()


@pytest.fixture(scope="module")
def whole():
    with running_sandbox(states={"github": state()}) as sandbox:
        yield collect(client_for(sandbox), RUNBOOKS, INSTANT)["github_runbooks"]


def test_the_emulator_answers_a_large_query_partly_as_github_does():
    repository = 'repository(owner: "example-org", name: "scale") { isEmpty }'
    query = f"query {{ a: {repository} b: {repository} c: {repository} }}"
    with running_sandbox(states={"github": state(graphql_partial_over=2)}) as sandbox:
        answer = requests.post(
            sandbox.url("github") + "/graphql",
            json={"query": query},
            headers={"Authorization": f"Bearer {sandbox.token}"},
            timeout=10,
        )
    body = answer.json()
    assert answer.status_code == 200
    assert body["data"] == {"a": {"isEmpty": False}, "b": {"isEmpty": False}, "c": None}
    assert [(e["type"], e["path"]) for e in body["errors"]] == [("RESOURCE_LIMITS_EXCEEDED", ["c"])]


def test_runbooks_in_a_partial_answer_are_asked_again_and_read_as_in_a_whole_one(whole):
    with running_sandbox(states={"github": state(graphql_partial_over=30)}) as sandbox:
        client = client_for(sandbox)
        facts = collect(client, RUNBOOKS, INSTANT)["github_runbooks"]
        asked = graphql_requests(sandbox)
    pd.testing.assert_frame_equal(facts, whole)
    assert facts["found"].all()  # not one "GitHub has no repository"
    assert asked > 3  # the three whole queries were not enough: the unresolved parts were asked again


def test_a_runbook_github_never_resolves_is_unknown_not_failed():
    with running_sandbox(states={"github": state(graphql_partial_over=0)}) as sandbox:
        facts = collect(client_for(sandbox), RUNBOOKS.head(3), INSTANT)["github_runbooks"]
    assert facts["found"].isna().all()
    assert facts["error"].str.startswith("GitHub could not answer for it: RESOURCE_LIMITS_EXCEEDED at r0").all()
    runbooks = RUNBOOKS.head(3).rename(columns={"url": "runbook_url"}).assign(team="payments", lifecycle="production")
    teams = pd.DataFrame({"team": ["payments"]})
    outcome = evaluate_runbooks(teams, runbooks, facts)
    assert set(outcome.findings["outcome"]) == {"unknown"}
    assert outcome.results.at[0, "status"] == "unknown"
    assert "RESOURCE_LIMITS_EXCEEDED" in outcome.findings["message"].iloc[0]


def evaluate_runbooks(teams, services, facts):
    from oncall_readiness.checks import CheckInput
    from oncall_readiness.checks.catalogue import load_catalogue, team_thresholds
    from oncall_readiness.sources.confluence import FACT_COLUMNS as CONFLUENCE_COLUMNS
    from oncall_readiness.sources.facts import typed_frame

    check = load_catalogue().checks["runbook-freshness"]
    thresholds = team_thresholds(check, teams["team"], pd.DataFrame(columns=["team", "check_id", "key", "value"]))
    confluence = typed_frame([], CONFLUENCE_COLUMNS["confluence_runbooks"])
    return evaluate(
        CheckInput(
            INSTANT,
            teams,
            {"registry_services": services, "github_runbooks": facts, "confluence_runbooks": confluence},
            thresholds,
        )
    )
