"""The sandbox's latency and request counting, which the benchmark reads its request figures from."""

from __future__ import annotations

import asyncio
import time

import requests
from fastapi import FastAPI
from fastapi.testclient import TestClient

from readiness_sandbox.in_thread import serving_in_thread
from readiness_sandbox.process import running_sandbox
from readiness_sandbox.traffic import COUNTS_PATH, Traffic, endpoint


def _app() -> FastAPI:
    emulator = FastAPI()

    @emulator.get("/api/teams/{team_id}/members")
    def members(team_id: int) -> list[dict]:
        return [] if team_id < 100 else []

    @emulator.get("/slow")
    def slow() -> dict:
        time.sleep(0.15)  # the emulator's own work, longer than the latency
        return {}

    @emulator.get("/boom")
    def boom() -> dict:
        raise RuntimeError("emulator bug")

    root = FastAPI()
    root.mount("/grafana", emulator)
    return root


def test_endpoints_fold_ids_so_counts_group_by_endpoint():
    assert endpoint("/grafana/api/teams/42/members") == "/grafana/api/teams/{id}/members"
    assert endpoint("/pagerduty/users") == "/pagerduty/users"
    assert endpoint("/github/repos/org/team-0001-runbooks/contents/a/b/c.md") == "/github/repos/org/{id}/contents/a"


def test_each_emulator_request_waits_the_latency_and_is_counted_by_status():
    traffic = Traffic(_app(), sources=["grafana"], latency=0.05)
    with TestClient(traffic, raise_server_exceptions=False) as client:
        started = time.perf_counter()
        for team in (1, 2, 3):
            assert client.get(f"/grafana/api/teams/{team}/members").status_code == 200
        assert time.perf_counter() - started >= 3 * 0.05
        assert client.get("/grafana/nowhere").status_code == 404
        assert client.get("/grafana/boom").status_code == 500
        counts = client.get(COUNTS_PATH, params={"reset": "true"}).json()
        assert client.get(COUNTS_PATH).json()["requests"] == []  # reset, and the counts endpoint is not counted
    assert counts["latency_ms"] == 50
    assert all(0 <= row["server_seconds"] < 0.05 * row["requests"] for row in counts["requests"])  # latency not in it
    assert {(row["endpoint"], row["status"]): row["requests"] for row in counts["requests"]} == {
        ("/grafana/api/teams/{id}/members", 200): 3,
        ("/grafana/nowhere", 404): 1,
        ("/grafana/boom", 500): 1,
    }


def test_the_latency_is_the_least_round_trip_with_the_emulators_work_inside_it():
    traffic = Traffic(_app(), sources=["grafana"], latency=0.05)
    with TestClient(traffic) as client:
        client.get("/grafana/api/teams/1/members")  # the app's first request pays its start-up
        started = time.perf_counter()
        assert client.get("/grafana/api/teams/2/members").status_code == 200
        cheap = time.perf_counter() - started
        started = time.perf_counter()
        assert client.get("/grafana/slow").status_code == 200
        slow = time.perf_counter() - started
        counts = client.get(COUNTS_PATH).json()["requests"]
    assert cheap >= 0.05  # held back until the latency has passed
    assert 0.15 <= slow < 0.15 + 0.04  # not 0.20: the emulator's work counts inside the latency
    seconds = {row["endpoint"]: row["server_seconds"] for row in counts}
    assert 0.15 <= seconds["/grafana/slow"] < 0.15 + 0.04  # its own work, no wait for the latency
    assert seconds["/grafana/api/teams/{id}/members"] < 0.05  # the latency is not the emulator's


def test_the_sandbox_process_delays_and_counts_what_its_clients_send():
    with running_sandbox(latency_ms=40) as sandbox:
        feed = sandbox.connections()["chaos_calendar"]
        started = time.perf_counter()
        response = requests.get(feed["host"], auth=(feed["login"], feed["password"]), timeout=10)
        elapsed = time.perf_counter() - started
        assert response.status_code == 200
        rows = sandbox.request_counts()
    assert elapsed >= 0.04
    assert rows[0].pop("server_seconds") >= 0
    assert rows == [
        {
            "source": "chaos_calendar",
            "method": "GET",
            "endpoint": "/chaos_calendar/calendars/chaos-days.ics",
            "status": 200,
            "requests": 1,
        }
    ]


def test_one_emulator_can_get_its_own_rate_limit():
    from readiness_sandbox.emulators import EMULATORS
    from readiness_sandbox.rate_limit import RateLimit
    from readiness_sandbox.server import _parse_args, build_app

    args = _parse_args(["--source-rate-limit", "grafana=3/60", "--latency-ms", "20"])
    assert dict(args.source_rate_limit) == {"grafana": RateLimit(3, 60)} and args.latency_ms == 20
    states = {source: EMULATORS[source].load() for source in ("grafana", "chaos_calendar")}
    app = build_app(states, tokens=["t"], source_rate_limits=dict(args.source_rate_limit))
    with TestClient(app) as client:
        codes = [client.get("/grafana/api/search", headers={"Authorization": "Bearer t"}).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    with TestClient(app) as client:  # the other emulators keep their default (960 a minute)
        feed = [client.get("/chaos_calendar/calendars/chaos-days.ics", auth=("a", "t")).status_code for _ in range(4)]
    assert feed == [200] * 4


def test_a_recording_sandbox_keeps_each_request_as_sent_in_arrival_order_without_its_headers():
    emulator = FastAPI()

    @emulator.post("/analytics/raw/incidents")
    def raw(body: dict) -> dict:
        return {"data": [], "echo": body}

    root = FastAPI()
    root.mount("/pagerduty", emulator)
    traffic = Traffic(root, sources=["pagerduty"], record=True)
    with TestClient(traffic) as client:
        client.get("/pagerduty/users", params={"team_ids[]": ["PT1", "PT2"], "offset": 100})
        client.post("/pagerduty/analytics/raw/incidents", json={"limit": 1000}, headers={"Authorization": "secret"})
        answer = client.get(COUNTS_PATH, params={"log": "true", "reset": "true"}).json()
        after_reset = client.get(COUNTS_PATH, params={"log": "true"}).json()
    times = [(entry.pop("arrived"), entry.pop("answered")) for entry in answer["log"]]
    assert times[0][0] <= times[0][1] <= times[1][0] <= times[1][1]  # one after the other, as they were sent
    assert answer["log"] == [
        {
            "source": "pagerduty",
            "method": "GET",
            "path": "/pagerduty/users",
            "query": "team_ids%5B%5D=PT1&team_ids%5B%5D=PT2&offset=100",
            "body": "",
            "status": 404,
        },
        {
            "source": "pagerduty",
            "method": "POST",
            "path": "/pagerduty/analytics/raw/incidents",
            "query": "",
            "body": '{"limit":1000}',
            "status": 200,
        },
    ]
    assert "secret" not in str(answer)
    assert after_reset["log"] == [] and after_reset["requests"] == []


def test_a_sandbox_that_does_not_record_keeps_no_requests():
    traffic = Traffic(_app(), sources=["grafana"])
    with TestClient(traffic) as client:
        client.get("/grafana/api/teams/1/members")
        answer = client.get(COUNTS_PATH, params={"log": "true"}).json()
    assert answer["log"] == [] and answer["requests"][0]["requests"] == 1


def test_a_request_is_counted_and_logged_before_its_client_can_read_the_end_of_the_answer():
    async def answers_then_lingers(scope, receive, send):  # an app whose work goes on after its answer
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"{}"})
        await asyncio.sleep(0.5)

    traffic = Traffic(answers_then_lingers, sources=["pagerduty"], record=True)
    with serving_in_thread(traffic) as base:
        assert requests.get(f"{base}/pagerduty/users", timeout=5).status_code == 200
        answer = requests.get(f"{base}{COUNTS_PATH}", params={"log": "true"}, timeout=5).json()
    assert [row["requests"] for row in answer["requests"]] == [1]
    assert [entry["status"] for entry in answer["log"]] == [200]
