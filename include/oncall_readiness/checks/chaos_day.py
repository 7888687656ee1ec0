"""chaos-day: each team held a Chaos Day recently, and shared what it learned.

The last Chaos Day of a team is the latest of its ``readiness/last-chaos-day`` annotation
(``registry_teams.last_chaos_day``) and the Chaos Days it held in the Chaos Day calendar
(``chaos_calendar_events`` that started at or before the audit instant, owned through
``chaos_calendar_event_teams``); an event on the annotation's day stands for it. Ages are
whole days from the Chaos Day's date (in the calendar's time zone) to the audit date:

- at most ``max_days`` passes, at most ``warn_days`` warns, older fails; none at all fails;
- a team whose longest-serving member joined less than ``max_days`` ago (``registry_people.
  start_date``; someone without a start date counts as long-standing) passes while it has
  none or only an old one, and the reason says when its first Chaos Day is due;
- a last Chaos Day from the calendar whose event links no write-up (its ``URL``, or a link in
  its description) warns when it would pass: the playbook asks teams to share what they learned;
- the next planned Chaos Day (the first event after the instant) is named in the reason.

The calendar is optional: without a connection the annotation alone is judged, fully.
When the calendar is configured but could not be read or trusted (a partial source), every
team is unknown, its reason saying what the annotation alone would give: a newer Chaos Day in
the calendar could change the result either way (an event without a write-up turns a pass
into a warn), and a pass drawn from half the data is the one result a team must never get.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, TypeAlias

import pandas as pd

from oncall_readiness.checks import FINDING_COLUMNS, RESULT_COLUMNS, CheckInput, CheckOutcome
from oncall_readiness.frames import is_in

CALENDAR = "chaos_calendar"
ANNOTATION = "readiness/last-chaos-day"
EVENT_COLUMNS = ["team", "uid", "start", "day", "summary", "write_up_url", "recurring"]
# The calendar's state: read, not connected (optional), or else why it could not be read or trusted.
READ, NOT_CONNECTED = "read", "not configured"

# One row of _last_and_next's frame (a named tuple of its columns)
TeamRow: TypeAlias = Any
# team, subject, outcome, message
Finding = tuple[str, str, str, str]


def evaluate(audit: CheckInput) -> CheckOutcome:
    calendar = _calendar_state(audit)
    events = _team_events(audit) if calendar == READ else pd.DataFrame(columns=EVENT_COLUMNS)
    teams = _last_and_next(audit, events)
    rows = [_judge(team, calendar) for team in teams.itertuples()]
    results = pd.DataFrame([row[0] for row in rows], columns=RESULT_COLUMNS)
    findings = pd.DataFrame([finding for row in rows for finding in row[1]], columns=FINDING_COLUMNS)
    return CheckOutcome(results=results, findings=findings.sort_values(["team", "subject"], ignore_index=True))


def _calendar_state(audit: CheckInput) -> str:
    """``READ``, ``NOT_CONNECTED``, or why the calendar could not be read or trusted."""
    if CALENDAR in audit.unavailable:
        return str(audit.unavailable[CALENDAR]).strip().rstrip(".") or "no reason given"
    feed = audit.facts.get("chaos_calendar_feed")
    configured = feed is not None and len(feed) and bool(feed["configured"].fillna(False).any())
    return READ if configured else NOT_CONNECTED


def _team_events(audit: CheckInput) -> pd.DataFrame:
    """Every calendar occurrence with the registry team it belongs to (one row per team)."""
    claims = audit.facts["chaos_calendar_event_teams"][["uid", "start", "team"]]
    claims = claims[is_in(claims["team"], audit.teams["team"])]
    events = audit.facts["chaos_calendar_events"]
    return claims.merge(events, on=["uid", "start"], how="inner")[EVENT_COLUMNS]


def _last_and_next(audit: CheckInput, events: pd.DataFrame) -> pd.DataFrame:
    """Per team: the annotation, the last held and next planned events, the thresholds, the age."""
    instant = audit.audit_instant
    ordered = events.sort_values(["start", "uid"])
    held = ordered[ordered["start"] <= instant].groupby("team").tail(1).set_index("team")
    planned = ordered[ordered["start"] > instant].groupby("team").head(1).set_index("team")
    teams = audit.teams[["team", "last_chaos_day"]].set_index("team")
    frame = (
        teams.join(held.drop(columns="start").add_prefix("held_"))
        .join(planned.drop(columns="start").add_prefix("next_"))
        .join(audit.thresholds[["max_days", "warn_days"]])
        .join(_first_member_since(audit))
    )
    annotation = pd.to_datetime(frame["last_chaos_day"])
    event_day = pd.to_datetime(frame["held_day"])
    frame["from_event"] = event_day.notna() & (annotation.isna() | (event_day >= annotation))
    frame["last_day"] = event_day.where(frame["from_event"], annotation)
    audit_day = pd.Timestamp(instant.date())
    frame["age"] = (audit_day - frame["last_day"]).dt.days.clip(lower=0)
    frame["annotation_age"] = (audit_day - annotation).dt.days.clip(lower=0)
    frame["new_team"] = (audit_day - frame["first_member_since"]).dt.days < frame["max_days"]
    return frame.reset_index()


def _first_member_since(audit: CheckInput) -> pd.Series:
    """The earliest start date of each team's members; NaT when someone has none (long-standing)."""
    people = audit.facts["registry_people"][["team", "start_date"]].dropna(subset=["team"])
    starts = pd.to_datetime(people["start_date"])
    earliest = starts.groupby(people["team"]).min()
    undated = starts.isna().groupby(people["team"]).any()
    return earliest.where(~undated).rename("first_member_since")


def _judge(team: TeamRow, calendar: str) -> tuple[dict[str, str], list[Finding]]:
    """The team's result and findings (team, subject, outcome, message)."""
    status, reason = _by_age(team, calendar)
    recent = status == "pass"
    if team.from_event and pd.isna(team.held_write_up_url):
        reason += ", and its event links no write-up"
        status = "warn" if recent else status
    if not recent and _is_new(team):  # a new team's recent Chaos Day still owes its write-up
        status, reason = "pass", _new_team_reason(team, reason)
    findings = [_last_finding(team, status, reason)]
    if pd.notna(team.next_uid):
        reason += f"; next Chaos Day on {_day(team.next_day)} ({_quoted(team.next_summary)})"
        findings.append(_next_finding(team))
    if calendar not in (READ, NOT_CONNECTED):
        status, reason = _calendar_unreadable(team, status, reason, calendar)
        findings = [(team.team, f"team:{team.team}", status, reason)]
    result = {"team": team.team, "status": status, "reason": f"{reason}."}
    return result, findings


def _by_age(team: TeamRow, calendar: str) -> tuple[str, str]:
    if pd.isna(team.last_day):
        if calendar == READ:
            return "fail", f"No Chaos Day recorded, neither in {ANNOTATION} nor in the Chaos Day calendar"
        connected = " (no Chaos Day calendar is connected)" if calendar == NOT_CONNECTED else ""
        return "fail", f"No Chaos Day recorded in {ANNOTATION}{connected}"
    where = _quoted(team.held_summary) if team.from_event else f"recorded in {ANNOTATION}"
    reason = f"Last Chaos Day {_day(team.last_day)} ({where}), {_ago(team.age)}"
    if team.age > team.warn_days:
        return "fail", f"{reason}: more than {team.warn_days:g} days"
    if team.age > team.max_days:
        return "warn", f"{reason}: more than {team.max_days:g} days"
    return "pass", reason


def _is_new(team: TeamRow) -> bool:
    return bool(pd.notna(team.first_member_since) and team.new_team)


def _new_team_reason(team: TeamRow, reason: str) -> str:
    due = team.first_member_since + pd.Timedelta(days=int(team.max_days))
    joined = _day(team.first_member_since)
    return f"{reason}, but the team is new (its first member joined {joined}): first Chaos Day due by {_day(due)}"


def _calendar_unreadable(team: TeamRow, status: str, reason: str, why: str) -> tuple[str, str]:
    """Unknown, saying what the annotation alone would give."""
    if status == "pass":
        return "unknown", f"The Chaos Day calendar could not be read: {why}; {reason} by {ANNOTATION} alone"
    if pd.isna(team.last_chaos_day):
        alone = f"{ANNOTATION} records no Chaos Day"
    else:
        alone = f"{ANNOTATION} alone dates the last one {_day(team.last_chaos_day)}, {_ago(team.annotation_age)}"
    return "unknown", f"The Chaos Day calendar could not be read: {why}; {alone}"


def _last_finding(team: TeamRow, status: str, reason: str) -> Finding:
    if not team.from_event:
        return (team.team, f"team:{team.team}", status, reason)
    link = team.held_write_up_url
    shared = f"its write-up is {link}" if pd.notna(link) else "it links no write-up"
    message = f"Chaos Day {_quoted(team.held_summary)} on {_day(team.held_day)}, {_ago(team.age)}: {shared}"
    return (team.team, _subject(team.held_uid, team.held_day, team.held_recurring), status, message)


def _next_finding(team: TeamRow) -> Finding:
    message = f"Chaos Day {_quoted(team.next_summary)} is planned for {_day(team.next_day)}"
    return (team.team, _subject(team.next_uid, team.next_day, team.next_recurring), "pass", message)


def _subject(uid: str, day: object, recurring: object) -> str:
    """``event:<uid>``; an occurrence of a recurring series also names its date."""
    return f"event:{uid}/{_day(day)}" if bool(recurring) else f"event:{uid}"


def _quoted(summary: Any) -> str:  # a cell: text, or missing
    return f'"{summary}"' if pd.notna(summary) else "an untitled event"


def _day(value: object) -> str:
    return pd.Timestamp(value).strftime("%Y-%m-%d") if isinstance(value, dt.date | pd.Timestamp) else str(value)


def _ago(count: float) -> str:
    count = int(count)
    return "today" if count == 0 else f"{count} day{'s' if count != 1 else ''} ago"
