"""The PagerDuty hook: connection type ``readiness_pagerduty``, an API token, api.pagerduty.com by default."""

from __future__ import annotations

from typing import Any

from oncall_readiness.hooks.base import ReadinessHook
from oncall_readiness.sources.pagerduty import API_URL, PagerDutyClient


class PagerDutyHook(ReadinessHook):
    """PagerDuty REST API v2: a read-only API token (User or Account token) in the password."""

    default_conn_name = "pagerduty_default"
    conn_type = "readiness_pagerduty"
    title = "PagerDuty"
    api_url = API_URL
    host_hint = "the API base URL, https://api.pagerduty.com by default"

    def client(self, conn: Any, **options: Any) -> PagerDutyClient:
        return PagerDutyClient(self.token(conn), base_url=self.url(conn), **options)

    def probe(self, client: PagerDutyClient) -> None:
        client.get("/users", {"limit": 1})
