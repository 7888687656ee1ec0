"""The PagerDuty emulator's endpoints, with the filters and windows the real API applies.

Users, teams and members; schedules (rendered layers, overrides, final schedule) and
on-calls; escalation policies, services and incidents; and, beside them, the analytics
(``analytics``), incident notes (``notes``), and priorities and incident workflows
(``workflows``). ``ROUTES`` maps each
method and path to its handler (an attribute path on the emulator).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from datetime import datetime, timedelta
from typing import Any

from fastapi import Request

from .analytics import Analytics
from .notes import Notes
from .protocol import Query, by_name, invalid, matches, not_found
from .render import Renderer
from .schedules import UTC, Entry, add_months, format_time, overlapping, render_final
from .state import EscalationPolicy, Incident, PagerDutyState
from .workflows import IncidentWorkflows

SECTIONS = ("users", "teams", "schedules", "escalation_policies", "services", "incidents")
# GET /incidents' sort_by fields (at most two, "field:asc" or "field:desc", comma-separated; by
# created_at without one). An incident not resolved has no resolved_at: the emulator sorts it
# after every resolved one ascending, so before them descending (PagerDuty does not say).
INCIDENT_SORT_KEYS: dict[str, Callable[[Incident], Any]] = {
    "incident_number": lambda i: i.number,
    "created_at": lambda i: i.created_at,
    "resolved_at": lambda i: (i.resolved_at is None, i.resolved_at or i.created_at),
    "urgency": lambda i: ("low", "high").index(i.urgency),
}
MAX_SORT_FIELDS = 2
SCHEDULE_DEFAULT_SPAN = timedelta(weeks=2)
INCIDENT_DEFAULT_SPAN = timedelta(days=30)
ONCALL_HORIZON = timedelta(days=90)
# Final schedules rendered for /oncalls and kept for the next pages of the same window.
FINALS_KEPT = 4096
# The objects a list query matches, kept for its next pages (a client reads a query page by page).
MATCHES_KEPT = 256


class PagerDutyEmulator:
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
        self.analytics = Analytics(state, now)
        self._finals: dict[tuple[str, datetime, datetime], list[Entry]] = {}
        self._sorted: dict[str, list[Any]] = {}
        self._matches: dict[tuple, list[Any]] = {}
        self.notes = Notes(state, now, self.renderer)
        self.workflows = IncidentWorkflows(state, self.renderer)

    def _matching(self, key: tuple, find: Callable[[], list[Any]]) -> list[Any]:
        """What ``find`` returns for the query ``key``, found once and kept for the query's next pages.

        The key holds the query's filters as resolved (a default window is its instants) and the
        sizes of the state's sections, so a changed state or clock finds afresh.
        """
        sizes = tuple(len(getattr(self.state, section)) for section in SECTIONS)
        key = (*key, sizes)
        found = self._matches.get(key)
        if found is None:
            if len(self._matches) >= MATCHES_KEPT:
                self._matches.clear()
            found = self._matches[key] = find()
        return found

    def _by_name(self, section: str) -> list[Any]:
        """A section sorted by name, as the API lists it; sorted once, not per page of a large account."""
        objects = getattr(self.state, section)
        cached = self._sorted.get(section)
        if cached is None or len(cached) != len(objects):
            cached = self._sorted[section] = by_name(objects.values())
        return cached

    def _named_in_teams(
        self, section: str, query: str | None, team_ids: frozenset[str], also: tuple = (), keep=lambda _: True
    ) -> list[Any]:
        """A section's objects whose name matches ``query`` and that belong to one of ``team_ids`` (if any).

        ``keep`` filters further; ``also`` is what it depends on, so the query's pages share one find.
        """
        return self._matching(
            (section, query, team_ids, *also),
            lambda: [
                o
                for o in self._by_name(section)
                if matches(query, o.name) and (not team_ids or team_ids & set(o.teams)) and keep(o)
            ],
        )

    def renderer(self, request: Request) -> Renderer:
        # root_path includes the prefix the app is mounted under (e.g. /pagerduty).
        base = request.url.replace(path=request.scope.get("root_path", ""), query="", fragment="")
        return Renderer(self.state, str(base).rstrip("/"), self.html_base_url)

    @staticmethod
    def _get(section: Mapping[str, Any], object_id: str) -> Any:
        if object_id not in section:
            raise not_found()
        return section[object_id]

    # users and teams

    def list_users(self, request: Request) -> dict[str, Any]:
        q, render = Query(request), self.renderer(request)
        query, team_ids = q.text("query"), frozenset(q.ids("team_ids"))
        users = self._matching(("users", query, team_ids), lambda: self._users_matching(query, team_ids))
        page, meta = q.paginate(users)
        include = q.includes()
        return {"users": [render.user(u, include) for u in page], **meta}

    def _users_matching(self, query: str | None, team_ids: frozenset[str]) -> list[Any]:
        """The users by name that match ``query`` and belong to any of ``team_ids`` (all teams when empty).

        Members are gathered from the teams named, not from each user's teams: a slice of 100
        teams of a 20,000-person account is a set look-up per user, not a team list built per user.
        """
        members = {u for t in team_ids if t in self.state.teams for u, _ in self.state.teams[t].members}
        return [
            u for u in self._by_name("users") if matches(query, u.name, u.email) and (not team_ids or u.id in members)
        ]

    def get_user(self, request: Request, id: str) -> dict[str, Any]:
        user = self._get(self.state.users, id)
        return {"user": self.renderer(request).user(user, Query(request).includes())}

    def list_teams(self, request: Request) -> dict[str, Any]:
        q, render = Query(request), self.renderer(request)
        query = q.text("query")
        teams = [t for t in self._by_name("teams") if matches(query, t.name)]
        page, meta = q.paginate(teams)
        return {"teams": [render.team(t) for t in page], **meta}

    def get_team(self, request: Request, id: str) -> dict[str, Any]:
        return {"team": self.renderer(request).team(self._get(self.state.teams, id))}

    def list_team_members(self, request: Request, id: str) -> dict[str, Any]:
        team = self._get(self.state.teams, id)
        q, render = Query(request), self.renderer(request)
        page, meta = q.paginate(team.members)
        include = q.includes()
        return {"members": [render.member(u, role, include) for u, role in page], **meta}

    # schedules and on-calls

    def _schedule_window(self, q: Query, tz) -> tuple[datetime, datetime]:
        since, until = q.moment("since", tz), q.moment("until", tz)
        if since is None and until is None:
            since = self.now()
        if since is None:
            since = until - SCHEDULE_DEFAULT_SPAN
        if until is None:
            until = since + SCHEDULE_DEFAULT_SPAN
        if until < since:
            raise invalid("until must not be before since")
        return since, until

    def list_schedules(self, request: Request) -> dict[str, Any]:
        q, render = Query(request), self.renderer(request)
        query, team_ids = q.text("query"), frozenset(q.ids("team_ids"))
        schedules = self._named_in_teams("schedules", query, team_ids)
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
        q = Query(request)
        tz = q.zone(schedule.zone)
        include = ("schedule_layers", "overrides_subschedule", "final_schedule")
        window = self._schedule_window(q, tz)
        rendered = self.renderer(request).schedule(schedule, tz=tz, window=window, include=include)
        return {"schedule": rendered}

    def list_oncalls(self, request: Request) -> dict[str, Any]:
        q, render = Query(request), self.renderer(request)
        tz = q.zone(UTC)
        since = q.moment("since", tz) or self.now()
        until = q.moment("until", tz) or max(since, self.now())
        if until < since:
            raise invalid("until must not be before since")
        filters = tuple(frozenset(q.ids(name)) for name in ("escalation_policy_ids", "user_ids", "schedule_ids"))
        rows = self._matching(
            ("oncalls", since, until, filters, q.flag("earliest")), lambda: self._oncall_rows(q, since, until)
        )
        page, meta = q.paginate(rows)
        include = q.includes()
        return {"oncalls": [self._oncall_json(render, row, tz, include) for row in page], **meta}

    def _oncall_rows(self, q: Query, since: datetime, until: datetime) -> list[tuple]:
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
                    if schedule_ids and target_id not in schedule_ids:
                        continue  # filtered out below anyway: not worth rendering its final schedule
                    if target_id not in finals:
                        finals[target_id] = overlapping(self._final(target_id, since, until), since, until)
                    for entry in finals[target_id]:
                        rows.append((policy.id, level, entry.user, target_id, *entry[:2]))
        rows = [
            row for row in rows if (not user_ids or row[2] in user_ids) and (not schedule_ids or row[3] in schedule_ids)
        ]
        if q.flag("earliest"):
            rows = _earliest(rows)
        return rows

    def _final(self, schedule_id: str, since: datetime, until: datetime) -> list[Entry]:
        """The final schedule around the window, so shifts keep their real bounds.

        Kept for the next pages of the same query (the account does not change while served).
        """
        key = (schedule_id, since, until)
        if key not in self._finals:
            if len(self._finals) >= FINALS_KEPT:
                self._finals.clear()
            schedule = self.state.schedules[schedule_id]
            self._finals[key] = render_final(
                schedule.layers,
                schedule.overrides,
                schedule.zone,
                since - ONCALL_HORIZON,
                until + ONCALL_HORIZON,
            )
        return self._finals[key]

    def _oncall_json(self, render: Renderer, row: tuple, tz, include: Collection[str]) -> dict:
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
        q, render = Query(request), self.renderer(request)
        query, team_ids, user_ids = q.text("query"), frozenset(q.ids("team_ids")), frozenset(q.ids("user_ids"))
        policies = self._named_in_teams(
            "escalation_policies", query, team_ids, (user_ids,), lambda p: not user_ids or user_ids & _direct_users(p)
        )
        page, meta = q.paginate(policies)
        include = q.includes()
        return {"escalation_policies": [render.policy(p, include) for p in page], **meta}

    def get_policy(self, request: Request, id: str) -> dict[str, Any]:
        policy = self._get(self.state.escalation_policies, id)
        include = Query(request).includes()
        return {"escalation_policy": self.renderer(request).policy(policy, include)}

    def list_services(self, request: Request) -> dict[str, Any]:
        q, render = Query(request), self.renderer(request)
        query, team_ids = q.text("query"), frozenset(q.ids("team_ids"))
        services = self._named_in_teams("services", query, team_ids)
        page, meta = q.paginate(services)
        include = q.includes()
        return {"services": [render.service(s, include) for s in page], **meta}

    def get_service(self, request: Request, id: str) -> dict[str, Any]:
        service = self._get(self.state.services, id)
        include = Query(request).includes()
        return {"service": self.renderer(request).service(service, include)}

    def list_incidents(self, request: Request) -> dict[str, Any]:
        q, render = Query(request), self.renderer(request)
        tz = q.zone(UTC)
        window = None if q.text("date_range") == "all" else self._incident_window(q, tz)
        filters = tuple(
            frozenset(q.ids(name)) for name in ("statuses", "urgencies", "service_ids", "team_ids", "user_ids")
        )
        order = _incident_order(q)
        incidents = self._matching(("incidents", window, filters, order), lambda: self._incidents(q, window, order))
        page, meta = q.paginate(incidents)
        return {"incidents": [render.incident(i, tz) for i in page], **meta}

    def _incidents(
        self, q: Query, window: tuple[datetime, datetime] | None, order: tuple[tuple[str, bool], ...]
    ) -> list[Incident]:
        incidents = sorted(self.state.incidents.values(), key=lambda i: (i.created_at, i.number))
        if window is not None:
            since, until = window
            incidents = [i for i in incidents if since <= i.created_at < until]
        incidents = [i for i in incidents if self._incidentmatches(q, i)]
        for field, descending in reversed(order):  # the last key first: each stable sort keeps the one after it
            incidents.sort(key=INCIDENT_SORT_KEYS[field], reverse=descending)
        return incidents

    def _incident_window(self, q: Query, tz) -> tuple[datetime, datetime]:
        since, until = q.moment("since", tz), q.moment("until", tz)
        until = until or self.now()
        since = since or until - INCIDENT_DEFAULT_SPAN
        if until < since:
            raise invalid("until must not be before since")
        if until > add_months(since, 6):
            raise invalid("the date range between since and until must be at most 6 months")
        return since, until

    def _incidentmatches(self, q: Query, incident: Incident) -> bool:
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
        tz = Query(request).zone(UTC)
        return {"incident": self.renderer(request).incident(incident, tz)}


def _incident_order(q: Query) -> tuple[tuple[str, bool], ...]:
    """``sort_by`` as (field, descending) pairs; a 400 for an unknown field or direction, or more than two."""
    values = [*q.params.getlist("sort_by"), *q.params.getlist("sort_by[]")]
    fields = [part.strip() for value in values for part in value.split(",") if part.strip()]
    if len(fields) > MAX_SORT_FIELDS:
        raise invalid(f"sort_by takes at most {MAX_SORT_FIELDS} fields, got {len(fields)}")
    order = []
    for field in fields:
        name, _, direction = field.partition(":")
        if name not in INCIDENT_SORT_KEYS or direction not in ("", "asc", "desc"):
            raise invalid(f"sort_by: {field!r} is not one of {', '.join(INCIDENT_SORT_KEYS)} with :asc or :desc")
        order.append((name, direction == "desc"))
    return tuple(order)


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


ROUTES = (
    ("GET", "/users", "list_users"),
    ("GET", "/users/{id}", "get_user"),
    ("GET", "/teams", "list_teams"),
    ("GET", "/teams/{id}", "get_team"),
    ("GET", "/teams/{id}/members", "list_team_members"),
    ("GET", "/schedules", "list_schedules"),
    ("GET", "/schedules/{id}", "get_schedule"),
    ("GET", "/oncalls", "list_oncalls"),
    ("GET", "/escalation_policies", "list_policies"),
    ("GET", "/escalation_policies/{id}", "get_policy"),
    ("GET", "/services", "list_services"),
    ("GET", "/services/{id}", "get_service"),
    ("GET", "/incidents", "list_incidents"),
    ("GET", "/incidents/{id}", "get_incident"),
    ("GET", "/incidents/{id}/notes", "notes.list"),
    ("GET", "/priorities", "workflows.list_priorities"),
    ("GET", "/incident_workflows", "workflows.list_workflows"),
    # before /incident_workflows/{id}: "triggers" is not a workflow id
    ("GET", "/incident_workflows/triggers", "workflows.list_triggers"),
    ("GET", "/incident_workflows/triggers/{id}", "workflows.get_trigger"),
    ("GET", "/incident_workflows/{id}", "workflows.get_workflow"),
    ("POST", "/incidents/{id}/notes", "notes.create"),
    ("POST", "/analytics/raw/incidents", "analytics.raw_incidents"),
    ("POST", "/analytics/metrics/responders/all", "analytics.responders"),
)
