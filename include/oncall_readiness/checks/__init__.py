"""Checks: pure functions over the facts of every team at once.

A check is one module ``checks/<check_id with underscores>.py`` with an
``evaluate(audit: CheckInput) -> CheckOutcome`` function and one entry in ``checks.yaml``
that names it (``function: oncall_readiness.checks.<module>:evaluate``).
It returns a status and a one-sentence reason per team, and findings per subject
(schedule, person, service). Scores, remediation, unknowns for missing sources and waivers
are added by the runner, the same way for every check.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pandas as pd

from oncall_readiness import schema

# What a check returns: the result tables' columns but those the runner adds (a finding's link too).
RUNNER_COLUMNS = ("check_id", "score", "remediation", *schema.FINDING_LINK_COLUMNS)
RESULT_COLUMNS = [column for column in schema.CHECK_RESULT_COLUMNS if column not in RUNNER_COLUMNS]
FINDING_COLUMNS = [column for column in schema.FINDING_COLUMNS if column not in RUNNER_COLUMNS]
# Worst first (see oncall_readiness.schema): a team's status is the worst of its findings.
SEVERITY = schema.SEVERITY


@dataclass(frozen=True)
class CheckInput:
    """What a check sees: the audit instant, the registry's teams, facts and its thresholds.

    ``unavailable`` maps each of the check's ``partial_sources`` that could not be read or
    trusted to why; the check reports the subjects that need it as ``unknown``.
    """

    audit_instant: pd.Timestamp
    teams: pd.DataFrame
    facts: Mapping[str, pd.DataFrame]
    thresholds: pd.DataFrame  # indexed by team, one column per threshold
    unavailable: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CheckOutcome:
    results: pd.DataFrame  # RESULT_COLUMNS, one row per team
    findings: pd.DataFrame  # FINDING_COLUMNS


def worst(outcomes: pd.Series[str]) -> str:
    return min(outcomes, key=SEVERITY.__getitem__)


def results_from_findings(teams: pd.Series, findings: pd.DataFrame, *, all_clear: str) -> pd.DataFrame:
    """Each team's status is its worst finding; the reason leads with the worst finding's message.

    Finding messages are sentences without the closing full stop, so a count can follow.
    """
    ranked = findings.assign(rank=findings["outcome"].map(SEVERITY)).sort_values(["team", "rank", "subject"])
    problems = ranked[ranked["outcome"] != "pass"]
    first = problems.groupby("team", sort=False).head(1)
    # Plain dicts, not .at per team: at 2,000 teams and a dozen checks the lookups were seconds.
    worst_outcome = dict(zip(first["team"].tolist(), first["outcome"].tolist(), strict=True))
    worst_message = dict(zip(first["team"].tolist(), first["message"].tolist(), strict=True))
    counts = problems["team"].value_counts().to_dict()
    statuses, reasons = [], []
    team_names = teams.tolist()
    for team in team_names:
        if team not in worst_outcome:
            statuses.append("pass")
            reasons.append(all_clear)
            continue
        more = counts[team] - 1
        suffix = f" (and {more} more finding{'s' if more > 1 else ''})" if more else ""
        statuses.append(worst_outcome[team])
        reasons.append(f"{worst_message[team]}{suffix}.")
    return pd.DataFrame({"team": team_names, "status": statuses, "reason": reasons}, columns=RESULT_COLUMNS)


def one_per_subject(findings: pd.DataFrame) -> pd.DataFrame:
    """A subject's finding is its worst outcome, with every message that is not a pass."""
    keys = ["team", "subject"]
    ranked = findings.assign(rank=findings["outcome"].map(SEVERITY))
    worst_rank = ranked.groupby(keys)["rank"].transform("min")
    kept = ranked[(ranked["rank"] == worst_rank) | ((ranked["outcome"] != "pass") & (worst_rank < SEVERITY["pass"]))]
    kept = kept.sort_values("rank")
    # Most subjects keep one finding: join the messages only of those with several (a Python
    # join per group over every subject took seconds at 2,000 teams). Same order within a group.
    several = kept.duplicated(keys, keep=False)
    joined = (
        kept[several]
        .groupby(keys, as_index=False, sort=False)
        .agg(rank=("rank", "min"), message=("message", "; ".join))
    )
    combined = pd.concat([kept.loc[~several, [*keys, "rank", "message"]], joined], ignore_index=True)
    outcome_of = {rank: outcome for outcome, rank in SEVERITY.items()}
    combined["outcome"] = combined["rank"].map(outcome_of)
    return combined[FINDING_COLUMNS].sort_values(keys, ignore_index=True)
