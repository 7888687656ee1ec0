"""Roll-ups: every parent group (department, organization) scored from the teams below it.

Backstage Groups form a tree: a Group names its parent in ``spec.parent`` (the registry
resolves it into ``registry_teams.parent``; ``spec.children`` should agree, the tree is read
from the parent side). A **parent group** is a Group that another Group names as its parent.

Which groups are audited as teams
---------------------------------
Every Group is a team of the registry, but a parent group that owns no service is not
audited as a team itself (it has no rotation, runbook or dashboard of its own to check):
it is scored only through its roll-up, and gets no team email. A parent group that owns
services is audited as a team too, and its own score joins its roll-up.

The roll-up rule
----------------
For each parent group, over every audited team at or below it (the whole subtree, not the
mean of its children's means, so a department of ten teams weighs ten times a department
of one in the organization's score):

- ``score``: the mean of the teams' scores weighted by the number of services each team
  owns (a team without services weighs one): a team running twelve services carries more
  of the department's on-call risk than a team running one. Teams without a score (nothing
  could be assessed) are left out of the mean; no scored team, no score.
- ``level``: the lowest level held by any of its teams (a department is gold only when every
  team in it is gold): a leader cannot be gold while one of their teams is not ready.
- ``teams``, ``services``: how many audited teams and services it covers.

The result is the warehouse table ``scorecard_rollup``, one row per parent group and audit
date (``group_name``, not ``group``: GROUP is a reserved word of SQL, and analysts would have
to quote it in every query).
"""

from __future__ import annotations

import pandas as pd

from oncall_readiness import schema
from oncall_readiness.frames import is_in

ROLLUP_COLUMNS = list(schema.RESULT_TABLES["scorecard_rollup"])
# Lower is worse: none 0, bronze 1, silver 2, gold 3.
LEVEL_RANK = {level: len(schema.LEVELS) - 1 - rank for rank, level in enumerate(schema.LEVELS)}


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


def scorecard_rollup(scorecard: pd.DataFrame, teams: pd.DataFrame, services: pd.DataFrame) -> pd.DataFrame:
    """One ``scorecard_rollup`` row per parent group: its teams' service-weighted score and lowest level."""
    card = scorecard.set_index("team")
    counts = services["team"].dropna().value_counts()
    info = teams.set_index("team")
    rows = []
    for group in sorted(parent_groups(teams) & set(teams["team"]), key=str.casefold):
        members = [team for team in teams_under(group, teams, set(card.index))]
        scored = [team for team in members if pd.notna(card.at[team, "score"])]
        weights = pd.Series({team: max(int(counts.get(team, 0)), 1) for team in scored}, dtype=float)
        scores = pd.Series({team: float(card.at[team, "score"]) for team in scored}, dtype=float)
        score = round(float((scores * weights).sum() / weights.sum()), 1) if scored else None
        levels = [card.at[team, "level"] for team in members]
        level = min(levels, key=lambda name: LEVEL_RANK.get(name, -1)) if levels else "none"
        rows.append(
            {
                "group_name": group,
                "group_type": info.at[group, "type"],
                "parent": info.at[group, "parent"],
                "score": score,
                "level": level,
                "teams": len(members),
                "services": int(sum(counts.get(team, 0) for team in members)),
            }
        )
    frame = pd.DataFrame(rows, columns=ROLLUP_COLUMNS)
    frame["score"] = frame["score"].astype("Float64")
    return frame


def audit_tables(
    audit_date,
    scorecard: pd.DataFrame,
    results: pd.DataFrame,
    registry: dict[str, pd.DataFrame],
    campaigns: pd.DataFrame,
) -> dict[str, pd.DataFrame]:
    """The audit's ``campaign_progress`` and ``scorecard_rollup`` of one date, from the staged scorecard and registry.

    ``campaigns``: the staged campaigns (:func:`oncall_readiness.campaigns.campaigns_frame`).
    """
    from oncall_readiness.campaigns import campaign_progress, campaigns_from_frame

    teams, services = registry["registry_teams"], registry["registry_services"]
    return {
        "campaign_progress": campaign_progress(campaigns_from_frame(campaigns), audit_date, scorecard, results),
        "scorecard_rollup": scorecard_rollup(scorecard, teams, services),
    }
