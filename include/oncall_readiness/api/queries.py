"""What the readiness API answers, read from the warehouse: the latest audit date's published rows.

Every answer comes from one audit date, the latest in ``scorecard`` (so a team's checks, its gate
and the scorecard always agree). The gate:

- a team's gate is open when its level is at least ``min_level`` and none of its checks fails;
- a service's gate is its owner team's level (the team that runs it) and the checks whose
  findings fail about that service (subject ``service:<name>``); open when the level is at least
  ``min_level`` and no check fails about the service.

Waived checks never close a gate; the active waivers of the team (for a service: those of the
whole team and those about that service) are listed so the caller sees what was accepted.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Hashable, Mapping
from typing import Any

import pandas as pd
import sqlalchemy as sa

from oncall_readiness import schema
from oncall_readiness.api.models import CheckResult, Finding, Gate, Scorecard, TeamReport, TeamScore, Waiver
from oncall_readiness.errors import ReadinessError
from oncall_readiness.warehouse import Warehouse


class NotFound(ReadinessError, LookupError):
    """Nothing published for what was asked; the message says what (the API's 404)."""


def latest_date(warehouse: Warehouse) -> dt.date:
    latest = warehouse.latest_audit_date()
    if latest is None:
        raise NotFound("No audit has been published yet: run readiness_audit first.")
    return latest


def scorecard(warehouse: Warehouse) -> Scorecard:
    day = latest_date(warehouse)
    card = read_tables(warehouse, "SELECT * FROM {scorecard} WHERE audit_date = :day ORDER BY team", day=day)
    return Scorecard(audit_date=day, teams=[TeamScore(**_plain(row)) for row in card.to_dict("records")])


def team_report(warehouse: Warehouse, team: str) -> TeamReport:
    day, row = _team_row(warehouse, team)
    return TeamReport(
        audit_date=day,
        team=team,
        score=row["score"],
        level=row["level"],
        checks=_checks(warehouse, day, team),
        waivers=_waivers(warehouse, day, team),
    )


def team_gate(warehouse: Warehouse, team: str, min_level: str) -> Gate:
    day, row = _team_row(warehouse, team)
    failing = [check for check in _checks(warehouse, day, team) if check.status == "fail"]
    return _gate(day, team, None, row, min_level, failing, _waivers(warehouse, day, team))


def service_gate(warehouse: Warehouse, service: str, min_level: str) -> Gate:
    day = latest_date(warehouse)
    sql = "SELECT team FROM {facts_registry_services} WHERE audit_date = :day AND service = :s"
    owners = read_tables(warehouse, sql, day=day, s=service)
    if owners.empty:
        raise NotFound(f"No service named {service!r} in the registry of the audit of {day}.")
    team = str(owners.at[0, "team"])
    _, row = _team_row(warehouse, team)
    subject = f"service:{service}"
    failing = []
    for check in _checks(warehouse, day, team):
        about = [f for f in check.findings if f.subject == subject and f.outcome == "fail"]
        if about:
            failing.append(check.model_copy(update={"findings": about}))
    waivers = [w for w in _waivers(warehouse, day, team) if w.subject in (None, subject)]
    return _gate(day, team, service, row, min_level, failing, waivers)


def _gate(
    day: dt.date,
    team: str,
    service: str | None,
    row: dict[str, Any],
    min_level: str,
    failing: list[CheckResult],
    waivers: list[Waiver],
) -> Gate:
    level = row["level"]
    enough = schema.level_rank(level) >= schema.level_rank(min_level)
    what = f"service {service} (team {team})" if service else f"team {team}"
    if enough and not failing:
        reason = f"The {what} is {level}, at least {min_level}, and no check fails."
    else:
        problems = [] if enough else [f"its level is {level}, below {min_level}"]
        if failing:
            problems.append(f"{len(failing)} check(s) fail: {', '.join(c.check_id for c in failing)}")
        reason = f"The {what} does not pass the gate: {'; '.join(problems)}."
    return Gate(
        audit_date=day,
        team=team,
        service=service,
        level=level,
        score=row["score"],
        min_level=min_level,
        open=enough and not failing,
        reason=reason,
        failing_checks=failing,
        waivers=waivers,
    )


def _team_row(warehouse: Warehouse, team: str) -> tuple[dt.date, dict[str, Any]]:
    day = latest_date(warehouse)
    sql = "SELECT * FROM {scorecard} WHERE audit_date = :day AND team = :team"
    row = read_tables(warehouse, sql, day=day, team=team)
    if row.empty:
        raise NotFound(f"No team named {team!r} in the scorecard of {day}.")
    return day, _plain(row.to_dict("records")[0])


def _checks(warehouse: Warehouse, day: dt.date, team: str) -> list[CheckResult]:
    results = read_tables(
        warehouse, "SELECT * FROM {check_results} WHERE audit_date = :day AND team = :team", day=day, team=team
    )
    findings = read_tables(
        warehouse,
        "SELECT check_id, subject, outcome, message FROM {findings} WHERE audit_date = :day AND team = :team",
        day=day,
        team=team,
    )
    by_check = {check_id: group for check_id, group in findings.groupby("check_id")} if len(findings) else {}
    checks = []
    for record in results.to_dict("records"):
        row = _plain(record)
        mine = by_check.get(row["check_id"], pd.DataFrame(columns=["subject", "outcome", "message"]))
        mine = mine.assign(rank=mine["outcome"].map(schema.severity)).sort_values(["rank", "subject"])
        row["findings"] = [Finding(**_plain(f)) for f in mine[["subject", "outcome", "message"]].to_dict("records")]
        fields: dict[str, Any] = {key: row.get(key) for key in CheckResult.model_fields}
        checks.append(CheckResult(**fields))
    return sorted(checks, key=lambda check: (schema.severity(check.status), check.check_id))


def _waivers(warehouse: Warehouse, day: dt.date, team: str) -> list[Waiver]:
    """The team's active waivers on ``day`` (the ``waivers`` table; none before it exists)."""
    with warehouse.engine.connect() as conn:
        if not sa.inspect(conn).has_table("waivers", schema=warehouse.schema):
            return []
    sql = "SELECT * FROM {waivers} WHERE audit_date = :day AND team = :team"
    rows = read_tables(warehouse, sql, day=day, team=team)
    if "active" in rows.columns:
        rows = rows[rows["active"].fillna(False).astype(bool)]
    return [Waiver(**{k: v for k, v in _plain(r).items() if k in Waiver.model_fields}) for r in rows.to_dict("records")]


def read_tables(warehouse: Warehouse, sql: str, **params: Any) -> pd.DataFrame:
    """``sql`` with ``{table}`` placeholders qualified by the warehouse's schema; bound parameters."""
    prefix = f"{warehouse.schema}." if warehouse.schema else ""
    tables = ("scorecard", "check_results", "findings", "waivers", "facts_registry_services")
    return warehouse.query(sql.format(**{table: prefix + table for table in tables}), **params)


def _plain(row: Mapping[Hashable, Any]) -> dict[str, Any]:
    """NA as None, timestamps and dates as dates: what pydantic and JSON take (a row's columns: text)."""
    plain: dict[str, Any] = {}
    for label, value in row.items():
        key = str(label)
        if value is None or (not isinstance(value, (list, dict, str)) and pd.isna(value)):
            plain[key] = None
        elif isinstance(value, pd.Timestamp):
            plain[key] = value.date() if key in ("audit_date", "expires", "approved") else value.to_pydatetime()
        elif hasattr(value, "item"):
            plain[key] = value.item()
        else:
            plain[key] = value
    return plain
