"""The on-call facts that do not say which platform: what the on-call checks read, and what a platform gives.

The ``rotation-sustainability``, ``escalation-path``, ``oncall-load``, ``joiner-permissions`` and
``incident-command`` checks read only the tables below (``oncall_*``), never a platform's own.
Each on-call platform's source (PagerDuty, Jira Service Management Operations, ...) turns its
own validated facts into them (its ``Source.oncall`` in ``source_catalogue``), and the audit
concatenates every platform's (:func:`combine`) before the checks run. The checks do not know
which platform a team uses: the registry says it (``registry_teams.oncall_platform``, from the
Group's annotations: ``PLATFORMS``).

Ids are each platform's own (a PagerDuty ``PXXXXXX``, a JSM uuid); every table has a
``platform`` column (the source's name, ``pagerduty`` or ``jsm_ops``). Every timestamp is UTC.
Schema version 1. The tables, and what a platform must give for each:

- ``oncall_users``: platform, user_id, name, email (lower-cased: the join key with the
  registry), time_zone (IANA, e.g. ``Europe/London``). Every user of the platform, or at least
  every user the other tables name and every registry person the platform has.
- ``oncall_notification_rules``: platform, user_id, rule_id, urgency (``high`` for the pages
  that must wake someone, ``low`` otherwise), start_delay_minutes (after the page),
  contact_method_id, contact_method_type (``phone``, ``sms``, ``push``, ``email``, or the
  platform's own word for anything else), deliverable (the platform will deliver to that
  contact method: it exists, is enabled and not blocked). How each person is notified of a page.
- ``oncall_schedules``: platform, schedule_id, name, time_zone.
- ``oncall_team_schedules``: platform, team (the registry's team name), schedule_id: the
  on-call schedules of each team on the platform (PagerDuty: ``pagerduty.com/schedule-ids``;
  JSM: the schedules the team owns). A team on the platform without one has no row.
- ``oncall_rotation_members``: platform, schedule_id, rotation_id, rotation_name,
  rotation_position (1 first), member_position (1 first), user_id, turn_length_seconds (one
  person's turn), rotation_start, rotation_end (NA: open): who takes turns in each rotation
  (PagerDuty: a schedule layer; JSM: a rotation) and how long a turn is.
- ``oncall_shifts``: platform, schedule_id, user_id, start, end: the final schedule (rotations,
  restrictions and overrides applied) over the whole collection window, from the checks'
  look-back before the audit instant to their look-ahead after it; a shift keeps its real bounds.
- ``oncall_escalation_levels``: platform, escalation_policy_id, escalation_policy_name,
  num_loops, level (1 first), delay_minutes (how long this level waits for an acknowledgement
  before the page goes to the next level: a platform that counts delays from the alert's
  creation gives the difference to the level before), target_type (``schedule``, ``user``, or
  the platform's own word for anything else: not followed), target_id. One row per target.
- ``oncall_services``: platform, service_id, name, escalation_policy_id (NA: none): every
  service (PagerDuty) or alert route (JSM: the team's own escalation) a page can come through.
- ``oncall_service_links``: platform, service (the registry's Component name), team,
  service_id (NA: the registry names none for it): how a registry service pages. A service of
  a team on the platform has exactly one row.
- ``oncall_incidents``: platform, incident_id, incident_number (the number people write,
  ``#1234``, without the ``#``: PagerDuty's incident number, JSM's alert ``tinyId``), title
  (PagerDuty: the title; JSM: the alert's message), url (the incident's web page, NA when the
  platform does not say: PagerDuty's analytics has none; JSM: ``<site>/jira/ops/alerts/<id>``),
  service_id, team (the registry team the platform routed it to; NA: the owner of its service,
  ``oncall_service_links``, says), urgency (``high``/``low``), priority (the platform's name,
  e.g. ``P1``), created_at, resolved_at, assigned_user_ids (comma-separated: who was paged):
  every incident or alert created in the look-back.
- ``oncall_responder_weeks``: platform, user_id, week_start, week_end (four 7-day weeks counted
  back from the audit instant), total_interruptions, business_hour_interruptions,
  off_hour_interruptions, sleep_hour_interruptions, total_notifications, incident_count,
  seconds_on_call. An interruption is PagerDuty's: a call, SMS or push notification to the
  person (two within 60 seconds count once), classified in the person's time zone: sleep hours
  22:00-08:00, off hours weekday evenings 18:00-22:00 and weekend days 08:00-22:00, business
  hours the rest. A platform without such figures computes them from ``oncall_notifications``.
- ``oncall_notifications``: platform, user_id, incident_id, sent_at, contact_method_type:
  every notification the platform sent a person in the look-back (JSM: an alert's log
  entries). Optional: what ``oncall_responder_weeks`` is computed from when a platform has no
  figures of its own; no check reads it.
- ``oncall_priorities``: platform, priority_id, name, position (1 is the most severe).
- ``oncall_incident_workflows``: platform, workflow_id, name, is_enabled: what brings more
  responders into an incident by itself (PagerDuty: incident workflows).
- ``oncall_workflow_responders``: platform, workflow_id, target_type (``schedule``,
  ``escalation_policy``, ``user``), target_id: whom each workflow adds as responders.
- ``oncall_workflow_triggers``: platform, trigger_id, workflow_id, description (how people
  read it, e.g. the condition), is_enabled, every_incident (starts for every incident),
  high_urgency (starts for every high-urgency incident), priorities (comma-separated priority
  names each of which alone starts it), all_services, service_id (one row per service it names;
  NA when none): when a workflow starts by itself.
- ``oncall_unreadable``: platform, facet, reason: what a platform would not or cannot give
  (``FACETS``). The checks make what needs a facet ``unknown`` with the reason, for the teams on
  that platform, never a pass; a fail found from what the platform does give stands. A platform's
  permanent gaps are its ``Platform.cannot_give``; :func:`combine` adds them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from oncall_readiness.frames import typed_frame

PLATFORM = {"platform": "string"}
FACT_COLUMNS: dict[str, dict[str, str]] = {
    "oncall_users": {**PLATFORM, "user_id": "string", "name": "string", "email": "string", "time_zone": "string"},
    "oncall_notification_rules": {
        **PLATFORM,
        "user_id": "string",
        "rule_id": "string",
        "urgency": "string",
        "start_delay_minutes": "integer",
        "contact_method_id": "string",
        "contact_method_type": "string",
        "deliverable": "boolean",
    },
    "oncall_schedules": {**PLATFORM, "schedule_id": "string", "name": "string", "time_zone": "string"},
    "oncall_team_schedules": {**PLATFORM, "team": "string", "schedule_id": "string"},
    "oncall_rotation_members": {
        **PLATFORM,
        "schedule_id": "string",
        "rotation_id": "string",
        "rotation_name": "string",
        "rotation_position": "integer",
        "member_position": "integer",
        "user_id": "string",
        "turn_length_seconds": "integer",
        "rotation_start": "timestamp",
        "rotation_end": "timestamp",
    },
    "oncall_shifts": {
        **PLATFORM,
        "schedule_id": "string",
        "user_id": "string",
        "start": "timestamp",
        "end": "timestamp",
    },
    "oncall_escalation_levels": {
        **PLATFORM,
        "escalation_policy_id": "string",
        "escalation_policy_name": "string",
        "num_loops": "integer",
        "level": "integer",
        "delay_minutes": "integer",
        "target_type": "string",
        "target_id": "string",
    },
    "oncall_services": {**PLATFORM, "service_id": "string", "name": "string", "escalation_policy_id": "string"},
    "oncall_service_links": {**PLATFORM, "service": "string", "team": "string", "service_id": "string"},
    "oncall_incidents": {
        **PLATFORM,
        "incident_id": "string",
        "incident_number": "string",
        "title": "string",
        "url": "string",
        "service_id": "string",
        "team": "string",
        "urgency": "string",
        "priority": "string",
        "created_at": "timestamp",
        "resolved_at": "timestamp",
        "assigned_user_ids": "string",
    },
    "oncall_responder_weeks": {
        **PLATFORM,
        "user_id": "string",
        "week_start": "timestamp",
        "week_end": "timestamp",
        "total_interruptions": "integer",
        "business_hour_interruptions": "integer",
        "off_hour_interruptions": "integer",
        "sleep_hour_interruptions": "integer",
        "total_notifications": "integer",
        "incident_count": "integer",
        "seconds_on_call": "integer",
    },
    "oncall_notifications": {
        **PLATFORM,
        "user_id": "string",
        "incident_id": "string",
        "sent_at": "timestamp",
        "contact_method_type": "string",
    },
    "oncall_priorities": {**PLATFORM, "priority_id": "string", "name": "string", "position": "integer"},
    "oncall_incident_workflows": {**PLATFORM, "workflow_id": "string", "name": "string", "is_enabled": "boolean"},
    "oncall_workflow_responders": {
        **PLATFORM,
        "workflow_id": "string",
        "target_type": "string",
        "target_id": "string",
    },
    "oncall_workflow_triggers": {
        **PLATFORM,
        "trigger_id": "string",
        "workflow_id": "string",
        "description": "string",
        "is_enabled": "boolean",
        "every_incident": "boolean",
        "high_urgency": "boolean",
        "priorities": "string",
        "all_services": "boolean",
        "service_id": "string",
    },
    "oncall_unreadable": {**PLATFORM, "facet": "string", "reason": "string"},
}

# What a platform may be unable to give (oncall_unreadable.facet), and what needs it.
FACETS = {
    "notification_rules": "how each person is notified: escalation-path's and incident-command's reachability",
    "incident_workflows": "what brings responders in by itself: incident-command's way in",
    "priorities": "which priority is the top one: incident-command's priority triggers",
    "interruptions": "who was interrupted when: oncall-load",
}

WAKING_CONTACTS = ("phone", "sms", "push")  # email wakes nobody (PagerDuty's definition of an interruption)
SCHEDULE_TARGET = "schedule"
USER_TARGET = "user"
ESCALATION_POLICY_TARGET = "escalation_policy"


@dataclass(frozen=True)
class Platform:
    """An on-call platform a team may be on: the words the checks use for it, and what it can never give."""

    name: str  # its source's name: registry_teams.oncall_platform, the facts' platform column
    title: str  # how people call it, in reasons and findings
    team_annotation: str | None = None  # the Group annotation that puts a team on it (None: the default)
    schedule_annotation: str | None = None  # the Group annotation that names a team's schedules, if any
    service_annotation: str | None = None  # the Component annotation that names a service on it, if any
    cannot_give: Mapping[str, str] = field(default_factory=dict)  # facet -> why, whatever the account

    def user_subject(self, user_id: str) -> str:
        """The finding subject of a platform user the registry does not know."""
        return f"{self.name}-user:{user_id}"


PAGERDUTY = Platform(
    name="pagerduty",
    title="PagerDuty",
    schedule_annotation="pagerduty.com/schedule-ids",
    service_annotation="pagerduty.com/service-id",
)
JSM_OPS = Platform(
    name="jsm_ops",
    title="Jira Service Management Operations",
    team_annotation="atlassian.com/jsm-ops-team",
    cannot_give={
        "notification_rules": (
            "Jira Service Management Operations shows a person's notification rules only to that person"
        ),
    },
)
PLATFORMS: dict[str, Platform] = {platform.name: platform for platform in (PAGERDUTY, JSM_OPS)}
DEFAULT_PLATFORM = PAGERDUTY.name  # a team no annotation puts elsewhere


def team_platforms(teams: pd.DataFrame) -> dict[str, str]:
    """Team -> the name of its on-call platform: the registry's ``oncall_platform``, else the default."""
    names = teams["team"].tolist()
    if "oncall_platform" not in teams:
        return dict.fromkeys(names, DEFAULT_PLATFORM)
    chosen = teams["oncall_platform"].tolist()
    return {team: DEFAULT_PLATFORM if pd.isna(name) else str(name) for team, name in zip(names, chosen, strict=True)}


def frame(table: str, rows: Iterable[Mapping[str, Any]], platform: str | None = None) -> pd.DataFrame:
    """The on-call facts table ``table`` from raw rows, with its columns and kinds; ``platform`` fills its column."""
    rows = rows if platform is None else ({**row, "platform": platform} for row in rows)
    return typed_frame(rows, FACT_COLUMNS[table])


def from_frame(table: str, source: pd.DataFrame, platform: str, **columns: str) -> pd.DataFrame:
    """The on-call facts table ``table`` from a platform's typed facts table, ``columns`` renaming its
    columns (``new=old``); a column it lacks is empty. Typed columns are kept as they are (no re-parse)."""
    kinds = FACT_COLUMNS[table]
    index = pd.RangeIndex(len(source))
    built = {}
    for column, kind in kinds.items():
        name = columns.get(column, column)
        if column == "platform":
            built[column] = pd.Series(platform, index=index, dtype="string")
        elif name in source:
            built[column] = pd.Series(source[name].array, index=index, name=column)  # no copy of the values
        else:
            built[column] = typed_frame([], {column: kind})[column].reindex(index)
    return pd.DataFrame(built, index=index)


def empty() -> dict[str, pd.DataFrame]:
    """Every on-call facts table, without rows."""
    return {table: frame(table, []) for table in FACT_COLUMNS}


def combine(per_platform: Mapping[str, Mapping[str, pd.DataFrame]]) -> dict[str, pd.DataFrame]:
    """Every platform's on-call facts in one set of tables (a table a platform does not give: no rows
    of it), with each platform's permanent gaps (``Platform.cannot_give``) in ``oncall_unreadable``."""
    gaps = [
        {"platform": name, "facet": facet, "reason": reason}
        for name in per_platform
        for facet, reason in (PLATFORMS[name].cannot_give.items() if name in PLATFORMS else ())
    ]
    combined = {}
    for table, columns in FACT_COLUMNS.items():
        parts = [facts[table][list(columns)] for facts in per_platform.values() if table in facts and len(facts[table])]
        if table == "oncall_unreadable" and gaps:
            parts.append(frame(table, gaps))
        combined[table] = pd.concat(parts, ignore_index=True) if parts else frame(table, [])
    return combined
