"""incident-command: when a major incident breaks out at 03:00, who commands it, and are they brought in?

Per team, its incident commanders are the on-call schedule that the Group annotation
``readiness/incident-commander-schedule`` names, on the team's Group or on the nearest group
above it (a department, the organisation):

- none anywhere up the tree fails; a schedule no on-call platform has fails (named in the
  team's platform's words);
- coverage ahead, over the ``coverage_days`` after the audit instant, judged as
  ``escalation-path`` judges a first level (the same functions of ``oncall_timeline``): a moment
  with nobody on call in the schedule fails, naming the window; a window whose commanders on
  call cannot be woken (no high-urgency rule that calls, texts or pushes) fails, naming them;
- a commander on call who is at the same moment on call in one of their own team's schedules
  warns, naming the person and the window (PagerDuty's incident-command guide: an incident
  commander must not be on call for their team at the same time);
- the way in, per production service: an enabled incident workflow trigger
  (``oncall_workflow_triggers``), starting by itself for the top priority (the first of
  ``oncall_priorities``) or for every high-urgency incident (or every incident), covering the
  service or all services, whose workflow adds the commander schedule, or an escalation policy
  whose first level pages it, as responders. A service without one warns, naming it. Incident
  workflows the platform would not or cannot give (``oncall_unreadable``, facet
  ``incident_workflows``: PagerDuty's plan without them answers 402/403) make this part
  ``unknown``, never a pass nor a warn; so do priorities it would not give (facet ``priorities``),
  for a service that only a priority trigger could cover.

A team's status is its worst finding; a team without services in scope passes, saying so.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from oncall_readiness.checks import FINDING_COLUMNS, CheckInput, CheckOutcome, one_per_subject, results_from_findings
from oncall_readiness.checks.oncall_timeline import (
    Finding,
    People,
    PolicyTargets,
    Window,
    gaps,
    policy_segments,
    shifts_by_schedule,
    unreachable,
    windows,
)
from oncall_readiness.frames import is_in, records
from oncall_readiness.oncall_facts import (
    DEFAULT_PLATFORM,
    ESCALATION_POLICY_TARGET,
    PLATFORMS,
    SCHEDULE_TARGET,
    team_platforms,
)
from oncall_readiness.registry.groups import nearest_value

ANNOTATION = "readiness/incident-commander-schedule"
WORKFLOWS = "incident_workflows"  # the facets of oncall_unreadable this check needs
PRIORITIES = "priorities"
ALL_CLEAR = (
    "Someone who can be woken commands the team's major incidents at every moment of the next {days} days, "
    "never while on call for their own team, and an incident workflow brings them into every service's "
    "major incidents."
)


def evaluate(audit: CheckInput) -> CheckOutcome:
    facts = audit.facts
    days = int(audit.thresholds["coverage_days"].iloc[0])
    window = Window(audit.audit_instant, audit.audit_instant + pd.Timedelta(days=days))
    groups = facts.get("registry_groups", facts["registry_teams"])
    commanders = nearest_value(groups, "incident_commander_schedule")
    services = facts["registry_services"]
    services = services[services["team"].notna() & is_in(services["team"], audit.teams["team"])]
    timelines = CommanderTimelines(facts, window)
    platforms = team_platforms(groups)
    ways_in: dict[str, WayIn] = {}
    rows: list[tuple[str, str, str, str]] = []
    for team in audit.teams["team"].tolist():
        title = _title(platforms.get(team, DEFAULT_PLATFORM))
        rows += [(team, *finding) for finding in _team_findings(team, commanders.get(team), timelines, title)]
        if team in commanders and commanders[team][0] in timelines.names:
            platform = platforms.get(team, DEFAULT_PLATFORM)
            if platform not in ways_in:  # one judgement of a platform's workflows, however many teams are on it
                ways_in[platform] = WayIn(facts, platform)
            way_in = ways_in[platform]
            rows += [(team, *finding) for finding in way_in.findings(team, services, commanders[team][0], timelines)]
    findings = one_per_subject(pd.DataFrame(rows, columns=FINDING_COLUMNS))
    results = results_from_findings(audit.teams["team"], findings, all_clear=ALL_CLEAR.format(days=days))
    no_services = ~is_in(results["team"], services["team"])
    results.loc[no_services, ["status", "reason"]] = ["pass", "The team owns no service in the registry."]
    return CheckOutcome(results=results, findings=findings)


def _title(platform: str) -> str:
    return PLATFORMS[platform].title if platform in PLATFORMS else platform


def _team_findings(
    team: str, commander: tuple[str, str] | None, timelines: CommanderTimelines, title: str
) -> list[Finding]:
    if commander is None:
        message = f"No incident commanders: neither {team} nor a group above it names a schedule ({ANNOTATION})"
        return [(f"group:{team}", "fail", message)]
    schedule, named_by = commander
    if schedule not in timelines.names:
        message = f"The incident-commander schedule {schedule} that {named_by} names does not exist in {title}"
        return [(f"schedule:{schedule}", "fail", message)]
    return timelines.findings(schedule)


class CommanderTimelines:
    """The judgement of each commander schedule over the window, made once however many teams share it."""

    def __init__(self, facts: Mapping[str, pd.DataFrame], window: Window) -> None:
        schedules = facts["oncall_schedules"]
        self.names = dict(zip(schedules["schedule_id"].tolist(), schedules["name"].tolist(), strict=True))
        self.window = window
        self.people = People(facts)
        self.shifts = shifts_by_schedule(facts["oncall_shifts"])
        self.own_schedules = _own_schedules(facts)
        self._judged: dict[str, list[Finding]] = {}

    def name(self, schedule: str) -> str:
        return self.names.get(schedule) or schedule

    def findings(self, schedule: str) -> list[Finding]:
        if schedule not in self._judged:
            self._judged[schedule] = self._judge(schedule)
        return self._judged[schedule]

    def _judge(self, schedule: str) -> list[Finding]:
        # The commanders as a one-level policy: escalation-path's judgement of a first level, word for word.
        level = PolicyTargets(f"commanders:{schedule}", None, (1,), {1: [(SCHEDULE_TARGET, schedule)]}, {})
        segments = policy_segments(level, self.shifts, self.window)
        on_call_in = f"on call in {self.name(schedule)}"
        return [
            *gaps(segments, {schedule: self.name(schedule)}),
            *unreachable(segments, on_call_in, self.people),
            *self._on_call_for_their_team(schedule),
        ]

    def _on_call_for_their_team(self, schedule: str) -> list[Finding]:
        """A warn per commander and own-team schedule they are on call in while commanding."""
        since, until = self.window.start.value, self.window.end.value
        commanding: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for start, end, user in self.shifts.get(schedule, ()):
            if end > since and start < until:
                commanding[user].append((max(start, since), min(end, until)))
        found = []
        for user, spells in sorted(commanding.items()):
            for own in sorted(self.own_schedules.get(user, set()) - {schedule}):
                both = _overlaps(spells, [(s, e) for s, e, u in self.shifts.get(own, ()) if u == user])
                if both:
                    found.append(self._conflict(user, schedule, own, both))
        return found

    def _conflict(self, user: str, schedule: str, own: str, both: list[tuple[int, int]]) -> Finding:
        tz = self.window.start.tz
        spans = [
            Window(pd.Timestamp(s, tz="UTC").tz_convert(tz), pd.Timestamp(e, tz="UTC").tz_convert(tz)) for s, e in both
        ]
        message = (
            f"{self.people.name(user)} commands in {self.name(schedule)} {windows(spans)} while on call in "
            f"{self.name(own)} for their own team: a commander must not be on call for their team at the same time"
        )
        return (self.people.subject(user), "warn", message)


def _own_schedules(facts: Mapping[str, pd.DataFrame]) -> dict[str, set[str]]:
    """User id -> the on-call schedules of the registry teams the person belongs to (by email)."""
    members = facts["registry_people"][["email", "team"]].dropna()
    schedules = facts["oncall_team_schedules"][["team", "schedule_id"]]
    by_email: dict[str, set[str]] = {}  # plain sets: agg(set) of Arrow text gives lists
    both = members.merge(schedules, on="team")
    for email, schedule in zip(both["email"].tolist(), both["schedule_id"].tolist(), strict=True):
        by_email.setdefault(email, set()).add(schedule)
    users = facts["oncall_users"][["user_id", "email"]].dropna()
    return {user: by_email[email] for user, email in records(users) if email in by_email}


def _overlaps(first: list[tuple[int, int]], second: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The moments in both lists of intervals, merged where they touch."""
    pieces = sorted((max(a, c), min(b, d)) for a, b in first for c, d in second if max(a, c) < min(b, d))
    merged: list[tuple[int, int]] = []
    for start, end in pieces:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


@dataclass(frozen=True)
class Trigger:
    workflow: str  # the workflow's name
    condition: str | None
    all_services: bool
    services: frozenset[str]
    adds: frozenset[str]  # the commander schedules the workflow brings in (directly or first in a policy)
    needs_priorities: bool  # only the top priority makes it start, and the priorities could not be read


class WayIn:
    """Which enabled triggers of one platform start, for every major incident, a workflow that brings a
    commander schedule in."""

    def __init__(self, facts: Mapping[str, pd.DataFrame], platform: str) -> None:
        self.platform = platform
        self.title = _title(platform)

        def mine(table: str) -> pd.DataFrame:
            frame = facts[table]
            return frame[frame["platform"] == platform]

        unreadable = mine("oncall_unreadable")
        self.unread: dict[str, list[str]] = defaultdict(list)
        for facet, reason in zip(unreadable["facet"].tolist(), unreadable["reason"].tolist(), strict=True):
            self.unread[facet].append(reason)
        self.services = set(mine("oncall_services")["service_id"].dropna())
        links = mine("oncall_service_links")
        self.links = dict(zip(links["service"].tolist(), links["service_id"].tolist(), strict=True))
        priorities = mine("oncall_priorities").sort_values("position")
        self.top = priorities["name"].iloc[0] if len(priorities) else None
        self.triggers = self._major_triggers(facts, mine) if not self._workflows_unread() else []

    def _workflows_unread(self) -> str | None:
        return "; ".join(self.unread.get(WORKFLOWS, [])) or None

    def _major_triggers(self, facts: Mapping[str, pd.DataFrame], mine: Any) -> list[Trigger]:
        workflows = mine("oncall_incident_workflows")
        enabled = dict(zip(workflows["workflow_id"].tolist(), workflows["is_enabled"].tolist(), strict=True))
        names = dict(zip(workflows["workflow_id"].tolist(), workflows["name"].tolist(), strict=True))
        adds = _added_schedules(facts, mine("oncall_workflow_responders"))
        rows = mine("oncall_workflow_triggers")
        rows = rows[rows["is_enabled"].fillna(True).astype(bool)]
        found = []
        for _, group in rows.groupby("trigger_id", sort=True):
            first = next(records(group.iloc[:1]))
            starts = _starts_for_every_major(first, self.top, PRIORITIES in self.unread)
            if starts is False or enabled.get(first.workflow_id) is not True:
                continue
            found.append(
                Trigger(
                    workflow=str(names.get(first.workflow_id) or first.workflow_id),
                    condition=None if pd.isna(first.description) else str(first.description),
                    all_services=bool(group["all_services"].fillna(False).any()),
                    services=frozenset(group["service_id"].dropna()),
                    adds=adds.get(first.workflow_id, frozenset()),
                    needs_priorities=starts is None,
                )
            )
        return found

    def findings(
        self, team: str, services: pd.DataFrame, schedule: str, timelines: CommanderTimelines
    ) -> list[Finding]:
        """Per service of the team; when the workflows could not be read, one unknown for those the platform has."""
        name, unread = timelines.name(schedule), self._workflows_unread()
        mine = services[services["team"] == team]
        found = [
            self._service(service, self.links.get(service), schedule, name, unread)
            for service in mine["service"].tolist()
        ]
        judged = [finding for finding in found if finding[1] != "unknown"]
        if unread is None or len(judged) == len(found):
            return found
        message = f"Whether an incident workflow brings the commanders into a major incident is unknown: {unread}"
        return [*judged, (f"{self.platform}:incident_workflows", "unknown", message)]

    def _service(self, service: str, service_id: Any, schedule: str, name: str, unread: str | None) -> Finding:
        subject = f"service:{service}"
        if (
            service_id is None or pd.isna(service_id) or service_id not in self.services
        ):  # certain, whatever the workflows say
            return (subject, "warn", f"{service} has no {self.title} service: no incident workflow can bring {name} in")
        if unread is not None:
            return (subject, "unknown", unread)
        covering = [t for t in self.triggers if schedule in t.adds and (t.all_services or service_id in t.services)]
        sure = [t for t in covering if not t.needs_priorities]
        if sure:
            when = sure[0].condition or "an incident is created"
            return (subject, "pass", f'{service}: incident workflow "{sure[0].workflow}" adds {name} when {when}')
        if covering:
            reason = "; ".join(self.unread[PRIORITIES])
            return (subject, "unknown", f"Whether {covering[0].condition} is the top priority is unknown: {reason}")
        top = f"the top priority ({self.top})" if self.top else "the top priority"
        message = (
            f"No enabled incident workflow brings {name} into a major incident of {service}: none starts on {top} "
            "or on every high-urgency incident and adds the commanders (or an escalation policy that starts with "
            "them) as responders"
        )
        return (subject, "warn", message)


def _added_schedules(facts: Mapping[str, pd.DataFrame], responders: pd.DataFrame) -> dict[str, frozenset[str]]:
    """Workflow id -> the schedules its responders bring in: schedules named, and the first level of policies named."""
    policies = PolicyTargets.by_policy(facts["oncall_escalation_levels"])
    added: dict[str, set[str]] = defaultdict(set)
    for workflow, kind, target in records(responders[["workflow_id", "target_type", "target_id"]]):
        if kind == SCHEDULE_TARGET:
            added[workflow].add(target)
        elif kind == ESCALATION_POLICY_TARGET and target in policies and policies[target].levels:
            policy = policies[target]
            added[workflow].update(policy.schedules(policy.levels[0]))
    return {workflow: frozenset(schedules) for workflow, schedules in added.items()}


def _starts_for_every_major(trigger: Any, top: str | None, priorities_unread: bool) -> bool | None:
    """Whether a trigger starts for every major incident; None when only the priorities could say.

    It does when it starts for every incident, for every high-urgency one, or for the top
    priority alone (the first of the platform's priorities).
    """
    if trigger.every_incident is True or trigger.high_urgency is True:
        return True
    names = [] if pd.isna(trigger.priorities) else [name for name in str(trigger.priorities).split(",") if name]
    if not names:
        return False
    if priorities_unread:
        return None
    return top is not None and any(name.casefold() == top.casefold() for name in names)
