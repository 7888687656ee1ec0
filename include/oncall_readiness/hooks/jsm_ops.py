"""The JSM Operations hook: connection type ``readiness_jsm_ops``, the site, an account's email and API token.

The connection: the site in the host (``https://your-site.atlassian.net``), the email of the
Atlassian account the audit calls as in the login, its API token in the password (Basic auth;
Atlassian's service accounts cannot call the operations API). The extra may say::

    {"cloud_id": "<the site's cloud id>", "api_url": "https://api.atlassian.com/jsm/ops/api"}

``cloud_id``: read from ``https://<site>/_edge/tenant_info`` when absent. ``api_url``: where the
operations API is, ``https://api.atlassian.com/jsm/ops/api`` by default; a path (``/jsm/ops/api``)
is taken below the site's URL, for a proxy or an emulator serving both.
"""

from __future__ import annotations

from typing import Any

from oncall_readiness.errors import ConnectionConfigError
from oncall_readiness.hooks.base import ReadinessHook
from oncall_readiness.sources.jsm_ops.client import API_URL, JsmOpsClient


class JsmOpsHook(ReadinessHook):
    """JSM Operations REST API: the site URL in the host, the account's email in the login, an API token."""

    default_conn_name = "jsm_ops_default"
    conn_type = "readiness_jsm_ops"
    title = "JSM Operations"
    host_hint = "the Jira site, e.g. https://your-site.atlassian.net"

    def client(self, conn: Any, **options: Any) -> JsmOpsClient:
        email = (conn.login or "").strip()
        if not email or "@" not in email:
            raise ConnectionConfigError(f"Airflow connection {self.conn_id!r} has no account email in its login field")
        return JsmOpsClient(email, self.token(conn), site_url=self.url(conn), **self.reading(conn), **options)

    def reading(self, conn: Any) -> dict[str, Any]:
        """``cloud_id`` and ``api_url`` from the connection's extra, checked (the error names the field)."""
        extra = conn.extra_dejson if getattr(conn, "extra", None) else {}
        cloud_id = str(extra.get("cloud_id") or "").strip() or None
        api_url = str(extra.get("api_url") or API_URL).strip()
        if not (api_url.startswith("/") or api_url.startswith(("https://", "http://"))):
            raise ConnectionConfigError(
                f"Airflow connection {self.conn_id!r} has extra api_url={extra.get('api_url')!r}: use an http(s) "
                "URL or a path below the site (/jsm/ops/api)"
            )
        if cloud_id is not None and any(c.isspace() or c == "/" for c in cloud_id):
            raise ConnectionConfigError(
                f"Airflow connection {self.conn_id!r} has extra cloud_id={cloud_id!r}: use the site's cloud id"
            )
        return {"cloud_id": cloud_id, "api_url": api_url}

    def probe(self, client: JsmOpsClient) -> None:
        client.get("/v1/teams")  # the cloud id, then an authenticated read of the operations API
