"""External checks: results computed elsewhere, pushed through the readiness API, joined to the audit.

An external check is declared in ``checks.yaml`` like any other, with ``kind: external`` and
``function: oncall_readiness.checks.external:evaluate``; the catalogue binds the check's id
(one function serves every external check). Its facts are ``external_results``: per team and
subject the latest result observed at or before the audit instant (see
:mod:`oncall_readiness.external_results`, which the audit reads from the warehouse).

Per team: each pushed subject is a finding with the pushed status and reason (a result about
the whole team has the subject ``team:<team>``); a result older than ``max_age_days`` at the
audit instant is ``unknown`` (stale: the system that pushes it may have stopped). The team's
status is its worst finding. A team nobody pushed a result for is ``unknown``: the audit could
not see it, which is not a pass.
"""

from __future__ import annotations

import pandas as pd

from oncall_readiness.checks import FINDING_COLUMNS, CheckInput, CheckOutcome, results_from_findings
from oncall_readiness.frames import is_in

FACTS = "external_results"
STALE_THRESHOLD = "max_age_days"
DEFAULT_MAX_AGE_DAYS = 30


def evaluate(audit: CheckInput, *, check_id: str) -> CheckOutcome:
    """Findings per pushed subject, status per team: the worst finding, unknown without any result."""
    teams = audit.teams["team"]
    pushed = audit.facts.get(FACTS)
    if pushed is None or pushed.empty:
        mine = pd.DataFrame(columns=["team", "subject", "status", "reason", "observed_at"])
    else:
        mine = pushed[(pushed["check_id"] == check_id) & is_in(pushed["team"], teams)]
    findings = _findings(mine, audit)
    results = results_from_findings(teams, findings, all_clear="Every result pushed for the team passes.")
    silent = ~is_in(results["team"], findings["team"])
    results.loc[silent, "status"] = "unknown"
    results.loc[silent, "reason"] = (
        f"No result of {check_id} was pushed for this team up to {audit.audit_instant:%Y-%m-%d %H:%M} UTC; "
        "the system that computes it pushes results through the readiness API."
    )
    return CheckOutcome(results=results, findings=findings)


def _findings(pushed: pd.DataFrame, audit: CheckInput) -> pd.DataFrame:
    if pushed.empty:
        return pd.DataFrame(columns=FINDING_COLUMNS)
    observed = pd.to_datetime(pushed["observed_at"], utc=True)
    max_age = pushed["team"].map(_max_age_days(audit)).astype(float)
    age_days = (audit.audit_instant - observed).dt.total_seconds() / 86400
    stale = age_days > max_age
    subjects = pushed["subject"].where(pushed["subject"].notna(), "team:" + pushed["team"])
    reasons = pushed["reason"].astype(str).str.strip().str.rstrip(".")
    when = observed.dt.strftime("%Y-%m-%d %H:%M UTC")
    fresh_message = reasons + " (observed " + when + ")"
    stale_message = (
        "The last result, observed " + when + ", is older than " + max_age.map("{:g}".format) + " days: " + reasons
    )
    return pd.DataFrame(
        {
            "team": pushed["team"].to_numpy(),
            "subject": subjects.to_numpy(),
            "outcome": pushed["status"].where(~stale, "unknown").to_numpy(),
            "message": fresh_message.where(~stale, stale_message).to_numpy(),
        },
        columns=FINDING_COLUMNS,
    ).sort_values(["team", "subject"], ignore_index=True)


def _max_age_days(audit: CheckInput) -> pd.Series:
    if STALE_THRESHOLD in audit.thresholds.columns:
        return audit.thresholds[STALE_THRESHOLD]
    return pd.Series(DEFAULT_MAX_AGE_DAYS, index=audit.thresholds.index)
