"""What changed for a team between two published audits: the changes worth an alert the same day.

Two kinds, compared with the previous published audit date (the latest before this one):

- ``level-drop``: the team's level is worse than it was (``gold`` → ``silver``, ``bronze`` → ``none``, ...);
- ``check-fail``: a check's status is ``fail`` and was anything else (``pass``, ``warn``, ``unknown``,
  ``waived``: an expired waiver that uncovers a failure alerts too), or the check did not exist.

A team absent from the previous audit (a new team, or the first audit ever) has no change: its
first scorecard is news for the weekly email, not an alert. A check that stays ``fail`` alerts
once, on the day it turned; one that passes and fails again alerts again.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pandas as pd

from oncall_readiness import schema
from oncall_readiness.frames import is_in
from oncall_readiness.warehouse import Warehouse

LEVEL_DROP = "level-drop"
CHECK_FAIL = "check-fail"


@dataclass(frozen=True)
class Change:
    """One change of one team on one audit date; ``check_id`` is "" for a level drop (the ledger's key)."""

    audit_date: dt.date
    team: str
    kind: str
    check_id: str
    before: str
    after: str
    detail: str  # the level drop's scores, or the failing check's reason
    remediation: str = ""

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.team, self.kind, self.check_id)

    def sentence(self) -> str:
        """The change as a sentence an on-call engineer reads on a phone."""
        if self.kind == LEVEL_DROP:
            return f"Level dropped from {self.before} to {self.after} ({self.detail})."
        return f"{self.check_id} turned fail (it was {self.before}): {self.detail}"


def detect_changes(
    audit_date: dt.date,
    scorecard: pd.DataFrame,
    previous_scorecard: pd.DataFrame,
    check_results: pd.DataFrame,
    previous_results: pd.DataFrame,
) -> list[Change]:
    """The level drops and newly failing checks of ``audit_date`` against the previous audit (pure)."""
    known = set(previous_scorecard["team"])
    changes = []
    before = previous_scorecard.set_index("team")
    row: Any  # a row of the scorecard, then of the check results (named tuples of their columns)
    for row in scorecard.sort_values("team").itertuples(index=False):
        if row.team not in known:
            continue
        old = before.loc[row.team]
        if schema.level_rank(row.level) < schema.level_rank(old["level"]):
            detail = f"score {_score(old['score'])} → {_score(row.score)}"
            changes.append(Change(audit_date, row.team, LEVEL_DROP, "", old["level"], row.level, detail))
    previous_status = previous_results.set_index(["team", "check_id"])["status"].to_dict()
    failing = check_results[(check_results["status"] == "fail") & is_in(check_results["team"], known)]
    for row in failing.sort_values(["team", "check_id"]).itertuples(index=False):
        was = previous_status.get((row.team, row.check_id), "absent")
        if was != "fail":
            remediation = "" if pd.isna(row.remediation) else str(row.remediation)
            changes.append(Change(audit_date, row.team, CHECK_FAIL, row.check_id, was, "fail", row.reason, remediation))
    return changes


def changes_on(warehouse: Warehouse, audit_date: dt.date) -> list[Change]:
    """The changes of ``audit_date`` as published, against the latest audit date before it."""
    previous_date = previous_audit_date(warehouse, audit_date)
    empty_card = pd.DataFrame(columns=["team", "level", "score"])
    empty_results = pd.DataFrame(columns=["team", "check_id", "status"])
    return detect_changes(
        audit_date,
        _scorecard(warehouse, audit_date),
        _scorecard(warehouse, previous_date) if previous_date else empty_card,
        _results(warehouse, audit_date),
        _results(warehouse, previous_date) if previous_date else empty_results,
    )


def previous_audit_date(warehouse: Warehouse, audit_date: dt.date) -> dt.date | None:
    frame = warehouse.query(
        f"SELECT MAX(audit_date) AS day FROM {_qualified(warehouse, 'scorecard')} WHERE audit_date < :day",
        day=audit_date,
    )
    if frame.empty:
        return None
    day: Any = frame.at[0, "day"]  # a date, a timestamp or NULL, as the database answers
    return None if pd.isna(day) else _as_date(day)


def team_addresses(warehouse: Warehouse, audit_date: dt.date) -> dict[str, str]:
    """Each team's email (its Group's ``spec.profile.email``) in the registry published for ``audit_date``."""
    frame = warehouse.query(
        f"SELECT team, email FROM {_qualified(warehouse, 'facts_registry_teams')} WHERE audit_date = :day",
        day=audit_date,
    )
    return {
        str(row.team): row.email for row in frame.itertuples(index=False) if isinstance(row.email, str) and row.email
    }


def _scorecard(warehouse: Warehouse, day: dt.date) -> pd.DataFrame:
    return warehouse.query(
        f"SELECT team, level, score FROM {_qualified(warehouse, 'scorecard')} WHERE audit_date = :day", day=day
    )


def _results(warehouse: Warehouse, day: dt.date) -> pd.DataFrame:
    return warehouse.query(
        f"SELECT team, check_id, status, reason, remediation FROM {_qualified(warehouse, 'check_results')} "
        "WHERE audit_date = :day",
        day=day,
    )


def _qualified(warehouse: Warehouse, table: str) -> str:
    return f"{warehouse.schema}.{table}" if warehouse.schema else table


def _score(score: Any) -> str:  # a number, or NULL
    return "not assessed" if score is None or pd.isna(score) else f"{float(score):g}"


def _as_date(value: Any) -> dt.date:  # a date, a timestamp or ISO text
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return pd.Timestamp(value).date()
