"""The Jira hook: connection type ``readiness_jira``, the site, an account email and API token."""

from __future__ import annotations

from typing import Any, cast

from oncall_readiness.errors import ConnectionConfigError
from oncall_readiness.hooks.base import ReadinessHook
from oncall_readiness.hooks.confluence import ConfluenceHook
from oncall_readiness.sources.confluence import ConfluenceClient
from oncall_readiness.sources.jira import JiraClient


class JiraHook(ReadinessHook):
    """Jira Cloud: the site URL in the host, the account's email in the login, an API token in the password."""

    default_conn_name = "jira_default"
    conn_type = "readiness_jira"
    title = "Jira"
    host_hint = "the Jira site, e.g. https://example.atlassian.net"

    def client(self, conn: Any, **options: Any) -> JiraClient:
        email = (conn.login or "").strip()
        if not email:
            raise ConnectionConfigError(f"Airflow connection {self.conn_id!r} has no account email in its login field")
        return JiraClient(email, self.token(conn), base_url=self.url(conn), **options)

    def confluence_client(self) -> ConfluenceClient:
        """The client of the Confluence site whose reviews link the action items (``confluence_default``)."""
        return cast(ConfluenceClient, ConfluenceHook().get_conn())

    def probe(self, client: JiraClient) -> None:
        client.get("/rest/api/3/myself")
