"""The Test button's port: 0 for a saved readiness connection (oncall_readiness.api.connection_test)."""

from __future__ import annotations

import asyncio
import json

from oncall_readiness.api.connection_test import PortlessConnectionTest, portless


def test_port_zero_of_a_readiness_connection_becomes_no_port():
    body = json.dumps({"connection_id": "pagerduty_default", "conn_type": "readiness_pagerduty", "port": 0}).encode()
    assert json.loads(portless(body))["port"] is None


def test_other_connections_real_ports_and_bad_bodies_pass_unchanged():
    for test in (
        {"conn_type": "http", "port": 0},  # not ours: Airflow decides
        {"conn_type": "readiness_pagerduty", "port": 8443},  # a real port: another destination stays refused
        {"conn_type": "readiness_pagerduty"},
        {"conn_type": "readiness_pagerduty", "port": False},
    ):
        body = json.dumps(test).encode()
        assert portless(body) == body
    assert portless(b"not json") == b"not json"


def test_the_middleware_replays_the_normalised_body_with_its_length():
    seen = {}

    async def app(scope, receive, send):
        seen["headers"] = dict(scope["headers"])
        seen["body"] = (await receive())["body"]

    body = json.dumps({"conn_type": "readiness_grafana", "port": 0, "host": "https://grafana"}).encode()
    chunks = [
        {"type": "http.request", "body": body[:10], "more_body": True},
        {"type": "http.request", "body": body[10:]},
    ]

    async def receive():
        return chunks.pop(0)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/api/v2/connections/test",
        "headers": [(b"content-length", b"1")],
    }
    asyncio.run(PortlessConnectionTest(app)(scope, receive, None))
    assert json.loads(seen["body"])["port"] is None
    assert seen["headers"][b"content-length"] == str(len(seen["body"])).encode()
