"""GitHub runbook files: their blob links, their Markdown headings, and the fact one read makes.

Shared by the two ways of reading them (:mod:`.graphql`, :mod:`.rest`) so that both
give the same facts and the same reasons for an unreadable runbook.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from oncall_readiness.runbook_facts import is_github_url
from oncall_readiness.sources.runbooks import heading_text, runbook_parts


@dataclass(frozen=True)
class BlobLink:
    owner: str
    repo: str
    ref: str
    path: str

    @property
    def repository(self) -> str:
        return f"{self.owner}/{self.repo}"


_BLOB_PATH = re.compile(r"^/(?P<owner>[^/]+)/(?P<repo>[^/]+)/blob/(?P<ref>[^/]+)/(?P<path>.+?)/*$")


def parse_blob_url(url: str) -> BlobLink | None:
    """``https://github.com/o/r/blob/main/docs/x.md#anchor`` → BlobLink(o, r, main, docs/x.md); else None."""
    if not is_github_url(url):
        return None
    match = _BLOB_PATH.match(urlsplit(url.strip()).path)
    if not match:
        return None
    return BlobLink(match["owner"], match["repo"], unquote(match["ref"]), unquote(match["path"]))


_FENCE = re.compile(r"^\s{0,3}(```|~~~)")
_ATX = re.compile(r"^\s{0,3}#{1,6}(?:\s+(.*?))?\s*#*\s*$")
_SETEXT = re.compile(r"^\s{0,3}(?:=+|-+)\s*$")
_BOLD_LINE = re.compile(r"^\s*(?:\*\*|__)(.+?)(?:\*\*|__)\s*:?\s*$")


def markdown_headings(text: str) -> list[str]:
    """The headings of a Markdown document: ATX (``## Mitigations``), setext (underlined), and
    lines that are nothing but bold text (``**Mitigations**``); fenced code is skipped."""
    headings, fenced, previous = [], False, ""
    for line in text.splitlines():
        if _FENCE.match(line):
            fenced, previous = not fenced, ""
            continue
        if fenced:
            continue
        if match := _ATX.match(line):
            headings.append(match.group(1) or "")
        elif _SETEXT.match(line) and previous.strip() and not previous.lstrip().startswith(("-", "*", ">")):
            headings.append(previous.strip())
        elif match := _BOLD_LINE.match(line):
            headings.append(match.group(1))
        previous = line
    return [heading_text(heading) for heading in headings]


# --- facts -----------------------------------------------------------------------------------


def not_found(error: str, **commit: Any) -> dict[str, Any]:
    """An unreadable runbook: ``found`` false, why, and the commit when one was found."""
    return {"found": False, **commit, "error": error}


def unread(why: str) -> dict[str, Any]:
    """A runbook GitHub could not answer for (a partial answer, a timeout): ``found`` unknown, and why.

    Not a finding of absence: the check reports the service's runbook ``unknown``.
    """
    return {"found": None, "error": why}


def found(text: str, commit_sha: str, last_changed: str) -> dict[str, Any]:
    """A runbook read at ``commit_sha``: its date and which of the four parts its headings name."""
    parts = runbook_parts(markdown_headings(text))
    return {"found": True, "commit_sha": commit_sha, "last_changed": last_changed, **parts, "error": None}


def unknown_repository(link: BlobLink, detail: str) -> dict[str, Any]:
    return not_found(f"GitHub has no repository {link.repository}, or the token cannot see it ({detail})")


def unknown_ref(link: BlobLink, detail: str) -> dict[str, Any]:
    return not_found(
        f"GitHub has no {link.ref!r} in {link.repository}, or the token cannot see the repository ({detail})"
    )


def empty_repository(link: BlobLink) -> dict[str, Any]:
    return not_found(f"the repository {link.repository} is empty")


def no_history(link: BlobLink) -> dict[str, Any]:
    return not_found(f"{link.path} has no commit on {link.ref} in {link.repository} at or before the audit")


def deleted(link: BlobLink, sha: str, changed: str) -> dict[str, Any]:
    return not_found(
        f"{link.path} was deleted or renamed by commit {sha[:7]} on {changed}", commit_sha=sha, last_changed=changed
    )


def not_a_file(link: BlobLink, kind: str, sha: str, changed: str) -> dict[str, Any]:
    return not_found(f"{link.path} is a {kind}, not a file", commit_sha=sha, last_changed=changed)
