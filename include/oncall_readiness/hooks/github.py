"""The GitHub hook: connection type ``readiness_github``, a token, api.github.com (or GitHub Enterprise)."""

from __future__ import annotations

from typing import Any

from oncall_readiness.hooks.base import ReadinessHook
from oncall_readiness.sources.github import API_URL, GitHubClient


class GitHubHook(ReadinessHook):
    """GitHub REST API: a token that can read the runbook repositories in the password."""

    default_conn_name = "github_default"
    conn_type = "readiness_github"
    title = "GitHub"
    api_url = API_URL
    host_hint = "the API base URL, https://api.github.com by default, https://<host>/api/v3 for GitHub Enterprise"

    def client(self, conn: Any, **options: Any) -> GitHubClient:
        return GitHubClient(self.token(conn), base_url=self.url(conn), **options)

    def probe(self, client: GitHubClient) -> None:
        client.get("/rate_limit")  # authenticated, and free of the rate limit
