"""GitHub runbooks through GraphQL: up to 100 runbooks per ``POST /graphql``.

Each runbook is one aliased field of the query (``r0``, ``r1``, ...), its strings passed as
variables (never spliced into the query text)::

    r0: repository(owner: $o0, name: $n0) {
      isEmpty
      ref: object(expression: $e0) {            # the link's branch, tag or sha
        __typename
        ... on Commit {
          history(first: 1, path: $p0, until: $until) {   # last change at or before the audit
            nodes { oid committedDate
                    file(path: $p0) { type object { ... on Blob { text isBinary isTruncated } } } }
          }
        }
      }
    }

plus ``rateLimit { cost remaining resetAt }`` once per query. So the commit and the text at
that commit come in the same request. Cost: each alias holds one connection (``history``,
``first: 1``), so GitHub's rule (connection requests / 100, rounded, at least 1) makes 100
runbooks one point and one node each: ``ceil(runbooks / batch)`` requests and about as many
points, far under the 500,000-node limit.

A query GitHub refuses for its size (``MAX_NODE_LIMIT_EXCEEDED``, ``RESOURCE_LIMITS_EXCEEDED``,
a 502 timeout) is sent again in halves, and the smaller batch is kept for the rest of the
run; a single runbook refused so raises. A **partial answer** (HTTP 200 with ``data`` in which
some aliases are null, or null below, and an error naming each with its ``path``: GitHub could
not resolve that part, often ``RESOURCE_LIMITS_EXCEEDED`` or a timeout) is not a finding about
those runbooks: only ``NOT_FOUND`` at an alias says a repository is absent. The others are
asked again in smaller queries, halving down to one runbook a query; one GitHub still cannot
answer for is ``unread`` (``found`` null, the error in ``error``): the check reports it
``unknown``, never a fail. Before each query the client waits for the window
to reset when fewer points remain than the query costs. Per runbook, the errors are those
of the REST reader: unknown repository (``NOT_FOUND`` at the alias), empty repository
(``isEmpty``), unknown ref (``object`` null), no history at the instant (no nodes), deleted or
renamed by its last commit (``file`` null), a folder (``type: tree``) or a submodule. A text
GitHub truncates (over its size limit) is read once more through REST, raw.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any

from oncall_readiness.errors import SourceError
from oncall_readiness.sources.github import files
from oncall_readiness.sources.github.client import SOURCE, GitHubClient, QueryTooLarge
from oncall_readiness.sources.github.files import BlobLink
from oncall_readiness.sources.github.rest import raw_text

log = logging.getLogger(__name__)

_RUNBOOK = (
    "r{i}: repository(owner: $o{i}, name: $n{i}) {{ isEmpty ref: object(expression: $e{i}) {{ __typename "
    "... on Commit {{ history(first: 1, path: $p{i}, until: $until) {{ nodes {{ oid committedDate "
    "file(path: $p{i}) {{ type object {{ __typename ... on Blob {{ text isBinary isTruncated }} }} }} }} }} }} }} }}"
)


def query_cost(runbooks: int) -> int:
    """GitHub's points for a query of ``runbooks`` aliases: one history request each, / 100, rounded, >= 1."""
    return max(1, math.floor(runbooks / 100 + 0.5))


def runbooks_query(count: int) -> str:
    """The query text for ``count`` runbooks (variables ``$until`` and ``$o<i> $n<i> $e<i> $p<i>``)."""
    declarations = " ".join(f"$o{i}: String! $n{i}: String! $e{i}: String! $p{i}: String!" for i in range(count))
    fields = " ".join(_RUNBOOK.format(i=i) for i in range(count))
    return f"query Runbooks($until: GitTimestamp! {declarations}) {{ rateLimit {{ cost remaining resetAt }} {fields} }}"


def query_variables(links: Sequence[BlobLink], until: str) -> dict[str, str]:
    variables = {"until": until}
    for i, link in enumerate(links):
        variables.update({f"o{i}": link.owner, f"n{i}": link.repo, f"e{i}": link.ref, f"p{i}": link.path})
    return variables


def read_runbooks(client: GitHubClient, links: Sequence[BlobLink], until: str) -> dict[BlobLink, dict[str, Any]]:
    """The facts of every runbook in ``links`` as of ``until``, ``client.batch_size`` per query at most."""
    facts: dict[BlobLink, dict[str, Any]] = {}
    groups: deque[list[BlobLink]] = deque([list(links)])  # runbooks still to ask, a group at a time
    while groups:
        group = groups.popleft()
        batch, rest = group[: client.batch_size], group[client.batch_size :]
        if rest:
            groups.appendleft(rest)
        client.wait_for_points(query_cost(len(batch)))
        try:
            answer = client.graphql(runbooks_query(len(batch)), query_variables(batch, until))
        except QueryTooLarge as error:
            if len(batch) == 1:
                message = f"{error}; even a query for one runbook ({batch[0].repository}) is too large"
                raise SourceError(message) from error
            client.batch_size = max(1, len(batch) // 2)
            log.info(
                "GitHub refused %d runbooks in one query (%s): %d per query from now on",
                len(batch),
                error,
                client.batch_size,
            )
            groups.appendleft(batch)
            continue
        read, unanswered = _facts(client, batch, answer)
        facts.update(read)
        if len(batch) == 1:
            facts.update({link: files.unread(why) for link, why in unanswered.items()})
        elif unanswered:  # a partial answer: ask those again, in halves
            again, half = list(unanswered), max(1, len(batch) // 2)
            log.info(
                "GitHub answered %d of %d runbooks only partly: asking them again, %d a query",
                len(again),
                len(batch),
                half,
            )
            groups.extendleft(reversed([again[i : i + half] for i in range(0, len(again), half)]))
    return facts


def _facts(
    client: GitHubClient, batch: Sequence[BlobLink], answer: Mapping[str, Any]
) -> tuple[dict[BlobLink, dict[str, Any]], dict[BlobLink, str]]:
    """The facts of the runbooks the answer speaks for, and why it does not for the others."""
    data = answer.get("data")
    errors = [error for error in answer.get("errors") or [] if isinstance(error, Mapping)]
    if not isinstance(data, Mapping):
        detail = "; ".join(f"{e.get('type') or 'error'}: {e.get('message')}" for e in errors) or "no data"
        raise SourceError(f"{SOURCE}: POST /graphql answered without data ({detail})")
    by_alias: dict[str, list[Mapping[str, Any]]] = {}
    for error in errors:
        path = error.get("path") or []
        if path and isinstance(path[0], str):
            by_alias.setdefault(path[0], []).append(error)
        else:
            raise SourceError(
                f"{SOURCE}: POST /graphql answered {error.get('type') or 'an error'}: {error.get('message')}"
            )
    facts, unanswered = {}, {}
    for i, link in enumerate(batch):
        alias = f"r{i}"
        if alias not in data:
            raise SourceError(f"{SOURCE}: POST /graphql answered without {alias} ({link.repository})")
        problems = by_alias.get(alias, [])
        absent = data[alias] is None and any(_is_not_found(error, alias) for error in problems)
        if problems and not absent:  # GitHub could not resolve this part: no finding either way
            unanswered[link] = "GitHub could not answer for it: " + "; ".join(
                f"{e.get('type') or 'error'} at {'.'.join(map(str, e.get('path') or []))}" for e in problems
            )
            continue
        if data[alias] is None and not absent:
            unanswered[link] = "GitHub answered null for it, without saying why"
            continue
        facts[link] = _fact(client, link, data[alias], problems[0] if problems else None)
    return facts, unanswered


def _is_not_found(error: Mapping[str, Any], alias: str) -> bool:
    """GitHub saying the repository itself does not exist (or the token cannot see it)."""
    return error.get("type") == "NOT_FOUND" and list(error.get("path") or []) == [alias]


def _fact(
    client: GitHubClient, link: BlobLink, repository: Mapping[str, Any] | None, error: Mapping[str, Any] | None
) -> dict[str, Any]:
    if repository is None:
        detail = f"{(error or {}).get('type') or 'null'}: {(error or {}).get('message') or 'no repository'}"
        return files.unknown_repository(link, detail)
    if repository.get("isEmpty"):
        return files.empty_repository(link)
    ref = repository.get("ref")
    if ref is None:
        return files.unknown_ref(link, "no branch, tag or commit by that name")
    if ref.get("__typename") != "Commit":
        return files.not_found(f"{link.ref!r} in {link.repository} names a {ref.get('__typename')}, not a commit")
    nodes = (ref.get("history") or {}).get("nodes") or []
    if not nodes:
        return files.no_history(link)
    sha, changed = nodes[0]["oid"], nodes[0]["committedDate"]
    entry = nodes[0].get("file")
    if entry is None:
        return files.deleted(link, sha, changed)
    if entry.get("type") != "blob":
        kind = {"tree": "folder", "commit": "submodule"}.get(str(entry.get("type")), str(entry.get("type")))
        return files.not_a_file(link, kind, sha, changed)
    blob = entry.get("object") or {}
    text = "" if blob.get("isBinary") else blob.get("text") or ""
    if blob.get("isTruncated"):
        text = raw_text(client, link, sha)  # GitHub cuts large texts: the whole file, raw, in one REST call
    return files.found(text, sha, changed)
