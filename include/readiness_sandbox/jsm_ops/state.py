"""The JSM Operations emulator's state, read from YAML and validated, and the schedules' timelines.

State (YAML, see ``include/sample_org/jsm_ops.yaml``)::

    emulator: {cloud_id: <uuid>, rate_limit: 100/60, fail_next: 0}   # rate_limit, fail_next optional
    accounts:            # the site's Atlassian accounts (the Jira users); api: true may call the API
      - {account_id: "712020:...", name: Oliver Bennett, email: oliver.bennett@example.com,
         time_zone: Europe/London, api: false}
    teams: [{id: <uuid>, name: Identity}]
    schedules:
      - id: <uuid>
        name: Identity on-call
        team: <team id>
        timezone: Europe/London
        rotations:       # turns of `length` days/weeks/hours from `start`, participants in order
          - {id: <uuid>, name: Layer 1, type: weekly, length: 1, start: "...Z", end: "...Z" or null,
             participants: [<account id>, ...]}
        overrides:       # who takes the rotations (all when `rotations` is absent) in [start, end)
          - {alias: <uuid>, user: <account id>, start: "...Z", end: "...Z", rotations: [<rotation id>]}
    escalations:         # per team, its rules: delay in minutes after the alert is created
      - {id: <uuid>, team: <team id>, name: ..., enabled: true, repeat: {waitInterval: 0, count: 1},
         rules: [{condition: if-not-acked, notifyType: default, delay: 0,
                  recipient: {type: schedule, id: <schedule id>}}]}
    routing_rules:       # per team; notify: {type: escalation|schedule|none, id}
      - {id: <uuid>, team: <team id>, name: Default, isDefault: true, order: 0, notify: {...}}
    notification_rules:  # per account: what GET /v1/notification-rules shows that account (only)
      - {account: <account id>, id: <uuid>, name: New alert, actionType: create-alert,
         steps: [{sendAfter: 0, method: voice, to: "+44 ..."}]}
    alerts:              # newest or oldest first, any order; logs as JSM writes them
      - {id: <uuid>, tinyId: "77", message: ..., entity: identity-auth, priority: P1, status: closed,
         createdAt: ..., ackTime: ..., closeTime: ..., responders: [{type: team, id: <team id>}],
         notifications: [{at: ..., user: <account id>, method: voice}]}   # rendered as logs

A notification becomes the log ``Sent [<Method>] notification to [<email>] successfully``
(``logType: system``, ``owner: System``), among the alert's creation, acknowledgement and closing
logs: the wording JSM Operations (Opsgenie before it) writes, which the collector reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from readiness_sandbox.times import utc_moment

from ..rate_limit import RateLimit
from ..state_text import parse_document

DEFAULT_RATE_LIMIT = RateLimit(100, 60)
TURNS = {"hourly": timedelta(hours=1), "daily": timedelta(days=1), "weekly": timedelta(weeks=1)}
METHODS = ("voice", "sms", "mobile", "email")


class JsmStateError(ValueError):
    """The state file is malformed; the message says where."""


@dataclass(frozen=True)
class Rotation:
    id: str
    name: str
    type: str
    length: int
    start: datetime
    end: datetime | None
    participants: tuple[str, ...]


@dataclass(frozen=True)
class Override:
    alias: str
    user: str
    start: datetime
    end: datetime
    rotations: tuple[str, ...] | None


@dataclass(frozen=True)
class Schedule:
    id: str
    name: str
    team: str
    timezone: str
    enabled: bool
    rotations: tuple[Rotation, ...]
    overrides: tuple[Override, ...]


@dataclass
class JsmState:
    cloud_id: str
    rate_limit: RateLimit
    fail_next: int
    accounts: dict[str, dict[str, Any]]  # account id -> {name, email, time_zone, api}
    teams: dict[str, str]  # team id -> name
    schedules: list[Schedule]
    escalations: list[dict[str, Any]]
    routing_rules: list[dict[str, Any]]
    notification_rules: list[dict[str, Any]]
    alerts: list[dict[str, Any]]
    by_email: dict[str, str] = field(default_factory=dict)  # email -> account id


def load_jsm_state(path: Path) -> JsmState:
    return parse_state(parse_document(path.read_text(encoding="utf-8")), source=str(path))


def _need(mapping: Mapping[str, Any], key: str, where: str) -> Any:
    if not isinstance(mapping, Mapping) or mapping.get(key) in (None, ""):
        raise JsmStateError(f"{where}: missing {key!r}")
    return mapping[key]


def _moment(value: Any, where: str) -> datetime:
    return utc_moment(value, where, JsmStateError)


def parse_state(document: Mapping[str, Any], *, source: str = "<state>") -> JsmState:
    if not isinstance(document, Mapping):
        raise JsmStateError(f"{source}: the state must be a mapping")
    settings = document.get("emulator") or {}
    try:
        limit = RateLimit.parse(str(settings["rate_limit"])) if settings.get("rate_limit") else DEFAULT_RATE_LIMIT
    except ValueError as error:
        raise JsmStateError(f"{source}: emulator.rate_limit: {error}") from None
    accounts: dict[str, dict[str, Any]] = {}
    for n, account in enumerate(document.get("accounts") or []):
        where = f"{source}: accounts[{n}]"
        accounts[str(_need(account, "account_id", where))] = {
            "name": str(_need(account, "name", where)),
            "email": str(_need(account, "email", where)).lower(),
            "time_zone": str(account.get("time_zone") or "UTC"),
            "api": bool(account.get("api", False)),
        }
    teams = {
        str(_need(t, "id", f"{source}: teams[{n}]")): str(t.get("name") or "")
        for n, t in enumerate(document.get("teams") or [])
    }
    schedules = [
        _schedule(s, f"{source}: schedules[{n}]", accounts, teams)
        for n, s in enumerate(document.get("schedules") or [])
    ]
    for n, alert in enumerate(document.get("alerts") or []):
        where = f"{source}: alerts[{n}]"
        for key in ("id", "message", "createdAt"):
            _need(alert, key, where)
        for m, note in enumerate(alert.get("notifications") or []):
            if note.get("user") not in accounts or note.get("method") not in METHODS:
                raise JsmStateError(f"{where}.notifications[{m}]: unknown user or method (one of {', '.join(METHODS)})")
            _moment(note.get("at"), f"{where}.notifications[{m}].at")
    state = JsmState(
        cloud_id=str(_need(settings, "cloud_id", f"{source}: emulator")),
        rate_limit=limit,
        fail_next=int(settings.get("fail_next") or 0),
        accounts=accounts,
        teams=teams,
        schedules=schedules,
        escalations=list(document.get("escalations") or []),
        routing_rules=list(document.get("routing_rules") or []),
        notification_rules=list(document.get("notification_rules") or []),
        alerts=list(document.get("alerts") or []),
    )
    state.by_email = {account["email"]: ident for ident, account in accounts.items()}
    return state


def _schedule(raw: Mapping[str, Any], where: str, accounts: Mapping[str, Any], teams: Mapping[str, str]) -> Schedule:
    team = str(_need(raw, "team", where))
    if team not in teams:
        raise JsmStateError(f"{where}: team {team!r} is not one of the teams")
    rotations = []
    for n, rotation in enumerate(raw.get("rotations") or []):
        at = f"{where}.rotations[{n}]"
        kind = str(_need(rotation, "type", at))
        if kind not in TURNS:
            raise JsmStateError(f"{at}: type must be one of {', '.join(TURNS)}")
        participants = tuple(str(p) for p in rotation.get("participants") or [])
        if not participants or any(p not in accounts for p in participants):
            raise JsmStateError(f"{at}: participants must be known account ids")
        rotations.append(
            Rotation(
                id=str(_need(rotation, "id", at)),
                name=str(rotation.get("name") or f"Rotation {n + 1}"),
                type=kind,
                length=int(rotation.get("length") or 1),
                start=_moment(_need(rotation, "start", at), f"{at}.start"),
                end=_moment(rotation["end"], f"{at}.end") if rotation.get("end") else None,
                participants=participants,
            )
        )
    overrides = []
    for n, override in enumerate(raw.get("overrides") or []):
        at = f"{where}.overrides[{n}]"
        if str(override.get("user")) not in accounts:
            raise JsmStateError(f"{at}: user must be a known account id")
        overrides.append(
            Override(
                alias=str(_need(override, "alias", at)),
                user=str(override["user"]),
                start=_moment(_need(override, "start", at), f"{at}.start"),
                end=_moment(_need(override, "end", at), f"{at}.end"),
                rotations=tuple(override["rotations"]) if override.get("rotations") else None,
            )
        )
    return Schedule(
        id=str(_need(raw, "id", where)),
        name=str(_need(raw, "name", where)),
        team=team,
        timezone=str(raw.get("timezone") or "UTC"),
        enabled=bool(raw.get("enabled", True)),
        rotations=tuple(rotations),
        overrides=tuple(overrides),
    )


def base_periods(rotation: Rotation, start: datetime, end: datetime) -> list[tuple[datetime, datetime, str]]:
    """The rotation's turns overlapping [start, end), clipped to it: (from, to, account id)."""
    turn = TURNS[rotation.type] * max(1, rotation.length)
    stop = min(end, rotation.end) if rotation.end else end
    first = max(start, rotation.start)
    if first >= stop:
        return []
    index = int((first - rotation.start) / turn)
    periods = []
    moment = rotation.start + index * turn
    while moment < stop:
        upto = moment + turn
        lower, upper = max(moment, first), min(upto, stop)
        if lower < upper:
            periods.append((lower, upper, rotation.participants[index % len(rotation.participants)]))
        moment, index = upto, index + 1
    return periods


def final_periods(
    schedule: Schedule, rotation: Rotation, start: datetime, end: datetime
) -> list[tuple[datetime, datetime, str, str]]:
    """The rotation's final layer in [start, end): base turns with the overrides cut in (from, to, account, type)."""
    pieces = [(a, b, who, "base") for a, b, who in base_periods(rotation, start, end)]
    for override in schedule.overrides:
        if override.rotations is not None and rotation.id not in override.rotations:
            continue
        lower, upper = max(override.start, start), min(override.end, end)
        if lower >= upper or not pieces:
            continue
        cut: list[tuple[datetime, datetime, str, str]] = []
        for a, b, who, kind in pieces:
            if b <= lower or a >= upper:
                cut.append((a, b, who, kind))
                continue
            if a < lower:
                cut.append((a, lower, who, kind))
            cut.append((max(a, lower), min(b, upper), override.user, "override"))
            if b > upper:
                cut.append((upper, b, who, kind))
        pieces = _merged(cut)
    return pieces


def _merged(pieces: list[tuple[datetime, datetime, str, str]]) -> list[tuple[datetime, datetime, str, str]]:
    merged: list[tuple[datetime, datetime, str, str]] = []
    for piece in sorted(pieces):
        if merged and merged[-1][1] == piece[0] and merged[-1][2:] == piece[2:]:
            merged[-1] = (merged[-1][0], piece[1], piece[2], piece[3])
        else:
            merged.append(piece)
    return merged
