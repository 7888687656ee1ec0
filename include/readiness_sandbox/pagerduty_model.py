"""The PagerDuty emulator's account: the validated model ``pagerduty_state`` builds from the state file."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from .pagerduty_schedules import Layer, Override, get_zone


@dataclass(frozen=True)
class ContactMethod:
    id: str
    kind: str  # phone | sms | push | email (the API's type without "_contact_method")
    label: str
    address: str
    blacklisted: bool = False


@dataclass(frozen=True)
class NotificationRule:
    id: str
    urgency: str  # high | low
    start_delay_minutes: int
    contact_method: str  # a ContactMethod id of the same user


@dataclass(frozen=True)
class User:
    id: str
    name: str
    email: str
    time_zone: str
    role: str
    contact_methods: tuple[ContactMethod, ...] = ()
    notification_rules: tuple[NotificationRule, ...] = ()


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
class Notification:
    at: datetime
    user: str  # a user id
    kind: str  # phone | sms | push | email


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
    acknowledged_at: datetime | None = None
    resolved_at: datetime | None = None  # set exactly when status is resolved
    priority: str | None = None  # a priority name, e.g. P1
    notifications: tuple[Notification, ...] = ()

    def acknowledger(self) -> str | None:
        """Who acknowledged: the last assignee at the acknowledgement (None if never acknowledged)."""
        if self.acknowledged_at is None:
            return None
        assignees = [user for at, user in self.assignments if at <= self.acknowledged_at]
        return assignees[-1] if assignees else None


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
