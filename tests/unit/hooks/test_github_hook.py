"""The GitHub connection's extra: how runbooks are read (GraphQL or REST) and how many per query."""

from __future__ import annotations

import json

import pytest

from oncall_readiness.errors import ConnectionConfigError
from oncall_readiness.hooks.github import GitHubHook

CONN_ID = "github_test"


def use_connection(monkeypatch, **fields) -> None:
    conn = {"conn_type": "readiness_github", "password": "t", **fields}
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", json.dumps(conn))


def test_graphql_with_100_runbooks_per_query_by_default(monkeypatch):
    use_connection(monkeypatch)
    client = GitHubHook(CONN_ID).get_conn()
    assert (client.api, client.batch_size) == ("graphql", 100)
    assert client.graphql_url == "https://api.github.com/graphql"


def test_an_enterprise_host_has_its_graphql_beside_api_v3(monkeypatch):
    use_connection(monkeypatch, host="https://github.example.com/api/v3")
    assert GitHubHook(CONN_ID).get_conn().graphql_url == "https://github.example.com/api/graphql"


@pytest.mark.parametrize(
    ("extra", "api", "size"),
    [
        ({"api": "rest"}, "rest", 100),
        ({"api": "GraphQL", "graphql_batch_size": 25}, "graphql", 25),
        ({}, "graphql", 100),
    ],
)
def test_the_extra_chooses_the_api_and_the_batch_size(monkeypatch, extra, api, size):
    use_connection(monkeypatch, extra=json.dumps(extra))
    client = GitHubHook(CONN_ID).get_conn()
    assert (client.api, client.batch_size) == (api, size)


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"api": "soap"}, "api='soap'"),
        ({"graphql_batch_size": 0}, "graphql_batch_size=0"),
        ({"graphql_batch_size": 101}, "graphql_batch_size=101"),
        ({"graphql_batch_size": "many"}, "graphql_batch_size='many'"),
    ],
)
def test_a_bad_extra_names_the_connection_and_the_field(monkeypatch, extra, field):
    use_connection(monkeypatch, extra=json.dumps(extra))
    with pytest.raises(ConnectionConfigError) as error:
        GitHubHook(CONN_ID).get_conn()
    assert str(error.value).startswith(f"Airflow connection {CONN_ID!r} has extra {field}")
