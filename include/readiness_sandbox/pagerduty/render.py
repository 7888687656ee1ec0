"""PagerDuty's JSON objects (shapes from its OpenAPI spec), rendered from the emulator's state.

References (``*_reference``) and full objects carry ``self`` URLs that point at the emulator
(under the prefix it is mounted at) and ``html_url`` links under a fake web UI host.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime
from typing import Any

from .model import (
    ContactMethod,
    IncidentWorkflow,
    NotificationRule,
    Priority,
    WorkflowStep,
    WorkflowTrigger,
    priority_id,
)
from .schedules import (
    UTC,
    Entry,
    Layer,
    coverage_percentage,
    format_time,
    render_final,
    render_layer,
    render_overrides,
)
from .state import (
    EscalationPolicy,
    EscalationRule,
    Incident,
    PagerDutyState,
    Schedule,
    Service,
    Team,
    User,
)

CONTACT_TYPES = {
    "phone": "phone_contact_method",
    "sms": "sms_contact_method",
    "push": "push_notification_contact_method",
    "email": "email_contact_method",
}
TRIGGER_TYPE_NAMES = {
    "conditional": "Conditional Trigger",
    "manual": "Manual Trigger",
    "incident_type": "Incident Type Trigger",
}
COLLECTIONS = {
    **{kind: "contact_methods" for kind in CONTACT_TYPES.values()},
    "assignment_notification_rule": "notification_rules",
    "user": "users",
    "team": "teams",
    "schedule": "schedules",
    "escalation_policy": "escalation_policies",
    "service": "services",
    "incident": "incidents",
}


class Renderer:
    """Builds PagerDuty JSON objects for one request (URLs point at this emulator)."""

    def __init__(self, state: PagerDutyState, base_url: str, html_base_url: str):
        self.state, self.base_url, self.html_base_url = state, base_url, html_base_url

    def _head(self, kind: str, object_id: str, summary: str, *, ref: bool, inside: str = "") -> dict[str, Any]:
        """``inside``: the path of the object this one lives in (a user's contact methods and rules,
        which PagerDuty gives no web page of their own)."""
        path = f"{inside}/{COLLECTIONS[kind]}/{object_id}".lstrip("/")
        return {
            "id": object_id,
            "type": f"{kind}_reference" if ref else kind,
            "summary": summary,
            "self": f"{self.base_url}/{path}",
            "html_url": None if inside else f"{self.html_base_url}/{path}",
        }

    def ref(self, kind: str, object_id: str) -> dict[str, Any]:
        obj = getattr(self.state, COLLECTIONS[kind])[object_id]
        summary = incident_summary(obj) if kind == "incident" else obj.name
        return self._head(kind, object_id, summary, ref=True)

    def refs(self, kind: str, ids: Iterable[str]) -> list[dict[str, Any]]:
        return [self.ref(kind, object_id) for object_id in ids]

    def user(self, user: User, include: Collection[str] = ()) -> dict[str, Any]:
        team_ids = self.state.user_teams(user.id)
        teams = [self.team(self.state.teams[t]) if "teams" in include else self.ref("team", t) for t in team_ids]
        return {
            **self._head("user", user.id, user.name, ref=False),
            "name": user.name,
            "email": user.email,
            "time_zone": user.time_zone,
            "role": user.role,
            "description": None,
            "invitation_sent": False,
            "teams": teams,
            "contact_methods": [
                self.contact_method(user, method, ref="contact_methods" not in include)
                for method in user.contact_methods
            ],
            "notification_rules": [
                self.notification_rule(user, rule, ref="notification_rules" not in include)
                for rule in user.notification_rules
            ],
        }

    def contact_method(self, user: User, method: ContactMethod, *, ref: bool) -> dict[str, Any]:
        kind = CONTACT_TYPES[method.kind]
        head = self._head(kind, method.id, method.label, ref=ref, inside=f"users/{user.id}")
        if ref:
            return head
        details: dict[str, Any] = {"label": method.label, "address": method.address}
        if method.kind in ("phone", "sms"):
            details |= {"country_code": 44, "enabled": not method.blacklisted, "blacklisted": method.blacklisted}
        elif method.kind == "push":
            details |= {"device_type": "ios", "blacklisted": method.blacklisted, "sounds": []}
        else:
            details |= {"send_short_email": False, "enabled": True}
        return {**head, **details}

    def notification_rule(self, user: User, rule: NotificationRule, *, ref: bool) -> dict[str, Any]:
        method = next(m for m in user.contact_methods if m.id == rule.contact_method)
        summary = f"{rule.start_delay_minutes} minutes: channel {rule.contact_method}"
        head = self._head("assignment_notification_rule", rule.id, summary, ref=ref, inside=f"users/{user.id}")
        if ref:
            return head
        return {
            **head,
            "start_delay_in_minutes": rule.start_delay_minutes,
            "contact_method": self.contact_method(user, method, ref=True),
            "urgency": rule.urgency,
        }

    def team(self, team: Team) -> dict[str, Any]:
        return {
            **self._head("team", team.id, team.name, ref=False),
            "name": team.name,
            "description": team.description,
            "default_role": "manager",
        }

    def member(self, user_id: str, role: str, include: Collection[str]) -> dict[str, Any]:
        user = self.state.users[user_id]
        return {
            "user": self.user(user) if "users" in include else self.ref("user", user_id),
            "role": role,
        }

    def schedule(
        self,
        schedule: Schedule,
        *,
        tz,
        window: tuple[datetime, datetime] | None = None,
        include: Collection[str] = (),
    ) -> dict[str, Any]:
        out = {
            **self._head("schedule", schedule.id, schedule.name, ref=False),
            "name": schedule.name,
            "description": schedule.description,
            "time_zone": schedule.time_zone,
            "users": self.refs("user", self.state.schedule_users(schedule.id)),
            "escalation_policies": self.refs("escalation_policy", self.state.schedule_policies(schedule.id)),
            "teams": self.refs("team", schedule.teams),
        }
        if window is None:
            return out
        since, until = window
        if "schedule_layers" in include:
            out["schedule_layers"] = [self.layer(layer, schedule, tz, since, until) for layer in schedule.layers]
        if "overrides_subschedule" in include:
            entries = render_overrides(schedule.overrides, since, until)
            out["overrides_subschedule"] = self.subschedule("Overrides", entries, tz, window)
        if "final_schedule" in include:
            entries = render_final(schedule.layers, schedule.overrides, schedule.zone, since, until)
            out["final_schedule"] = self.subschedule("Final Schedule", entries, tz, window)
        return out

    def layer(self, layer: Layer, schedule: Schedule, tz, since: datetime, until: datetime) -> dict[str, Any]:
        entries = render_layer(layer, schedule.zone, since, until)
        return {
            "id": layer.id,
            "name": layer.name,
            "start": format_time(layer.start, tz),
            "end": format_time(layer.end, tz),
            "rotation_virtual_start": format_time(layer.rotation_virtual_start, tz),
            "rotation_turn_length_seconds": int(layer.turn_length.total_seconds()),
            "users": [{"user": self.ref("user", u)} for u in layer.users],
            "restrictions": [r.as_json() for r in layer.restrictions],
            "rendered_schedule_entries": self.entries(entries, tz),
            "rendered_coverage_percentage": coverage_percentage(entries, since, until),
        }

    def subschedule(self, name: str, entries: list[Entry], tz, window: tuple[datetime, datetime]) -> dict[str, Any]:
        return {
            "name": name,
            "rendered_schedule_entries": self.entries(entries, tz),
            "rendered_coverage_percentage": coverage_percentage(entries, *window),
        }

    def entries(self, entries: Iterable[Entry], tz) -> list[dict[str, Any]]:
        return [
            {
                "start": format_time(e.start, tz),
                "end": format_time(e.end, tz),
                "user": self.ref("user", e.user),
            }
            for e in entries
        ]

    def policy(self, policy: EscalationPolicy, include: Collection[str] = ()) -> dict[str, Any]:
        services = self.state.policy_services(policy.id)
        return {
            **self._head("escalation_policy", policy.id, policy.name, ref=False),
            "name": policy.name,
            "description": policy.description,
            "num_loops": policy.num_loops,
            "on_call_handoff_notifications": "if_has_services",
            "escalation_rules": [self.rule(rule, include) for rule in policy.rules],
            "services": [
                self.service(self.state.services[s]) if "services" in include else self.ref("service", s)
                for s in services
            ],
            "teams": [
                self.team(self.state.teams[t]) if "teams" in include else self.ref("team", t) for t in policy.teams
            ],
        }

    def rule(self, rule: EscalationRule, include: Collection[str]) -> dict[str, Any]:
        return {
            "id": rule.id,
            "escalation_delay_in_minutes": rule.delay_minutes,
            "targets": [self.target(kind, target_id, include) for kind, target_id in rule.targets],
        }

    def target(self, kind: str, target_id: str, include: Collection[str]) -> dict[str, Any]:
        if "targets" not in include:
            return self.ref(kind, target_id)
        if kind == "user":
            return self.user(self.state.users[target_id])
        schedule = self.state.schedules[target_id]
        return self.schedule(schedule, tz=schedule.zone)

    def service(self, service: Service, include: Collection[str] = ()) -> dict[str, Any]:
        policy = self.state.escalation_policies[service.escalation_policy]
        return {
            **self._head("service", service.id, service.name, ref=False),
            "name": service.name,
            "description": service.description,
            "status": service.status,
            "created_at": format_time(service.created_at, UTC),
            "last_incident_timestamp": format_time(self.state.last_incident_at(service.id), UTC),
            "auto_resolve_timeout": 14400,
            "acknowledgement_timeout": 1800,
            "alert_creation": "create_alerts_and_incidents",
            "escalation_policy": (
                self.policy(policy) if "escalation_policies" in include else self.ref("escalation_policy", policy.id)
            ),
            "teams": [
                self.team(self.state.teams[t]) if "teams" in include else self.ref("team", t) for t in service.teams
            ],
            "integrations": [],
        }

    def incident(self, incident: Incident, tz) -> dict[str, Any]:
        resolved = incident.status == "resolved"
        # PagerDuty empties `assignments` once an incident is resolved, and lists
        # `acknowledgements` only while it is acknowledged (see the spec).
        assignments = [] if resolved else incident.assignments
        acknowledger = incident.acknowledger() if incident.status == "acknowledged" else None
        acknowledgements = (
            [{"at": format_time(incident.acknowledged_at, tz), "acknowledger": self.ref("user", acknowledger)}]
            if acknowledger
            else []
        )
        return {
            **self._head("incident", incident.id, incident_summary(incident), ref=False),
            "incident_number": incident.number,
            "title": incident.title,
            "created_at": format_time(incident.created_at, tz),
            "updated_at": format_time(incident.last_status_change_at, tz),
            "status": incident.status,
            "urgency": incident.urgency,
            "priority": self.priority(incident.priority),
            "service": self.ref("service", incident.service),
            "escalation_policy": self.ref("escalation_policy", incident.escalation_policy),
            "teams": self.refs("team", self.state.services[incident.service].teams),
            "assignments": [
                {"at": format_time(at, tz), "assignee": self.ref("user", user_id)} for at, user_id in assignments
            ],
            "acknowledgements": acknowledgements,
            "last_status_change_at": format_time(incident.last_status_change_at, tz),
            "resolved_at": format_time(incident.resolved_at, tz) if resolved else None,
        }

    @staticmethod
    def priority_id(name: str) -> str:
        """A stable 7-character id per priority name (``model.priority_id``)."""
        return priority_id(name)

    def priority(self, name: str | None) -> dict[str, Any] | None:
        """A priority object for a priority name (null without one, as PagerDuty sends)."""
        if name is None:
            return None
        known = self.state.priorities.get(priority_id(name))
        return self.priority_object(known or Priority(name, ""))

    def priority_object(self, priority: Priority) -> dict[str, Any]:
        return {
            "id": priority.id,
            "type": "priority",
            "summary": priority.name,
            "self": f"{self.base_url}/priorities/{priority.id}",
            "html_url": f"{self.html_base_url}/account/incident_priorities",
            "name": priority.name,
            "description": priority.description,
        }

    def workflow(self, workflow: IncidentWorkflow, include: Collection[str] = ()) -> dict[str, Any]:
        """An ``IncidentWorkflow``: its steps and team only when ``include[]`` asks (as the listing does)."""
        rendered: dict[str, Any] = {
            "id": workflow.id,
            "type": "incident_workflow",
            "summary": workflow.name,
            "self": f"{self.base_url}/incident_workflows/{workflow.id}",
            "html_url": f"{self.html_base_url}/flex-workflows/workflows/{workflow.id}",
            "name": workflow.name,
            "description": workflow.description or "",
            "created_at": "2026-01-05T09:00:00Z",
            "is_enabled": workflow.is_enabled,
        }
        if "team" in include and workflow.team is not None:
            rendered["team"] = {"id": workflow.team, "type": "team_reference"}
        if "steps" in include:
            rendered["steps"] = [self.step(step) for step in workflow.steps]
        return rendered

    def step(self, step: WorkflowStep) -> dict[str, Any]:
        return {
            "id": step.id,
            "type": "step",
            "summary": step.name,
            "self": None,
            "html_url": None,
            "name": step.name,
            "description": step.name,
            "action_configuration": {
                "action_id": step.action_id,
                "description": step.name,
                "inputs": [{"name": name, "parameter_type": "text", "value": value} for name, value in step.inputs],
                "outputs": [],
            },
        }

    def trigger(self, trigger: WorkflowTrigger) -> dict[str, Any]:
        """An ``IncidentWorkflowTrigger``; ``is_disabled`` follows its workflow's ``is_enabled``, as PagerDuty does."""
        workflow = self.state.incident_workflows[trigger.workflow]
        rendered: dict[str, Any] = {
            "id": trigger.id,
            "type": "workflow_trigger",
            "trigger_type_name": TRIGGER_TYPE_NAMES[trigger.trigger_type],
            "trigger_type": trigger.trigger_type,
            "trigger_url": f"{self.base_url}/incident_workflows/triggers/{trigger.id}/start",
            "self": f"{self.base_url}/incident_workflows/triggers/{trigger.id}",
            "workflow_id": workflow.id,
            "workflow_name": workflow.name,
            "workflow": {
                "id": workflow.id,
                "type": "workflow_reference",
                "name": workflow.name,
                "self": f"{self.base_url}/incident_workflows/{workflow.id}",
                "html_url": f"{self.html_base_url}/flex-workflows/workflows/{workflow.id}",
            },
            "is_subscribed_to_all_services": trigger.all_services,
            "services": [{**self.ref("service", service_id), "type": "service"} for service_id in trigger.services],
            "permissions": {"restricted": False},
            "is_disabled": not workflow.is_enabled,
        }
        if trigger.condition is not None:
            rendered["condition"] = trigger.condition
        return rendered


def incident_summary(incident: Incident) -> str:
    return f"[#{incident.number}] {incident.title}"
