"""Six weekly audits of the sample organisation's teams, scored and published by the real pipeline functions.

The registry is the sample organisation's (``load_registry``); each week's check results follow the
story below, and everything after them is the audit's own code: ``score_teams`` (levels, the tier-1
requirement, the change against ``week_before``), ``rollup.scorecard_rollup`` and ``Warehouse.publish``.

- checkout improves week by week (fail, then warn, then pass);
- payments holds gold, then a warn on escalation-path caps it at silver in the last week (it owns a
  tier-1 service, and gold asks those teams to pass escalation-path): a level drop;
- identity's PagerDuty data failed validation in week 5 (unknown checks): its score jumps, a data gap;
- notifications has a waived rotation check; catalog fails chaos-day every week.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from oncall_readiness.registry import load_registry
from oncall_readiness.registry.groups import audited_teams
from oncall_readiness.rollup import scorecard_rollup
from oncall_readiness.scorecard import score_teams, week_before
from oncall_readiness.warehouse import RESULT_TABLES, Warehouse

LAST = dt.date(2026, 11, 16)
DATES = [LAST - dt.timedelta(weeks=weeks) for weeks in range(5, -1, -1)]
CHECKS = ("rotation-sustainability", "runbook-freshness", "escalation-path", "chaos-day", "oncall-load")
SCORES = {"pass": 10.0, "warn": 5.0, "fail": 0.0}


def statuses(team: str, week: int) -> dict[str, str]:
    """The team's status per check in week ``week`` (0 is the first of the six)."""
    found = dict.fromkeys(CHECKS, "pass")
    if team == "checkout":
        found["runbook-freshness"] = ("fail", "fail", "warn", "warn", "pass", "pass")[week]
        found["escalation-path"] = ("fail", "warn", "warn", "pass", "pass", "pass")[week]
    elif team == "payments" and week == 5:
        found["escalation-path"] = "warn"
    elif team == "identity" and week == 4:
        found.update({"rotation-sustainability": "unknown", "escalation-path": "unknown", "oncall-load": "unknown"})
    elif team == "identity":
        found["oncall-load"] = "fail"
    elif team == "notifications":
        found["rotation-sustainability"] = "waived"
    elif team == "catalog":
        found["chaos-day"] = "fail"
    elif team == "search":
        found["runbook-freshness"] = "warn"
    return found


def check_results(teams: list[str], week: int) -> pd.DataFrame:
    rows = []
    for team in teams:
        for check_id, status in statuses(team, week).items():
            reason = f"{team}: {check_id} is {status} in week {week + 1}."
            if status == "unknown":
                reason = "pagerduty data failed validation, so this check is unknown."
            rows.append(
                {
                    "team": team,
                    "check_id": check_id,
                    "status": status,
                    "score": SCORES.get(status),
                    "reason": reason,
                    "remediation": f"Run `make fix-{check_id}` for {team}; see [the playbook](https://example.com/playbook).",
                }
            )
    return pd.DataFrame(rows, columns=list(RESULT_TABLES["check_results"]))


def findings(results: pd.DataFrame) -> pd.DataFrame:
    bad = results[~results["status"].isin(("pass", "waived"))]
    rows = [
        {
            "team": row.team,
            "check_id": row.check_id,
            "subject": f"escalation_policy:P{row.team.upper()[:4]}1",
            "outcome": row.status,
            "message": row.reason,
        }
        for row in bad.itertuples(index=False)
    ]
    return pd.DataFrame(rows, columns=list(RESULT_TABLES["findings"]))


def publish_history(url: str, catalog: str = "include/sample_org/catalog") -> list[dt.date]:
    """Publish the six audits into the warehouse at ``url``; their dates, oldest first."""
    registry = load_registry(catalog)
    teams = sorted(audited_teams(registry.teams, registry.services)["team"])
    warehouse = Warehouse(url)
    try:
        for week, day in enumerate(DATES):
            results = check_results(teams, week)
            base = week_before(day, warehouse.audit_dates())
            previous = warehouse.scores_on(base) if base else None
            card = score_teams(results, previous, services=registry.services)
            warehouse.publish(
                day,
                check_results=results,
                findings=findings(results),
                scorecard=card,
                scorecard_rollup=scorecard_rollup(card, registry.teams, registry.services),
                facts={"registry_teams": registry.teams, "registry_services": registry.services},
            )
    finally:
        warehouse.dispose()
    return DATES
