"""Applying the active waivers to one check's results and findings, before scoring.

The rules are in :mod:`oncall_readiness.waivers`, which loads the waivers with the registry.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from oncall_readiness.checks import SEVERITY, results_from_findings, worst

# What a waiver turns into `waived`: problems the audit saw. A pass stays a pass, an unknown unknown.
WAIVABLE = ("fail", "warn")


def waived_reason(waiver: Any) -> str:
    """``Waived until <expires> by <approver>: <reason>`` (no closing full stop; a finding message).

    ``waiver`` is a row of the waivers table (a named tuple of its columns).
    """
    return f"Waived until {waiver.expires} by {waiver.approver}: {str(waiver.reason).rstrip('.')}"


def waive(
    check_id: str, results: pd.DataFrame, findings: pd.DataFrame, waivers: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One check's results (team, status, reason) and findings after its active waivers.

    ``waivers`` is the waivers table (:func:`~oncall_readiness.waivers.waiver_table`); only
    its active rows for ``check_id`` apply. The inputs are not changed.
    """
    mine = waivers[(waivers["check_id"] == check_id) & waivers["active"].astype(bool)] if len(waivers) else waivers
    if mine.empty:
        return results, findings
    # The latest expiry wins when two active waivers cover the same thing (a renewal).
    mine = mine.sort_values("expires", key=lambda c: c.astype(str)).drop_duplicates(["team", "subject"], keep="last")
    results, findings = results.copy(), findings.copy()
    original = findings.copy()
    touched: set[str] = set()
    for waiver in mine[mine["subject"].notna()].itertuples(index=False):
        hit = (
            (findings["team"] == waiver.team)
            & (findings["subject"] == waiver.subject)
            & findings["outcome"].isin(WAIVABLE)
        )
        if hit.any():
            findings.loc[hit, "message"] = f"{waived_reason(waiver)} (" + findings.loc[hit, "message"] + ")"
            findings.loc[hit, "outcome"] = "waived"
            touched.add(str(waiver.team))
    for team in sorted(touched):
        results = _recomputed(results, team, original[original["team"] == team], findings[findings["team"] == team])
    for waiver in mine[mine["subject"].isna()].itertuples(index=False):
        row = (results["team"] == waiver.team) & results["status"].isin(WAIVABLE)
        if not row.any():
            continue
        results.loc[row, "status"] = "waived"
        results.loc[row, "reason"] = f"{waived_reason(waiver)}."
        hit = (findings["team"] == waiver.team) & findings["outcome"].isin(WAIVABLE)
        findings.loc[hit, "message"] = findings.loc[hit, "message"] + f" ({waived_reason(waiver)})"
        findings.loc[hit, "outcome"] = "waived"
    return results, findings


def _recomputed(results: pd.DataFrame, team: str, before: pd.DataFrame, after: pd.DataFrame) -> pd.DataFrame:
    """The team's status from its findings once some are waived, when its findings decided it before."""
    row = results["team"] == team
    status = results.loc[row, "status"].iloc[0]
    if before.empty or status not in WAIVABLE or SEVERITY[status] != SEVERITY[worst(before["outcome"])]:
        return results  # a team-level problem no finding carries: a subject waiver cannot lift it
    recomputed = results_from_findings(pd.Series([team]), after, all_clear="")
    results.loc[row, "status"] = recomputed["status"].iloc[0]
    results.loc[row, "reason"] = recomputed["reason"].iloc[0]
    return results
