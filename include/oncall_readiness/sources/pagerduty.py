"""PagerDuty REST API v2: users and how they are paged, schedules, services and escalation policies.

Collection costs one paginated walk per collection, never one call per team or person: users
with their teams, contact methods and notification rules from ``GET /users?include[]=teams&
include[]=contact_methods&include[]=notification_rules``, schedules with their layers from
``GET /schedules``, services, escalation policies, and the final schedules (overrides
included) from one ``GET /oncalls`` window query over the schedules linked to teams and the
schedules the escalation policies of the registry's services page. The window runs from the
checks' look-back before the audit instant to their look-ahead after it (``window_days``,
``coverage_days``), so one query serves both the rotation's past and the coverage ahead.
Only a linked schedule that no escalation policy targets is read on its own
(``GET /schedules/{id}``), because the listing does not render final schedules. Pages are as
large as PagerDuty allows (100). The facts tables: ``pagerduty_facts``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pandas as pd

from oncall_readiness.sources.http import ApiClient, SourceError, raise_for_error, retrying_session
from oncall_readiness.sources.pagerduty_facts import FACT_COLUMNS, frame, normalise
from oncall_readiness.sources.pagerduty_incidents import BeyondOffsetCap, collect_incidents

__all__ = ["FACT_COLUMNS", "AuditWindow", "PagerDutyClient", "collect", "collect_for_audit", "normalise"]

if TYPE_CHECKING:
    from oncall_readiness.hooks.base import ReadinessHook

log = logging.getLogger(__name__)

SOURCE = "pagerduty"
API_URL = "https://api.pagerduty.com"
ACCEPT = "application/vnd.pagerduty+json;version=2"
PAGE_LIMIT = 100
# PagerDuty refuses offset + limit beyond this with classic pagination.
MAX_OFFSET_WINDOW = 10_000
# Keeps the /oncalls query string well under common URL length limits.
ONCALLS_SCHEDULES_PER_QUERY = 50
USER_INCLUDES = ["teams", "contact_methods", "notification_rules"]
SCHEDULE_TARGETS = ("schedule_reference", "schedule")
QUERY_POSTS = frozenset({"POST"})


@dataclass(frozen=True)
class AuditWindow:
    """The period read: from the checks' look-back before the audit instant to their look-ahead after it (UTC)."""

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
        # The analytics API reads through POSTs: safe to retry, unlike a POST that changes something.
        self.queries = retrying_session(max_retries=max_retries, backoff_factor=backoff_factor, methods=QUERY_POSTS)
        self.queries.headers.update(self.session.headers)
        # path -> [objects PagerDuty says there are, objects received]: a truncated read shows here
        self.collections: dict[str, list[int]] = {}

    def query(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """One ``POST`` of a query API (analytics): it reads, so it is retried like a GET."""
        response = self.queries.post(f"{self.base_url}{path}", json=dict(body), timeout=30)
        retry_state = getattr(response.raw, "retries", None)
        self.retries += len(retry_state.history) if retry_state else 0
        self.requests_made += 1
        raise_for_error(response, SOURCE)
        return response.json()

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        response = self._send(path, params)
        self.requests_made += 1
        raise_for_error(response, SOURCE)
        return response.json()

    def iter_all(self, path: str, key: str, params: Mapping[str, Any] | None = None) -> Iterator[dict]:
        """Every object of a classic-paginated collection, following ``more`` page by page.

        Raises ``BeyondOffsetCap`` before yielding anything when PagerDuty's own ``total`` says
        the collection cannot be read whole: the caller narrows the query.
        """
        offset = 0
        counts = self.collections.setdefault(path, [0, 0])
        while True:
            page = self.get(path, {**(params or {}), "limit": PAGE_LIMIT, "offset": offset, "total": "true"})
            items = page.get(key)
            if items is None:
                raise SourceError(f"{SOURCE}: GET {path} answered without a {key!r} list")
            if offset == 0:
                total = page.get("total") or 0
                if total > MAX_OFFSET_WINDOW:
                    raise BeyondOffsetCap(
                        f"{SOURCE}: GET {path} has {total} objects, beyond the {MAX_OFFSET_WINDOW} that classic "
                        "pagination can reach; narrow the query"
                    )
                counts[0] += total
            counts[1] += len(items)
            yield from items
            if not page.get("more"):
                return
            offset += len(items)
            if not items or offset + PAGE_LIMIT > MAX_OFFSET_WINDOW:
                raise BeyondOffsetCap(
                    f"{SOURCE}: GET {path} has more than {offset} objects, beyond the "
                    f"{MAX_OFFSET_WINDOW} that classic pagination can reach; narrow the query"
                )


def collect(
    client: PagerDutyClient,
    window: AuditWindow,
    schedule_ids: Iterable[str] = (),
    service_ids: Iterable[str] = (),
    *,
    incidents_as_of: pd.Timestamp | None = None,
) -> dict[str, pd.DataFrame]:
    """Read the account and return its facts tables.

    ``schedule_ids`` are the schedules the registry links to teams and ``service_ids`` the
    PagerDuty services of its components: the final schedules (overrides included) of the
    former and of every schedule the latter's escalation policies page come from one
    ``/oncalls`` window query; only a linked schedule that no escalation policy targets (so
    ``/oncalls`` cannot show it) costs a call of its own. With ``incidents_as_of`` (the audit
    instant), the incidents and the responders' load up to it too (``pagerduty_incidents``).
    """
    window_params = {"since": window.since.isoformat(), "until": window.until.isoformat(), "time_zone": "UTC"}
    users = list(client.iter_all("/users", "users", {"include[]": USER_INCLUDES}))
    schedules = list(client.iter_all("/schedules", "schedules", {"include[]": ["schedule_layers"], **window_params}))
    services = list(client.iter_all("/services", "services"))
    policies = list(client.iter_all("/escalation_policies", "escalation_policies"))
    wanted = set(schedule_ids) | _paged_schedules(policies, services, set(service_ids))
    known = sorted(wanted & {schedule["id"] for schedule in schedules})
    shifts = _final_schedules(client, known, policies, window_params)
    facts = normalise(users=users, schedules=schedules, services=services, policies=policies, shifts=shifts)
    if incidents_as_of is not None:
        look_back = (incidents_as_of - pd.Timestamp(window.since)).days
        facts |= collect_incidents(client, incidents_as_of, window_days=look_back)
    facts["pagerduty_collections"] = _collections(client)
    return facts


def _collections(client: PagerDutyClient) -> pd.DataFrame:
    return frame(
        "pagerduty_collections",
        (
            {"collection": path, "reported_total": total, "collected": got}
            for path, (total, got) in client.collections.items()
        ),
    )


def _paged_schedules(policies: list[dict], services: list[dict], service_ids: set[str]) -> set[str]:
    """The schedules that the escalation policies of ``service_ids`` page, at any level."""
    policy_ids = {
        (service.get("escalation_policy") or {}).get("id") for service in services if service["id"] in service_ids
    }
    return {
        target["id"]
        for policy in policies
        if policy["id"] in policy_ids
        for rule in policy.get("escalation_rules") or []
        for target in rule.get("targets") or []
        if target.get("type") in SCHEDULE_TARGETS
    }


def _final_schedules(
    client: PagerDutyClient, schedule_ids: list[str], policies: list[dict], window_params: dict
) -> list[dict]:
    """(schedule_id, user_id, start, end) of every final-schedule shift of the schedules in the window."""
    targeted = {
        target["id"]
        for policy in policies
        for rule in policy.get("escalation_rules") or []
        for target in rule.get("targets") or []
        if target.get("type") in SCHEDULE_TARGETS
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


def collect_for_audit(
    hook: ReadinessHook,
    instant: pd.Timestamp,
    registry: Mapping[str, pd.DataFrame],
    *,
    window_days: int,
    horizon_days: int = 0,
) -> dict[str, pd.DataFrame]:
    """The audit's collection: ``window_days`` back and ``horizon_days`` ahead of the audit instant."""
    window = AuditWindow(
        since=(instant - pd.Timedelta(days=window_days)).to_pydatetime(),
        until=(instant + pd.Timedelta(days=horizon_days)).to_pydatetime(),
    )
    client = hook.get_conn()
    facts = collect(
        client,
        window,
        schedule_ids=registry["registry_team_schedules"]["schedule_id"],
        service_ids=registry["registry_services"]["pagerduty_service_id"].dropna(),
        incidents_as_of=instant,
    )
    log.info("PagerDuty: %d requests, %d retried after 429 or 5xx", client.requests_made, client.retries)
    return facts
