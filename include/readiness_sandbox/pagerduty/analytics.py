"""PagerDuty's Analytics endpoints, computed from the emulator's incidents and notifications.

- ``POST /analytics/raw/incidents``: one row per incident (``AnalyticsRawIncident``), cursor
  paging (``limit`` 1..1000, ``starting_after`` = the previous page's ``last``, ``more``);
- ``POST /analytics/metrics/responders/all``: one row per responder
  (``AnalyticsResponderMetrics``) over ``date_range_start``..``date_range_end``.

Analytics reports late, as the real one does: only resolved incidents, and none created in
the 24 hours before the emulator's "now" (the incidents list has those). Interruptions,
hours and time on call follow ``interruptions``. Times are rendered with their
offset in the request's ``time_zone`` (default ``Etc/UTC``).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from fastapi import Request

from .interruptions import assignees, interruption_counts, seconds_on_call
from .model import Incident, PagerDutyState
from .protocol import invalid, json_body
from .render import Renderer
from .schedules import format_time, get_zone, parse_time

ANALYTICS_LAG = timedelta(hours=24)
# Raw-incident queries whose ordered matches are kept for their next pages (cursor paging).
ORDERED_KEPT = 64
MAX_RAW_LIMIT = 1000
DEFAULT_RAW_LIMIT = 20
MAX_RANGE = timedelta(days=366)
RAW_FILTERS = (
    "created_at_start",
    "created_at_end",
    "urgency",
    "team_ids",
    "service_ids",
    "priority_names",
)
RESPONDER_FILTERS = ("date_range_start", "date_range_end", "urgency", "team_ids", "responder_ids")


class Analytics:
    """The two Analytics endpoints over one state; ``now`` is the emulator's clock."""

    def __init__(self, state: PagerDutyState, now: Callable[[], datetime]):
        self.state, self.now = state, now
        self._ordered: dict[tuple, list[Incident]] = {}

    def reported(self) -> list[Incident]:
        """The incidents analytics knows about: resolved, created more than 24 h before now."""
        horizon = self.now() - ANALYTICS_LAG
        return [i for i in self.state.incidents.values() if i.status == "resolved" and i.created_at < horizon]

    # --- POST /analytics/raw/incidents

    async def raw_incidents(self, request: Request) -> dict[str, Any]:
        body = await json_body(request)
        _known(body, ("filters", "limit", "starting_after", "ending_before", "order", "order_by", "time_zone"), "")
        filters = _filters(body, RAW_FILTERS)
        tz_name, tz = _zone(body)
        limit = body.get("limit", DEFAULT_RAW_LIMIT)
        if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_RAW_LIMIT:
            raise invalid(f"limit must be an integer from 1 to {MAX_RAW_LIMIT}, got {limit!r}")
        order = _choice(body, "order", ("asc", "desc"), "desc")
        order_by = _choice(body, "order_by", ("created_at", "seconds_to_resolve"), "created_at")
        start = _moment(filters, "created_at_start", tz)
        end = _moment(filters, "created_at_end", tz)
        reported = self.reported()
        # Keyed by what it depends on, the incidents analytics knows about included: found once
        # and kept for the query's next pages (at 2,000 teams, filtering and sorting 12,000
        # incidents again for each page of 1,000 was a third of its time).
        key = (json.dumps(filters, sort_keys=True), start, end, order, order_by, tuple(i.id for i in reported))
        rows = self._ordered.get(key)
        if rows is None:
            if len(self._ordered) >= ORDERED_KEPT:
                self._ordered.clear()
            rows = self._ordered[key] = self._ordered_rows(reported, filters, start, end, order, order_by)
        if body.get("starting_after") is not None:
            after = _decode(body["starting_after"])
            position = next((n for n, i in enumerate(rows) if i.id == after), None)
            if position is None:
                raise invalid("starting_after: not a cursor of this result set")
            rows = rows[position + 1 :]
        page = rows[:limit]
        return {
            "first": _cursor(page[0]) if page else None,
            "last": _cursor(page[-1]) if page else None,
            "limit": limit,
            "more": len(rows) > limit,
            "order": order,
            "order_by": order_by,
            "time_zone": tz_name,
            "filters": filters,
            "data": [self.raw_row(i, tz) for i in page],
        }

    def _ordered_rows(
        self,
        reported: list[Incident],
        filters: Mapping[str, Any],
        start: datetime | None,
        end: datetime | None,
        order: str,
        order_by: str,
    ) -> list[Incident]:
        """The reported incidents the query matches, in its order."""
        rows = [
            i
            for i in reported
            if (start is None or i.created_at >= start)
            and (end is None or i.created_at < end)
            and self._matches(i, filters)
        ]
        rows.sort(
            key=lambda i: (
                _seconds(i.created_at, i.resolved_at) if order_by != "created_at" else 0,
                i.created_at,
                i.number,
            )
        )
        if order == "desc":
            rows.reverse()
        return rows

    def _matches(self, incident: Incident, filters: Mapping[str, Any]) -> bool:
        teams = set(self.state.services[incident.service].teams)
        return (
            (filters.get("urgency") is None or incident.urgency == filters["urgency"])
            and (not filters.get("service_ids") or incident.service in filters["service_ids"])
            and (not filters.get("team_ids") or bool(teams & set(filters["team_ids"])))
            and (not filters.get("priority_names") or incident.priority in filters["priority_names"])
        )

    def raw_row(self, incident: Incident, tz) -> dict[str, Any]:
        service = self.state.services[incident.service]
        team = self.state.teams[service.teams[0]] if service.teams else None
        policy = self.state.escalation_policies[incident.escalation_policy]
        users = assignees(incident)
        acknowledger = incident.acknowledger()
        resolver = acknowledger or (users[-1] if users else None)
        counts = interruption_counts(self.state, incident.notifications)
        escalations = len({at for at, _ in incident.assignments}) - 1 if incident.assignments else 0
        to_ack = _seconds(incident.created_at, incident.acknowledged_at)
        return {
            "id": incident.id,
            "incident_number": incident.number,
            "description": incident.title,
            "created_at": format_time(incident.created_at, tz),
            "updated_at": format_time(incident.last_status_change_at, tz),
            "resolved_at": format_time(incident.resolved_at, tz),
            "status": incident.status,
            "urgency": incident.urgency,
            "major": incident.priority in ("P1", "P2"),
            "priority_id": priority_id(incident.priority),
            "priority_name": incident.priority,
            "priority_order": priority_order(incident.priority),
            "service_id": service.id,
            "service_name": service.name,
            "team_id": team.id if team else None,
            "team_name": team.name if team else None,
            "escalation_policy_id": policy.id,
            "escalation_policy_name": policy.name,
            "incident_type_name": "incident_default",
            "seconds_to_first_ack": to_ack,
            "seconds_to_engage": to_ack,
            "seconds_to_mobilize": to_ack,
            "seconds_to_resolve": _seconds(incident.created_at, incident.resolved_at),
            "engaged_seconds": _seconds(incident.acknowledged_at, incident.resolved_at) or 0,
            "snoozed_seconds": 0,
            "auto_resolved": incident.acknowledged_at is None,
            "escalation_count": max(escalations, 0),
            "timeout_escalation_count": max(escalations, 0),
            "manual_escalation_count": 0,
            "reassignment_count": 0,
            "assignment_count": len(incident.assignments),
            "assigned_user_ids": users,
            "assigned_user_names": [self.state.users[u].name for u in users],
            "acknowledgement_count": int(acknowledger is not None),
            "acknowledged_user_ids": [acknowledger] if acknowledger else [],
            "acknowledged_user_names": [self.state.users[acknowledger].name] if acknowledger else [],
            "engaged_user_count": len(users),
            "active_user_count": len(users),
            "resolved_by_user_id": resolver,
            "resolved_by_user_name": self.state.users[resolver].name if resolver else None,
            "total_notifications": len(incident.notifications),
            "total_interruptions": counts["total"],
            "business_hour_interruptions": counts["business"],
            "off_hour_interruptions": counts["off"],
            "sleep_hour_interruptions": counts["sleep"],
        }

    # --- POST /analytics/metrics/responders/all

    async def responders(self, request: Request) -> dict[str, Any]:
        body = await json_body(request)
        _known(body, ("filters", "time_zone", "order", "order_by"), "")
        filters = _filters(body, RESPONDER_FILTERS)
        tz_name, tz = _zone(body)
        start, end = _moment(filters, "date_range_start", tz), _moment(filters, "date_range_end", tz)
        if start is None or end is None:
            raise invalid("filters.date_range_start and filters.date_range_end are required")
        if end <= start or end - start > MAX_RANGE:
            raise invalid("the date range must be positive and at most one year long")
        incidents = [
            i
            for i in self.reported()
            if start <= i.created_at < end
            and self._matches(i, {"urgency": filters.get("urgency"), "team_ids": filters.get("team_ids")})
        ]
        on_call = seconds_on_call(self.state, start, min(end, max(start, self.now())))
        wanted = set(filters.get("responder_ids") or ())
        team_ids = set(filters.get("team_ids") or ())
        # Each user's incidents (assigned or notified), in one pass: scanning every incident for
        # every user took minutes at 20,000 users (the benchmark, docs/performance.md).
        involved: dict[str, list[Incident]] = {}
        for incident in incidents:
            for user_id in dict.fromkeys([*assignees(incident), *(n.user for n in incident.notifications)]):
                involved.setdefault(user_id, []).append(incident)
        rows = []
        for user in self.state.users.values():
            if wanted and user.id not in wanted:
                continue
            if user.id not in involved and not (on_call.get(user.id) or {}).get("total"):
                continue  # no data, no row: most of a large account, skipped before any work on it
            if team_ids and not team_ids & set(self.state.user_teams(user.id)):
                continue
            row = self.responder_row(user.id, involved.get(user.id, []), on_call.get(user.id))
            if row is not None:
                rows.append(row)
        order = _choice(body, "order", ("asc", "desc"), "asc")
        rows.sort(key=lambda r: r["responder_name"], reverse=order == "desc")
        return {"data": rows, "filters": filters, "time_zone": tz_name}

    def responder_row(self, user_id: str, incidents: list[Incident], on_call: dict | None) -> dict | None:
        mine = [i for i in incidents if user_id in assignees(i) or any(n.user == user_id for n in i.notifications)]
        if not mine and not (on_call and on_call["total"]):
            return None  # "only returns data for responders that ... have data"
        user = self.state.users[user_id]
        team_ids = self.state.user_teams(user_id)
        team = self.state.teams[team_ids[0]] if team_ids else None
        notes = [n for i in mine for n in i.notifications if n.user == user_id]
        counts = interruption_counts(self.state, notes)
        acked = [i for i in mine if i.acknowledger() == user_id]
        on_call = on_call or {"total": 0, "level_1": 0, "level_2_plus": 0}
        row = {
            "responder_id": user.id,
            "responder_name": user.name,
            "team_id": team.id if team else None,
            "team_name": team.name if team else None,
            "total_incident_count": sum(user_id in assignees(i) for i in mine),
            "total_incidents_acknowledged": len(acked),
            "total_notifications": len(notes),
            "total_interruptions": counts["total"],
            "total_business_hour_interruptions": counts["business"],
            "total_off_hour_interruptions": counts["off"],
            "total_sleep_hour_interruptions": counts["sleep"],
            "total_seconds_on_call": on_call["total"],
            "total_seconds_on_call_level_1": on_call["level_1"],
            "total_seconds_on_call_level_2_plus": on_call["level_2_plus"],
        }
        if acked:
            waits = [_seconds(i.created_at, i.acknowledged_at) for i in acked]
            row["mean_time_to_acknowledge_seconds"] = round(sum(waits) / len(waits))
        return row


def priority_id(name: str | None) -> str | None:
    """The priority's id, as the incidents list renders it (the state names priorities only)."""
    return None if name is None else Renderer.priority_id(name)


def priority_order(name: str | None) -> int | None:
    digits = "".join(ch for ch in name or "" if ch.isdigit())
    return int(digits) if digits else None


def _seconds(start: datetime | None, end: datetime | None) -> int | None:
    return None if start is None or end is None else int((end - start).total_seconds())


def _cursor(incident: Incident) -> str:
    return base64.urlsafe_b64encode(f"incident:{incident.id}".encode()).decode()


def _decode(cursor: Any) -> str:
    try:
        text = base64.urlsafe_b64decode(str(cursor).encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise invalid("starting_after: not a cursor") from None
    if not text.startswith("incident:"):
        raise invalid("starting_after: not a cursor")
    return text.removeprefix("incident:")


def _known(body: Mapping[str, Any], allowed: tuple[str, ...], prefix: str) -> None:
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise invalid(f"{prefix}{unknown[0]}: unknown or unsupported parameter (allowed: {', '.join(allowed)})")


def _filters(body: Mapping[str, Any], allowed: tuple[str, ...]) -> dict[str, Any]:
    filters = body.get("filters") or {}
    if not isinstance(filters, dict):
        raise invalid("filters must be an object")
    _known(filters, allowed, "filters.")
    for name, value in filters.items():
        if name.endswith("_ids") or name == "priority_names":
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise invalid(f"filters.{name} must be an array of strings")
        elif name == "urgency" and value not in ("high", "low"):
            raise invalid(f"filters.urgency must be high or low, got {value!r}")
    return dict(filters)


def _zone(body: Mapping[str, Any]):
    name = body.get("time_zone") or "Etc/UTC"
    try:
        return name, get_zone(str(name))
    except ValueError as exc:
        raise invalid(f"time_zone: {exc}") from None


def _choice(body: Mapping[str, Any], name: str, options: tuple[str, ...], default: str) -> str:
    value = body.get(name) or default
    if value not in options:
        raise invalid(f"{name} must be one of {', '.join(options)}, got {value!r}")
    return value


def _moment(filters: Mapping[str, Any], name: str, tz) -> datetime | None:
    value = filters.get(name)
    if value is None:
        return None
    try:
        return parse_time(value, default_tz=tz)
    except ValueError as exc:
        raise invalid(f"filters.{name}: {exc}") from None
