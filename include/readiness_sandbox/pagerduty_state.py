"""The PagerDuty emulator's state: the account it serves, read from YAML and validated.

Every section is optional (a list); ids are unique per section; every reference is checked::

    users:      [{id, name, email, time_zone: UTC, role: user}]
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
    incidents:  [{id, incident_number, title, service, status, urgency: high, created_at,
                  last_status_change_at?, escalation_policy? (default: the service's),
                  assignments: [{at, assignee}]}]

Layers later in the list take precedence; overrides take precedence over every layer.
Times are ISO 8601 (an offset is required to mean anything but UTC). Unknown fields are
errors, so typos do not pass silently. A bad value stops the load with a StateError naming
the file, the section, the id and the field.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any

import yaml

from .pagerduty_schedules import Layer, Override, Restriction, get_zone, parse_time

SECTIONS = ("users", "teams", "schedules", "escalation_policies", "services", "incidents")
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
TARGET_TYPES = {
    "schedule_reference": "schedule",
    "schedule": "schedule",
    "user_reference": "user",
    "user": "user",
}

# --- state model -------------------------------------------------------------------------


class StateError(ValueError):
    """Invalid emulator state; the message names the section, the id and the field."""


@dataclass(frozen=True)
class User:
    id: str
    name: str
    email: str
    time_zone: str
    role: str


@dataclass(frozen=True)
class Team:
    id: str
    name: str
    description: str | None
    members: tuple[tuple[str, str], ...]  # (user id, role)


@dataclass(frozen=True)
class Schedule:
    id: str
    name: str
    time_zone: str
    description: str | None
    teams: tuple[str, ...]
    layers: tuple[Layer, ...]
    overrides: tuple[Override, ...]

    @property
    def zone(self):
        return get_zone(self.time_zone)


@dataclass(frozen=True)
class EscalationRule:
    id: str
    delay_minutes: int
    targets: tuple[tuple[str, str], ...]  # ("schedule" | "user", id)


@dataclass(frozen=True)
class EscalationPolicy:
    id: str
    name: str
    description: str | None
    num_loops: int
    teams: tuple[str, ...]
    rules: tuple[EscalationRule, ...]


@dataclass(frozen=True)
class Service:
    id: str
    name: str
    description: str | None
    status: str
    created_at: datetime
    escalation_policy: str
    teams: tuple[str, ...]


@dataclass(frozen=True)
class Incident:
    id: str
    number: int
    title: str
    service: str
    status: str
    urgency: str
    created_at: datetime
    last_status_change_at: datetime
    escalation_policy: str
    assignments: tuple[tuple[datetime, str], ...]  # (at, user id)


@dataclass
class PagerDutyState:
    """The validated account; each section is a dict by id in file order."""

    users: dict[str, User] = field(default_factory=dict)
    teams: dict[str, Team] = field(default_factory=dict)
    schedules: dict[str, Schedule] = field(default_factory=dict)
    escalation_policies: dict[str, EscalationPolicy] = field(default_factory=dict)
    services: dict[str, Service] = field(default_factory=dict)
    incidents: dict[str, Incident] = field(default_factory=dict)

    def user_teams(self, user_id: str) -> list[str]:
        return [t.id for t in self.teams.values() if any(u == user_id for u, _ in t.members)]

    def schedule_users(self, schedule_id: str) -> list[str]:
        users = (u for layer in self.schedules[schedule_id].layers for u in layer.users)
        return list(dict.fromkeys(users))

    def schedule_policies(self, schedule_id: str) -> list[str]:
        return [
            ep.id
            for ep in self.escalation_policies.values()
            if any(t == ("schedule", schedule_id) for r in ep.rules for t in r.targets)
        ]

    def policy_services(self, policy_id: str) -> list[str]:
        return [s.id for s in self.services.values() if s.escalation_policy == policy_id]

    def last_incident_at(self, service_id: str) -> datetime | None:
        times = [i.created_at for i in self.incidents.values() if i.service == service_id]
        return max(times, default=None)


# --- state loading and validation ----------------------------------------------------------


class _Item:
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

    def child(self, data: Any, where: str, allowed: Collection[str]) -> _Item:
        return _Item(data, f"{self.where}.{where}", self.source, allowed)

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


def load_pagerduty_state(path: str | Path) -> dict:
    """Read a PagerDuty state YAML file, validate it (StateError if bad) and return it."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise StateError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise StateError(f"{path}: expected a mapping of sections, got {type(raw).__name__}")
    parse_state(raw, source=str(path))
    return raw


def parse_state(raw: Mapping[str, Any], *, source: str = "pagerduty state") -> PagerDutyState:
    """Validate the state mapping and build the model; StateError names what is wrong."""
    top = _Item(dict(raw), "(top level)", source, SECTIONS)
    state = PagerDutyState()
    readers = {
        "users": _parse_user,
        "teams": _parse_team,
        "schedules": _parse_schedule,
        "escalation_policies": _parse_policy,
        "services": _parse_service,
        "incidents": _parse_incident,
    }
    for section, reader in readers.items():
        target: dict = getattr(state, section)
        for index, data in enumerate(top.items(section)):
            item_id = data.get("id") if isinstance(data, dict) else None
            where = f"{section}[{item_id if item_id is not None else f'#{index}'}]"
            parsed = reader(data, where, source, state)
            if parsed.id in target:
                raise StateError(f"{source}: {where}: field 'id': duplicate id {parsed.id!r}")
            target[parsed.id] = parsed
    _check_unique_incident_numbers(state, source)
    return state


def _parse_user(data: Any, where: str, source: str, state: PagerDutyState) -> User:
    item = _Item(data, where, source, ("id", "name", "email", "time_zone", "role"))
    return User(
        id=item.text("id"),
        name=item.text("name"),
        email=item.text("email"),
        time_zone=item.zone_name("time_zone", "UTC"),
        role=item.choice("role", USER_ROLES, "user"),
    )


def _parse_team(data: Any, where: str, source: str, state: PagerDutyState) -> Team:
    item = _Item(data, where, source, ("id", "name", "description", "members"))
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


def _parse_schedule(data: Any, where: str, source: str, state: PagerDutyState) -> Schedule:
    allowed = ("id", "name", "time_zone", "description", "teams", "layers", "overrides")
    item = _Item(data, where, source, allowed)
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


def _parse_layer(schedule: _Item, data: Any, index: int, state: PagerDutyState) -> Layer:
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


def _parse_restriction(layer: _Item, data: Any, index: int) -> Restriction:
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


def _time_of_day(item: _Item, name: str) -> time:
    raw = item.text(name)
    try:
        return time.fromisoformat(raw)
    except ValueError:
        raise item.error(name, f"expected HH:MM:SS, got {raw!r}") from None


def _parse_override(schedule: _Item, data: Any, index: int, state: PagerDutyState) -> Override:
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


def _parse_policy(data: Any, where: str, source: str, state: PagerDutyState) -> EscalationPolicy:
    allowed = ("id", "name", "description", "num_loops", "teams", "rules")
    item = _Item(data, where, source, allowed)
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


def _parse_rule(policy: _Item, data: Any, index: int, policy_id: str, state: PagerDutyState) -> EscalationRule:
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


def _parse_service(data: Any, where: str, source: str, state: PagerDutyState) -> Service:
    allowed = (
        "id",
        "name",
        "description",
        "status",
        "created_at",
        "escalation_policy",
        "teams",
    )
    item = _Item(data, where, source, allowed)
    return Service(
        id=item.text("id"),
        name=item.text("name"),
        description=item.text("description", None),
        status=item.choice("status", SERVICE_STATUSES, "active"),
        created_at=item.moment("created_at"),
        escalation_policy=item.ref("escalation_policy", state.escalation_policies, "policy"),
        teams=item.refs("teams", state.teams, "team"),
    )


def _parse_incident(data: Any, where: str, source: str, state: PagerDutyState) -> Incident:
    allowed = (
        "id",
        "incident_number",
        "title",
        "service",
        "status",
        "urgency",
        "created_at",
        "last_status_change_at",
        "escalation_policy",
        "assignments",
    )
    item = _Item(data, where, source, allowed)
    service = item.ref("service", state.services, "service")
    policy = state.services[service].escalation_policy
    if item.data.get("escalation_policy") is not None:
        policy = item.ref("escalation_policy", state.escalation_policies, "escalation policy")
    created_at = item.moment("created_at")
    assignments = []
    for index, raw in enumerate(item.items("assignments")):
        assignment = item.child(raw, f"assignments[#{index}]", ("at", "assignee"))
        assignee = assignment.ref("assignee", state.users, "user")
        assignments.append((assignment.moment("at"), assignee))
    return Incident(
        id=item.text("id"),
        number=item.integer("incident_number", minimum=1),
        title=item.text("title"),
        service=service,
        status=item.choice("status", INCIDENT_STATUSES),
        urgency=item.choice("urgency", URGENCIES, "high"),
        created_at=created_at,
        last_status_change_at=item.moment("last_status_change_at", created_at),
        escalation_policy=policy,
        assignments=tuple(assignments),
    )


def _check_unique_incident_numbers(state: PagerDutyState, source: str) -> None:
    seen: dict[int, str] = {}
    for incident in state.incidents.values():
        if incident.number in seen:
            raise StateError(
                f"{source}: incidents[{incident.id}]: field 'incident_number': "
                f"{incident.number} is already used by {seen[incident.number]}"
            )
        seen[incident.number] = incident.id
