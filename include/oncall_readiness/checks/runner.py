"""Run every implemented check over all teams; the same rules for unknowns, scores and remediation."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from oncall_readiness import schema
from oncall_readiness.checks import FINDING_COLUMNS, CheckInput
from oncall_readiness.checks.catalogue import Catalogue, CheckDefinition, load_catalogue, team_thresholds

# The warehouse's check_results and findings tables (without audit_date).
RESULT_COLUMNS = list(schema.CHECK_RESULT_COLUMNS)
CHECK_FINDING_COLUMNS = list(schema.FINDING_COLUMNS)
PASS_REMEDIATION = "No action needed."


def evaluate_checks(
    *,
    audit_instant: pd.Timestamp,
    facts: Mapping[str, pd.DataFrame],
    unavailable: Mapping[str, str],
    catalogue: Catalogue | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Results (one row per team and check) and findings of every implemented check.

    ``unavailable`` maps a source to why it cannot be trusted this time (down, failed
    validation); every check that reads it is ``unknown`` with that reason.
    """
    catalogue = catalogue or load_catalogue()
    teams = facts["registry_teams"]
    all_results, all_findings = [], []
    for check in catalogue.implemented():
        thresholds = team_thresholds(check, teams["team"], facts["registry_thresholds"])
        blocked = [source for source in check.required_sources if source in unavailable]
        if blocked:
            reason = "; ".join(f"{source} data is unavailable: {unavailable[source]}" for source in blocked)
            results, findings = _all_unknown(teams["team"], reason), pd.DataFrame(columns=FINDING_COLUMNS)
        else:
            partial = {source: unavailable[source] for source in check.partial_sources if source in unavailable}
            outcome = check.evaluator()(CheckInput(audit_instant, teams, facts, thresholds, partial))
            results, findings = _complete(outcome.results, teams["team"]), outcome.findings
        all_results.append(_scored(results.assign(check_id=check.id), check, catalogue))
        all_findings.append(findings.assign(check_id=check.id)[CHECK_FINDING_COLUMNS])
    return (
        pd.concat(all_results, ignore_index=True)[RESULT_COLUMNS],
        pd.concat(all_findings, ignore_index=True),
    )


def _all_unknown(teams: pd.Series, reason: str) -> pd.DataFrame:
    return pd.DataFrame({"team": teams, "status": "unknown", "reason": f"{reason.rstrip('.')}."})


def _complete(results: pd.DataFrame, teams: pd.Series) -> pd.DataFrame:
    """A team the check said nothing about is unknown, never silently dropped."""
    missing = teams[~teams.isin(results["team"])]
    gaps = _all_unknown(missing, "The check produced no result for this team")
    return pd.concat([results, gaps], ignore_index=True) if len(gaps) else results


def _scored(results: pd.DataFrame, check: CheckDefinition, catalogue: Catalogue) -> pd.DataFrame:
    score = results["status"].map(catalogue.status_scores).astype("Float64")
    remediation = results["status"].map(lambda status: PASS_REMEDIATION if status == "pass" else check.remediation)
    return results.assign(score=score, remediation=remediation)
