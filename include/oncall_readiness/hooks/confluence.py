"""The Confluence hook: connection type ``readiness_confluence``, the site, an account email and API token."""

from __future__ import annotations

from typing import Any

from oncall_readiness.errors import ConnectionConfigError
from oncall_readiness.hooks.base import ReadinessHook
from oncall_readiness.sources.confluence import ConfluenceClient
from oncall_readiness.sources.pool import concurrency_setting


class ConfluenceHook(ReadinessHook):
    """Confluence Cloud: the site URL in the host, the account's email in the login, an API token in the password."""

    default_conn_name = "confluence_default"
    conn_type = "readiness_confluence"
    title = "Confluence"
    host_hint = "the Confluence site, e.g. https://example.atlassian.net"

    def client(self, conn: Any, **options: Any) -> ConfluenceClient:
        email = (conn.login or "").strip()
        if not email:
            raise ConnectionConfigError(f"Airflow connection {self.conn_id!r} has no account email in its login field")
        options.setdefault("concurrency", concurrency_setting(conn.extra_dejson, conn_id=self.conn_id))
        return ConfluenceClient(email, self.token(conn), base_url=self.url(conn), **options)

    def probe(self, client: ConfluenceClient) -> None:
        client.get("/wiki/rest/api/user/current")
