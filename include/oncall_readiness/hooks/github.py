"""The GitHub hook: connection type ``readiness_github``, a token, api.github.com (or GitHub Enterprise).

The connection's extra may say how runbooks are read (see ``sources/github.py``)::

    {"api": "graphql", "graphql_batch_size": 100}

``api``: ``graphql`` (the default: up to 100 runbooks per query) or ``rest`` (two calls per
runbook, for a GitHub Enterprise host without GraphQL); ``graphql_batch_size``: runbooks per
GraphQL query, 1 to 100 (lower it when GitHub times out on large queries; the client also
halves it by itself on a timeout or resource-limit answer).
"""

from __future__ import annotations

from typing import Any

from oncall_readiness.errors import ConnectionConfigError
from oncall_readiness.hooks.base import ReadinessHook
from oncall_readiness.sources.github.client import API_URL, APIS, DEFAULT_BATCH_SIZE, MAX_BATCH_SIZE, GitHubClient


class GitHubHook(ReadinessHook):
    """GitHub's REST and GraphQL APIs: a token that can read the runbook repositories in the password."""

    default_conn_name = "github_default"
    conn_type = "readiness_github"
    title = "GitHub"
    api_url = API_URL
    host_hint = "the API base URL, https://api.github.com by default, https://<host>/api/v3 for GitHub Enterprise"

    def client(self, conn: Any, **options: Any) -> GitHubClient:
        return GitHubClient(self.token(conn), base_url=self.url(conn), **self.reading(conn), **options)

    def reading(self, conn: Any) -> dict[str, Any]:
        """``api`` and ``batch_size`` from the connection's extra, checked (the error names the field)."""
        extra = conn.extra_dejson if getattr(conn, "extra", None) else {}
        api = str(extra.get("api") or "graphql").strip().lower()
        if api not in APIS:
            raise ConnectionConfigError(
                f"Airflow connection {self.conn_id!r} has extra api={extra.get('api')!r}: use one of {', '.join(APIS)}"
            )
        size = extra.get("graphql_batch_size", DEFAULT_BATCH_SIZE)
        if isinstance(size, bool) or not str(size).strip().isdigit() or not 1 <= int(size) <= MAX_BATCH_SIZE:
            raise ConnectionConfigError(
                f"Airflow connection {self.conn_id!r} has extra graphql_batch_size={size!r}: use a whole number "
                f"from 1 to {MAX_BATCH_SIZE}"
            )
        return {"api": api, "batch_size": int(size)}

    def probe(self, client: GitHubClient) -> None:
        client.get("/rate_limit")  # authenticated, and free of the rate limit
