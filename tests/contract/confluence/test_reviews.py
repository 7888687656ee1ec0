"""The post-incident reviews on Confluence: the CQL search, its next links, v2 bodies and read restrictions.

The emulator answers the CQL clauses the collector sends (labels, spaces, last modified) and
the restrictions as Confluence's v1 API shapes them; the collector is held to both.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from oncall_readiness.errors import SourceError
from oncall_readiness.sources.confluence import ConfluenceClient
from oncall_readiness.sources.confluence_reviews import cql, read_reviews, review_spaces
from oncall_readiness.sources.window import AuditWindow
from readiness_sandbox.confluence.app import SANDBOX_EMAIL, create_app
from readiness_sandbox.in_thread import serving_in_thread

TOKEN = "test-token"
INSTANT = pd.Timestamp("2026-11-16T00:00:00Z")
WINDOW = AuditWindow(instant=INSTANT, look_back_days=28, labels=("postmortem",))


def page(page_id: int, *, space="SHOP", labels=("postmortem",), when="2026-11-10T10:00:00Z", body="<p>#1</p>", **more):
    return {
        "id": str(page_id),
        "title": f"Review {page_id}",
        "space": space,
        "labels": list(labels),
        "versions": [{"when": when, "by": "Ada", "body": body}],
        **more,
    }


def state(*pages) -> dict:
    return {"users": [SANDBOX_EMAIL], "pages": list(pages)}


def emulator(*pages) -> TestClient:
    client = TestClient(create_app(state(*pages), tokens=(TOKEN,)))
    client.auth = (SANDBOX_EMAIL, TOKEN)
    return client


def test_cql_selects_by_label_space_and_last_modified():
    client = emulator(
        page(1),
        page(2, labels=("runbook",)),
        page(3, space="OTHER"),
        page(4, when="2026-09-01T00:00:00Z"),
    )
    query = cql(["postmortem"], ["SHOP"], INSTANT - pd.Timedelta(days=28))
    assert query == 'type = page AND label in ("postmortem") AND space in ("SHOP") AND lastmodified >= "2026-10-19"'
    answer = client.get("/wiki/rest/api/search", params={"cql": query}).json()
    assert [hit["content"]["id"] for hit in answer["results"]] == ["1"]
    assert answer["results"][0]["resultGlobalContainer"]["displayUrl"] == "/spaces/SHOP"
    assert answer["totalSize"] == 1 and answer["cqlQuery"] == query


def test_cql_the_emulator_cannot_parse_answers_400():
    response = emulator(page(1)).get("/wiki/rest/api/search", params={"cql": "text ~ 'outage'"})
    assert response.status_code == 400 and "Could not parse cql" in response.json()["message"]


def test_search_pages_follow_next_links_relative_to_wiki():
    client = emulator(*(page(n) for n in range(1, 61)))
    first = client.get("/wiki/rest/api/search", params={"cql": "label = postmortem", "limit": 500}).json()
    assert first["limit"] == 50 and len(first["results"]) == 50
    assert first["_links"]["next"].startswith("/rest/api/search?")
    second = client.get("/wiki" + first["_links"]["next"]).json()
    assert len(second["results"]) == 10 and "next" not in second["_links"]


def test_read_restrictions_are_expanded_on_request():
    client = emulator(page(1, restrictions={"read": {"users": ["Ada"], "groups": ["leads"]}}), page(2))
    path = "/wiki/rest/api/content/{}/restriction/byOperation/read"
    bare = client.get(path.format(1)).json()
    assert bare["operation"] == "read" and "user" not in bare["restrictions"]
    expanded = client.get(path.format(1), params={"expand": "restrictions.user,restrictions.group"}).json()
    assert expanded["restrictions"]["group"]["results"][0]["name"] == "leads"
    assert expanded["restrictions"]["user"]["size"] == 1
    open_page = client.get(path.format(2), params={"expand": "restrictions.user,restrictions.group"}).json()
    assert open_page["restrictions"]["user"]["results"] == [] and open_page["restrictions"]["group"]["results"] == []
    assert client.get(path.format(99)).status_code == 404


@pytest.fixture(scope="module")
def site():
    pages = [
        page(1, body='<p>Incident Q0ABC123 (#12).</p><ac:parameter ac:name="key">SHOP-1</ac:parameter>'),
        page(2, restrictions={"read": {"groups": ["leads"]}}),
        page(3, when="2026-11-20T00:00:00Z"),  # created after the audit instant
        *(page(n, body=f"<p>#{n}</p>") for n in range(100, 160)),
    ]
    with serving_in_thread(create_app(state(*pages), tokens=(TOKEN,))) as url:
        yield url


def test_the_collector_reads_every_review_with_its_references_and_restriction(site):
    client = ConfluenceClient(SANDBOX_EMAIL, TOKEN, base_url=site)
    facts = read_reviews(client, labels=["postmortem"], spaces=["SHOP"], window=WINDOW)
    reviews = facts["confluence_reviews"].set_index("page_id")
    assert len(reviews) == 62 and "3" not in reviews.index
    assert reviews.at["1", "incident_ids"] == "Q0ABC123" and reviews.at["1", "incident_numbers"] == "12"
    assert reviews.at["1", "jira_keys"] == "SHOP-1" and reviews.at["1", "space"] == "SHOP"
    assert reviews.at["2", "restricted"] and not reviews.at["1", "restricted"]
    assert reviews.at["1", "url"] == f"{site}/wiki/spaces/SHOP/pages/1/Review+1"
    assert reviews.at["1", "created"] == pd.Timestamp("2026-11-10T10:00:00Z")
    # Two search pages, one v2 page read, one restriction read per review.
    assert client.requests_made == 2 + 1 + 63 - 1
    links = facts["confluence_links"]
    assert links.to_dict("records") == [
        {"subject": "incident:Q0ABC123", "name": "Review 1", "url": f"{site}/wiki/spaces/SHOP/pages/1/Review+1"}
    ]


def test_a_search_refused_is_a_source_error(site):
    with pytest.raises(SourceError, match="401"):
        read_reviews(
            ConfluenceClient(SANDBOX_EMAIL, "wrong", base_url=site), labels=["postmortem"], spaces=None, window=WINDOW
        )


def test_review_spaces_come_from_the_nearest_group_or_none_when_a_team_has_none():
    teams = pd.DataFrame(
        {"team": ["org", "shop", "ops"], "parent": [None, "org", "org"], "review_space": ["ORG", "SHOP, PAY", None]}
    )
    assert review_spaces(teams) == ["ORG", "PAY", "SHOP"]
    teams.loc[0, "review_space"] = None
    assert review_spaces(teams) is None  # ops has no review space: search everywhere


def test_a_search_cut_short_is_a_source_error_not_a_missing_review(site, monkeypatch):
    client = ConfluenceClient(SANDBOX_EMAIL, TOKEN, base_url=site)
    real_get = client.get

    def cut(path, params=None, **options):
        response = real_get(path, params, **options)
        if path.endswith("/search") and "next" not in response.json()["_links"]:
            body = response.json()
            body["results"].pop()
            response._content = json.dumps(body).encode()
        return response

    monkeypatch.setattr(client, "get", cut)
    with pytest.raises(SourceError, match="cut short"):
        read_reviews(client, labels=["postmortem"], spaces=["SHOP"], window=WINDOW)
