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
from oncall_readiness.registry.groups import parent_groups, teams_under

ROLLUP_COLUMNS = list(schema.RESULT_TABLES["scorecard_rollup"])


def scorecard_rollup(scorecard: pd.DataFrame, teams: pd.DataFrame, services: pd.DataFrame) -> pd.DataFrame:
    """One ``scorecard_rollup`` row per parent group: its teams' service-weighted score and lowest level."""
    card = scorecard.set_index("team")
    card_scores, card_levels = card["score"], card["level"]
    counts = services["team"].dropna().value_counts()
    info = teams.set_index("team")
    rows = []
    for group in sorted(parent_groups(teams) & set(teams["team"]), key=str.casefold):
        members = [team for team in teams_under(group, teams, set(card.index))]
        scored = [team for team in members if pd.notna(card_scores[team])]
        weights = pd.Series({team: max(int(counts.get(team, 0)), 1) for team in scored}, dtype=float)
        scores = pd.Series({team: float(card_scores[team]) for team in scored}, dtype=float)
        score = schema.rounded_score(float((scores * weights).sum() / weights.sum())) if scored else None
        levels = [card_levels[team] for team in members]
        level = schema.lowest_level(levels)
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
