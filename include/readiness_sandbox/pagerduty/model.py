"""The PagerDuty emulator's account: the validated model ``state`` builds from the state file."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from .schedules import Layer, Override, get_zone


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


def priority_id(name: str) -> str:
    """A stable 7-character id per priority name: incidents and the priorities list name priorities alike."""
    return "PPRIO" + "".join(ch for ch in name.upper() if ch.isalnum())[:2].rjust(2, "0")


@dataclass(frozen=True)
class Priority:
    name: str
    description: str

    @property
    def id(self) -> str:
        return priority_id(self.name)


@dataclass(frozen=True)
class WorkflowStep:
    id: str
    name: str
    action_id: str  # e.g. pagerduty.com:incident-workflows:add-responders:2
    inputs: tuple[tuple[str, str], ...]  # (name, value): a value is text, as the API carries it


@dataclass(frozen=True)
class IncidentWorkflow:
    id: str
    name: str
    description: str | None
    is_enabled: bool
    team: str | None  # a team id: who may edit it
    steps: tuple[WorkflowStep, ...]


@dataclass(frozen=True)
class WorkflowTrigger:
    id: str
    workflow: str  # an IncidentWorkflow id
    trigger_type: str  # conditional | manual | incident_type
    condition: str | None  # PCL, conditional only
    services: tuple[str, ...]
    all_services: bool


@dataclass
class PagerDutyState:
    """The validated account; each section is a dict by id in file order."""

    users: dict[str, User] = field(default_factory=dict)
    teams: dict[str, Team] = field(default_factory=dict)
    schedules: dict[str, Schedule] = field(default_factory=dict)
    escalation_policies: dict[str, EscalationPolicy] = field(default_factory=dict)
    services: dict[str, Service] = field(default_factory=dict)
    incidents: dict[str, Incident] = field(default_factory=dict)
    priorities: dict[str, Priority] = field(default_factory=dict)  # most severe first
    incident_workflows: dict[str, IncidentWorkflow] = field(default_factory=dict)
    incident_workflow_triggers: dict[str, WorkflowTrigger] = field(default_factory=dict)
    # What the account's plan or the key lacks: feature ("incident_workflows", "priorities") -> 402 or 403.
    refusals: dict[str, int] = field(default_factory=dict)

    # Reverse look-ups (user -> teams, schedule -> policies, ...), built on first use: scanning
    # every section per rendered object made a page of a 20,000-person account quadratic.
    _index: dict[str, dict] | None = field(default=None, init=False, repr=False, compare=False)
    _index_sizes: tuple[int, ...] = field(default=(), init=False, repr=False, compare=False)

    def _lookups(self) -> dict[str, dict]:
        sizes = tuple(len(section) for section in (self.teams, self.escalation_policies, self.services, self.incidents))
        if self._index is None or sizes != self._index_sizes:
            index: dict[str, dict] = {"user_teams": {}, "schedule_policies": {}, "policy_services": {}, "last": {}}
            for team in self.teams.values():
                for user_id in dict.fromkeys(u for u, _ in team.members):
                    index["user_teams"].setdefault(user_id, []).append(team.id)
            for policy in self.escalation_policies.values():
                targeted = dict.fromkeys(i for r in policy.rules for kind, i in r.targets if kind == "schedule")
                for schedule_id in targeted:
                    index["schedule_policies"].setdefault(schedule_id, []).append(policy.id)
            for service in self.services.values():
                index["policy_services"].setdefault(service.escalation_policy, []).append(service.id)
            for incident in self.incidents.values():
                last = index["last"].get(incident.service, incident.created_at)
                index["last"][incident.service] = max(last, incident.created_at)
            self._index, self._index_sizes = index, sizes
        return self._index

    def user_teams(self, user_id: str) -> list[str]:
        return list(self._lookups()["user_teams"].get(user_id, ()))

    def schedule_users(self, schedule_id: str) -> list[str]:
        users = (u for layer in self.schedules[schedule_id].layers for u in layer.users)
        return list(dict.fromkeys(users))

    def schedule_policies(self, schedule_id: str) -> list[str]:
        return list(self._lookups()["schedule_policies"].get(schedule_id, ()))

    def policy_services(self, policy_id: str) -> list[str]:
        return list(self._lookups()["policy_services"].get(policy_id, ()))

    def last_incident_at(self, service_id: str) -> datetime | None:
        return self._lookups()["last"].get(service_id)
