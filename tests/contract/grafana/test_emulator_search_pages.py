"""The Grafana emulator keeps a search's hits for its next pages: each page is still what that search finds.

Paging one search gives its hits each once, in Grafana's order; another search (another query,
type, tag or folder) is not answered from the first one's hits.
"""

from __future__ import annotations

from fastapi.testclient import TestClient

from readiness_sandbox.grafana.app import create_app
from readiness_sandbox.rate_limit import RateLimit

TOKEN = "glsa_test-token"
STATE = {
    "folders": [{"uid": "shop", "title": "Shop"}, {"uid": "ops", "title": "Ops"}],
    "dashboards": [
        {"uid": f"d{i}", "title": f"Board {i:02d}", "folder": "shop" if i % 2 else "ops", "tags": ["odd"] * (i % 2)}
        for i in range(7)
    ],
    "teams": [],
    "alert_rules": [],
}


def _search(client: TestClient, **params) -> list[str]:
    response = client.get("/api/search", params=params)
    assert response.status_code == 200, response.text
    return [hit["uid"] for hit in response.json()]


def test_the_pages_of_a_search_are_its_hits_each_once_and_other_searches_are_their_own():
    app = create_app(STATE, tokens=[TOKEN], rate_limit=RateLimit(1000, 1))
    client = TestClient(app, headers={"Authorization": f"Bearer {TOKEN}"})
    whole = _search(client, type="dash-db")
    paged = [uid for page in (1, 2, 3) for uid in _search(client, type="dash-db", limit=3, page=page)]
    assert paged == whole == [f"d{i}" for i in range(7)]
    assert _search(client, type="dash-db", limit=3, page=4) == []
    assert _search(client, type="dash-db", tag="odd") == ["d1", "d3", "d5"]
    assert _search(client, type="dash-db", folderUIDs="ops", limit=2, page=2) == ["d4", "d6"]
    assert _search(client, query="board 0") == [f"d{i}" for i in range(7)]
    assert _search(client) == ["shop", "ops", *whole]  # folders first, then dashboards
