"""A local emulator of the PagerDuty REST API v2 (read-only), serving a YAML-described account.

``create_app(state, tokens=...)`` returns a FastAPI app answering the GET endpoints the
readiness audit uses, with PagerDuty's object shapes (from its OpenAPI spec), classic
pagination, ``[]`` array parameters, token auth, per-token rate limiting and error bodies.
``load_pagerduty_state(path)`` reads and validates the state file (see ``parse_state``).
"""

from __future__ import annotations

import math
import re
import threading
import time as _time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from .pagerduty_schedules import (
    UTC,
    Entry,
    Layer,
    add_months,
    coverage_percentage,
    format_time,
    get_zone,
    overlapping,
    parse_time,
    render_final,
    render_layer,
    render_overrides,
)
from .pagerduty_state import (
    EscalationPolicy,
    EscalationRule,
    Incident,
    PagerDutyState,
    Schedule,
    Service,
    StateError,
    Team,
    User,
    load_pagerduty_state,
    parse_state,
)

__all__ = [
    "DEFAULT_RATE_LIMIT",
    "PagerDutyState",
    "RateLimit",
    "StateError",
    "create_app",
    "load_pagerduty_state",
    "parse_state",
]

# PagerDuty error codes (developer.pagerduty.com "Errors" page).
CODE_INTERNAL = 2000
CODE_INVALID_INPUT = 2001
CODE_AUTH_FAILED = 2006
CODE_RATE_LIMITED = 2020
CODE_NOT_FOUND = 2100

MAX_LIMIT = 100
DEFAULT_LIMIT = 25
MAX_OFFSET_PLUS_LIMIT = 10_000
SCHEDULE_DEFAULT_SPAN = timedelta(weeks=2)
INCIDENT_DEFAULT_SPAN = timedelta(days=30)
ONCALL_HORIZON = timedelta(days=90)
DEFAULT_HTML_BASE_URL = "https://sandbox.pagerduty.invalid"


# --- errors and rate limiting --------------------------------------------------------------


class ApiError(Exception):
    """An error answered with PagerDuty's body ``{"error": {"message", "code", "errors"}}``."""

    def __init__(self, status: int, message: str, code: int, errors: Sequence[str] = ()):
        super().__init__(message)
        self.status, self.message, self.code, self.errors = status, message, code, list(errors)

    def response(self, headers: Mapping[str, str] | None = None) -> JSONResponse:
        body: dict[str, Any] = {"message": self.message, "code": self.code}
        if self.errors:
            body["errors"] = self.errors
        return JSONResponse({"error": body}, status_code=self.status, headers=headers)


def _invalid(*errors: str) -> ApiError:
    return ApiError(400, "Invalid Input Provided", CODE_INVALID_INPUT, errors)


def _not_found() -> ApiError:
    return ApiError(404, "Not Found", CODE_NOT_FOUND)


@dataclass(frozen=True)
class RateLimit:
    """At most ``requests`` per ``per_seconds`` for each token (fixed window)."""

    requests: int
    per_seconds: float

    def __post_init__(self) -> None:
        if self.requests < 1 or self.per_seconds <= 0:
            raise ValueError(f"invalid rate limit {self.requests}/{self.per_seconds}")

    @classmethod
    def parse(cls, text: str) -> RateLimit:
        """``"960/60"`` → RateLimit(960, 60)."""
        match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+(?:\.\d+)?)\s*", text)
        if not match:
            raise ValueError(f"rate limit must look like N/SECONDS, got {text!r}")
        return cls(int(match.group(1)), float(match.group(2)))


DEFAULT_RATE_LIMIT = RateLimit(960, 60)


class _RateLimiter:
    def __init__(self, limit: RateLimit, clock: Callable[[], float]):
        self.limit, self.clock = limit, clock
        self._windows: dict[str, tuple[float, int]] = {}
        self._lock = threading.Lock()

    def hit(self, token: str) -> tuple[bool, dict[str, str]]:
        """Count a request; (allowed, the ratelimit headers to send)."""
        with self._lock:
            now = self.clock()
            start, count = self._windows.get(token, (now, 0))
            if now - start >= self.limit.per_seconds:
                start, count = now, 0
            count += 1
            self._windows[token] = (start, count)
        # Rounded first: start + 60 - now may come out as 60.000000000001 in floating point.
        reset = max(1, math.ceil(round(self.limit.per_seconds - (now - start), 6)))
        headers = {
            "ratelimit-limit": str(self.limit.requests),
            "ratelimit-remaining": str(max(0, self.limit.requests - count)),
            "ratelimit-reset": str(reset),
        }
        allowed = count <= self.limit.requests
        if not allowed:
            headers["Retry-After"] = str(reset)
        return allowed, headers


# --- query parameters ----------------------------------------------------------------------


class _Query:
    """PagerDuty-style query parameters: ``name[]`` arrays, classic pagination, times."""

    def __init__(self, request: Request):
        self.params = request.query_params

    def text(self, name: str) -> str | None:
        value = self.params.get(name)
        return value if value else None

    def ids(self, name: str) -> list[str]:
        return [v for v in self.params.getlist(f"{name}[]") if v]

    def includes(self) -> set[str]:
        return set(self.ids("include"))

    def flag(self, name: str) -> bool:
        return (self.params.get(name) or "").lower() == "true"

    def zone(self, default):
        name = self.text("time_zone")
        if name is None:
            return default
        try:
            return get_zone(name)
        except ValueError as exc:
            raise _invalid(f"time_zone: {exc}") from None

    def moment(self, name: str, tz) -> datetime | None:
        value = self.text(name)
        if value is None:
            return None
        try:
            return parse_time(value, default_tz=tz)
        except ValueError as exc:
            raise _invalid(f"{name}: {exc}") from None

    def _integer(self, name: str, default: int) -> int:
        raw = self.params.get(name)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            raise _invalid(f"{name} must be an integer, got {raw!r}") from None
        if value < 0:
            raise _invalid(f"{name} must not be negative, got {value}")
        return value

    def paginate(self, items: Sequence[Any]) -> tuple[Sequence[Any], dict[str, Any]]:
        limit = min(self._integer("limit", DEFAULT_LIMIT), MAX_LIMIT) or DEFAULT_LIMIT
        offset = self._integer("offset", 0)
        if offset + limit > MAX_OFFSET_PLUS_LIMIT:
            raise _invalid(f"offset + limit must be at most {MAX_OFFSET_PLUS_LIMIT}")
        page = items[offset : offset + limit]
        meta = {
            "limit": limit,
            "offset": offset,
            "more": offset + limit < len(items),
            "total": len(items) if self.flag("total") else None,
        }
        return page, meta


def _matches(query: str | None, *values: str | None) -> bool:
    if query is None:
        return True
    needle = query.casefold()
    return any(needle in value.casefold() for value in values if value)


def _by_name(items: Iterable[Any]) -> list[Any]:
    return sorted(items, key=lambda item: item.name.casefold())


# --- rendering of objects ------------------------------------------------------------------

_COLLECTIONS = {
    "user": "users",
    "team": "teams",
    "schedule": "schedules",
    "escalation_policy": "escalation_policies",
    "service": "services",
    "incident": "incidents",
}


class _Renderer:
    """Builds PagerDuty JSON objects for one request (URLs point at this emulator)."""

    def __init__(self, state: PagerDutyState, base_url: str, html_base_url: str):
        self.state, self.base_url, self.html_base_url = state, base_url, html_base_url

    def _head(self, kind: str, object_id: str, summary: str, *, ref: bool) -> dict[str, Any]:
        path = f"{_COLLECTIONS[kind]}/{object_id}"
        return {
            "id": object_id,
            "type": f"{kind}_reference" if ref else kind,
            "summary": summary,
            "self": f"{self.base_url}/{path}",
            "html_url": f"{self.html_base_url}/{path}",
        }

    def ref(self, kind: str, object_id: str) -> dict[str, Any]:
        obj = getattr(self.state, _COLLECTIONS[kind])[object_id]
        summary = _incident_summary(obj) if kind == "incident" else obj.name
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
            "contact_methods": [],
            "notification_rules": [],
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
        # PagerDuty empties `assignments` once an incident is resolved (see the spec).
        assignments = [] if resolved else incident.assignments
        return {
            **self._head("incident", incident.id, _incident_summary(incident), ref=False),
            "incident_number": incident.number,
            "title": incident.title,
            "created_at": format_time(incident.created_at, tz),
            "updated_at": format_time(incident.last_status_change_at, tz),
            "status": incident.status,
            "urgency": incident.urgency,
            "service": self.ref("service", incident.service),
            "escalation_policy": self.ref("escalation_policy", incident.escalation_policy),
            "teams": self.refs("team", self.state.services[incident.service].teams),
            "assignments": [
                {"at": format_time(at, tz), "assignee": self.ref("user", user_id)} for at, user_id in assignments
            ],
            "acknowledgements": [],
            "last_status_change_at": format_time(incident.last_status_change_at, tz),
            "resolved_at": format_time(incident.last_status_change_at, tz) if resolved else None,
        }


def _incident_summary(incident: Incident) -> str:
    return f"[#{incident.number}] {incident.title}"


# --- the emulator --------------------------------------------------------------------------


class _PagerDutyEmulator:
    """Request handlers over one validated state. ``fail_next`` may be changed at runtime."""

    def __init__(
        self,
        state: PagerDutyState,
        *,
        html_base_url: str,
        fail_next: int,
        now: Callable[[], datetime],
    ):
        self.state, self.html_base_url, self.fail_next, self.now = (
            state,
            html_base_url,
            fail_next,
            now,
        )

    def renderer(self, request: Request) -> _Renderer:
        # root_path includes the prefix the app is mounted under (e.g. /pagerduty).
        base = request.url.replace(path=request.scope.get("root_path", ""), query="", fragment="")
        return _Renderer(self.state, str(base).rstrip("/"), self.html_base_url)

    @staticmethod
    def _get(section: Mapping[str, Any], object_id: str) -> Any:
        if object_id not in section:
            raise _not_found()
        return section[object_id]

    # users and teams

    def list_users(self, request: Request) -> dict[str, Any]:
        q, render = _Query(request), self.renderer(request)
        query, team_ids = q.text("query"), set(q.ids("team_ids"))
        users = [
            u
            for u in _by_name(self.state.users.values())
            if _matches(query, u.name, u.email) and (not team_ids or team_ids & set(self.state.user_teams(u.id)))
        ]
        page, meta = q.paginate(users)
        include = q.includes()
        return {"users": [render.user(u, include) for u in page], **meta}

    def get_user(self, request: Request, id: str) -> dict[str, Any]:
        user = self._get(self.state.users, id)
        return {"user": self.renderer(request).user(user, _Query(request).includes())}

    def list_teams(self, request: Request) -> dict[str, Any]:
        q, render = _Query(request), self.renderer(request)
        query = q.text("query")
        teams = [t for t in _by_name(self.state.teams.values()) if _matches(query, t.name)]
        page, meta = q.paginate(teams)
        return {"teams": [render.team(t) for t in page], **meta}

    def get_team(self, request: Request, id: str) -> dict[str, Any]:
        return {"team": self.renderer(request).team(self._get(self.state.teams, id))}

    def list_team_members(self, request: Request, id: str) -> dict[str, Any]:
        team = self._get(self.state.teams, id)
        q, render = _Query(request), self.renderer(request)
        page, meta = q.paginate(team.members)
        include = q.includes()
        return {"members": [render.member(u, role, include) for u, role in page], **meta}

    # schedules and on-calls

    def _schedule_window(self, q: _Query, tz) -> tuple[datetime, datetime]:
        since, until = q.moment("since", tz), q.moment("until", tz)
        if since is None and until is None:
            since = self.now()
        if since is None:
            since = until - SCHEDULE_DEFAULT_SPAN
        if until is None:
            until = since + SCHEDULE_DEFAULT_SPAN
        if until < since:
            raise _invalid("until must not be before since")
        return since, until

    def list_schedules(self, request: Request) -> dict[str, Any]:
        q, render = _Query(request), self.renderer(request)
        query, team_ids = q.text("query"), set(q.ids("team_ids"))
        schedules = [
            s
            for s in _by_name(self.state.schedules.values())
            if _matches(query, s.name) and (not team_ids or team_ids & set(s.teams))
        ]
        page, meta = q.paginate(schedules)
        include = q.includes()
        rendered = []
        for schedule in page:
            tz = q.zone(schedule.zone)
            window = self._schedule_window(q, tz) if include else None
            rendered.append(render.schedule(schedule, tz=tz, window=window, include=include))
        return {"schedules": rendered, **meta}

    def get_schedule(self, request: Request, id: str) -> dict[str, Any]:
        schedule = self._get(self.state.schedules, id)
        q = _Query(request)
        tz = q.zone(schedule.zone)
        include = ("schedule_layers", "overrides_subschedule", "final_schedule")
        window = self._schedule_window(q, tz)
        rendered = self.renderer(request).schedule(schedule, tz=tz, window=window, include=include)
        return {"schedule": rendered}

    def list_oncalls(self, request: Request) -> dict[str, Any]:
        q, render = _Query(request), self.renderer(request)
        tz = q.zone(UTC)
        since = q.moment("since", tz) or self.now()
        until = q.moment("until", tz) or max(since, self.now())
        if until < since:
            raise _invalid("until must not be before since")
        rows = self._oncall_rows(q, since, until)
        page, meta = q.paginate(rows)
        include = q.includes()
        return {"oncalls": [self._oncall_json(render, row, tz, include) for row in page], **meta}

    def _oncall_rows(self, q: _Query, since: datetime, until: datetime) -> list[tuple]:
        policy_ids, user_ids = set(q.ids("escalation_policy_ids")), set(q.ids("user_ids"))
        schedule_ids = set(q.ids("schedule_ids"))
        finals: dict[str, list[Entry]] = {}
        rows = []  # (policy id, level, user id, schedule id | None, start | None, end | None)
        for policy in self.state.escalation_policies.values():
            if policy_ids and policy.id not in policy_ids:
                continue
            for level, rule in enumerate(policy.rules, start=1):
                for kind, target_id in rule.targets:
                    if kind == "user":
                        rows.append((policy.id, level, target_id, None, None, None))
                        continue
                    if target_id not in finals:
                        finals[target_id] = self._final(target_id, since, until)
                    for entry in overlapping(finals[target_id], since, until):
                        rows.append((policy.id, level, entry.user, target_id, *entry[:2]))
        rows = [
            row for row in rows if (not user_ids or row[2] in user_ids) and (not schedule_ids or row[3] in schedule_ids)
        ]
        if q.flag("earliest"):
            rows = _earliest(rows)
        return rows

    def _final(self, schedule_id: str, since: datetime, until: datetime) -> list[Entry]:
        """The final schedule around the window, so shifts keep their real bounds."""
        schedule = self.state.schedules[schedule_id]
        return render_final(
            schedule.layers,
            schedule.overrides,
            schedule.zone,
            since - ONCALL_HORIZON,
            until + ONCALL_HORIZON,
        )

    def _oncall_json(self, render: _Renderer, row: tuple, tz, include: Collection[str]) -> dict:
        policy_id, level, user_id, schedule_id, start, end = row
        user = self.state.users[user_id]
        policy = self.state.escalation_policies[policy_id]
        schedule = None
        if schedule_id is not None:
            target = self.state.schedules[schedule_id]
            schedule = (
                render.schedule(target, tz=target.zone)
                if "schedules" in include
                else render.ref("schedule", schedule_id)
            )
        return {
            "escalation_policy": (
                render.policy(policy)
                if "escalation_policies" in include
                else render.ref("escalation_policy", policy_id)
            ),
            "escalation_level": level,
            "schedule": schedule,
            "user": render.user(user) if "users" in include else render.ref("user", user_id),
            "start": format_time(start, tz),
            "end": format_time(end, tz),
        }

    # escalation policies, services, incidents

    def list_policies(self, request: Request) -> dict[str, Any]:
        q, render = _Query(request), self.renderer(request)
        query, team_ids, user_ids = q.text("query"), set(q.ids("team_ids")), set(q.ids("user_ids"))
        policies = [
            p
            for p in _by_name(self.state.escalation_policies.values())
            if _matches(query, p.name)
            and (not team_ids or team_ids & set(p.teams))
            and (not user_ids or user_ids & _direct_users(p))
        ]
        page, meta = q.paginate(policies)
        include = q.includes()
        return {"escalation_policies": [render.policy(p, include) for p in page], **meta}

    def get_policy(self, request: Request, id: str) -> dict[str, Any]:
        policy = self._get(self.state.escalation_policies, id)
        include = _Query(request).includes()
        return {"escalation_policy": self.renderer(request).policy(policy, include)}

    def list_services(self, request: Request) -> dict[str, Any]:
        q, render = _Query(request), self.renderer(request)
        query, team_ids = q.text("query"), set(q.ids("team_ids"))
        services = [
            s
            for s in _by_name(self.state.services.values())
            if _matches(query, s.name) and (not team_ids or team_ids & set(s.teams))
        ]
        page, meta = q.paginate(services)
        include = q.includes()
        return {"services": [render.service(s, include) for s in page], **meta}

    def get_service(self, request: Request, id: str) -> dict[str, Any]:
        service = self._get(self.state.services, id)
        include = _Query(request).includes()
        return {"service": self.renderer(request).service(service, include)}

    def list_incidents(self, request: Request) -> dict[str, Any]:
        q, render = _Query(request), self.renderer(request)
        tz = q.zone(UTC)
        incidents = sorted(self.state.incidents.values(), key=lambda i: (i.created_at, i.number))
        if q.text("date_range") != "all":
            since, until = self._incident_window(q, tz)
            incidents = [i for i in incidents if since <= i.created_at < until]
        incidents = [i for i in incidents if self._incident_matches(q, i)]
        page, meta = q.paginate(incidents)
        return {"incidents": [render.incident(i, tz) for i in page], **meta}

    def _incident_window(self, q: _Query, tz) -> tuple[datetime, datetime]:
        since, until = q.moment("since", tz), q.moment("until", tz)
        until = until or self.now()
        since = since or until - INCIDENT_DEFAULT_SPAN
        if until < since:
            raise _invalid("until must not be before since")
        if until > add_months(since, 6):
            raise _invalid("the date range between since and until must be at most 6 months")
        return since, until

    def _incident_matches(self, q: _Query, incident: Incident) -> bool:
        statuses, urgencies = set(q.ids("statuses")), set(q.ids("urgencies"))
        service_ids, team_ids = set(q.ids("service_ids")), set(q.ids("team_ids"))
        user_ids = set(q.ids("user_ids"))
        current = () if incident.status == "resolved" else incident.assignments
        return (
            (not statuses or incident.status in statuses)
            and (not urgencies or incident.urgency in urgencies)
            and (not service_ids or incident.service in service_ids)
            and (not team_ids or bool(team_ids & set(self.state.services[incident.service].teams)))
            and (not user_ids or any(user in user_ids for _, user in current))
        )

    def get_incident(self, request: Request, id: str) -> dict[str, Any]:
        incident = self._get(self.state.incidents, id)
        tz = _Query(request).zone(UTC)
        return {"incident": self.renderer(request).incident(incident, tz)}


def _direct_users(policy: EscalationPolicy) -> set[str]:
    return {target_id for rule in policy.rules for kind, target_id in rule.targets if kind == "user"}


def _earliest(rows: list[tuple]) -> list[tuple]:
    """Only the earliest on-call per (policy, level, user); permanent ones count as earliest."""

    def start(row: tuple) -> datetime:
        return row[4] or datetime.min.replace(tzinfo=UTC)

    first: dict[tuple, tuple] = {}
    for row in rows:
        if row[:3] not in first or start(row) < start(first[row[:3]]):
            first[row[:3]] = row
    return [row for row in rows if first[row[:3]] is row]


_ROUTES = (
    ("/users", "list_users"),
    ("/users/{id}", "get_user"),
    ("/teams", "list_teams"),
    ("/teams/{id}", "get_team"),
    ("/teams/{id}/members", "list_team_members"),
    ("/schedules", "list_schedules"),
    ("/schedules/{id}", "get_schedule"),
    ("/oncalls", "list_oncalls"),
    ("/escalation_policies", "list_policies"),
    ("/escalation_policies/{id}", "get_policy"),
    ("/services", "list_services"),
    ("/services/{id}", "get_service"),
    ("/incidents", "list_incidents"),
    ("/incidents/{id}", "get_incident"),
)
_TOKEN_HEADER = re.compile(r"Token token=(\S+)")
_ACCEPT_VERSION = re.compile(r"application/vnd\.pagerduty\+json\s*;\s*version\s*=\s*([^\s,;]+)")


def create_app(
    state: Mapping[str, Any] | PagerDutyState,
    *,
    tokens: Collection[str],
    rate_limit: RateLimit | None = None,
    fail_next: int = 0,
    html_base_url: str = DEFAULT_HTML_BASE_URL,
    clock: Callable[[], float] = _time.monotonic,
    now: Callable[[], datetime] | None = None,
) -> FastAPI:
    """The PagerDuty REST API v2 emulator over ``state`` (a state mapping or parsed state).

    - ``tokens``: the API keys accepted in ``Authorization: Token token=<KEY>``;
    - ``rate_limit``: requests per window for each token (default 960 per 60 s);
    - ``fail_next``: answer the next N authenticated requests with 503 (retry tests);
      change it later through ``app.state.pagerduty.fail_next``;
    - ``clock`` (monotonic seconds, for rate limits) and ``now`` (aware datetime, the
      default for since/until) can be replaced in tests.
    """
    parsed = state if isinstance(state, PagerDutyState) else parse_state(state)
    emulator = _PagerDutyEmulator(
        parsed,
        html_base_url=html_base_url.rstrip("/"),
        fail_next=fail_next,
        now=now or (lambda: datetime.now(UTC)),
    )
    limiter = _RateLimiter(rate_limit or DEFAULT_RATE_LIMIT, clock)
    allowed_tokens = frozenset(tokens)

    app = FastAPI(title="PagerDuty REST API v2 emulator", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.pagerduty = emulator
    for path, handler in _ROUTES:
        app.add_api_route(path, getattr(emulator, handler), methods=["GET"])

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return exc.response()

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 404:
            return _not_found().response()
        return ApiError(exc.status_code, str(exc.detail), CODE_INVALID_INPUT).response()

    @app.middleware("http")
    async def _guard(request: Request, call_next):
        match = _TOKEN_HEADER.fullmatch(request.headers.get("authorization", "").strip())
        if not match or match.group(1) not in allowed_tokens:
            return ApiError(401, "Authentication failed", CODE_AUTH_FAILED).response()
        allowed, headers = limiter.hit(match.group(1))
        if not allowed:
            return ApiError(429, "Rate Limit Exceeded", CODE_RATE_LIMITED).response(headers)
        if emulator.fail_next > 0:
            emulator.fail_next -= 1
            message = "Service Unavailable (fault injected by the emulator)"
            return ApiError(503, message, CODE_INTERNAL).response(headers)
        version = _ACCEPT_VERSION.search(request.headers.get("accept", ""))
        if version and version.group(1) != "2":
            problem = f"unsupported API version {version.group(1)!r}; this is version 2"
            return ApiError(406, "Not Acceptable", CODE_INVALID_INPUT, [problem]).response(headers)
        response = await call_next(request)
        response.headers.update(headers)
        return response

    return app
