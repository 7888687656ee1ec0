"""The Group tree of the registry: parent groups, the teams the checks audit, and who is under whom.

Backstage Groups form a tree: a Group names its parent in ``spec.parent`` (the registry
resolves it into ``registry_teams.parent``; ``spec.children`` should agree, the tree is read
from the parent side). A **parent group** is a Group that another Group names as its parent.
A parent group that owns no service is not audited as a team itself (it has no rotation,
runbook or dashboard of its own): it is scored only through its roll-up
(:mod:`oncall_readiness.rollup`). The walks are iterative and visit a group once, whatever
the depth of the tree.
"""

from __future__ import annotations

import pandas as pd

from oncall_readiness.frames import is_in


def parent_groups(teams: pd.DataFrame) -> set[str]:
    """The groups another group names as its parent."""
    return set(teams["parent"].dropna())


def audited_teams(teams: pd.DataFrame, services: pd.DataFrame) -> pd.DataFrame:
    """The registry's teams the checks evaluate: every group but the parent groups that own no service."""
    owners = set(services["team"].dropna())
    parents = parent_groups(teams)
    keep = ~is_in(teams["team"], parents) | is_in(teams["team"], owners)
    return teams[keep].reset_index(drop=True)


def children_of(teams: pd.DataFrame) -> dict[str, list[str]]:
    """Each group's direct child groups, by name (case-insensitive order)."""
    children: dict[str, list[str]] = {}
    for team, parent in zip(teams["team"], teams["parent"], strict=True):
        if isinstance(parent, str):
            children.setdefault(parent, []).append(team)
    return {parent: sorted(names, key=str.casefold) for parent, names in children.items()}


def teams_under(group: str, teams: pd.DataFrame, audited: set[str] | None = None) -> list[str]:
    """The audited teams at or below ``group`` (a cycle in ``spec.parent`` is walked once)."""
    audited = set(teams["team"]) if audited is None else audited
    children = children_of(teams)
    found, queue, seen = [], [group], set()
    while queue:
        current = queue.pop(0)
        if current in seen:
            continue
        seen.add(current)
        if current in audited:
            found.append(current)
        queue.extend(children.get(current, []))
    return sorted(found, key=str.casefold)


def ancestors(group: str, teams: pd.DataFrame) -> list[str]:
    """The parent, grandparent, ... of ``group``, nearest first (stops at a cycle)."""
    parents = dict(zip(teams["team"], teams["parent"], strict=True))
    chain, current = [], parents.get(group)
    while isinstance(current, str) and current not in chain and current != group:
        chain.append(current)
        current = parents.get(current)
    return chain


def nearest_value(teams: pd.DataFrame, column: str) -> dict[str, tuple[str, str]]:
    """Each group's own ``column``, else its nearest ancestor's: group -> (value, the group that gives it).

    A group with no value anywhere up the tree is left out. Each chain is walked once and its
    answer kept for every group on it, so a deep or wide tree costs one pass (a cycle ends a walk).
    """
    parents = dict(zip(teams["team"], teams["parent"], strict=True))
    own = {
        group: (str(value), group)
        for group, value in zip(teams["team"], teams[column], strict=True)
        if isinstance(value, str) and value.strip()
    }
    found: dict[str, tuple[str, str] | None] = {}
    for group in parents:
        path: list[str] = []
        current: str | None = group
        while isinstance(current, str) and current not in found and current not in own and current not in path:
            path.append(current)
            current = parents.get(current)
        answer = found.get(current) if current in found else own.get(current) if isinstance(current, str) else None
        for walked in path:
            found[walked] = answer
    return {group: answer for group, answer in {**found, **own}.items() if answer is not None and group in parents}
