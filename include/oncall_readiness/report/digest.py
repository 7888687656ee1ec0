"""What the leadership digest says: a page a director reads, whatever the organisation's size.

At 2,000 teams a table of every team made the digest a 3.7 MB message that mail clients clip
(Gmail past 102 KB of HTML) and nobody reads. So the digest says what moved and what needs
a decision, in sections whose length does not grow with the organisation:

- the organisation: its teams' average score and how many teams hold each level, with the
  change since the audit compared with;
- one row per department (the ``scorecard_rollup``), lowest score first;
- the teams whose score rose most and fell most;
- the checks teams newly fail (failing now, not failing in the audit compared with);
- the campaigns teams are behind on;
- the table of every team only while the organisation is small (``PER_TEAM_TABLE_MAX_TEAMS``);
  past that, a link to the Readiness page, which has the full table.

Every list is capped, and says how many it left out ("and 41 more"), so the HTML stays within
about 100 KB (a test renders a 2,000-team week and measures it).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd

from oncall_readiness import schema
from oncall_readiness.report.message import plain, record
from oncall_readiness.report.weekly import ScorecardWeek, score_changes

# A table of 25 teams is about 15 KB of HTML and still read line by line; the sample
# organisation (6 teams) keeps it. Past that, the Readiness page is the place for every team.
PER_TEAM_TABLE_MAX_TEAMS = 25
MOVERS = 10  # teams listed among the biggest rises, and among the biggest falls
NEWLY_FAILING_SHOWN = 20  # team and check pairs listed; the rest are counted
DEPARTMENTS_SHOWN = 40  # rows of the department table (lowest score first); about 25 KB of HTML
CAMPAIGN_TEAMS_SHOWN = 10  # teams named as behind, per campaign
INCIDENT_TEAMS_SHOWN = 10  # teams of the incidents' per-team table when the per-team tables are left out


def shows_every_team(scorecard_week: ScorecardWeek) -> bool:
    """Whether the digest still has room for a line per team (a small organisation)."""
    return len(scorecard_week.scorecard) <= PER_TEAM_TABLE_MAX_TEAMS


def organisation(scorecard_week: ScorecardWeek) -> dict[str, Any]:
    """The teams' average score and the teams per level, each with its change since the audit compared with."""
    score, previous_score = _average(scorecard_week.scorecard), _average(scorecard_week.previous_scorecard)
    compared = scorecard_week.previous is not None
    levels = _level_counts(scorecard_week.scorecard)
    before = _level_counts(scorecard_week.previous_scorecard)
    return {
        "score": score,
        "change": round(score - previous_score, 1) if score is not None and previous_score is not None else None,
        "scored": int(scorecard_week.scorecard["score"].notna().sum()),
        "levels": [
            {"level": level, "teams": count, "change": count - before[level] if compared else None}
            for level, count in levels.items()
        ],
    }


def departments(scorecard_week: ScorecardWeek) -> list[dict[str, Any]]:
    """One row per parent group of the roll-up (display name, score, level, teams, change), lowest score first."""
    rollup = scorecard_week.rollup
    if rollup is None or rollup.empty:
        return []
    teams = scorecard_week.teams
    names = teams.set_index("team")["display_name"] if "display_name" in teams else pd.Series(dtype=object)
    previous = scorecard_week.previous_rollup
    before = pd.Series(dtype=float) if previous is None else previous.set_index("group_name")["score"]
    rows = rollup.assign(
        name=[plain(names.get(group)) or group for group in rollup["group_name"]],
        change=(rollup["score"].astype(float) - rollup["group_name"].map(before).astype(float)).round(1),
    )
    rows = rows.sort_values(["score", "name"], na_position="first")  # not assessed at all: first, as the worst
    return [record(row) for _, row in rows[["group_name", "name", "score", "level", "teams", "change"]].iterrows()]


def movers(scorecard_week: ScorecardWeek) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The ``MOVERS`` teams whose score fell most, and those whose score rose most (ties by name)."""
    changes = score_changes(scorecard_week)
    moved = changes[changes["change"].notna()]
    fell = moved[moved["change"] < 0].sort_values(["change", "team"]).head(MOVERS)
    rose = moved[moved["change"] > 0].sort_values(["change", "team"], ascending=[False, True]).head(MOVERS)
    return _records(fell), _records(rose)


def newly_failing(scorecard_week: ScorecardWeek, titles: dict[str, str]) -> dict[str, Any]:
    """The checks teams fail now and did not fail in the audit compared with (a result then, other than fail).

    A team or a check new this week is left out: it has nothing to compare with, and a new check
    would otherwise list every team it fails at once.
    """
    now = scorecard_week.results[scorecard_week.results["status"] == "fail"][["team", "check_id"]]
    before = scorecard_week.previous_results[["team", "check_id", "status"]]
    pairs = now.merge(before, on=["team", "check_id"], how="inner")
    pairs = pairs[pairs["status"] != "fail"].sort_values(["team", "check_id"])
    shown = pairs.head(NEWLY_FAILING_SHOWN)
    shown = shown.assign(title=[titles.get(check_id, check_id) for check_id in shown["check_id"]])
    return {"shown": _records(shown[["team", "check_id", "title"]]), "more": max(len(pairs) - NEWLY_FAILING_SHOWN, 0)}


def campaigns_behind(progress: pd.DataFrame | None, week: dt.date) -> list[dict[str, Any]]:
    """Each campaign some team is behind on: how many meet it, the due date, the teams behind (capped)."""
    if progress is None or progress.empty:
        return []
    campaigns = []
    for campaign_id, rows in progress.groupby("campaign_id", sort=True):
        behind = sorted(rows.loc[~rows["meets"].astype(bool), "team"], key=str.casefold)
        if not behind:
            continue
        due = pd.Timestamp(rows["due"].iloc[0]).date()
        campaigns.append(
            {
                "campaign_id": campaign_id,
                "title": rows["title"].iloc[0],
                "meeting": len(rows) - len(behind),
                "teams": len(rows),
                "due": due,
                "days_left": (due - week).days,
                "behind": behind[:CAMPAIGN_TEAMS_SHOWN],
                "behind_more": max(len(behind) - CAMPAIGN_TEAMS_SHOWN, 0),
            }
        )
    return sorted(campaigns, key=lambda campaign: (campaign["due"], campaign["campaign_id"]))


def ranked_teams(scorecard_week: ScorecardWeek) -> list[dict[str, Any]]:
    """Every team, best score first, with its rank (ties share one) and change."""
    ranked = score_changes(scorecard_week)
    ranked["rank"] = ranked["score"].astype(float).rank(method="min", ascending=False, na_option="keep")
    return _records(ranked.sort_values(["score", "team"], ascending=[False, True], na_position="last"))


def capped_incident_teams(section: dict[str, Any], every_team: bool) -> dict[str, Any]:
    """The incidents section with its per-team table cut to the teams with most incidents, unless every team shows."""
    teams = section.get("teams")
    if teams is None:  # no incident data, or a quiet five weeks: no per-team table
        return section
    shown = teams if every_team else teams[:INCIDENT_TEAMS_SHOWN]
    return {**section, "teams": shown, "teams_more": len(teams) - len(shown)}


def _average(scorecard: pd.DataFrame) -> float | None:
    scores = scorecard["score"].dropna().astype(float) if "score" in scorecard else pd.Series(dtype=float)
    return schema.rounded_score(float(scores.mean())) if not scores.empty else None


def _level_counts(scorecard: pd.DataFrame) -> dict[str, int]:
    counts = scorecard["level"].value_counts() if "level" in scorecard else pd.Series(dtype=int)
    return {level: int(counts.get(level, 0)) for level in schema.LEVELS}


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [record(row) for _, row in frame.iterrows()]
