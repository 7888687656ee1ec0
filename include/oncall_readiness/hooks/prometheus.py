"""The Prometheus hook: connection type ``readiness_prometheus``, any server with the Prometheus rules API."""

from __future__ import annotations

from typing import Any

from oncall_readiness.hooks.base import ReadinessHook
from oncall_readiness.sources.prometheus import RULES_PATH, PrometheusClient


class PrometheusHook(ReadinessHook):
    """Prometheus, Thanos, Mimir or Cortex: the base URL in the host; optional basic auth or a bearer token."""

    default_conn_name = "prometheus_default"
    conn_type = "readiness_prometheus"
    title = "Prometheus"
    host_hint = "the Prometheus URL, e.g. http://prometheus:9090 or https://mimir.example.com/prometheus"

    def client(self, conn: Any, **options: Any) -> PrometheusClient:
        login = (conn.login or "").strip() or None
        return PrometheusClient(self.url(conn), login=login, password=self.token(conn, required=False), **options)

    def probe(self, client: PrometheusClient) -> None:
        client.get(RULES_PATH)
