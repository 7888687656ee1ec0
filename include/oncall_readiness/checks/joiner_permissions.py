"""joiner-permissions: every joiner has a user on the team's on-call platform and the team's Grafana team membership.

A joiner is someone whose start date in the team lies in the ``joiner_days`` days up to the
audit date (``readiness/start-date`` on the User, or the HR export, which replaces the
catalog's start date, adds new hires the catalog does not list yet and withdraws anyone it
does not report as active; see ``oncall_readiness.hr``). Access is checked by lower-cased
email in two systems:

- the team's on-call platform (PagerDuty, JSM Operations): a user with the joiner's email
  (``oncall_users`` of that platform);
- Grafana: membership of the Grafana team the team names in ``grafana/team``
  (``grafana_team_members``).

Per joiner: all access passes; missing access warns up to ``grace_days`` days after the start
date and fails after that, naming the person and the system. A team that names no Grafana
team, or one Grafana does not have, fails for each of its joiners at once: no grace period
fixes configuration. A team without joiners passes.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from oncall_readiness.checks import FINDING_COLUMNS, CheckInput, CheckOutcome, results_from_findings
from oncall_readiness.frames import is_in, records
from oncall_readiness.oncall_facts import DEFAULT_PLATFORM, PLATFORMS, team_platforms

TABLES = ("registry_people", "oncall_users", "grafana_teams", "grafana_team_members")
HR_TABLE = "registry_hr_joiners"
ACTIVE = "active"


def evaluate(audit: CheckInput) -> CheckOutcome:
    missing = [table for table in TABLES if table not in audit.facts]
    if missing:
        return _unknown(audit.teams["team"], f"The facts table {', '.join(missing)} was not collected")
    facts = audit.facts
    joiners = recent_joiners(audit)
    grafana_team = joiners["team"].map(audit.teams.set_index("team")["grafana_team"]).astype("string")
    platforms = team_platforms(facts.get("registry_groups", audit.teams))
    platform = joiners["team"].map(platforms).fillna(DEFAULT_PLATFORM)
    users = facts["oncall_users"].dropna(subset=["email"])
    accounts = set(zip(users["platform"].tolist(), users["email"].str.lower().tolist(), strict=True))
    grafana_teams = set(facts["grafana_teams"]["team_name"].dropna())
    members = facts["grafana_team_members"]
    memberships = set(zip(members["team_name"].tolist(), members["email"].str.lower().tolist(), strict=True))
    joiners = joiners.assign(
        grafana_team=grafana_team,
        platform_title=[_title(name) for name in platform.tolist()],
        has_user=[
            (name, email) in accounts for name, email in zip(platform.tolist(), joiners["email"].tolist(), strict=True)
        ],
        grafana_team_exists=is_in(grafana_team, grafana_teams).fillna(False).astype(bool),
        in_grafana_team=[
            (team, email) in memberships
            for team, email in zip(grafana_team.tolist(), joiners["email"].tolist(), strict=True)
        ],
        grace_days=joiners["team"].map(audit.thresholds["grace_days"]).astype(int),
    )
    findings = pd.DataFrame([_finding(row) for row in records(joiners)], columns=FINDING_COLUMNS)
    findings = findings.sort_values(["team", "subject"], ignore_index=True)
    results = results_from_findings(audit.teams["team"], findings, all_clear="")
    days = results["team"].map(audit.thresholds["joiner_days"]).astype(int)
    has_joiners = is_in(results["team"], joiners["team"])
    all_clear = results["status"].eq("pass")
    titles = results["team"].map(lambda team: _title(platforms.get(team, DEFAULT_PLATFORM)))
    results.loc[all_clear & has_joiners, "reason"] = [
        f"Every joiner of the last {n} days has a {title} user and the team's Grafana team membership."
        for n, title in zip(days[all_clear & has_joiners], titles[all_clear & has_joiners], strict=True)
    ]
    results.loc[all_clear & ~has_joiners, "reason"] = [
        f"No one joined in the last {n} days." for n in days[all_clear & ~has_joiners]
    ]
    return CheckOutcome(results=results, findings=findings)


def recent_joiners(audit: CheckInput) -> pd.DataFrame:
    """team, subject, name, email, start_date (Timestamp), hr_only (a new hire only the HR export
    lists), days_in (whole days since starting)."""
    people = audit.facts["registry_people"]
    people = people[people["team"].notna() & is_in(people["team"], audit.teams["team"])]
    people = pd.DataFrame(
        {
            "team": people["team"].astype(str),
            "subject": "person:" + people["person"].astype(str),
            "name": people["display_name"].fillna(people["person"]).astype(str),
            "email": people["email"].astype("string").str.strip().str.lower(),
            "start_date": pd.to_datetime(people["start_date"], errors="coerce"),
            "hr_only": False,
        }
    )
    hr = audit.facts.get(HR_TABLE)
    if hr is not None and len(hr):
        people = _with_hr_export(people, hr[is_in(hr["team"], audit.teams["team"])])
    instant = audit.audit_instant
    day = (instant.tz_convert("UTC").tz_localize(None) if instant.tzinfo else instant).normalize()
    days_in = (day - people["start_date"]).dt.days
    window = people["team"].map(audit.thresholds["joiner_days"]).astype(float)
    recent: pd.Series[bool] = days_in.between(0, window) & days_in.notna()
    return people.assign(days_in=days_in)[recent].reset_index(drop=True)


def _with_hr_export(people: pd.DataFrame, hr: pd.DataFrame) -> pd.DataFrame:
    """The HR export's start dates over the catalog's; its non-active rows withdraw people; new hires added."""
    hr = pd.DataFrame(
        {
            "team": hr["team"].astype(str),
            "email": hr["email"].astype("string").str.strip().str.lower(),
            "name": hr["name"].astype("string") if "name" in hr else pd.NA,
            "hr_start": pd.to_datetime(hr["start_date"], errors="coerce"),
            "active": hr["status"].astype("string").str.strip().str.lower().eq(ACTIVE).fillna(False),
        }
    )
    keyed = people.merge(hr, on=["team", "email"], how="left", suffixes=("", "_hr"))
    keyed = keyed[keyed["active"].isna() | keyed["active"].eq(True)]
    keyed["start_date"] = keyed["hr_start"].where(keyed["active"].eq(True), keyed["start_date"])
    known = set(zip(people["team"].tolist(), people["email"].tolist(), strict=True))
    unknown = pd.Series(
        [(t, e) not in known for t, e in zip(hr["team"].tolist(), hr["email"].tolist(), strict=True)], index=hr.index
    )
    new_hires = hr[hr["active"] & unknown]
    added = pd.DataFrame(
        {
            "team": new_hires["team"],
            "subject": "person:" + new_hires["email"].astype(str),
            "name": new_hires["name"].fillna(new_hires["email"]).astype(str),
            "email": new_hires["email"],
            "start_date": new_hires["hr_start"],
            "hr_only": True,
        }
    )
    return pd.concat([keyed[list(added.columns)], added], ignore_index=True)


def _finding(row: Any) -> dict[str, str]:  # row: one of recent_joiners' with their access
    problems, config_problem = [], False
    if not row.has_user:
        problems.append(f"has no {row.platform_title} user")
    if pd.isna(row.grafana_team):
        problems.append("cannot get Grafana access: the team has no grafana/team annotation")
        config_problem = True
    elif not row.grafana_team_exists:
        problems.append(f"cannot get Grafana access: the Grafana team {row.grafana_team} (grafana/team) does not exist")
        config_problem = True
    elif not row.in_grafana_team:
        problems.append(f"is not in the Grafana team {row.grafana_team}")
    started = f"{_days(row.days_in)} after starting on {row.start_date:%Y-%m-%d}"
    note = "; only the HR export lists them, the catalog not yet" if row.hr_only else ""
    if not problems:
        outcome = "pass"
        message = f"{row.name} has a {row.platform_title} user and is in the Grafana team {row.grafana_team}"
    elif config_problem or row.days_in > row.grace_days:
        outcome = "fail"
        message = f"{row.name} {' and '.join(problems)}, {started}"
    else:
        outcome = "warn"
        message = f"{row.name} {' and '.join(problems)} yet, {started} (within the {row.grace_days}-day grace period)"
    return {"team": row.team, "subject": row.subject, "outcome": outcome, "message": message + note}


def _title(platform: str) -> str:
    return PLATFORMS[platform].title if platform in PLATFORMS else platform


def _days(n: int) -> str:
    return "0 days" if n == 0 else f"{n} day{'s' if n != 1 else ''}"


def _unknown(teams: pd.Series, reason: str) -> CheckOutcome:
    results = pd.DataFrame({"team": teams, "status": "unknown", "reason": f"{reason}."})
    return CheckOutcome(results=results, findings=pd.DataFrame(columns=FINDING_COLUMNS))
