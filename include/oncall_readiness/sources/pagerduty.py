"""PagerDuty REST API v2: on-call schedules, users, services and escalation policies.

Collection costs one paginated walk per collection, never one call per team: users from
``GET /users?include[]=teams``, schedules with their layers from ``GET /schedules``, services,
escalation policies, and the final schedules (overrides included) of the schedules linked
to teams from one ``GET /oncalls`` window query. Only a linked schedule that no escalation
policy targets is read on its own (``GET /schedules/{id}``), because the listing does not
render final schedules. Pages are as large as PagerDuty allows (100).

Facts tables (schema version 1; every timestamp is UTC):

- ``pagerduty_collections``: collection (the API path), reported_total (PagerDuty's own
  ``total``), collected (objects received): the evidence that no page went missing
- ``pagerduty_users``: user_id, name, email (lower-cased: the join key), time_zone, role
- ``pagerduty_user_teams``: user_id, team_id, team_name
- ``pagerduty_schedules``: schedule_id, name, time_zone
- ``pagerduty_rotation_members``: schedule_id, layer_id, layer_name, layer_position,
  member_position, user_id, turn_length_seconds, layer_start, layer_end
- ``pagerduty_oncall_shifts``: schedule_id, user_id, start, end (the final schedule's
  shifts, overrides included, that overlap the window; a shift keeps its real bounds)
- ``pagerduty_services``: service_id, name, status, escalation_policy_id, created_at
- ``pagerduty_escalation_targets``: escalation_policy_id, escalation_policy_name, num_loops,
  level, escalation_delay_in_minutes, target_type, target_id
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pandas as pd

from oncall_readiness.sources.http import ApiClient, SourceError, raise_for_error

if TYPE_CHECKING:
    from oncall_readiness.hooks.base import ReadinessHook

log = logging.getLogger(__name__)

SOURCE = "pagerduty"
API_URL = "https://api.pagerduty.com"
ACCEPT = "application/vnd.pagerduty+json;version=2"
PAGE_LIMIT = 100
# PagerDuty refuses offset + limit beyond this with classic pagination.
MAX_OFFSET_WINDOW = 10_000
ZONED_ISO_8601 = r"(?:Z|[+-]\d{2}:?\d{2})$"
# Keeps the /oncalls query string well under common URL length limits.
ONCALLS_SCHEDULES_PER_QUERY = 50

FACT_COLUMNS: dict[str, dict[str, str]] = {
    "pagerduty_collections": {"collection": "string", "reported_total": "integer", "collected": "integer"},
    "pagerduty_users": {
        "user_id": "string",
        "name": "string",
        "email": "string",
        "time_zone": "string",
        "role": "string",
    },
    "pagerduty_user_teams": {"user_id": "string", "team_id": "string", "team_name": "string"},
    "pagerduty_schedules": {"schedule_id": "string", "name": "string", "time_zone": "string"},
    "pagerduty_rotation_members": {
        "schedule_id": "string",
        "layer_id": "string",
        "layer_name": "string",
        "layer_position": "integer",
        "member_position": "integer",
        "user_id": "string",
        "turn_length_seconds": "integer",
        "layer_start": "timestamp",
        "layer_end": "timestamp",
    },
    "pagerduty_oncall_shifts": {
        "schedule_id": "string",
        "user_id": "string",
        "start": "timestamp",
        "end": "timestamp",
    },
    "pagerduty_services": {
        "service_id": "string",
        "name": "string",
        "status": "string",
        "escalation_policy_id": "string",
        "created_at": "timestamp",
    },
    "pagerduty_escalation_targets": {
        "escalation_policy_id": "string",
        "escalation_policy_name": "string",
        "num_loops": "integer",
        "level": "integer",
        "escalation_delay_in_minutes": "integer",
        "target_type": "string",
        "target_id": "string",
    },
}


@dataclass(frozen=True)
class AuditWindow:
    """The period a check looks back over, ending at the audit instant (both UTC)."""

    since: datetime
    until: datetime


class PagerDutyClient(ApiClient):
    """A read-only PagerDuty REST API v2 client: token auth, classic pagination, retries."""

    def __init__(
        self,
        token: str,
        *,
        base_url: str = API_URL,
        max_retries: int = 6,
        backoff_factor: float = 0.5,
    ) -> None:
        if not token:
            raise SourceError(f"{SOURCE}: no API token given")
        super().__init__(base_url, max_retries=max_retries, backoff_factor=backoff_factor)
        self.session.headers.update({"Authorization": f"Token token={token}", "Accept": ACCEPT})
        # path -> [objects PagerDuty says there are, objects received]: a truncated read shows here
        self.collections: dict[str, list[int]] = {}

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        response = self._send(path, params)
        self.requests_made += 1
        raise_for_error(response, SOURCE)
        return response.json()

    def iter_all(self, path: str, key: str, params: Mapping[str, Any] | None = None) -> Iterator[dict]:
        """Every object of a classic-paginated collection, following ``more`` page by page."""
        offset = 0
        counts = self.collections.setdefault(path, [0, 0])
        while True:
            page = self.get(path, {**(params or {}), "limit": PAGE_LIMIT, "offset": offset, "total": "true"})
            items = page.get(key)
            if items is None:
                raise SourceError(f"{SOURCE}: GET {path} answered without a {key!r} list")
            if offset == 0:
                counts[0] += page.get("total") or 0
            counts[1] += len(items)
            yield from items
            if not page.get("more"):
                return
            offset += len(items)
            if not items or offset + PAGE_LIMIT > MAX_OFFSET_WINDOW:
                raise SourceError(
                    f"{SOURCE}: GET {path} has more than {offset} objects, beyond the "
                    f"{MAX_OFFSET_WINDOW} that classic pagination can reach; narrow the query"
                )


def collect(client: PagerDutyClient, window: AuditWindow, schedule_ids: Iterable[str] = ()) -> dict[str, pd.DataFrame]:
    """Read the account and return its facts tables.

    ``schedule_ids`` are the schedules the registry links to teams: their final schedules
    (overrides included) come from one ``/oncalls`` window query; only a linked schedule
    that no escalation policy targets (so ``/oncalls`` cannot show it) costs a call of its own.
    """
    window_params = {"since": window.since.isoformat(), "until": window.until.isoformat(), "time_zone": "UTC"}
    users = list(client.iter_all("/users", "users", {"include[]": ["teams"]}))
    schedules = list(client.iter_all("/schedules", "schedules", {"include[]": ["schedule_layers"], **window_params}))
    services = list(client.iter_all("/services", "services"))
    policies = list(client.iter_all("/escalation_policies", "escalation_policies"))
    linked = sorted(set(schedule_ids) & {schedule["id"] for schedule in schedules})
    shifts = _final_schedules(client, linked, policies, window_params)
    facts = normalise(users=users, schedules=schedules, services=services, policies=policies, shifts=shifts)
    facts["pagerduty_collections"] = _frame(
        "pagerduty_collections",
        (
            {"collection": path, "reported_total": total, "collected": got}
            for path, (total, got) in client.collections.items()
        ),
    )
    return facts


def _final_schedules(
    client: PagerDutyClient, schedule_ids: list[str], policies: list[dict], window_params: dict
) -> list[dict]:
    """(schedule_id, user_id, start, end) of every final-schedule shift of the schedules in the window."""
    targeted = {
        target["id"]
        for policy in policies
        for rule in policy.get("escalation_rules") or []
        for target in rule.get("targets") or []
        if target.get("type") in ("schedule_reference", "schedule")
    }
    via_oncalls = [schedule_id for schedule_id in schedule_ids if schedule_id in targeted]
    shifts = []
    for chunk in _chunks(via_oncalls, ONCALLS_SCHEDULES_PER_QUERY):
        params = {"schedule_ids[]": chunk, **window_params}
        for entry in client.iter_all("/oncalls", "oncalls", params):
            if entry.get("schedule") and entry.get("start"):
                shifts.append(_shift(entry["schedule"]["id"], entry))
    # The listing does not render final schedules (PagerDuty/api-schema#430): ask one by one.
    for schedule_id in (s for s in schedule_ids if s not in targeted):
        final = client.get(f"/schedules/{schedule_id}", window_params)["schedule"].get("final_schedule") or {}
        shifts += [_shift(schedule_id, entry) for entry in final.get("rendered_schedule_entries") or []]
    # The same shift shows once per escalation policy and level that targets the schedule.
    return list({(s["schedule_id"], s["user_id"], s["start"], s["end"]): s for s in shifts}.values())


def _shift(schedule_id: str, entry: dict) -> dict:
    return {
        "schedule_id": schedule_id,
        "user_id": (entry.get("user") or {}).get("id"),
        "start": entry.get("start"),
        "end": entry.get("end"),
    }


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def normalise(
    *, users: list[dict], schedules: list[dict], services: list[dict], policies: list[dict], shifts: list[dict]
) -> dict[str, pd.DataFrame]:
    """Turn raw API objects into the documented facts tables."""
    facts = {
        "pagerduty_users": _frame(
            "pagerduty_users",
            (
                {
                    "user_id": u["id"],
                    "name": u.get("name"),
                    "email": (u.get("email") or "").strip().lower() or None,
                    "time_zone": u.get("time_zone"),
                    "role": u.get("role"),
                }
                for u in users
            ),
        ),
        "pagerduty_user_teams": _frame(
            "pagerduty_user_teams",
            (
                {"user_id": u["id"], "team_id": t["id"], "team_name": t.get("summary") or t.get("name")}
                for u in users
                for t in u.get("teams") or []
            ),
        ),
        "pagerduty_schedules": _frame(
            "pagerduty_schedules",
            ({"schedule_id": s["id"], "name": s.get("name"), "time_zone": s.get("time_zone")} for s in schedules),
        ),
        "pagerduty_rotation_members": _frame("pagerduty_rotation_members", _rotation_members(schedules)),
        "pagerduty_oncall_shifts": _frame("pagerduty_oncall_shifts", shifts),
        "pagerduty_services": _frame(
            "pagerduty_services",
            (
                {
                    "service_id": s["id"],
                    "name": s.get("name"),
                    "status": s.get("status"),
                    "escalation_policy_id": (s.get("escalation_policy") or {}).get("id"),
                    "created_at": s.get("created_at"),
                }
                for s in services
            ),
        ),
        "pagerduty_escalation_targets": _frame("pagerduty_escalation_targets", _escalation_targets(policies)),
    }
    return facts


def _rotation_members(schedules: list[dict]) -> Iterator[dict]:
    for schedule in schedules:
        for layer_position, layer in enumerate(schedule.get("schedule_layers") or [], start=1):
            for member_position, member in enumerate(layer.get("users") or [], start=1):
                yield {
                    "schedule_id": schedule["id"],
                    "layer_id": layer.get("id"),
                    "layer_name": layer.get("name"),
                    "layer_position": layer_position,
                    "member_position": member_position,
                    "user_id": member["user"]["id"],
                    "turn_length_seconds": layer.get("rotation_turn_length_seconds"),
                    "layer_start": layer.get("start"),
                    "layer_end": layer.get("end"),
                }


def _escalation_targets(policies: list[dict]) -> Iterator[dict]:
    for policy in policies:
        for level, rule in enumerate(policy.get("escalation_rules") or [], start=1):
            for target in rule.get("targets") or []:
                yield {
                    "escalation_policy_id": policy["id"],
                    "escalation_policy_name": policy.get("name"),
                    "num_loops": policy.get("num_loops"),
                    "level": level,
                    "escalation_delay_in_minutes": rule.get("escalation_delay_in_minutes"),
                    "target_type": target.get("type"),
                    "target_id": target.get("id"),
                }


def _frame(table: str, rows) -> pd.DataFrame:
    """A facts table with exactly its documented columns and types, even when empty."""
    columns = FACT_COLUMNS[table]
    frame = pd.DataFrame(list(rows), columns=list(columns))
    for column, kind in columns.items():
        if kind == "timestamp":
            frame[column] = _utc_timestamps(frame[column])
        elif kind == "integer":
            frame[column] = frame[column].astype("Int64")
        else:
            frame[column] = frame[column].astype("string")
    return frame


def _utc_timestamps(values: pd.Series) -> pd.Series:
    """ISO 8601 strings with a zone, as UTC; a time without a zone is ambiguous, so NaT."""
    text = values.astype("string")
    zoned = text.str.contains(ZONED_ISO_8601, regex=True).fillna(False).astype(bool)
    return pd.to_datetime(text.where(zoned), utc=True, format="ISO8601")


def collect_for_audit(
    hook: ReadinessHook, instant: pd.Timestamp, registry: Mapping[str, pd.DataFrame], *, window_days: int
) -> dict[str, pd.DataFrame]:
    """The audit's collection: the checks' window ending at the audit instant, the registry's schedules."""
    window = AuditWindow(
        since=(instant - pd.Timedelta(days=window_days)).to_pydatetime(), until=instant.to_pydatetime()
    )
    client = hook.get_conn()
    facts = collect(client, window, schedule_ids=registry["registry_team_schedules"]["schedule_id"])
    log.info("PagerDuty: %d requests, %d retried after 429 or 5xx", client.requests_made, client.retries)
    return facts
