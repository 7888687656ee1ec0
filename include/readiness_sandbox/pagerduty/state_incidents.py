"""The PagerDuty state file's ``incidents`` section: the incident, its lifecycle and its notifications.

An incident is triggered at ``created_at``, may be acknowledged (``acknowledged_at``) and
resolved (``resolved_at``, required exactly when ``status`` is ``resolved``); its
``notifications`` are what PagerDuty sent to whom, when and how (``phone``, ``sms``,
``push`` or ``email``), from which the analytics endpoints count interruptions. Older state
files stay valid: ``resolved_at`` defaults to ``last_status_change_at`` for a resolved
incident, and every new field is optional.
"""

from __future__ import annotations

from typing import Any

from .model import Incident, Notification, PagerDutyState
from .state_sections import CONTACT_KINDS, INCIDENT_STATUSES, URGENCIES, Item, StateError

INCIDENT_FIELDS = (
    "id",
    "incident_number",
    "title",
    "service",
    "status",
    "urgency",
    "priority",
    "created_at",
    "acknowledged_at",
    "resolved_at",
    "last_status_change_at",
    "escalation_policy",
    "assignments",
    "notifications",
)

__all__ = ["INCIDENT_STATUSES", "StateError", "parse_incident"]


def parse_incident(data: Any, where: str, source: str, state: PagerDutyState) -> Incident:
    item = Item(data, where, source, INCIDENT_FIELDS)
    service = item.ref("service", state.services, "service")
    policy = state.services[service].escalation_policy
    if item.data.get("escalation_policy") is not None:
        policy = item.ref("escalation_policy", state.escalation_policies, "escalation policy")
    status = item.choice("status", INCIDENT_STATUSES)
    created_at = item.moment("created_at")
    acknowledged_at = item.moment("acknowledged_at", None)
    last_change = item.moment("last_status_change_at", None)
    resolved_at = item.moment("resolved_at", None)
    if status == "resolved":
        resolved_at = resolved_at or last_change
        if resolved_at is None:
            raise item.error("resolved_at", "is required for a resolved incident")
    elif resolved_at is not None:
        raise item.error("resolved_at", f"must be empty while the incident is {status}")
    if status == "acknowledged" and acknowledged_at is None:
        acknowledged_at = last_change
        if acknowledged_at is None:
            raise item.error("acknowledged_at", "is required for an acknowledged incident")
    for name, moment in (("acknowledged_at", acknowledged_at), ("resolved_at", resolved_at)):
        if moment is not None and moment < created_at:
            raise item.error(name, "must not be before created_at")
    if acknowledged_at and resolved_at and resolved_at < acknowledged_at:
        raise item.error("resolved_at", "must not be before acknowledged_at")
    priority = item.text("priority", None)
    if priority is not None and not priority.strip():
        raise item.error("priority", "must be a priority name such as P1, or left out")
    return Incident(
        id=item.text("id"),
        number=item.integer("incident_number", minimum=1),
        title=item.text("title"),
        service=service,
        status=status,
        urgency=item.choice("urgency", URGENCIES, "high"),
        created_at=created_at,
        last_status_change_at=last_change or resolved_at or acknowledged_at or created_at,
        escalation_policy=policy,
        assignments=_assignments(item, state),
        acknowledged_at=acknowledged_at,
        resolved_at=resolved_at,
        priority=priority,
        notifications=_notifications(item, state, created_at),
    )


def _assignments(item: Item, state: PagerDutyState) -> tuple:
    assignments = []
    for index, raw in enumerate(item.items("assignments")):
        assignment = item.child(raw, f"assignments[#{index}]", ("at", "assignee"))
        assignments.append((assignment.moment("at"), assignment.ref("assignee", state.users, "user")))
    return tuple(assignments)


def _notifications(item: Item, state: PagerDutyState, created_at) -> tuple[Notification, ...]:
    notifications = []
    for index, raw in enumerate(item.items("notifications")):
        entry = item.child(raw, f"notifications[#{index}]", ("at", "user", "type"))
        at = entry.moment("at")
        if at < created_at:
            raise entry.error("at", "must not be before the incident's created_at")
        user = entry.ref("user", state.users, "user")
        notifications.append(Notification(at=at, user=user, kind=entry.choice("type", CONTACT_KINDS)))
    return tuple(sorted(notifications, key=lambda n: n.at))
