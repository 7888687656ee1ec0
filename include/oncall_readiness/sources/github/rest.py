"""GitHub runbooks through the REST API: two calls per runbook, for hosts without GraphQL.

Per runbook, as of the audit instant:

1. ``GET /repos/{owner}/{repo}/commits?sha=<ref>&path=<path>&until=<instant>&per_page=1``:
   the newest commit on the ref that touched the file at or before the instant; its
   ``commit.committer.date`` (when the change landed on the branch) is ``last_changed``;
2. ``GET /repos/{owner}/{repo}/contents/<path>?ref=<that commit's sha>``: the Markdown as it
   was then, skipped when step 1 found nothing (files over 1 MB: one more call for the raw
   file).

404 is an unknown repository or ref (or one the token cannot see), 409 an empty repository.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import requests

from oncall_readiness.errors import SourceError
from oncall_readiness.sources.github import files
from oncall_readiness.sources.github.client import ACCEPT_RAW, SOURCE, GitHubClient
from oncall_readiness.sources.github.files import BlobLink


def read_runbook(client: GitHubClient, link: BlobLink, until: str) -> dict[str, Any]:
    """The facts of one runbook as of ``until`` (ISO 8601 UTC), in one or two calls."""
    repo_path = f"/repos/{quote(link.owner)}/{quote(link.repo)}"
    params = {"sha": link.ref, "path": link.path, "until": until, "per_page": 1}
    response = client.get(f"{repo_path}/commits", params, absent=(404, 409))
    if response.status_code == 404:
        message = _message(response)
        if message.startswith("No commit found"):
            return files.unknown_ref(link, message)
        return files.unknown_repository(link, f"404 {message}")
    if response.status_code == 409:
        return files.empty_repository(link)
    commits = response.json()
    if not isinstance(commits, list):
        raise SourceError(f"{SOURCE}: GET {repo_path}/commits answered without a list of commits")
    if not commits:
        return files.no_history(link)
    sha = commits[0]["sha"]
    changed = (commits[0].get("commit") or {}).get("committer", {}).get("date")
    contents = client.get(f"{repo_path}/contents/{quote(link.path)}", {"ref": sha}, absent=(404,))
    if contents.status_code == 404:
        return files.deleted(link, sha, changed)
    body = contents.json()
    if isinstance(body, list):
        return files.not_a_file(link, "folder", sha, changed)
    if body.get("type") != "file":
        return files.not_a_file(link, str(body.get("type")), sha, changed)
    return files.found(_text(client, body, f"{repo_path}/contents/{quote(link.path)}", sha), sha, changed)


def raw_text(client: GitHubClient, link: BlobLink, sha: str) -> str:
    """The file's text at ``sha`` as raw bytes (for files too large for the JSON answers)."""
    path = f"/repos/{quote(link.owner)}/{quote(link.repo)}/contents/{quote(link.path)}"
    return client.get(path, {"ref": sha}, headers={"Accept": ACCEPT_RAW}).text


def _text(client: GitHubClient, body: Mapping[str, Any], path: str, sha: str) -> str:
    if body.get("encoding") == "base64":
        return base64.b64decode(body.get("content") or "").decode("utf-8", errors="replace")
    # Files over 1 MB come without content: ask for the raw file instead (one more call).
    return client.get(path, {"ref": sha}, headers={"Accept": ACCEPT_RAW}).text


def _message(response: requests.Response) -> str:
    try:
        return str(response.json().get("message") or response.reason)
    except (ValueError, AttributeError):
        return str(response.reason)
