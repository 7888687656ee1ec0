"""The GitHub emulator's JSON: commits and contents entries shaped like ``api.github.com``'s."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime
from typing import Any

from .state import Commit, Person, Repository

HTML_BASE = "https://github.com"


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _blob_sha(text: str) -> str:
    data = text.encode("utf-8")
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _user(person: Person, api: str) -> dict[str, Any] | None:
    if not person.login:
        return None  # an author GitHub cannot match to an account
    return {
        "login": person.login,
        "id": int(hashlib.sha1(person.login.encode()).hexdigest()[:7], 16),
        "type": "User",
        "site_admin": False,
        "url": f"{api}/users/{person.login}",
        "html_url": f"{HTML_BASE}/{person.login}",
    }


def commit_json(repository: Repository, commit: Commit, api: str) -> dict[str, Any]:
    repo_api = f"{api}/repos/{repository.full_name}"
    signature = {"name": commit.author.name, "email": commit.author.email}
    return {
        "sha": commit.sha,
        "node_id": base64.b64encode(f"C_{commit.sha}".encode()).decode(),
        "commit": {
            "author": {**signature, "date": _iso(commit.authored_at)},
            "committer": {**signature, "date": _iso(commit.committed_at)},
            "message": commit.message,
            "tree": {"sha": hashlib.sha1(f"tree {commit.sha}".encode()).hexdigest(), "url": f"{repo_api}/git/trees"},
            "url": f"{repo_api}/git/commits/{commit.sha}",
            "comment_count": 0,
            "verification": {
                "verified": False,
                "reason": "unsigned",
                "signature": None,
                "payload": None,
                "verified_at": None,
            },
        },
        "url": f"{repo_api}/commits/{commit.sha}",
        "html_url": f"{HTML_BASE}/{repository.full_name}/commit/{commit.sha}",
        "comments_url": f"{repo_api}/commits/{commit.sha}/comments",
        "author": _user(commit.author, api),
        "committer": _user(commit.author, api),
        "parents": (
            [
                {
                    "sha": commit.parent,
                    "url": f"{repo_api}/commits/{commit.parent}",
                    "html_url": f"{HTML_BASE}/{repository.full_name}/commit/{commit.parent}",
                }
            ]
            if commit.parent
            else []
        ),
    }


def entry_json(repository: Repository, path: str, kind: str, ref: str, api: str, text: str | None) -> dict:
    repo_api = f"{api}/repos/{repository.full_name}"
    size = len(text.encode("utf-8")) if text is not None else 0
    sha = _blob_sha(text) if text is not None else hashlib.sha1(f"tree {path}".encode()).hexdigest()
    html_kind = "blob" if kind == "file" else "tree"
    self_url = f"{repo_api}/contents/{path}?ref={ref}"
    git_url = f"{repo_api}/git/{'blobs' if kind == 'file' else 'trees'}/{sha}"
    html_url = f"{HTML_BASE}/{repository.full_name}/{html_kind}/{ref}/{path}"
    download = f"https://raw.githubusercontent.com/{repository.full_name}/{ref}/{path}" if kind == "file" else None
    return {
        "type": kind,
        "size": size,
        "name": path.rsplit("/", 1)[-1],
        "path": path,
        "sha": sha,
        "url": self_url,
        "git_url": git_url,
        "html_url": html_url,
        "download_url": download,
        "_links": {"self": self_url, "git": git_url, "html": html_url},
    }


def wrapped_base64(data: bytes) -> str:
    encoded = base64.b64encode(data).decode()
    return "".join(encoded[i : i + 60] + "\n" for i in range(0, len(encoded), 60))
