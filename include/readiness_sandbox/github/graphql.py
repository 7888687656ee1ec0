"""The GitHub emulator's ``POST /graphql``: the runbook reads, with GitHub's point costs and limits.

Answers the part of GitHub's GraphQL schema (docs.github.com/graphql) that reading runbooks
needs: ``repository(owner:, name:)`` with ``isEmpty``, ``nameWithOwner`` and
``object(expression:)`` (``"<ref>"`` gives the Commit, ``"<ref>:<path>"`` the Blob or Tree);
``Commit`` with ``oid``, ``committedDate``, ``authoredDate``, ``message``,
``history(first:|last:, path:, since:, until:)`` (a connection with ``nodes``, ``edges``,
``totalCount``, ``pageInfo``) and ``file(path:)`` (a ``TreeEntry``: ``name``, ``path``,
``type`` blob/tree, ``object``); ``Blob`` with ``text`` (null when binary; cut at 1 MB with
``isTruncated``), ``byteSize``, ``isBinary``; ``rateLimit(dryRun:)`` with ``cost``,
``limit``, ``remaining``, ``used``, ``resetAt``, ``nodeCount``. Aliases, variables and
inline fragments work; anything else is an error in GitHub's shape.

Limits, as GitHub documents them for the GraphQL API:

- every connection needs ``first`` or ``last`` between 1 and 100 (``MISSING_PAGINATION_BOUNDARIES``,
  ``EXCESSIVE_PAGINATION``); a query may ask for at most 500,000 nodes (``MAX_NODE_LIMIT_EXCEEDED``);
- a query costs the number of requests its connections need (each connection once per
  parent node, assuming every ``first`` is filled) divided by 100, rounded, at least 1
  point; 5,000 points an hour per token. Each answer carries ``x-ratelimit-limit``,
  ``-remaining``, ``-used``, ``-reset`` and ``x-ratelimit-resource: graphql``; a query that
  costs more than what remains answers 200 with a ``RATE_LIMITED`` error, remaining 0;
- secondary limit: at most ``graphql_secondary_limit`` queries per window (GitHub: 2,000
  points a minute, a query being one point), over it 403 (or 429) with ``retry-after``.

The state's ``emulator`` section can make queries fail as large ones fail on GitHub: more
than ``graphql_resource_limit`` repositories in one query answers ``RESOURCE_LIMITS_EXCEEDED``,
more than ``graphql_timeout_over`` a 502 timeout; ``graphql: false`` answers 404 (a GitHub
Enterprise host without GraphQL). Past ``graphql_partial_over`` repositories, a query is
answered as GitHub answers what it could only partly resolve: HTTP 200, ``data`` holding the
first repositories and ``null`` for the others, and for each of those an error
``RESOURCE_LIMITS_EXCEEDED`` with its ``path`` (GitHub's "partial data" on a node or time
limit; only ``NOT_FOUND`` says a repository does not exist).
"""

from __future__ import annotations

import hashlib
import math
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi.responses import JSONResponse

from ..rate_limit import RateLimit
from .graphql_query import Field, InlineFragment, Operation, QuerySyntaxError, argument_values, parse_query
from .graphql_schema import QueryError, measure
from .state import GitHubState, Repository

TRUNCATE_BYTES = 1024 * 1024
DOCS = "https://docs.github.com/graphql/overview/rate-limits-and-query-limits-for-the-graphql-api"


# --- execution -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Node:
    """A value of an object type: the repository, the commit's index and a path it refers to."""

    typename: str
    repository: Repository | None = None
    index: int = -1
    path: str = ""
    values: Mapping[str, Any] | None = None  # for plain objects (RateLimit, PageInfo, ...)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _timestamp(value: Any, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise QueryError(f"Argument '{name}' has an invalid value ({value!r}). Expected type 'GitTimestamp'.") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


class Execution:
    """One query's answer over the state: ``data`` and the per-field ``errors`` (NOT_FOUND, partial data)."""

    def __init__(self, state: GitHubState, variables: Mapping[str, Any], rate_limit: Mapping[str, Any]):
        self.state, self.variables, self.rate_limit = state, variables, rate_limit
        self.errors: list[dict[str, Any]] = []
        self.repositories_resolved = 0

    def run(self, operation: Operation) -> dict[str, Any]:
        return self._object(Node("Query"), operation.selections, [])

    def _object(self, node: Node, selections: list, path: list) -> dict[str, Any]:
        answer: dict[str, Any] = {}
        for selection in selections:
            if isinstance(selection, InlineFragment):
                if selection.type_condition in (None, node.typename):
                    answer.update(self._object(node, selection.selections, path))
                continue
            arguments = argument_values(selection.arguments, self.variables)
            value = self._value(node, selection, arguments, [*path, selection.key])
            answer[selection.key] = self._shape(value, selection, [*path, selection.key])
        return answer

    def _shape(self, value: Any, field: Field, path: list) -> Any:
        if isinstance(value, Node):
            return self._object(value, field.selections, path)
        if isinstance(value, list):
            return [self._shape(item, field, [*path, i]) for i, item in enumerate(value)]
        return value

    def _value(self, node: Node, field: Field, arguments: dict[str, Any], path: list) -> Any:
        name = field.name
        if name == "__typename":
            return node.typename
        if node.values is not None:
            return node.values.get(name)
        if node.typename == "Query":
            if name == "rateLimit":
                return Node("RateLimit", values=self.rate_limit)
            self.repositories_resolved += 1
            partial_over = self.state.settings.graphql_partial_over
            if partial_over is not None and self.repositories_resolved > partial_over:
                location = {"line": field.line, "column": field.column}
                message = "Resource limits for this query exceeded: this part was not resolved."
                self.errors.append(
                    {"type": "RESOURCE_LIMITS_EXCEEDED", "path": path, "locations": [location], "message": message}
                )
                return None
            repository = self.state.repository(str(arguments.get("owner")), str(arguments.get("name")))
            if repository is None:
                full_name = f"{arguments.get('owner')}/{arguments.get('name')}"
                message = f"Could not resolve to a Repository with the name '{full_name}'."
                location = {"line": field.line, "column": field.column}
                self.errors.append({"type": "NOT_FOUND", "path": path, "locations": [location], "message": message})
            return repository and Node("Repository", repository)
        repository = node.repository
        assert repository is not None
        if node.typename == "Repository":
            return self._repository_field(repository, name, arguments)
        commit = repository.commits[node.index]
        if node.typename == "Commit":
            return self._commit_field(repository, node.index, name, arguments)
        if node.typename == "TreeEntry":
            kind = "blob" if node.path in commit.tree else "tree"
            fields = {"name": node.path.rsplit("/", 1)[-1], "path": node.path, "type": kind}
            fields["mode"] = 33188 if kind == "blob" else 16384
            if name == "object":
                return Node("Blob" if kind == "blob" else "Tree", repository, node.index, node.path)
            return fields[name]
        text = commit.tree.get(node.path, "")
        data = text.encode("utf-8")
        oid = hashlib.sha1(b"%s %d\0" % (node.typename.lower().encode(), len(data)) + data + node.path.encode())
        binary = "\x00" in text
        blob = {
            "oid": oid.hexdigest(),
            "abbreviatedOid": oid.hexdigest()[:7],
            "byteSize": len(data),
            "isBinary": binary,
            "isTruncated": len(data) > TRUNCATE_BYTES,
            "text": None if binary else data[:TRUNCATE_BYTES].decode("utf-8", errors="ignore"),
        }
        return blob.get(name)

    def _repository_field(self, repository: Repository, name: str, arguments: Mapping[str, Any]) -> Any:
        if name in ("name", "nameWithOwner"):
            return repository.name if name == "name" else repository.full_name
        if name == "isEmpty":
            return not repository.commits
        expression = str(arguments.get("expression") or arguments.get("oid") or "")
        ref, has_path, path = expression.partition(":")
        index = repository.resolve(ref or None)
        if index is None:
            return None
        if not has_path:
            return Node("Commit", repository, index)
        path = path.strip("/")
        tree = repository.commits[index].tree
        if path in tree:
            return Node("Blob", repository, index, path)
        if not path or any(p.startswith(path + "/") for p in tree):
            return Node("Tree", repository, index, path)
        return None

    def _commit_field(self, repository: Repository, index: int, name: str, arguments: Mapping[str, Any]) -> Any:
        commit = repository.commits[index]
        scalars = {  # computed on demand: a query asks for one or two of them
            "oid": lambda: commit.sha,
            "abbreviatedOid": lambda: commit.sha[:7],
            "committedDate": lambda: _iso(commit.committed_at),
            "authoredDate": lambda: _iso(commit.authored_at),
            "message": lambda: commit.message,
            "messageHeadline": lambda: commit.message.splitlines()[0] if commit.message else "",
        }
        if name in scalars:
            return scalars[name]()
        path = str(arguments.get("path") or "").strip("/")
        if name == "file":
            tree = commit.tree
            if path in tree or (path and any(p.startswith(path + "/") for p in tree)):
                return Node("TreeEntry", repository, index, path)
            return None
        since, until = _timestamp(arguments.get("since"), "since"), _timestamp(arguments.get("until"), "until")
        history = [
            i
            for i in range(index, -1, -1)
            if (not path or any(p == path or p.startswith(path + "/") for p in repository.commits[i].changed))
            and (since is None or repository.commits[i].committed_at >= since)
            and (until is None or repository.commits[i].committed_at <= until)
        ]
        first, last = arguments.get("first"), arguments.get("last")
        page = history[:first] if first else history[-last:]
        nodes = [Node("Commit", repository, i) for i in page]
        cursor = f"{commit.sha} {len(page) - 1}"
        return Node(
            "CommitHistoryConnection",
            values={
                "totalCount": len(history),
                "nodes": nodes,
                "edges": [
                    Node("CommitEdge", values={"node": n, "cursor": f"{commit.sha} {i}"}) for i, n in enumerate(nodes)
                ],
                "pageInfo": Node(
                    "PageInfo",
                    values={
                        "hasNextPage": len(page) < len(history),
                        "hasPreviousPage": False,
                        "startCursor": f"{commit.sha} 0" if page else None,
                        "endCursor": cursor if page else None,
                    },
                ),
            },
        )


# --- points ----------------------------------------------------------------------------------


class PointsLimiter:
    """GitHub's GraphQL primary limit: points per token in a fixed window resetting at a whole second."""

    def __init__(self, limit: RateLimit, clock: Callable[[], float]):
        self.limit, self.clock = limit, clock
        self._windows: dict[str, tuple[int, int]] = {}  # token -> (reset epoch, points used)
        self._lock = threading.Lock()

    def charge(self, token: str, points: int) -> tuple[bool, int, int]:
        """Spend ``points`` when they remain: (allowed, used, reset epoch)."""
        with self._lock:
            now = self.clock()
            reset, used = self._windows.get(token, (0, 0))
            if now >= reset:
                reset, used = math.ceil(now + self.limit.per_seconds), 0
            allowed = used + points <= self.limit.requests
            used += points if allowed else 0
            self._windows[token] = (reset, used)
        return allowed, used, reset

    def headers(self, used: int, reset: int, *, exhausted: bool = False) -> dict[str, str]:
        return {
            "x-ratelimit-limit": str(self.limit.requests),
            "x-ratelimit-remaining": "0" if exhausted else str(max(0, self.limit.requests - used)),
            "x-ratelimit-used": str(used),
            "x-ratelimit-reset": str(reset),
            "x-ratelimit-resource": "graphql",
        }


def answer_query(
    body: Any,
    *,
    state: GitHubState,
    token: str,
    points: PointsLimiter,
    secondary: Callable[[str], int | None],
    status_over_secondary: int,
) -> JSONResponse:
    """The answer to one ``POST /graphql`` body, with GitHub's status, shape and headers."""
    if not isinstance(body, Mapping) or not isinstance(body.get("query"), str):
        return JSONResponse({"errors": [{"message": "A query attribute must be specified and must be a string."}]})
    variables = body.get("variables") or {}
    try:
        operation = parse_query(body["query"])
        cost = measure(operation, variables)
    except QuerySyntaxError as error:
        return JSONResponse(
            {"errors": [{"message": str(error), "locations": [{"line": error.line, "column": error.column}]}]}
        )
    except QueryError as error:
        return JSONResponse({"errors": [error.body]})
    if cost.nodes > state.settings.graphql_max_nodes:
        message = (
            f"This query requests up to {cost.nodes:,} possible nodes which exceeds the maximum limit of "
            f"{state.settings.graphql_max_nodes:,}."
        )
        return JSONResponse({"errors": [{"type": "MAX_NODE_LIMIT_EXCEEDED", "message": message}]})
    wait = secondary(token)
    if wait is not None:
        message = "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
        headers = {"retry-after": str(wait)}
        return JSONResponse(
            {"message": message, "documentation_url": DOCS}, status_code=status_over_secondary, headers=headers
        )
    dry_run = _dry_run(operation, variables)
    allowed, used, reset = points.charge(token, 0 if dry_run else cost.points)
    if not allowed:
        message = "API rate limit already exceeded for user ID 1."
        errors = [{"type": "RATE_LIMITED", "code": "graphql_rate_limit", "message": message}]
        return JSONResponse({"errors": errors}, headers=points.headers(used, reset, exhausted=True))
    headers = points.headers(used, reset)
    settings = state.settings
    if settings.graphql_timeout_over is not None and cost.repositories > settings.graphql_timeout_over:
        message = "We couldn't respond to your request in time. Sorry about that. Please try resubmitting your request."
        return JSONResponse({"data": None, "errors": [{"message": message}]}, status_code=502, headers=headers)
    if settings.graphql_resource_limit is not None and cost.repositories > settings.graphql_resource_limit:
        errors = [{"type": "RESOURCE_LIMITS_EXCEEDED", "message": "Resource limits for this query exceeded."}]
        return JSONResponse({"data": None, "errors": errors}, headers=headers)
    rate_limit = {
        "cost": cost.points,
        "limit": points.limit.requests,
        "remaining": points.limit.requests - used,
        "used": used,
        "resetAt": _iso(datetime.fromtimestamp(reset, UTC)),
        "nodeCount": cost.nodes,
    }
    execution = Execution(state, {**operation.variable_defaults, **variables}, rate_limit)
    try:
        data = execution.run(operation)
    except QueryError as error:
        return JSONResponse({"errors": [error.body]}, headers=headers)
    answer: dict[str, Any] = {"data": data}
    if execution.errors:
        answer["errors"] = execution.errors
    return JSONResponse(answer, headers=headers)


def _dry_run(operation: Operation, variables: Mapping[str, Any]) -> bool:
    """A query of nothing but ``rateLimit(dryRun: true)`` spends no points."""
    fields = [s for s in operation.selections if isinstance(s, Field)]
    return bool(fields) and all(
        f.name == "rateLimit" and argument_values(f.arguments, variables).get("dryRun") is True for f in fields
    )
