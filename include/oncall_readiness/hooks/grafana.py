"""The Grafana hook: connection type ``readiness_grafana``, the instance URL and a service account token."""

from __future__ import annotations

from typing import Any

from oncall_readiness.hooks.base import ReadinessHook
from oncall_readiness.sources.grafana import GrafanaClient
from oncall_readiness.sources.pool import concurrency_setting


class GrafanaHook(ReadinessHook):
    """Grafana HTTP API: the instance's URL in the host, a service account token (Viewer) in the password."""

    default_conn_name = "grafana_default"
    conn_type = "readiness_grafana"
    title = "Grafana"
    host_hint = "the Grafana URL, e.g. https://grafana.example.com"

    def client(self, conn: Any, **options: Any) -> GrafanaClient:
        options.setdefault("concurrency", concurrency_setting(conn.extra_dejson, conn_id=self.conn_id))
        return GrafanaClient(self.token(conn), base_url=self.url(conn), **options)

    def probe(self, client: GrafanaClient) -> None:
        client.get("/api/search", {"limit": 1})
