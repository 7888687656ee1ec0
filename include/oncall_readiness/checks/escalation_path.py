"""escalation-path: if a service breaks at 03:00 on Sunday, does the page reach someone who will
wake up, and who comes next if they don't?

Per team, over the escalation policies of its services (the on-call facts' ``oncall_service_links``:
``pagerduty.com/service-id`` on PagerDuty; the team's own escalation on JSM Operations):

- service: exists on the team's on-call platform and has an escalation policy, else fail;
- policy: at least two levels (warn with one); the first level pages one of the team's own
  schedules rather than named people (warn); no level waits longer than
  ``max_escalation_delay_minutes`` before escalating (warn);
- coverage ahead, over the ``coverage_days`` after the audit instant, from the final
  schedules (overrides included): a first-level schedule with nobody on call fails, naming
  the window; a window in which the first level pages only people who cannot be woken
  fails, naming them; a later level that pages only people the first level already paged
  warns, naming the window and the people;
- reachability: a person can be woken when a high-urgency notification rule calls, texts or
  pushes to a contact method the platform delivers to (email wakes nobody, as in PagerDuty's
  own definition of an interruption); a person on call at the first level whose first such
  notification comes later than ``max_first_notification_minutes`` after the page warns. Where
  the platform does not show a person's rules (``oncall_unreadable``, facet
  ``notification_rules``), their reachability is ``unknown``; the other findings stand.

A team's status is its worst finding; a team without services passes, saying so.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd

from oncall_readiness.checks import FINDING_COLUMNS, CheckInput, CheckOutcome, one_per_subject, results_from_findings
from oncall_readiness.checks.oncall_timeline import (
    Finding,
    People,
    PolicyTargets,
    Segment,
    Window,
    gaps,
    policy_segments,
    shifts_by_schedule,
    spans,
    unreachable,
    windows,
)
from oncall_readiness.frames import is_in, records
from oncall_readiness.oncall_facts import DEFAULT_PLATFORM, PLATFORMS, Platform, team_platforms

ALL_CLEAR = (
    "Every service escalates through the team's schedule to other people, and someone who can be woken "
    "is on call at every moment of the next {days} days."
)


def evaluate(audit: CheckInput) -> CheckOutcome:
    facts, thresholds = audit.facts, audit.thresholds
    days = int(thresholds["coverage_days"].iloc[0])
    window = Window(audit.audit_instant, audit.audit_instant + pd.Timedelta(days=days))
    services = facts["registry_services"]
    services = services[services["team"].notna() & is_in(services["team"], audit.teams["team"])]
    linked = _team_policies(services, facts)
    people = People(facts)
    by_policy = PolicyTargets.by_policy(facts["oncall_escalation_levels"])
    findings = pd.concat(
        [
            _service_findings(linked),
            _policy_findings(linked, by_policy, facts, thresholds, people),
            _coverage_findings(linked, by_policy, facts, thresholds, people, window),
        ],
        ignore_index=True,
    )
    findings = one_per_subject(findings)
    results = results_from_findings(audit.teams["team"], findings, all_clear=ALL_CLEAR.format(days=days))
    no_services = ~is_in(results["team"], services["team"])
    results.loc[no_services, ["status", "reason"]] = ["pass", "The team owns no service in the registry."]
    return CheckOutcome(results=results, findings=findings)


def _team_policies(services: pd.DataFrame, facts: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """team, service, platform, service_id (NA when none is named), escalation_policy_id (NA when
    there is none), found (the platform has the service)."""
    platforms = team_platforms(facts.get("registry_groups", facts["registry_teams"]))
    links = facts["oncall_service_links"][["service", "platform", "service_id"]]
    oncall = facts["oncall_services"][["platform", "service_id", "escalation_policy_id"]].assign(found=True)
    linked = services[["team", "service"]].assign(platform=services["team"].map(platforms))
    linked = linked.merge(links, on=["service", "platform"], how="left")
    linked = linked.merge(oncall, on=["platform", "service_id"], how="left")
    return linked.assign(found=linked["found"].eq(True))


def _service_findings(linked: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for row in records(linked):
        platform = _platform(row.platform)
        if pd.isna(row.service_id):
            annotation = f" (annotation {platform.service_annotation})" if platform.service_annotation else ""
            outcome, message = "fail", f"{row.service} names no {platform.title} service{annotation}"
        elif not row.found:
            outcome, message = "fail", f"{row.service}'s {platform.title} service {row.service_id} does not exist"
        elif pd.isna(row.escalation_policy_id):
            outcome = "fail"
            message = f"{row.service} has no escalation policy in {platform.title}: a page reaches nobody"
        else:
            outcome, message = "pass", f"{row.service} pages through escalation policy {row.escalation_policy_id}"
        rows.append((row.team, f"service:{row.service}", outcome, message))
    return pd.DataFrame(rows, columns=FINDING_COLUMNS)


def _platform(name: Any) -> Platform:  # a cell: the platform's name, or missing
    return PLATFORMS[str(name)] if not pd.isna(name) and str(name) in PLATFORMS else PLATFORMS[DEFAULT_PLATFORM]


def _policies(linked: pd.DataFrame) -> pd.DataFrame:
    return linked[["team", "escalation_policy_id"]].dropna().drop_duplicates()


def _policy_findings(
    linked: pd.DataFrame,
    by_policy: dict[str, PolicyTargets],
    facts: Mapping[str, pd.DataFrame],
    thresholds: pd.DataFrame,
    people: People,
) -> pd.DataFrame:
    own: dict[str, set[str]] = {}  # team -> its schedules (plain sets: agg(set) of Arrow text gives lists)
    links = facts["oncall_team_schedules"]
    for team, schedule in zip(links["team"].tolist(), links["schedule_id"].tolist(), strict=True):
        own.setdefault(team, set()).add(schedule)
    schedule_names = _schedule_names(facts)
    slowest_delay = thresholds["max_escalation_delay_minutes"].to_dict()  # not .at per team
    rows = []
    for team, policy_id in records(_policies(linked)):
        policy = by_policy.get(policy_id)
        name = _policy_name(policy, policy_id)
        subject = f"escalation_policy:{policy_id}"
        if policy is None or not policy.levels:  # the service names a policy the platform did not list
            rows.append(
                (team, subject, "fail", f"{_sentence(name)} does not exist or has no levels: a page reaches nobody")
            )
            continue
        problems = _structure_problems(policy, name, own.get(team, set()), schedule_names, people)
        problems += _slow_levels(policy, name, int(slowest_delay[team]))
        for message in problems:
            rows.append((team, subject, "warn", message))
        if not problems:
            levels = len(policy.levels)
            rows.append(
                (
                    team,
                    subject,
                    "pass",
                    f"{_sentence(name)} has {levels} levels, the first the team's own schedule",
                )
            )
    return pd.DataFrame(rows, columns=FINDING_COLUMNS)


def _schedule_names(facts: Mapping[str, pd.DataFrame]) -> dict[str, str]:
    schedules = facts["oncall_schedules"]
    return dict(zip(schedules["schedule_id"].tolist(), schedules["name"].tolist(), strict=True))


def _policy_name(policy: PolicyTargets | None, policy_id: str) -> str:
    return f'escalation policy "{policy.name if policy is not None and policy.name else policy_id}"'


def _structure_problems(
    policy: PolicyTargets, name: str, own: set[str], schedule_names: dict[str, str], people: People
) -> list[str]:
    levels = policy.levels
    first = levels[0]
    problems = []
    if len(levels) == 1:
        problems.append(
            f"{_sentence(name)} has one level: nobody else is paged when the first responder does not answer"
        )
    schedules = set(policy.schedules(first))
    if not schedules:
        who = people.names_of(target for _, target in policy.targets[first])
        problems.append(f"The first level of {name} pages {who} by name rather than the team's on-call schedule")
    elif not schedules & own:
        foreign = ", ".join(sorted(schedule_names.get(s, s) for s in schedules))
        problems.append(f"The first level of {name} pages {foreign}, which is not one of the team's schedules")
    return problems


def _slow_levels(policy: PolicyTargets, name: str, most: int) -> list[str]:
    delays = {level: policy.delays[level] for level in policy.levels if level in policy.delays}
    return [
        f"Level {int(level)} of {name} waits {int(delay)} minutes before escalating; at most {most} are allowed"
        for level, delay in delays.items()
        if delay > most
    ]


def _coverage_findings(
    linked: pd.DataFrame,
    by_policy: dict[str, PolicyTargets],
    facts: Mapping[str, pd.DataFrame],
    thresholds: pd.DataFrame,
    people: People,
    window: Window,
) -> pd.DataFrame:
    shifts = shifts_by_schedule(facts["oncall_shifts"])
    schedule_names = _schedule_names(facts)
    # A policy that pages for several teams is walked once.
    timelines = {
        policy_id: policy_segments(by_policy[policy_id], shifts, window)
        for policy_id in _policies(linked)["escalation_policy_id"].unique()
        if policy_id in by_policy
    }
    rows = []
    first_notification = thresholds["max_first_notification_minutes"].to_dict()  # not .at per team
    for team, policy_id in records(_policies(linked)):
        if policy_id not in timelines:
            continue
        policy, segments = by_policy[policy_id], timelines[policy_id]
        name = _policy_name(policy, policy_id)
        slowest = int(first_notification[team])
        rows += [(team, *finding) for finding in gaps(segments, schedule_names)]
        rows += [(team, *finding) for finding in unreachable(segments, f"at the first level of {name}", people)]
        rows += [(team, *finding) for finding in _slow_to_wake(segments, name, people, slowest)]
        rows += [(team, *finding) for finding in _same_people(segments, policy_id, name, people)]
    findings = pd.DataFrame(rows, columns=FINDING_COLUMNS)
    return findings.drop_duplicates(["team", "subject", "outcome", "message"])


def _at_first_level(user: str) -> Callable[[Segment], bool | None]:
    """A ``spans`` key: True where the first level pages ``user``."""
    return lambda segment: True if segment.levels and user in segment.levels[0] else None


def _slow_to_wake(segments: list[Segment], name: str, people: People, slowest: int) -> list[Finding]:
    found = []
    for user in sorted({user for segment in segments if segment.levels for user in segment.levels[0]}):
        minutes, unknown = people.first_wake.get(user), people.wake_unknown(user)
        if unknown is not None:  # the platform does not show how they are notified
            on_call = [w for w, _ in spans(segments, _at_first_level(user))]
            message = (
                f"How soon {people.name(user)}, on call at the first level of {name} {windows(on_call)}, "
                f"is first called, texted or pushed after a page is unknown: {unknown}"
            )
            found.append((people.subject(user), "unknown", message))
            continue
        if minutes is None or minutes <= slowest:
            continue
        on_call = [w for w, _ in spans(segments, _at_first_level(user))]
        message = (
            f"{people.name(user)} is on call at the first level of {name} {windows(on_call)} but is first "
            f"called, texted or pushed {minutes} minutes after a page; at most {slowest} are allowed"
        )
        found.append((people.subject(user), "warn", message))
    return found


def _same_people(segments: list[Segment], policy_id: str, name: str, people: People) -> list[Finding]:
    def repeated(segment: Segment) -> frozenset[str] | None:
        first, later = segment.levels[0], frozenset().union(*segment.levels[1:])
        return first if len(segment.levels) > 1 and first and later <= first else None

    by_people: dict[frozenset[str], list[Window]] = {}
    for window, users in spans(segments, repeated):
        by_people.setdefault(users, []).append(window)
    return [
        (
            f"escalation_policy:{policy_id}",
            "warn",
            f"Every level of {name} pages only {people.names_of(users)} {windows(repeats)}: nobody comes next",
        )
        for users, repeats in by_people.items()
    ]


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]
