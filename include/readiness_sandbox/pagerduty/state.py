"""The PagerDuty emulator's state: the account it serves, read from YAML and validated.

Every section is optional (a list); ids are unique per section; every reference is checked::

    users:      [{id, name, email, time_zone: UTC, role: user,
                  contact_methods: [{id, type: phone|sms|push|email, label: Work, address,
                                     blacklisted: false}],
                  notification_rules: [{id, urgency: high|low, start_delay_in_minutes,
                                        contact_method: one of this user's contact method ids}]}]
    teams:      [{id, name, description?, members: [{user, role: manager|responder|observer}]}]
    schedules:  [{id, name, time_zone, description?, teams: [team ids],
                  layers: [{id, name?, start, end: null, rotation_virtual_start,
                            rotation_turn_length_seconds, users: [user ids, rotation order],
                            restrictions: [{type: daily_restriction|weekly_restriction,
                                            start_time_of_day: "HH:MM:SS", duration_seconds,
                                            start_day_of_week: 1-7 (weekly only)}]}],
                  overrides: [{id?, start, end, user}]}]
    escalation_policies: [{id, name, description?, num_loops: 0, teams: [team ids],
                  rules: [{escalation_delay_in_minutes: 30,
                           targets: [{type: schedule_reference|user_reference, id}]}]}]
    services:   [{id, name, description?, status: active, created_at, escalation_policy,
                  teams: [team ids]}]
    incidents:  [{id, incident_number, title, service, status: triggered|acknowledged|resolved,
                  urgency: high|low (default high), priority?: a name such as P1,
                  created_at, acknowledged_at?, resolved_at? (required exactly when resolved),
                  last_status_change_at? (default: the latest of those three),
                  escalation_policy? (default: the service's),
                  assignments: [{at, assignee: user id}],
                  notifications: [{at, user: user id, type: phone|sms|push|email}]}]
    priorities: [{name, description?}]   (most severe first, as GET /priorities lists them;
                  the id derives from the name, as incidents' priorities do)
    incident_workflows: [{id, name, description?, is_enabled: true, team?: team id,
                  steps: [{id, name, action_id, inputs: [{name, value}]}]}]
                  (an input's value is text; a list, such as an "Add Responders" step's
                  Responders, is written as JSON text, as the API carries it)
    incident_workflow_triggers: [{id, workflow, trigger_type: conditional|manual|incident_type,
                  condition?: PCL (conditional only), services: [service ids], all_services: false}]
    refusals:   {incident_workflows: 402|403, priorities: 402|403}   (what the account's plan
                  or the key lacks: every GET of it answers that status)

Incidents: an acknowledged incident needs ``acknowledged_at`` (else ``last_status_change_at``
stands for it); a resolved one ``resolved_at`` (else ``last_status_change_at``, as older state
files have it); times are ordered (created <= acknowledged <= resolved, no notification before
the incident). ``notifications`` are what PagerDuty sent, the facts the analytics endpoints
count interruptions from (``analytics``): phone, SMS and push interrupt, email does
not. The sample organisation derives them from the assignees' notification rules.

Layers later in the list take precedence; overrides take precedence over every layer.
Times are ISO 8601 (an offset is required to mean anything but UTC). Unknown fields are
errors, so typos do not pass silently. A bad value stops the load with a StateError naming
the file, the section, the id and the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from ..state_text import parse_document
from .model import (
    EscalationPolicy,
    EscalationRule,
    Incident,
    PagerDutyState,
    Schedule,
    Service,
    Team,
    User,
)
from .state_incidents import parse_incident
from .state_sections import (
    SECTIONS,
    Item,
    StateError,
    parse_policy,
    parse_priority,
    parse_refusals,
    parse_schedule,
    parse_service,
    parse_team,
    parse_trigger,
    parse_user,
    parse_workflow,
)

__all__ = [
    "EscalationPolicy",
    "EscalationRule",
    "Incident",
    "PagerDutyState",
    "SECTIONS",
    "Schedule",
    "Service",
    "StateError",
    "Team",
    "User",
    "load_pagerduty_state",
    "parse_state",
]


def load_pagerduty_state(path: str | Path) -> dict:
    """Read a PagerDuty state YAML file, validate it (StateError if bad) and return it."""
    path = Path(path)
    try:
        raw = parse_document(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise StateError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise StateError(f"{path}: expected a mapping of sections, got {type(raw).__name__}")
    parse_state(raw, source=str(path))
    return raw


def parse_state(raw: Mapping[str, Any], *, source: str = "pagerduty state") -> PagerDutyState:
    """Validate the state mapping and build the model; StateError names what is wrong."""
    top = Item(dict(raw), "(top level)", source, SECTIONS)
    state = PagerDutyState()
    readers = {
        "users": parse_user,
        "teams": parse_team,
        "schedules": parse_schedule,
        "escalation_policies": parse_policy,
        "services": parse_service,
        "incidents": parse_incident,
        "priorities": parse_priority,
        "incident_workflows": parse_workflow,
        "incident_workflow_triggers": parse_trigger,
    }
    for section, reader in readers.items():
        target: dict = getattr(state, section)
        for index, data in enumerate(top.items(section)):
            item_id = data.get("id", data.get("name")) if isinstance(data, dict) else None
            where = f"{section}[{item_id if item_id is not None else f'#{index}'}]"
            parsed = reader(data, where, source, state)
            if parsed.id in target:
                raise StateError(f"{source}: {where}: field 'id': duplicate id {parsed.id!r}")
            target[parsed.id] = parsed
    state.refusals = parse_refusals(top.data.get("refusals"), source)
    _check_unique_incident_numbers(state, source)
    return state


def _check_unique_incident_numbers(state: PagerDutyState, source: str) -> None:
    seen: dict[int, str] = {}
    for incident in state.incidents.values():
        if incident.number in seen:
            raise StateError(
                f"{source}: incidents[{incident.id}]: field 'incident_number': "
                f"{incident.number} is already used by {seen[incident.number]}"
            )
        seen[incident.number] = incident.id
