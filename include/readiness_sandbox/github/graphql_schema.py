"""The GitHub GraphQL emulator's schema, validation and point cost (GitHub's published rules).

``measure`` checks a parsed query against the part of GitHub's schema the emulator serves
(:data:`TYPES`) and counts, as GitHub documents it, the requests its connections need
(each connection once per node of its parent connection, every ``first``/``last`` filled)
and the nodes it may return: the cost in points is requests / 100 rounded, at least 1;
every connection needs ``first`` or ``last`` in 1..100.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .graphql_query import Field, InlineFragment, Operation, argument_values

MAX_PAGE = 100


@dataclass(frozen=True)
class FieldType:
    type: str | None  # an object type, or None for a scalar
    arguments: frozenset[str] = frozenset()
    connection: bool = False


def _scalars(*names: str) -> dict[str, FieldType]:
    return {name: FieldType(None) for name in names}


TYPES: dict[str, dict[str, FieldType]] = {
    "Query": {
        "rateLimit": FieldType("RateLimit", frozenset({"dryRun"})),
        "repository": FieldType("Repository", frozenset({"owner", "name", "followRenames"})),
    },
    "RateLimit": _scalars("cost", "limit", "remaining", "used", "resetAt", "nodeCount"),
    "Repository": {
        **_scalars("name", "nameWithOwner", "isEmpty"),
        "object": FieldType("GitObject", frozenset({"expression", "oid"})),
    },
    "GitObject": _scalars("oid", "abbreviatedOid"),
    "Commit": {
        **_scalars("oid", "abbreviatedOid", "committedDate", "authoredDate", "message", "messageHeadline"),
        "history": FieldType(
            "CommitHistoryConnection",
            frozenset({"first", "last", "after", "before", "path", "since", "until", "author"}),
            connection=True,
        ),
        "file": FieldType("TreeEntry", frozenset({"path"})),
    },
    "CommitHistoryConnection": {
        **_scalars("totalCount"),
        "nodes": FieldType("Commit"),
        "edges": FieldType("CommitEdge"),
        "pageInfo": FieldType("PageInfo"),
    },
    "CommitEdge": {**_scalars("cursor"), "node": FieldType("Commit")},
    "PageInfo": _scalars("hasNextPage", "hasPreviousPage", "startCursor", "endCursor"),
    "TreeEntry": {**_scalars("name", "path", "type", "mode"), "object": FieldType("GitObject")},
    "Blob": _scalars("oid", "abbreviatedOid", "text", "byteSize", "isBinary", "isTruncated"),
    "Tree": _scalars("oid", "abbreviatedOid"),
}
IMPLEMENTS = {"GitObject": {"Commit", "Blob", "Tree"}}


class QueryError(Exception):
    """The whole query fails: answered ``{"errors": [...]}`` without data."""

    def __init__(self, message: str, *, type: str | None = None, field: Field | None = None, **extensions: Any):
        super().__init__(message)
        self.body: dict[str, Any] = {"message": message}
        if type:
            self.body["type"] = type
        if field is not None:
            self.body["locations"] = [{"line": field.line, "column": field.column}]
        if extensions:
            self.body["extensions"] = extensions


# --- validation and cost ---------------------------------------------------------------------


@dataclass
class Cost:
    requests: int = 0  # connection requests, every first/last filled
    nodes: int = 0
    repositories: int = 0  # root repository fields (what the fault settings count)

    @property
    def points(self) -> int:
        """GitHub's rule: requests / 100, rounded to the nearest whole number, at least 1."""
        return max(1, math.floor(self.requests / 100 + 0.5))


def measure(operation: Operation, variables: Mapping[str, Any]) -> Cost:
    """Validate ``operation`` against the schema and count its cost; ``QueryError`` when invalid."""
    missing = [
        name
        for name, kind in operation.variable_types.items()
        if kind.endswith("!") and variables.get(name, operation.variable_defaults.get(name)) is None
    ]
    if missing:
        raise QueryError(
            f"Variable ${missing[0]} of type {operation.variable_types[missing[0]]} was provided invalid value"
        )
    cost = Cost()
    _measure("Query", operation.selections, 1, {**operation.variable_defaults, **variables}, cost)
    return cost


def _measure(type_name: str, selections: list, multiplier: int, variables: Mapping[str, Any], cost: Cost) -> None:
    for selection in selections:
        if isinstance(selection, InlineFragment):
            condition = selection.type_condition or type_name
            if condition != type_name and condition not in IMPLEMENTS.get(type_name, ()):
                raise QueryError(f"Fragment on {condition} can't be spread inside {type_name}")
            _measure(condition, selection.selections, multiplier, variables, cost)
            continue
        if selection.name == "__typename":
            continue
        field_type = TYPES[type_name].get(selection.name)
        if field_type is None:
            raise QueryError(
                f"Field '{selection.name}' doesn't exist on type '{type_name}'",
                field=selection,
                code="undefinedField",
                typeName=type_name,
                fieldName=selection.name,
            )
        unknown = sorted(set(selection.arguments) - field_type.arguments)
        if unknown:
            raise QueryError(f"Field '{selection.name}' doesn't accept argument '{unknown[0]}'", field=selection)
        if field_type.type is None and selection.selections:
            raise QueryError(f"Selections can't be made on scalars (field '{selection.name}')", field=selection)
        if field_type.type is not None and not selection.selections:
            raise QueryError(f"Field must have selections (field '{selection.name}' returns {field_type.type})")
        if type_name == "Query" and selection.name == "repository":
            cost.repositories += 1
        inner = multiplier
        if field_type.connection:
            page = _page_size(selection, argument_values(selection.arguments, variables))
            cost.requests += multiplier
            cost.nodes += multiplier * page
            inner = multiplier * page
        if field_type.type is not None:
            _measure(field_type.type, selection.selections, inner, variables, cost)


def _page_size(field: Field, arguments: Mapping[str, Any]) -> int:
    sizes = [arguments[key] for key in ("first", "last") if arguments.get(key) is not None]
    if not sizes:
        message = f"You must provide a `first` or `last` value to properly paginate the `{field.name}` connection."
        raise QueryError(message, type="MISSING_PAGINATION_BOUNDARIES", field=field)
    page = max(sizes)
    if not isinstance(page, int) or page < 1 or page > MAX_PAGE:
        message = (
            f"Requesting {page} records on the `{field.name}` connection exceeds the `first` limit of "
            f"{MAX_PAGE} records."
        )
        raise QueryError(message, type="EXCESSIVE_PAGINATION", field=field)
    return page
