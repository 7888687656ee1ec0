"""The catalog emulator against Backstage's OpenAPI (tests/reference/backstage_catalog/openapi.yaml):
answers and errors in the documented shapes, auth, filters, fields, limit and cursor paging."""

from __future__ import annotations

import jsonschema
import pytest
import requests

from readiness_sandbox.backstage.app import DEFAULT_LIMIT, QUERY_PATH, RESTRICTED_TOKEN
from readiness_sandbox.rate_limit import RateLimit

from .conftest import TOKEN, write_users

AUTH = {"Authorization": f"Bearer {TOKEN}"}


def schema(openapi: dict, name: str) -> jsonschema.protocols.Validator:
    """A validator of ``components.schemas.<name>``, its references resolved in the document."""
    document = {"$ref": f"#/components/schemas/{name}", "components": openapi["components"]}
    return jsonschema.Draft202012Validator(document)


def get(url: str, params=None, headers=AUTH) -> requests.Response:
    return requests.get(url + QUERY_PATH, params=params, headers=headers, timeout=10)


def test_the_path_and_its_parameters_are_the_openapi_ones(openapi):
    operation = openapi["paths"]["/entities/by-query"]["get"]
    names = {
        openapi["components"]["parameters"][p["$ref"].rsplit("/", 1)[1]]["name"]
        for p in operation["parameters"]
        if "$ref" in p
    }
    assert {"fields", "limit", "offset", "orderField", "cursor", "filter", "totalItems"} <= names
    assert openapi["components"]["securitySchemes"]["JWT"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
    }
    assert "maximum" not in openapi["components"]["parameters"]["limit"]["schema"]  # Backstage caps no page


def test_a_page_is_an_entities_query_response(serve, openapi):
    with serve() as url:
        whole = get(url, [("filter", "kind=group")])
        pruned = get(url, [("filter", "kind=group"), ("fields", "kind,metadata,spec,relations")])
    assert whole.status_code == pruned.status_code == 200
    body = whole.json()
    schema(openapi, "EntitiesQueryResponse").validate(body)  # whole entities: apiVersion, kind, metadata, ...
    assert {item["kind"] for item in body["items"]} == {"Group"} and body["totalItems"] == len(body["items"]) == 7
    assert body["pageInfo"] == {}  # one page: no cursor
    # fields prune each entity to the roots asked, their subtrees whole (apiVersion cut, as asked)
    kept = ("kind", "metadata", "spec", "relations")
    assert pruned.json()["items"] == [{key: item[key] for key in kept} for item in body["items"]]


@pytest.mark.parametrize(
    ("headers", "status", "name", "message"),
    [
        ({}, 401, "AuthenticationError", "Missing credentials"),
        ({"Authorization": "Bearer not-a-known-token"}, 401, "AuthenticationError", "Illegal token"),
        ({"Authorization": f"Basic {TOKEN}"}, 401, "AuthenticationError", "Missing credentials"),
        (
            {"Authorization": f"Bearer {RESTRICTED_TOKEN}"},
            403,
            "NotAllowedError",
            "This token's access is restricted to plugin(s) 'scaffolder'",
        ),
    ],
)
def test_auth_is_a_static_bearer_token(serve, openapi, headers, status, name, message):
    with serve() as url:
        answer = get(url, [("filter", "kind=group")], headers=headers)
    assert answer.status_code == status
    body = answer.json()
    schema(openapi, "Error").validate(body)
    assert (body["error"]["name"], body["error"]["message"], body["response"]["statusCode"]) == (name, message, status)
    assert body["request"]["method"] == "GET" and body["request"]["url"].startswith(QUERY_PATH)


def test_filter_sets_are_or_ed_and_their_conditions_and_ed(serve):
    with serve() as url:
        groups_and_users = get(url, [("filter", "kind=group"), ("filter", "kind=user"), ("limit", 500)]).json()
        payments_people = get(url, [("filter", "kind=user,relations.memberOf=group:default/payments")]).json()
        services = get(url, [("filter", "kind=component,spec.type=service"), ("limit", 500)]).json()
        teams_only = get(url, [("filter", "kind=Group,spec.type=TEAM")]).json()  # case-insensitive
    assert {item["kind"] for item in groups_and_users["items"]} == {"Group", "User"}
    assert payments_people["totalItems"] > 0
    assert all(
        {"type": "memberOf", "targetRef": "group:default/payments"} in item["relations"]
        for item in payments_people["items"]
    )
    assert {item["spec"]["type"] for item in services["items"]} == {"service"}
    assert {item["spec"]["type"] for item in teams_only["items"]} == {"team"}


def test_fields_keep_only_the_paths_asked(serve):
    with serve() as url:
        body = get(
            url, [("filter", "kind=user"), ("fields", "kind,metadata.name,spec.profile.email"), ("limit", 1)]
        ).json()
    (user,) = body["items"]
    assert set(user) == {"kind", "metadata", "spec"} and set(user["metadata"]) == {"name"}
    assert set(user["spec"]) == {"profile"} and set(user["spec"]["profile"]) == {"email"}


def test_relations_are_resolved_both_ways_as_backstage_does(serve):
    with serve() as url:
        body = get(url, [("filter", "kind=group,metadata.name=commerce"), ("fields", "relations")]).json()
        member = get(url, [("filter", "kind=group,metadata.name=payments"), ("fields", "relations")]).json()
    relations = body["items"][0]["relations"]
    assert {"type": "parentOf", "targetRef": "group:default/payments"} in relations
    own = member["items"][0]["relations"]
    assert {"type": "childOf", "targetRef": "group:default/commerce"} in own
    assert any(r["type"] == "hasMember" for r in own) and any(r["type"] == "ownerOf" for r in own)


def test_the_default_limit_is_the_backends_and_cursors_walk_every_entity_once(serve, tmp_path):
    catalog = write_users(tmp_path, 450)
    seen: list[str] = []
    with serve(catalog) as url:
        body = get(url, [("filter", "kind=user"), ("fields", "metadata.name")]).json()
        first_total = body["totalItems"]
        pages = [body]
        while cursor := body["pageInfo"].get("nextCursor"):
            # a filter beside a cursor is ignored: the cursor carries the query
            body = get(url, [("cursor", cursor), ("filter", "kind=group"), ("fields", "metadata.name")]).json()
            pages.append(body)
    for page in pages:
        seen += [item["metadata"]["name"] for item in page["items"]]
        assert page["totalItems"] == first_total == 450
    assert [len(page["items"]) for page in pages] == [DEFAULT_LIMIT, DEFAULT_LIMIT, 50]
    assert len(seen) == len(set(seen)) == 450
    assert "prevCursor" in pages[1]["pageInfo"] and "prevCursor" not in pages[0]["pageInfo"]


def test_a_gateway_cap_answers_fewer_than_asked_and_the_cursor_goes_on(serve, tmp_path):
    catalog = write_users(tmp_path, 120)
    with serve(catalog, max_limit=50) as url:
        body = get(url, [("filter", "kind=user"), ("limit", 1000)]).json()
    assert len(body["items"]) == 50 and body["totalItems"] == 120 and body["pageInfo"]["nextCursor"]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ([("limit", "-1")], "Invalid limit query parameter"),
        ([("limit", "ten")], "Invalid limit query parameter"),
        ([("cursor", "not-a-cursor")], "Malformed cursor"),
        ([("filter", "kind=user,")], "Invalid filter"),
    ],
)
def test_malformed_queries_are_400_input_errors(serve, openapi, params, message):
    with serve() as url:
        answer = get(url, params)
    assert answer.status_code == 400
    schema(openapi, "Error").validate(answer.json())
    assert answer.json()["error"]["name"] == "InputError" and message in answer.json()["error"]["message"]


def test_past_the_rate_limit_429_says_when_to_retry(serve):
    with serve(rate_limit=RateLimit(2, 60)) as url:
        answers = [get(url, [("filter", "kind=group")]) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert int(answers[2].headers["Retry-After"]) >= 1
