"""oncall-load: is being on call for this team sustainable, week by week, for every person?

Over the ``window_days`` (28) ending at the audit instant, cut into four 7-day weeks counted
back from it (``oncall_responder_weeks``: PagerDuty's own interruption figures, or the same
figures a platform computes from its notifications, classified in each responder's time zone),
per team member who is not exempt from on-call:

- more than ``max_sleep_interruptions_per_week`` sleep-hour interruptions (22:00-08:00) in a
  week fails;
- more than ``max_off_hour_interruptions_per_week`` off-hour interruptions (weekday evenings,
  weekend days) in a week warns;
- more than ``max_incidents_per_shift`` incidents per 12 hours on call over the whole window
  warns (the figure Google's SRE book gives for a 12-hour shift).

A finding names the person, the week and the noisiest services of that week (the incidents
assigned to them, ``oncall_incidents``). People are matched by email to the users of their team's
on-call platform. A team's status is its worst finding; a team whose members had no
interruptions passes. A team whose platform cannot give the interruptions (``oncall_unreadable``,
facet ``interruptions``) is unknown, with the platform's reason.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

import pandas as pd

from oncall_readiness.checks import FINDING_COLUMNS, CheckInput, CheckOutcome, one_per_subject, results_from_findings
from oncall_readiness.frames import is_in
from oncall_readiness.oncall_facts import DEFAULT_PLATFORM, team_platforms

SHIFT_SECONDS = 12 * 3600
NOISIEST = 2
ALL_CLEAR = (
    "Nobody on call had more than {sleep} sleep-hour or {off} off-hour interruptions in a week, "
    "or more than {shift} incidents per 12 hours on call, in the last {days} days."
)


def evaluate(audit: CheckInput) -> CheckOutcome:
    facts, thresholds = audit.facts, audit.thresholds
    days = int(thresholds["window_days"].iloc[0])
    since = audit.audit_instant - pd.Timedelta(days=days)
    weeks = facts["oncall_responder_weeks"].drop(columns="platform")
    weeks = weeks[(weeks["week_start"] >= since) & (weeks["week_end"] <= audit.audit_instant)]
    members = _members(facts, audit.teams["team"])
    load = members.merge(weeks, on="user_id")
    services = _service_names(facts)
    incidents = _assignments(facts["oncall_incidents"])
    findings = pd.concat(
        [
            _weekly_findings(load, thresholds, incidents, services),
            _shift_findings(load, thresholds, days),
        ],
        ignore_index=True,
    )
    findings = one_per_subject(findings) if len(findings) else pd.DataFrame(columns=FINDING_COLUMNS)
    results = results_from_findings(audit.teams["team"], findings, all_clear="")
    passed = results["status"] == "pass"
    limits = thresholds.to_dict("index")  # a dict per team, not .loc per team
    results.loc[passed, "reason"] = [_all_clear(limits[team], days) for team in results.loc[passed, "team"]]
    quiet = ~is_in(results["team"], load.loc[load["total_interruptions"].fillna(0) > 0, "team"])
    results.loc[quiet & passed, "reason"] = f"Nobody in the team was interrupted by a page in the last {days} days."
    return CheckOutcome(results=_unknown_where_unreadable(results, facts, audit.teams), findings=findings)


def _unknown_where_unreadable(
    results: pd.DataFrame, facts: Mapping[str, pd.DataFrame], teams: pd.DataFrame
) -> pd.DataFrame:
    """A team whose platform cannot say who was interrupted is unknown (a fail found stands), with why."""
    unreadable = facts["oncall_unreadable"]
    unreadable = unreadable[unreadable["facet"] == "interruptions"]
    if unreadable.empty:
        return results
    why = dict(zip(unreadable["platform"].tolist(), unreadable["reason"].tolist(), strict=True))
    platforms = team_platforms(facts.get("registry_groups", teams))
    reasons = [why.get(platforms.get(team, DEFAULT_PLATFORM)) for team in results["team"].tolist()]
    blind = pd.Series([reason is not None for reason in reasons], index=results.index) & (results["status"] != "fail")
    results = results.copy()
    results.loc[blind, "status"] = "unknown"
    results.loc[blind, "reason"] = [
        f"Who was interrupted is unknown: {reason}." for reason, b in zip(reasons, blind, strict=True) if b
    ]
    return results


def _all_clear(limits: Mapping[Hashable, Any], days: int) -> str:
    """The pass reason, with the team's own limits (thresholds may differ per team)."""
    return ALL_CLEAR.format(
        sleep=int(limits["max_sleep_interruptions_per_week"]),
        off=int(limits["max_off_hour_interruptions_per_week"]),
        shift=_number(limits["max_incidents_per_shift"]),
        days=days,
    )


def _members(facts: Mapping[str, pd.DataFrame], teams: pd.Series) -> pd.DataFrame:
    """team, person, name, user_id of every member who takes on-call turns (not exempt) with a user on
    their team's on-call platform."""
    people = facts["registry_people"]
    people = people[is_in(people["team"], teams) & people["oncall_exempt"].isna()]
    platforms = team_platforms(facts.get("registry_groups", facts["registry_teams"]))
    people = people.assign(platform=people["team"].map(platforms).fillna(DEFAULT_PLATFORM).astype("string"))
    users = facts["oncall_users"][["platform", "user_id", "email"]].dropna().drop_duplicates(["platform", "email"])
    members = people.merge(users, on=["platform", "email"])
    return members.assign(name=members["display_name"].fillna(members["person"]))[["team", "person", "name", "user_id"]]


def _service_names(facts: Mapping[str, pd.DataFrame]) -> dict[str, str]:
    """The platforms' service id -> the registry's service name, else the platform's."""
    services = facts["oncall_services"]
    names = dict(zip(services["service_id"].tolist(), services["name"].tolist(), strict=True))
    links = facts["oncall_service_links"].dropna(subset=["service_id"])
    names.update(zip(links["service_id"].tolist(), links["service"].tolist(), strict=True))
    return names


def _assignments(incidents: pd.DataFrame) -> pd.DataFrame:
    """One row per (incident, assigned user): user_id, service_id, created_at."""
    assigned = incidents.assign(user_id=incidents["assigned_user_ids"].fillna("").str.split(","))
    assigned = assigned.explode("user_id")
    return assigned[assigned["user_id"].str.len() > 0][["user_id", "service_id", "created_at"]]


def _weekly_findings(
    load: pd.DataFrame, thresholds: pd.DataFrame, incidents: pd.DataFrame, services: dict[str, str]
) -> pd.DataFrame:
    """A fail per responder-week woken too often, a warn per one interrupted too often off hours."""
    weeks = load.join(thresholds, on="team")
    sleep = weeks["sleep_hour_interruptions"].fillna(0).astype(int)
    off = weeks["off_hour_interruptions"].fillna(0).astype(int)
    weeks = weeks.assign(sleep=sleep, off=off)
    # Only the weeks past a limit are told of: their labels and noisiest services alone are built.
    weeks = weeks[
        (weeks["sleep"] > weeks["max_sleep_interruptions_per_week"])
        | (weeks["off"] > weeks["max_off_hour_interruptions_per_week"])
    ]
    weeks = weeks.assign(
        label="in the week from "
        + weeks["week_start"].dt.strftime("%Y-%m-%d")
        + " to "
        + weeks["week_end"].dt.strftime("%Y-%m-%d"),
    )
    weeks = weeks.merge(_noisiest(incidents, services, weeks), on=["user_id", "week_start"], how="left")
    weeks["noisiest"] = weeks["noisiest"].fillna("")
    woken = weeks[weeks["sleep"] > weeks["max_sleep_interruptions_per_week"]]
    busy = weeks[weeks["off"] > weeks["max_off_hour_interruptions_per_week"]]
    return pd.concat(
        [
            _findings(
                woken,
                "fail",
                woken["name"]
                + " was woken "
                + woken["sleep"].astype(str)
                + " times "
                + woken["label"]
                + " (at most "
                + woken["max_sleep_interruptions_per_week"].astype(int).astype(str)
                + ")"
                + woken["noisiest"],
            ),
            _findings(
                busy,
                "warn",
                busy["name"]
                + " had "
                + busy["off"].astype(str)
                + " off-hour interruptions (evenings and weekends) "
                + busy["label"]
                + " (at most "
                + busy["max_off_hour_interruptions_per_week"].astype(int).astype(str)
                + ")"
                + busy["noisiest"],
            ),
        ],
        ignore_index=True,
    )


def _findings(rows: pd.DataFrame, outcome: str, messages: pd.Series) -> pd.DataFrame:
    return pd.DataFrame(
        {"team": rows["team"], "subject": "person:" + rows["person"], "outcome": outcome, "message": messages},
        columns=FINDING_COLUMNS,
    )


def _shift_findings(load: pd.DataFrame, thresholds: pd.DataFrame, days: int) -> pd.DataFrame:
    totals = load.groupby(["team", "person", "name"], as_index=False)[
        ["incident_count", "seconds_on_call", "sleep_hour_interruptions", "off_hour_interruptions"]
    ].sum()
    limits = thresholds["max_incidents_per_shift"].to_dict()  # a dict, not .at per person
    columns = ["team", "person", "name", "incident_count", "seconds_on_call"]
    columns += ["sleep_hour_interruptions", "off_hour_interruptions"]
    rows = []
    # Plain lists, not itertuples over Arrow-backed columns: 20,000 people at 2,000 teams.
    for team, person, name, incident_count, seconds, sleep, off in zip(
        *(totals[column].tolist() for column in columns), strict=True
    ):
        limit = float(limits[team])
        shifts = _count(seconds) / SHIFT_SECONDS
        incidents = _count(incident_count)
        subject = f"person:{person}"
        if shifts and incidents / shifts > limit:
            message = (
                f"{name} had {incidents} incidents in {shifts * 12:.0f} hours on call in the last {days} days: "
                f"{incidents / shifts:.1f} per 12-hour shift (at most {_number(limit)})"
            )
            rows.append((team, subject, "warn", message))
        else:
            message = (
                f"{name}: {_count(sleep)} sleep-hour and {_count(off)} off-hour interruptions in the last {days} days"
            )
            rows.append((team, subject, "pass", message))
    return pd.DataFrame(rows, columns=FINDING_COLUMNS)


def _noisiest(incidents: pd.DataFrame, services: dict[str, str], weeks: pd.DataFrame) -> pd.DataFrame:
    """user_id, week_start, noisiest: ", mostly from <service> (n), ..." of the incidents assigned that week."""
    spans = weeks[["user_id", "week_start", "week_end"]].drop_duplicates()
    assigned = incidents.merge(spans, on="user_id")
    assigned = assigned[
        (assigned["created_at"] >= assigned["week_start"]) & (assigned["created_at"] < assigned["week_end"])
    ]
    if assigned.empty:
        return spans[["user_id", "week_start"]].iloc[:0].assign(noisiest="")
    named = [services.get(service, service) for service in assigned["service_id"].tolist()]
    assigned = assigned.assign(service=pd.Series(named, index=assigned.index, dtype=assigned["service_id"].dtype))
    keys = ["user_id", "week_start"]
    counts = assigned.groupby([*keys, "service"]).size().rename("n").reset_index()
    counts = counts.sort_values(["n", "service"], ascending=[False, True]).groupby(keys).head(NOISIEST)
    counts["part"] = counts["service"] + " (" + counts["n"].astype(str) + ")"
    # Join only the weeks with several services (a Python join per responder-week took seconds).
    several = counts.duplicated(keys, keep=False)
    parts = pd.concat(
        [
            counts[~several].set_index(keys)["part"],
            counts[several].groupby(keys, sort=False)["part"].agg(", ".join),
        ]
    )
    noisiest: pd.Series = ", mostly from " + parts
    return noisiest.rename("noisiest").reset_index()


def _count(value: Any) -> int:  # a cell: a number, or missing
    return 0 if pd.isna(value) else int(value)


def _number(value: float) -> str:
    return f"{float(value):g}"
