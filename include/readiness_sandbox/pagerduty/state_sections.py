"""The PagerDuty state file's per-section readers: each validates one item and builds its model.

``Item`` wraps one mapping of the file, with field readers that fail with a StateError naming
the file, the section, the id and the field; ``parse_state`` (in ``state``, whose
docstring describes the format) calls one ``parse_<section>`` per item, in file order.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime, time, timedelta
from typing import Any

from .model import (
    ContactMethod,
    EscalationPolicy,
    EscalationRule,
    IncidentWorkflow,
    NotificationRule,
    PagerDutyState,
    Priority,
    Schedule,
    Service,
    Team,
    User,
    WorkflowStep,
    WorkflowTrigger,
)
from .schedules import Layer, Override, Restriction, get_zone, parse_time

SECTIONS = (
    "users",
    "teams",
    "schedules",
    "escalation_policies",
    "services",
    "incidents",
    "priorities",
    "incident_workflows",
    "incident_workflow_triggers",
    "refusals",
)
TRIGGER_TYPES = ("conditional", "manual", "incident_type")
# What a plan or a key may lack, and how PagerDuty refuses it (402: not in the plan; 403: not allowed).
REFUSABLE = ("incident_workflows", "priorities")
REFUSALS = (402, 403)
USER_ROLES = (
    "admin",
    "limited_user",
    "observer",
    "owner",
    "read_only_user",
    "restricted_access",
    "read_only_limited_user",
    "user",
)
TEAM_ROLES = ("manager", "responder", "observer")
SERVICE_STATUSES = ("active", "warning", "critical", "maintenance", "disabled")
INCIDENT_STATUSES = ("triggered", "acknowledged", "resolved")
URGENCIES = ("high", "low")
CONTACT_KINDS = ("phone", "sms", "push", "email")
TARGET_TYPES = {
    "schedule_reference": "schedule",
    "schedule": "schedule",
    "user_reference": "user",
    "user": "user",
}


class StateError(ValueError):
    """Invalid emulator state; the message names the section, the id and the field."""


class Item:
    """One mapping of the state file, with field readers that fail with a precise message."""

    def __init__(self, data: Any, where: str, source: str, allowed: Collection[str]):
        self.where, self.source = where, source
        if not isinstance(data, dict):
            raise StateError(f"{source}: {where}: expected a mapping, got {data!r}")
        self.data = data
        unknown = sorted(set(data) - set(allowed))
        if unknown:
            raise self.error(unknown[0], f"unknown field (allowed: {', '.join(allowed)})")

    def error(self, name: str, problem: str) -> StateError:
        return StateError(f"{self.source}: {self.where}: field {name!r}: {problem}")

    def child(self, data: Any, where: str, allowed: Collection[str]) -> Item:
        return Item(data, f"{self.where}.{where}", self.source, allowed)

    def value(self, name: str, default: Any = ..., *, kind: type | tuple = object) -> Any:
        raw = self.data.get(name)
        if raw is None:
            if default is ...:
                raise self.error(name, "is required")
            return default
        if not isinstance(raw, kind) or (kind is int and isinstance(raw, bool)):
            raise self.error(name, f"expected {getattr(kind, '__name__', kind)}, got {raw!r}")
        return raw

    def text(self, name: str, default: Any = ...) -> Any:
        raw = self.value(name, default, kind=(str, int))
        return raw if raw is None else str(raw)

    def integer(self, name: str, default: Any = ..., *, minimum: int | None = None) -> int:
        raw = self.value(name, default, kind=int)
        if minimum is not None and raw is not None and raw < minimum:
            raise self.error(name, f"must be >= {minimum}, got {raw}")
        return raw

    def choice(self, name: str, options: Sequence[str], default: Any = ...) -> str:
        raw = self.text(name, default)
        if raw not in options:
            raise self.error(name, f"must be one of {', '.join(options)}, got {raw!r}")
        return raw

    def moment(self, name: str, default: Any = ...) -> datetime | None:
        raw = self.value(name, default)
        if raw is None:
            return None
        try:
            return parse_time(raw)
        except ValueError as exc:
            raise self.error(name, str(exc)) from None

    def choice_int(self, name: str, options: Sequence[int]) -> int:
        raw = self.integer(name)
        if raw not in options:
            raise self.error(name, f"must be one of {', '.join(map(str, options))}, got {raw!r}")
        return raw

    def zone_name(self, name: str, default: Any = ...) -> str:
        raw = self.text(name, default)
        try:
            get_zone(raw)
        except ValueError as exc:
            raise self.error(name, str(exc)) from None
        return raw

    def items(self, name: str) -> list:
        raw = self.value(name, [], kind=list)
        return raw

    def ref(self, name: str, known: Mapping[str, Any], what: str, value: Any = ...) -> str:
        raw = self.text(name) if value is ... else str(value)
        if raw not in known:
            raise self.error(name, f"unknown {what} id {raw!r}")
        return raw

    def refs(self, name: str, known: Mapping[str, Any], what: str) -> tuple[str, ...]:
        return tuple(self.ref(name, known, what, value) for value in self.items(name))


def parse_user(data: Any, where: str, source: str, state: PagerDutyState) -> User:
    allowed = ("id", "name", "email", "time_zone", "role", "contact_methods", "notification_rules")
    item = Item(data, where, source, allowed)
    methods = tuple(_parse_contact_method(item, m, i) for i, m in enumerate(item.items("contact_methods")))
    known = {method.id: method for method in methods}
    rules = tuple(_parse_notification_rule(item, r, i, known) for i, r in enumerate(item.items("notification_rules")))
    return User(
        id=item.text("id"),
        name=item.text("name"),
        email=item.text("email"),
        time_zone=item.zone_name("time_zone", "UTC"),
        role=item.choice("role", USER_ROLES, "user"),
        contact_methods=methods,
        notification_rules=rules,
    )


def _parse_contact_method(user: Item, data: Any, index: int) -> ContactMethod:
    item = user.child(data, f"contact_methods[#{index}]", ("id", "type", "label", "address", "blacklisted"))
    return ContactMethod(
        id=item.text("id"),
        kind=item.choice("type", CONTACT_KINDS),
        label=item.text("label", "Work"),
        address=item.text("address"),
        blacklisted=item.value("blacklisted", False, kind=bool),
    )


def _parse_notification_rule(user: Item, data: Any, index: int, methods: Mapping[str, ContactMethod]):
    allowed = ("id", "urgency", "start_delay_in_minutes", "contact_method")
    item = user.child(data, f"notification_rules[#{index}]", allowed)
    return NotificationRule(
        id=item.text("id"),
        urgency=item.choice("urgency", URGENCIES),
        start_delay_minutes=item.integer("start_delay_in_minutes", minimum=0),
        contact_method=item.ref("contact_method", methods, "contact method of this user"),
    )


def parse_team(data: Any, where: str, source: str, state: PagerDutyState) -> Team:
    item = Item(data, where, source, ("id", "name", "description", "members"))
    members = []
    for index, member in enumerate(item.items("members")):
        entry = item.child(member, f"members[#{index}]", ("user", "role"))
        members.append((entry.ref("user", state.users, "user"), entry.choice("role", TEAM_ROLES, "responder")))
    return Team(
        id=item.text("id"),
        name=item.text("name"),
        description=item.text("description", None),
        members=tuple(members),
    )


def parse_schedule(data: Any, where: str, source: str, state: PagerDutyState) -> Schedule:
    allowed = ("id", "name", "time_zone", "description", "teams", "layers", "overrides")
    item = Item(data, where, source, allowed)
    layers = tuple(_parse_layer(item, layer, index, state) for index, layer in enumerate(item.items("layers")))
    overrides = tuple(
        _parse_override(item, override, index, state) for index, override in enumerate(item.items("overrides"))
    )
    return Schedule(
        id=item.text("id"),
        name=item.text("name"),
        time_zone=item.zone_name("time_zone"),
        description=item.text("description", None),
        teams=item.refs("teams", state.teams, "team"),
        layers=layers,
        overrides=overrides,
    )


def _parse_layer(schedule: Item, data: Any, index: int, state: PagerDutyState) -> Layer:
    allowed = (
        "id",
        "name",
        "start",
        "end",
        "rotation_virtual_start",
        "rotation_turn_length_seconds",
        "users",
        "restrictions",
    )
    layer_id = data.get("id") if isinstance(data, dict) else None
    item = schedule.child(data, f"layers[{layer_id or f'#{index}'}]", allowed)
    users = item.refs("users", state.users, "user")
    if not users:
        raise item.error("users", "a layer needs at least one user")
    start, end = item.moment("start"), item.moment("end", None)
    if end is not None and end <= start:
        raise item.error("end", "must be after start")
    restrictions = tuple(_parse_restriction(item, r, i) for i, r in enumerate(item.items("restrictions")))
    return Layer(
        id=item.text("id"),
        name=item.text("name", f"Layer {index + 1}"),
        start=start,
        end=end,
        rotation_virtual_start=item.moment("rotation_virtual_start"),
        turn_length=timedelta(seconds=item.integer("rotation_turn_length_seconds", minimum=1)),
        users=users,
        restrictions=restrictions,
    )


def _parse_restriction(layer: Item, data: Any, index: int) -> Restriction:
    allowed = ("type", "start_time_of_day", "duration_seconds", "start_day_of_week")
    item = layer.child(data, f"restrictions[#{index}]", allowed)
    kind = item.choice("type", ("daily_restriction", "weekly_restriction"))
    weekly = kind == "weekly_restriction"
    longest = 7 * 86400 if weekly else 86400
    duration = item.integer("duration_seconds", minimum=1)
    if duration > longest:
        raise item.error("duration_seconds", f"must be <= {longest} for a {kind}")
    day = item.integer("start_day_of_week", ... if weekly else None, minimum=1)
    if day is not None and day > 7:
        raise item.error("start_day_of_week", "must be an ISO weekday, 1 (Monday) to 7")
    return Restriction(
        type=kind,
        start_time_of_day=_time_of_day(item, "start_time_of_day"),
        duration=timedelta(seconds=duration),
        start_day_of_week=day if weekly else None,
    )


def _time_of_day(item: Item, name: str) -> time:
    raw = item.text(name)
    try:
        return time.fromisoformat(raw)
    except ValueError:
        raise item.error(name, f"expected HH:MM:SS, got {raw!r}") from None


def _parse_override(schedule: Item, data: Any, index: int, state: PagerDutyState) -> Override:
    override_id = data.get("id") if isinstance(data, dict) else None
    where = f"overrides[{override_id or f'#{index}'}]"
    item = schedule.child(data, where, ("id", "start", "end", "user"))
    start, end = item.moment("start"), item.moment("end")
    if end <= start:
        raise item.error("end", "must be after start")
    return Override(
        id=item.text("id", f"{schedule.data.get('id')}-override-{index + 1}"),
        start=start,
        end=end,
        user=item.ref("user", state.users, "user"),
    )


def parse_policy(data: Any, where: str, source: str, state: PagerDutyState) -> EscalationPolicy:
    allowed = ("id", "name", "description", "num_loops", "teams", "rules")
    item = Item(data, where, source, allowed)
    policy_id = item.text("id")
    rules = tuple(_parse_rule(item, rule, index, policy_id, state) for index, rule in enumerate(item.items("rules")))
    if not rules:
        raise item.error("rules", "an escalation policy needs at least one rule")
    return EscalationPolicy(
        id=policy_id,
        name=item.text("name"),
        description=item.text("description", None),
        num_loops=item.integer("num_loops", 0, minimum=0),
        teams=item.refs("teams", state.teams, "team"),
        rules=rules,
    )


def _parse_rule(policy: Item, data: Any, index: int, policy_id: str, state: PagerDutyState) -> EscalationRule:
    item = policy.child(data, f"rules[#{index}]", ("escalation_delay_in_minutes", "targets"))
    targets = []
    for target_index, raw in enumerate(item.items("targets")):
        target = item.child(raw, f"targets[#{target_index}]", ("type", "id"))
        kind = TARGET_TYPES[target.choice("type", tuple(TARGET_TYPES))]
        known = state.schedules if kind == "schedule" else state.users
        targets.append((kind, target.ref("id", known, kind)))
    if not targets:
        raise item.error("targets", "a rule needs at least one target")
    return EscalationRule(
        id=f"{policy_id}R{index + 1}",
        delay_minutes=item.integer("escalation_delay_in_minutes", 30, minimum=0),
        targets=tuple(targets),
    )


def parse_service(data: Any, where: str, source: str, state: PagerDutyState) -> Service:
    allowed = (
        "id",
        "name",
        "description",
        "status",
        "created_at",
        "escalation_policy",
        "teams",
    )
    item = Item(data, where, source, allowed)
    return Service(
        id=item.text("id"),
        name=item.text("name"),
        description=item.text("description", None),
        status=item.choice("status", SERVICE_STATUSES, "active"),
        created_at=item.moment("created_at"),
        escalation_policy=item.ref("escalation_policy", state.escalation_policies, "policy"),
        teams=item.refs("teams", state.teams, "team"),
    )


def parse_priority(data: Any, where: str, source: str, state: PagerDutyState) -> Priority:
    item = Item(data, where, source, ("name", "description"))
    return Priority(name=item.text("name"), description=item.text("description", ""))


def parse_workflow(data: Any, where: str, source: str, state: PagerDutyState) -> IncidentWorkflow:
    item = Item(data, where, source, ("id", "name", "description", "is_enabled", "team", "steps"))
    team = item.text("team", None)
    if team is not None:
        item.ref("team", state.teams, "team")
    return IncidentWorkflow(
        id=item.text("id"),
        name=item.text("name"),
        description=item.text("description", None),
        is_enabled=item.value("is_enabled", True, kind=bool),
        team=team,
        steps=tuple(_parse_step(item, step, index) for index, step in enumerate(item.items("steps"))),
    )


def _parse_step(workflow: Item, data: Any, index: int) -> WorkflowStep:
    item = workflow.child(data, f"steps[#{index}]", ("id", "name", "action_id", "inputs"))
    inputs = []
    for number, given in enumerate(item.items("inputs")):
        entry = item.child(given, f"inputs[#{number}]", ("name", "value"))
        value = entry.value("value")
        # The API carries every input as text: a list of responders is JSON text.
        inputs.append((entry.text("name"), value if isinstance(value, str) else json.dumps(value)))
    return WorkflowStep(
        id=item.text("id"), name=item.text("name"), action_id=item.text("action_id"), inputs=tuple(inputs)
    )


def parse_trigger(data: Any, where: str, source: str, state: PagerDutyState) -> WorkflowTrigger:
    allowed = ("id", "workflow", "trigger_type", "condition", "services", "all_services")
    item = Item(data, where, source, allowed)
    kind = item.choice("trigger_type", TRIGGER_TYPES)
    condition = item.text("condition", None)
    if condition is not None and kind != "conditional":
        raise item.error("condition", "only a conditional trigger has a condition")
    all_services = item.value("all_services", False, kind=bool)
    services = item.refs("services", state.services, "service")
    if all_services and services:
        raise item.error("services", "a trigger on all services names none")
    return WorkflowTrigger(
        id=item.text("id"),
        workflow=item.ref("workflow", state.incident_workflows, "incident workflow"),
        trigger_type=kind,
        condition=condition,
        services=services,
        all_services=all_services,
    )


def parse_refusals(data: Any, source: str) -> dict[str, int]:
    """``refusals: {incident_workflows: 402}``: the features the account answers 402 or 403 for."""
    item = Item(data if data is not None else {}, "refusals", source, REFUSABLE)
    return {feature: item.choice_int(feature, REFUSALS) for feature in REFUSABLE if feature in item.data}
