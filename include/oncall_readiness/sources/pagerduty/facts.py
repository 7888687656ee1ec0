"""PagerDuty's facts tables: their columns, and the raw API objects turned into them.

Schema version 4 (every timestamp is UTC):

- ``pagerduty_collections``: collection (the API path), reported_total (PagerDuty's own
  ``total``), collected (objects received): the evidence that no page went missing
- ``pagerduty_users``: user_id, name, email (lower-cased: the join key), time_zone, role
- ``pagerduty_user_teams``: user_id, team_id, team_name
- ``pagerduty_contact_methods``: user_id, contact_method_id, type (``phone``, ``sms``,
  ``push``, ``email``, ``whatsapp``), label, blacklisted (PagerDuty will not deliver to it).
  The address (a phone number or email) is personal data the checks do not need: not kept.
- ``pagerduty_notification_rules``: user_id, rule_id, urgency (``high``/``low``),
  start_delay_in_minutes, contact_method_id, contact_method_type
- ``pagerduty_schedules``: schedule_id, name, time_zone
- ``pagerduty_rotation_members``: schedule_id, layer_id, layer_name, layer_position,
  member_position, user_id, turn_length_seconds, layer_start, layer_end
- ``pagerduty_oncall_shifts``: schedule_id, user_id, start, end (the final schedule's
  shifts, overrides included, that overlap the collection window, from the checks' look-back
  before the audit instant to their look-ahead after it; a shift keeps its real bounds)
- ``pagerduty_services``: service_id, name, status, escalation_policy_id, created_at
- ``pagerduty_escalation_targets``: escalation_policy_id, escalation_policy_name, num_loops,
  level, escalation_delay_in_minutes, target_type, target_id
- ``pagerduty_incidents``: incident_id, incident_number, title, service_id, team_id,
  escalation_policy_id, urgency, priority, status, created_at, acknowledged_at, resolved_at,
  seconds_to_first_ack, seconds_to_resolve, escalation_count, engaged_user_count,
  assigned_user_ids (comma-separated), total_interruptions, business_hour_interruptions,
  off_hour_interruptions, sleep_hour_interruptions (NA for an incident analytics does not
  have yet), origin (``analytics`` or ``incidents``, the list that filled it in): every
  incident created in the look-back before the audit instant, and every incident open now
- ``pagerduty_responder_weeks``: responder_id, week_start, week_end (four 7-day weeks counted
  back from the audit instant), total_interruptions, business_hour_interruptions,
  off_hour_interruptions, sleep_hour_interruptions, total_notifications, incident_count,
  seconds_on_call
- ``pagerduty_priorities``: priority_id, name, position (1 is the most severe: PagerDuty lists
  them in that order)
- ``pagerduty_incident_workflows``: workflow_id, name, is_enabled
- ``pagerduty_workflow_responders``: workflow_id, step_id, target_type
  (``escalation_policy``, ``user``, ``schedule``, with or without ``_reference``), target_id:
  the responders each "Add Responders" step adds
- ``pagerduty_workflow_triggers``: trigger_id, workflow_id, trigger_type (``conditional``,
  ``manual``, ``incident_type``), condition (PCL, e.g. ``incident.priority matches 'P1'``; none:
  every incident), all_services, is_disabled, service_id (one row per service it names; NA when
  it names none)
- ``pagerduty_links``: subject, name, url: the web page (``html_url``) of each schedule,
  escalation policy, user and service, and of the registry's people and services
  (:mod:`.links`), as the findings name them
- ``pagerduty_unreadable``: collection (the API path), status (HTTP status, NA when none came),
  reason: the collections PagerDuty would not give (402/403: the plan or the key lacks the
  feature); what needs them is unknown, never absent

The last five come from :mod:`.workflows`, read only when the registry names an
incident-commander schedule.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import pandas as pd

from oncall_readiness import schema
from oncall_readiness.sources.facts import typed_frame
from oncall_readiness.sources.pagerduty.workflows import (
    WorkflowReads,
    priority_rows,
    responder_rows,
    trigger_rows,
    workflow_rows,
)

# PagerDuty's contact method types, by the short name the facts and the checks use.
CONTACT_METHOD_TYPES = {
    "phone_contact_method": "phone",
    "sms_contact_method": "sms",
    "push_notification_contact_method": "push",
    "email_contact_method": "email",
    "whatsapp_contact_method": "whatsapp",
}

FACT_COLUMNS: dict[str, dict[str, str]] = {
    "pagerduty_links": dict(schema.LINK_COLUMNS),
    "pagerduty_collections": {"collection": "string", "reported_total": "integer", "collected": "integer"},
    "pagerduty_users": {
        "user_id": "string",
        "name": "string",
        "email": "string",
        "time_zone": "string",
        "role": "string",
    },
    "pagerduty_user_teams": {"user_id": "string", "team_id": "string", "team_name": "string"},
    "pagerduty_contact_methods": {
        "user_id": "string",
        "contact_method_id": "string",
        "type": "string",
        "label": "string",
        "blacklisted": "boolean",
    },
    "pagerduty_notification_rules": {
        "user_id": "string",
        "rule_id": "string",
        "urgency": "string",
        "start_delay_in_minutes": "integer",
        "contact_method_id": "string",
        "contact_method_type": "string",
    },
    "pagerduty_schedules": {"schedule_id": "string", "name": "string", "time_zone": "string"},
    "pagerduty_rotation_members": {
        "schedule_id": "string",
        "layer_id": "string",
        "layer_name": "string",
        "layer_position": "integer",
        "member_position": "integer",
        "user_id": "string",
        "turn_length_seconds": "integer",
        "layer_start": "timestamp",
        "layer_end": "timestamp",
    },
    "pagerduty_oncall_shifts": {
        "schedule_id": "string",
        "user_id": "string",
        "start": "timestamp",
        "end": "timestamp",
    },
    "pagerduty_services": {
        "service_id": "string",
        "name": "string",
        "status": "string",
        "escalation_policy_id": "string",
        "created_at": "timestamp",
    },
    "pagerduty_incidents": {
        "incident_id": "string",
        "incident_number": "integer",
        "title": "string",
        "service_id": "string",
        "team_id": "string",
        "escalation_policy_id": "string",
        "urgency": "string",
        "priority": "string",
        "status": "string",
        "created_at": "timestamp",
        "acknowledged_at": "timestamp",
        "resolved_at": "timestamp",
        "seconds_to_first_ack": "integer",
        "seconds_to_resolve": "integer",
        "escalation_count": "integer",
        "engaged_user_count": "integer",
        "assigned_user_ids": "string",
        "total_interruptions": "integer",
        "business_hour_interruptions": "integer",
        "off_hour_interruptions": "integer",
        "sleep_hour_interruptions": "integer",
        "origin": "string",
    },
    "pagerduty_responder_weeks": {
        "responder_id": "string",
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
    "pagerduty_priorities": {"priority_id": "string", "name": "string", "position": "integer"},
    "pagerduty_incident_workflows": {"workflow_id": "string", "name": "string", "is_enabled": "boolean"},
    "pagerduty_workflow_responders": {
        "workflow_id": "string",
        "step_id": "string",
        "target_type": "string",
        "target_id": "string",
    },
    "pagerduty_workflow_triggers": {
        "trigger_id": "string",
        "workflow_id": "string",
        "trigger_type": "string",
        "condition": "string",
        "all_services": "boolean",
        "is_disabled": "boolean",
        "service_id": "string",
    },
    "pagerduty_unreadable": {"collection": "string", "status": "integer", "reason": "string"},
    "pagerduty_escalation_targets": {
        "escalation_policy_id": "string",
        "escalation_policy_name": "string",
        "num_loops": "integer",
        "level": "integer",
        "escalation_delay_in_minutes": "integer",
        "target_type": "string",
        "target_id": "string",
    },
}


def normalise(
    *,
    users: list[dict[str, Any]],
    schedules: list[dict[str, Any]],
    services: list[dict[str, Any]],
    policies: list[dict[str, Any]],
    shifts: list[dict[str, Any]],
    workflows: WorkflowReads | None = None,
) -> dict[str, pd.DataFrame]:
    """Turn raw API objects into the documented facts tables (``workflows``: none read, empty tables)."""
    facts = _workflow_facts(workflows or WorkflowReads())
    facts |= {
        "pagerduty_users": frame(
            "pagerduty_users",
            (
                {
                    "user_id": u["id"],
                    "name": u.get("name"),
                    "email": (u.get("email") or "").strip().lower() or None,
                    "time_zone": u.get("time_zone"),
                    "role": u.get("role"),
                }
                for u in users
            ),
        ),
        "pagerduty_user_teams": frame(
            "pagerduty_user_teams",
            (
                {"user_id": u["id"], "team_id": t["id"], "team_name": t.get("summary") or t.get("name")}
                for u in users
                for t in u.get("teams") or []
            ),
        ),
        "pagerduty_contact_methods": frame("pagerduty_contact_methods", _contact_methods(users)),
        "pagerduty_notification_rules": frame("pagerduty_notification_rules", _notification_rules(users)),
        "pagerduty_schedules": frame(
            "pagerduty_schedules",
            ({"schedule_id": s["id"], "name": s.get("name"), "time_zone": s.get("time_zone")} for s in schedules),
        ),
        "pagerduty_rotation_members": frame("pagerduty_rotation_members", _rotation_members(schedules)),
        "pagerduty_oncall_shifts": frame("pagerduty_oncall_shifts", shifts),
        "pagerduty_services": frame(
            "pagerduty_services",
            (
                {
                    "service_id": s["id"],
                    "name": s.get("name"),
                    "status": s.get("status"),
                    "escalation_policy_id": (s.get("escalation_policy") or {}).get("id"),
                    "created_at": s.get("created_at"),
                }
                for s in services
            ),
        ),
        "pagerduty_escalation_targets": frame("pagerduty_escalation_targets", _escalation_targets(policies)),
    }
    return facts


def _workflow_facts(reads: WorkflowReads) -> dict[str, pd.DataFrame]:
    return {
        "pagerduty_priorities": frame("pagerduty_priorities", priority_rows(reads.priorities)),
        "pagerduty_incident_workflows": frame("pagerduty_incident_workflows", workflow_rows(reads.workflows)),
        "pagerduty_workflow_responders": frame("pagerduty_workflow_responders", responder_rows(reads.workflows)),
        "pagerduty_workflow_triggers": frame("pagerduty_workflow_triggers", trigger_rows(reads.triggers)),
        "pagerduty_unreadable": frame("pagerduty_unreadable", reads.unreadable),
    }


def _contact_methods(users: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for user in users:
        for method in user.get("contact_methods") or []:
            yield {
                "user_id": user["id"],
                "contact_method_id": method.get("id"),
                "type": _contact_type(method.get("type")),
                "label": method.get("label"),
                "blacklisted": bool(method.get("blacklisted")),
            }


def _notification_rules(users: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for user in users:
        for rule in user.get("notification_rules") or []:
            method = rule.get("contact_method") or {}
            yield {
                "user_id": user["id"],
                "rule_id": rule.get("id"),
                "urgency": rule.get("urgency"),
                "start_delay_in_minutes": rule.get("start_delay_in_minutes"),
                "contact_method_id": method.get("id"),
                "contact_method_type": _contact_type(method.get("type")),
            }


def _contact_type(api_type: str | None) -> str | None:
    """``phone_contact_method`` or its ``_reference`` -> ``phone``; an unknown type is kept as sent."""
    if api_type is None:
        return None
    return CONTACT_METHOD_TYPES.get(api_type.removesuffix("_reference"), api_type)


def _rotation_members(schedules: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for schedule in schedules:
        for layer_position, layer in enumerate(schedule.get("schedule_layers") or [], start=1):
            for member_position, member in enumerate(layer.get("users") or [], start=1):
                yield {
                    "schedule_id": schedule["id"],
                    "layer_id": layer.get("id"),
                    "layer_name": layer.get("name"),
                    "layer_position": layer_position,
                    "member_position": member_position,
                    "user_id": member["user"]["id"],
                    "turn_length_seconds": layer.get("rotation_turn_length_seconds"),
                    "layer_start": layer.get("start"),
                    "layer_end": layer.get("end"),
                }


def _escalation_targets(policies: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for policy in policies:
        for level, rule in enumerate(policy.get("escalation_rules") or [], start=1):
            for target in rule.get("targets") or []:
                yield {
                    "escalation_policy_id": policy["id"],
                    "escalation_policy_name": policy.get("name"),
                    "num_loops": policy.get("num_loops"),
                    "level": level,
                    "escalation_delay_in_minutes": rule.get("escalation_delay_in_minutes"),
                    "target_type": target.get("type"),
                    "target_id": target.get("id"),
                }


def frame(table: str, rows: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """The PagerDuty facts table ``table`` from raw rows, with its documented columns and kinds."""
    return typed_frame(rows, FACT_COLUMNS[table])
