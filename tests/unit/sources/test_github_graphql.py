"""The GraphQL runbook query: valid GraphQL, one history connection per runbook, strings as variables."""

from __future__ import annotations

import pytest

from oncall_readiness.sources.github.client import graphql_url
from oncall_readiness.sources.github.files import BlobLink
from oncall_readiness.sources.github.graphql import query_cost, query_variables, runbooks_query
from readiness_sandbox.github.graphql_query import parse_query
from readiness_sandbox.github.graphql_schema import measure

LINKS = [BlobLink("o", "r", "main", 'docs/"quoted" {braces}.md'), BlobLink("o", "other", "v1.2", "x.md")]


def test_the_query_is_graphql_with_one_aliased_repository_per_runbook():
    operation = parse_query(runbooks_query(2))
    assert [field.key for field in operation.selections] == ["rateLimit", "r0", "r1"]
    assert operation.variable_types["until"] == "GitTimestamp!" and operation.variable_types["p1"] == "String!"


def test_paths_travel_as_variables_not_in_the_query_text():
    variables = query_variables(LINKS, "2026-11-16T00:00:00Z")
    assert variables["p0"] == 'docs/"quoted" {braces}.md' and variables["e1"] == "v1.2"
    assert "quoted" not in runbooks_query(2)


@pytest.mark.parametrize("count", [1, 50, 100])
def test_each_runbook_costs_one_history_request_and_one_node(count):
    links = [BlobLink("o", "r", "main", f"{i}.md") for i in range(count)]
    cost = measure(parse_query(runbooks_query(count)), query_variables(links, "2026-11-16T00:00:00Z"))
    assert cost.requests == cost.nodes == cost.repositories == count
    assert cost.points == query_cost(count) == 1


@pytest.mark.parametrize(
    ("base", "url"),
    [
        ("https://api.github.com", "https://api.github.com/graphql"),
        ("https://github.example.com/api/v3/", "https://github.example.com/api/graphql"),
        ("http://127.0.0.1:8000/github", "http://127.0.0.1:8000/github/graphql"),
    ],
)
def test_the_graphql_endpoint_of_a_base_url(base, url):
    assert graphql_url(base) == url
