"""The GitHub emulator's GraphQL endpoint: the runbook query, point costs, node limits, GitHub's errors.

The repository has five commits, one a day from 2026-11-01 to 11-05 (10:00Z): a.md is added,
changed twice (the second change authored on 10-20), then deleted; b.md is added on day 2;
docs/c.md on day 4. ``example-org/empty`` has no commit.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from oncall_readiness.sources.github.files import BlobLink
from oncall_readiness.sources.github.graphql import query_variables, runbooks_query
from readiness_sandbox.github.app import create_app

TOKEN = "test-token"
HEADERS = {"Authorization": f"Bearer {TOKEN}", "X-GitHub-Api-Version": "2022-11-28"}


def state(**emulator) -> dict:
    commits = [
        {"date": "2026-11-01T10:00:00Z", "message": "add a", "files": {"a.md": "# A\n\nversion 1\n"}},
        {"date": "2026-11-02T10:00:00Z", "message": "add b", "files": {"b.md": "# B\n"}},
        {
            "date": "2026-11-03T10:00:00Z",
            "authored": "2026-10-20T08:00:00Z",
            "message": "change a",
            "files": {"a.md": "# A\n\nversion 2\n"},
        },
        {"date": "2026-11-04T10:00:00Z", "message": "add docs/c", "files": {"docs/c.md": "# C\n"}},
        {"date": "2026-11-05T10:00:00Z", "message": "delete a", "files": {"a.md": None}},
    ]
    repositories = [{"name": "example-org/runbooks", "commits": commits}, {"name": "example-org/empty", "commits": []}]
    return {"emulator": emulator, "repositories": repositories}


class Clock:
    def __init__(self, now: float = 1_800_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


def make_client(clock: Clock | None = None, **emulator) -> TestClient:
    app = create_app(state(**emulator), tokens=(TOKEN,), clock=clock or Clock())
    return TestClient(app, headers=HEADERS)


def ask(client: TestClient, query: str, **variables):
    return client.post("/graphql", json={"query": query, "variables": variables})


def runbooks(client: TestClient, *paths: str, until: str = "2026-11-30T00:00:00Z", repo: str = "runbooks"):
    links = [BlobLink("example-org", repo, "main", path) for path in paths]
    return ask(client, runbooks_query(len(links)), **query_variables(links, until))


def test_the_runbook_query_answers_the_last_commit_and_the_text_at_it():
    response = runbooks(make_client(), "b.md", "a.md", "docs", until="2026-11-03T12:00:00Z")
    assert response.status_code == 200
    body = response.json()
    assert "errors" not in body
    b, a, docs = (body["data"][f"r{i}"]["ref"]["history"]["nodes"] for i in range(3))
    assert b[0]["committedDate"] == "2026-11-02T10:00:00Z" and b[0]["file"]["object"]["text"] == "# B\n"
    assert a[0]["committedDate"] == "2026-11-03T10:00:00Z"  # authored 10-20, landed 11-03
    assert a[0]["file"] == {
        "type": "blob",
        "object": {"__typename": "Blob", "text": "# A\n\nversion 2\n", "isBinary": False, "isTruncated": False},
    }
    assert docs == []  # docs/c.md came on 11-04


def test_a_file_deleted_by_its_last_commit_has_no_file_and_a_folder_is_a_tree():
    body = runbooks(make_client(), "a.md", "docs").json()
    deleted = body["data"]["r0"]["ref"]["history"]["nodes"][0]
    assert deleted["committedDate"] == "2026-11-05T10:00:00Z" and deleted["file"] is None
    assert body["data"]["r1"]["ref"]["history"]["nodes"][0]["file"]["type"] == "tree"


def test_unknown_repositories_refs_and_empty_repositories():
    client = make_client()
    body = runbooks(client, "a.md", repo="nope").json()
    assert body["data"]["r0"] is None
    [error] = body["errors"]
    assert error["type"] == "NOT_FOUND" and error["path"] == ["r0"]
    assert error["message"] == "Could not resolve to a Repository with the name 'example-org/nope'."
    empty = runbooks(client, "a.md", repo="empty").json()["data"]["r0"]
    assert empty == {"isEmpty": True, "ref": None}
    links = [BlobLink("example-org", "runbooks", "release", "a.md")]
    assert (
        ask(client, runbooks_query(1), **query_variables(links, "2026-11-30T00:00:00Z")).json()["data"]["r0"]["ref"]
        is None
    )


def test_object_expressions_with_a_path_give_blobs_and_trees():
    query = (
        '{ r: repository(owner: "example-org", name: "runbooks") { '
        'f: object(expression: "main:b.md") { __typename ... on Blob { text byteSize } } '
        'd: object(expression: "main:docs") { __typename } } }'
    )
    data = ask(make_client(), query).json()["data"]["r"]
    assert data == {"f": {"__typename": "Blob", "text": "# B\n", "byteSize": 4}, "d": {"__typename": "Tree"}}


def test_a_query_costs_its_connections_over_100_and_says_so():
    client = make_client(graphql_rate_limit="5000/3600")
    response = runbooks(client, *["b.md"] * 150)
    rate = response.json()["data"]["rateLimit"]
    assert rate["cost"] == 2 and rate["remaining"] == 4998  # 150 history connections / 100, rounded
    headers = response.headers
    assert headers["x-ratelimit-resource"] == "graphql" and headers["x-ratelimit-used"] == "2"
    assert headers["x-ratelimit-remaining"] == "4998" and headers["x-ratelimit-limit"] == "5000"
    assert client.get("/rate_limit").json()["resources"]["core"]["used"] == 0  # GraphQL is not the REST quota


def test_over_the_points_the_query_is_refused_with_rate_limited():
    clock = Clock()
    client = make_client(clock, graphql_rate_limit="2/60")
    assert runbooks(client, "b.md").status_code == 200
    assert runbooks(client, "b.md").json()["data"]["rateLimit"]["remaining"] == 0
    refused = runbooks(client, "b.md")
    assert refused.status_code == 200 and refused.json()["errors"][0]["type"] == "RATE_LIMITED"
    assert refused.headers["x-ratelimit-remaining"] == "0"
    assert "data" not in refused.json()
    clock.now += 61
    assert runbooks(client, "b.md").json()["data"]["rateLimit"]["remaining"] == 1


def test_a_dry_run_costs_nothing():
    client = make_client(graphql_rate_limit="1/60")
    for _ in range(3):
        body = ask(client, "{ rateLimit(dryRun: true) { cost remaining } }").json()
        assert body["data"]["rateLimit"] == {"cost": 1, "remaining": 1}


def test_the_secondary_limit_answers_403_with_retry_after():
    client = make_client(graphql_secondary_limit="1/60")
    assert runbooks(client, "b.md").status_code == 200
    refused = runbooks(client, "b.md")
    assert refused.status_code == 403 and refused.json()["message"].startswith(
        "You have exceeded a secondary rate limit"
    )
    assert 1 <= int(refused.headers["retry-after"]) <= 60


HISTORY = (
    '{{ repository(owner: "example-org", name: "runbooks") {{ object(expression: "main") {{ '
    "... on Commit {{ history{arguments} {{ totalCount }} }} }} }} }}"
)


@pytest.mark.parametrize(
    ("query", "kind", "message"),
    [
        (
            HISTORY.format(arguments=""),
            "MISSING_PAGINATION_BOUNDARIES",
            "You must provide a `first` or `last` value to properly paginate the `history` connection.",
        ),
        (
            HISTORY.format(arguments="(first: 101)"),
            "EXCESSIVE_PAGINATION",
            "Requesting 101 records on the `history` connection exceeds the `first` limit of 100 records.",
        ),
    ],
)
def test_connections_need_first_or_last_up_to_100(query, kind, message):
    [error] = ask(make_client(), query).json()["errors"]
    assert error["type"] == kind and error["message"] == message


def test_a_query_over_the_node_limit_is_refused():
    body = runbooks(make_client(graphql_max_nodes=2), "a.md", "b.md", "docs").json()
    assert body == {
        "errors": [
            {
                "type": "MAX_NODE_LIMIT_EXCEEDED",
                "message": "This query requests up to 3 possible nodes which exceeds the maximum limit of 2.",
            }
        ]
    }


def test_faults_for_large_queries():
    limited = runbooks(make_client(graphql_resource_limit=1), "a.md", "b.md")
    assert limited.status_code == 200 and limited.json()["errors"][0]["type"] == "RESOURCE_LIMITS_EXCEEDED"
    timeout = runbooks(make_client(graphql_timeout_over=1), "a.md", "b.md")
    assert timeout.status_code == 502
    assert runbooks(make_client(graphql=False), "a.md").status_code == 404


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (
            '{ repository(owner: "example-org", name: "runbooks") { stars } }',
            "Field 'stars' doesn't exist on type 'Repository'",
        ),
        ("query { repository(", 'Parse error on "end of file" (END) at [1, 20], expected a name'),
        (
            "mutation { x }",
            'Parse error on "mutation" (NAME) at [1, 1], expected a query (the emulator answers queries only)',
        ),
        (
            'query($o: String!) { repository(owner: $o, name: "x") { name } }',
            "Variable $o of type String! was provided invalid value",
        ),
    ],
)
def test_invalid_queries_answer_githubs_errors(query, message):
    response = ask(make_client(), query)
    assert response.status_code == 200 and response.json()["errors"][0]["message"] == message
    assert "data" not in response.json()


def test_graphql_needs_the_token():
    response = TestClient(create_app(state(), tokens=(TOKEN,))).post(
        "/graphql", json={"query": "{ rateLimit { cost } }"}
    )
    assert response.status_code == 401
