"""The scorecard: one score (0 to 100) and level per team from its check results.

Score: the weighted mean of the team's check scores (0 to 10, weights from checks.yaml),
scaled to 100, over the checks with a known outcome. ``unknown`` and ``waived`` checks
neither raise nor lower it: a team is never scored down for data we could not read; it is
marked ``fully_assessed = false`` instead.

Levels (the rubric):

- ``gold``: score at least 90 and no failed check;
- ``silver``: score at least 75 and no failed check;
- ``bronze``: score at least 50;
- ``none``: below 50, or nothing could be assessed.
"""

from __future__ import annotations

import pandas as pd

from oncall_readiness import schema
from oncall_readiness.checks.catalogue import Catalogue, load_catalogue

SCORECARD_COLUMNS = list(schema.SCORECARD_COLUMNS)
LEVELS = (("gold", 90.0, False), ("silver", 75.0, False), ("bronze", 50.0, True))


def score_teams(
    results: pd.DataFrame, previous: pd.DataFrame | None = None, catalogue: Catalogue | None = None
) -> pd.DataFrame:
    """One scorecard row per team; ``previous`` holds the (team, score) of seven days earlier."""
    catalogue = catalogue or load_catalogue()
    weights = {check_id: check.weight for check_id, check in catalogue.checks.items()}
    known = results[results["score"].notna()].assign(weight=lambda r: r["check_id"].map(weights).astype(float))
    weighted = (known["score"].astype(float) * known["weight"]).groupby(known["team"]).sum()
    score = (10 * weighted / known.groupby("team")["weight"].sum()).round(1)
    counts = pd.crosstab(results["team"], results["status"]).reindex(columns=list(schema.STATUS_COUNTS), fill_value=0)
    card = pd.DataFrame({"team": results["team"].drop_duplicates()})
    card["score"] = card["team"].map(score).astype("Float64")
    card[list(schema.STATUS_COUNTS.values())] = counts.loc[card["team"]].to_numpy()
    card["level"] = [_level(s, f) for s, f in zip(card["score"], card["failed"], strict=True)]
    card["fully_assessed"] = card["unknown"] == 0
    before = previous.set_index("team")["score"] if previous is not None and len(previous) else pd.Series()
    card["score_change_7d"] = (card["score"] - card["team"].map(before).astype("Float64")).round(1)
    return card[SCORECARD_COLUMNS].sort_values("team", ignore_index=True)


def _level(score: float, failed: int) -> str:
    if pd.isna(score):
        return "none"
    for level, minimum, allows_failures in LEVELS:
        if score >= minimum and (allows_failures or failed == 0):
            return level
    return "none"
