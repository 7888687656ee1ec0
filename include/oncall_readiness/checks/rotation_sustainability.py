"""rotation-sustainability: at least three people, one-week turns, everyone takes part, fair shares.

Read over the window of ``window_days`` ending at the audit instant, per schedule of a team on
its on-call platform (``oncall_team_schedules``: ``pagerduty.com/schedule-ids`` on PagerDuty, the
schedules the team owns on JSM Operations):

- people: distinct users in the schedule's active rotations (layers) or its final schedule;
- turns: every active rotation's turn length;
- participation: every non-exempt team member is in one of the team's schedules;
- fair share: nobody is on call longer than round-robin over the schedule's people would
  ever ask of one person, ``ceil(window / (turn × people))`` turns (one hour of slack).
"""

from __future__ import annotations

import math

import pandas as pd

from oncall_readiness.checks import FINDING_COLUMNS, CheckInput, CheckOutcome, one_per_subject, results_from_findings
from oncall_readiness.frames import is_in, records
from oncall_readiness.oncall_facts import DEFAULT_PLATFORM, PLATFORMS, Platform, team_platforms

SLACK_HOURS = 1.0


def evaluate(audit: CheckInput) -> CheckOutcome:
    facts = audit.facts
    window_days = int(audit.thresholds["window_days"].iloc[0])
    window = (audit.audit_instant - pd.Timedelta(days=window_days), audit.audit_instant)
    platforms = team_platforms(facts.get("registry_groups", audit.teams))
    links = facts["oncall_team_schedules"][["team", "schedule_id"]].drop_duplicates()
    schedules = facts["oncall_schedules"][["schedule_id", "name"]]
    known = links.merge(schedules, on="schedule_id", how="inner")
    members = _active_members(facts["oncall_rotation_members"], window)
    shifts = _clipped_shifts(facts["oncall_shifts"], window)
    people = _people_per_schedule(members, shifts)
    persons = _registry_persons(facts["registry_people"], facts["oncall_users"], platforms)

    findings = pd.concat(
        [
            _teams_without_schedule(audit.teams, links, platforms),
            _unknown_schedules(links, schedules, platforms),
            _schedule_findings(known, members, people, audit.thresholds),
            _participation_findings(known, people, persons, platforms),
            _fair_share_findings(known, shifts, members, people, persons, audit.thresholds, window_days, platforms),
        ],
        ignore_index=True,
    )
    findings = one_per_subject(findings)
    results = results_from_findings(
        audit.teams["team"], findings, all_clear="Every rotation of the team is sustainable."
    )
    return CheckOutcome(results=results, findings=findings)


def _active_members(members: pd.DataFrame, window: tuple[pd.Timestamp, pd.Timestamp]) -> pd.DataFrame:
    since, until = window
    active = (members["rotation_start"].isna() | (members["rotation_start"] < until)) & (
        members["rotation_end"].isna() | (members["rotation_end"] > since)
    )
    return members[active]


def _clipped_shifts(shifts: pd.DataFrame, window: tuple[pd.Timestamp, pd.Timestamp]) -> pd.DataFrame:
    since, until = window
    # pandas-stubs type Series.clip's bounds as numbers and arrays; a Timestamp bounds a datetime column
    start: pd.Series = shifts["start"].clip(lower=since)  # type: ignore[call-overload]
    end: pd.Series = shifts["end"].clip(upper=until)  # type: ignore[call-overload]
    hours = (end - start).dt.total_seconds() / 3600
    return shifts.assign(hours=hours)[hours > 0]


def _people_per_schedule(members: pd.DataFrame, shifts: pd.DataFrame) -> pd.DataFrame:
    """(schedule_id, user_id) of everyone who is in a rotation or on call in the window."""
    both = pd.concat([members[["schedule_id", "user_id"]], shifts[["schedule_id", "user_id"]]])
    return both.dropna().drop_duplicates()


def _platform(name: str | None) -> Platform:
    return PLATFORMS.get(name or DEFAULT_PLATFORM, PLATFORMS[DEFAULT_PLATFORM])


def _registry_persons(people: pd.DataFrame, users: pd.DataFrame, platforms: dict[str, str]) -> pd.DataFrame:
    """Team memberships joined by lower-cased email to the users of the team's platform (user_id NA when none)."""
    by_email = users[["platform", "user_id", "email"]].dropna().drop_duplicates(["platform", "email"])
    people = people.assign(platform=people["team"].map(platforms).fillna(DEFAULT_PLATFORM).astype("string"))
    return people.merge(by_email, on=["platform", "email"], how="left")


def _teams_without_schedule(teams: pd.DataFrame, links: pd.DataFrame, platforms: dict[str, str]) -> pd.DataFrame:
    lonely = teams[~is_in(teams["team"], links["team"])]
    in_opsgenie = lonely["opsgenie_team"].notna().tolist()
    messages = []
    for team, opsgenie in zip(lonely["team"].tolist(), in_opsgenie, strict=True):
        platform = _platform(platforms.get(team))
        if opsgenie:
            messages.append("The team's rotation lives in Opsgenie, which this audit does not read yet")
        elif platform.schedule_annotation:
            messages.append(f"No on-call schedule is linked to the team (annotation {platform.schedule_annotation})")
        else:
            messages.append(f"The team has no on-call schedule in {platform.title}")
    return pd.DataFrame(
        {
            "team": lonely["team"],
            "subject": "team:" + lonely["team"],
            "outcome": ["unknown" if opsgenie else "fail" for opsgenie in in_opsgenie],
            "message": messages,
        },
        columns=FINDING_COLUMNS,
    )


def _unknown_schedules(links: pd.DataFrame, schedules: pd.DataFrame, platforms: dict[str, str]) -> pd.DataFrame:
    missing = links[~is_in(links["schedule_id"], schedules["schedule_id"])]
    where = [_platform(platforms.get(team)).title for team in missing["team"].tolist()]
    return pd.DataFrame(
        {
            "team": missing["team"],
            "subject": "schedule:" + missing["schedule_id"],
            "outcome": "fail",
            "message": [
                f"Schedule {schedule} linked in the catalog does not exist in {title}"
                for schedule, title in zip(missing["schedule_id"].tolist(), where, strict=True)
            ],
        },
        columns=FINDING_COLUMNS,
    )


def _schedule_findings(
    known: pd.DataFrame, members: pd.DataFrame, people: pd.DataFrame, thresholds: pd.DataFrame
) -> pd.DataFrame:
    headcount = people.groupby("schedule_id")["user_id"].nunique().rename("people")
    turns = _turn_lengths(members)
    # Plain dicts, not a lambda per schedule or .at per link: seconds at 2,000 teams.
    min_people = thresholds["min_people"].to_dict()
    turn_hours = thresholds["turn_length_hours"].to_dict()
    rows = []
    for link in records(known.merge(headcount, on="schedule_id", how="left")):
        n = 0 if pd.isna(link.people) else int(link.people)
        minimum = int(min_people[link.team])
        expected = float(turn_hours[link.team])
        odd = [s / 3600 for s in turns.get(link.schedule_id, []) if s / 3600 != expected]
        subject = f"schedule:{link.schedule_id}"
        if n < minimum:
            message = f"{link.name} has {_count(n, 'person', 'people')} on call; at least {minimum} are needed"
            rows.append((link.team, subject, "fail", message))
        if odd:
            message = (
                f"{link.name} hands over every {', '.join(map(_duration, odd))}; "
                f"turns of {_duration(expected)} are expected"
            )
            rows.append((link.team, subject, "warn", message))
        if n >= minimum and not odd:
            message = f"{link.name} rotates {_count(n, 'person', 'people')} in {_duration(expected)} turns"
            rows.append((link.team, subject, "pass", message))
    return pd.DataFrame(rows, columns=FINDING_COLUMNS)


def _turn_lengths(members: pd.DataFrame) -> dict[str, list[int]]:
    """schedule_id -> the distinct turn lengths (seconds) of its active layers, smallest first."""
    distinct = members[["schedule_id", "turn_length_seconds"]].dropna().drop_duplicates()
    turns: dict[str, set[int]] = {}
    for schedule, seconds in zip(
        distinct["schedule_id"].tolist(), distinct["turn_length_seconds"].tolist(), strict=True
    ):
        turns.setdefault(schedule, set()).add(seconds)
    return {schedule: sorted(lengths) for schedule, lengths in turns.items()}


def _participation_findings(
    known: pd.DataFrame, people: pd.DataFrame, persons: pd.DataFrame, platforms: dict[str, str]
) -> pd.DataFrame:
    on_rotation = known[["team", "schedule_id"]].merge(people, on="schedule_id")[["team", "user_id"]]
    on_rotation = on_rotation.drop_duplicates().assign(takes_turns=True)
    members = persons[is_in(persons["team"], known["team"])]
    members = members.merge(on_rotation, on=["team", "user_id"], how="left")
    takes_turns = members["takes_turns"].eq(True)
    exempt = members["oncall_exempt"].notna()
    no_user = members["user_id"].isna()
    name = members["display_name"].fillna(members["person"])
    outcome = pd.Series("warn", index=members.index).mask(takes_turns | exempt, "pass")
    message = (
        (name + " is not in any of the team's rotations")
        .mask(no_user, name + " has no " + _titles(members["team"], platforms) + " user, so takes no on-call turns")
        .mask(exempt, name + " is exempt from on-call and not counted against the team")
        .mask(takes_turns, name + " takes on-call turns")
    )
    return pd.DataFrame(
        {"team": members["team"], "subject": "person:" + members["person"], "outcome": outcome, "message": message},
        columns=FINDING_COLUMNS,
    )


def _fair_share_findings(
    known: pd.DataFrame,
    shifts: pd.DataFrame,
    members: pd.DataFrame,
    people: pd.DataFrame,
    persons: pd.DataFrame,
    thresholds: pd.DataFrame,
    window_days: int,
    platforms: dict[str, str],
) -> pd.DataFrame:
    hours = shifts.groupby(["schedule_id", "user_id"], as_index=False)["hours"].sum()
    headcount = people.groupby("schedule_id")["user_id"].nunique().rename("people")
    turn_hours = (members.groupby("schedule_id")["turn_length_seconds"].min() / 3600).rename("turn_hours")
    load = (
        known[["team", "schedule_id", "name"]]
        .merge(hours, on="schedule_id")
        .merge(headcount, on="schedule_id")
        .merge(turn_hours, on="schedule_id", how="left")
    )
    if load.empty:
        return pd.DataFrame(columns=FINDING_COLUMNS)
    default_turn = load["team"].map(thresholds["turn_length_hours"]).astype(float)
    turn = load["turn_hours"].fillna(default_turn).astype(float)
    window_hours = window_days * 24.0
    turns_allowed = (window_hours / (turn * load["people"])).map(math.ceil)
    load["allowance"] = turns_allowed * turn
    heavy = load[load["hours"] > load["allowance"] + SLACK_HOURS]
    who = persons.drop_duplicates(["team", "user_id"])[["team", "user_id", "person", "display_name"]]
    heavy = heavy.merge(who, on=["team", "user_id"], how="left")
    strangers = [
        _platform(platforms.get(team)) for team in heavy["team"].tolist()
    ]  # users the registry does not know, named as their platform calls them
    unnamed = pd.Series(
        [f"{p.title} user {user}" for p, user in zip(strangers, heavy["user_id"].tolist(), strict=True)],
        index=heavy.index,
        dtype="string",
    )
    unknown_subject = pd.Series(
        [p.user_subject(user) for p, user in zip(strangers, heavy["user_id"].tolist(), strict=True)],
        index=heavy.index,
        dtype="string",
    )
    name = heavy["display_name"].fillna(heavy["person"]).fillna(unnamed)
    subject = ("person:" + heavy["person"]).fillna(unknown_subject)
    message = [
        f"{who_} was on call {hours_:.0f} h of the last {window_days} days in {schedule}, "
        f"more than the {allowance:.0f} h a fair turn among {n} people allows"
        for who_, hours_, schedule, allowance, n in zip(
            name, heavy["hours"], heavy["name"], heavy["allowance"], heavy["people"], strict=True
        )
    ]
    return pd.DataFrame(
        {"team": heavy["team"], "subject": subject, "outcome": "warn", "message": message},
        columns=FINDING_COLUMNS,
    )


def _titles(teams: pd.Series, platforms: dict[str, str]) -> pd.Series:
    """The title of each team's on-call platform, aligned with ``teams``."""
    return pd.Series(
        [_platform(platforms.get(team)).title for team in teams.tolist()], index=teams.index, dtype="string"
    )


def _duration(hours: float) -> str:
    if hours % 168 == 0:
        return _count(int(hours // 168), "week", "weeks")
    if hours % 24 == 0:
        return _count(int(hours // 24), "day", "days")
    return _count(round(hours, 1), "hour", "hours")


def _count(n: float, one: str, many: str) -> str:
    return f"{n:g} {one if n == 1 else many}"
