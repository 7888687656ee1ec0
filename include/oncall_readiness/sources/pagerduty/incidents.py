"""PagerDuty's incident data: what each incident cost its responders, and each responder's load per week.

Per incident, from the analytics API (``POST /analytics/raw/incidents``, cursor paging, 1,000
a page): times to acknowledge and resolve, escalations, engaged users and interruptions by
kind. Analytics holds resolved incidents only, and catches up with each one some time after it
is resolved, so the incidents list (``GET /incidents``) is read for what analytics lacks, and
only that (its interruptions unknown):

- every incident open now (``statuses[]=triggered&statuses[]=acknowledged``, however old);
- the window's resolved incidents that analytics does not hold yet: ``statuses[]=resolved``,
  the most recently resolved first, page by page until analytics and the pages together hold as
  many resolved incidents as the list's own ``total`` counts in the window
  (:func:`_resolved_lacking`: why the tail is cut by resolution and counted, not assumed). Should
  that go past what classic pagination can reach (offset + limit <= 10,000), the window's
  resolved incidents are read whole, in date windows that halve until each fits.

Per responder, one ``POST /analytics/metrics/responders/all`` per 7-day week, the four weeks
counted back from the audit instant: interruptions by kind, notifications, incidents and
seconds on call. PagerDuty's definitions: an interruption is a phone, SMS or push
notification (not email), notifications within 60 seconds count once; in the responder's time
zone, sleep hours are 22:00-08:00, business hours 08:00-18:00 Monday to Friday, off hours the
rest. The facts tables: :mod:`.facts`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, overload

import pandas as pd

from oncall_readiness.errors import SourceError
from oncall_readiness.sources.facts import ZONED_ISO_8601
from oncall_readiness.sources.pagerduty.client import MAX_OFFSET_WINDOW, PAGE_LIMIT, SOURCE, BeyondOffsetCap
from oncall_readiness.sources.pagerduty.facts import frame

if TYPE_CHECKING:
    from oncall_readiness.sources.pagerduty.client import PagerDutyClient

# A week and the four before it, so the weekly insights can compare; the load check needs 28 days.
INCIDENT_LOOK_BACK_DAYS = 35
LOAD_WEEKS = 4
ANALYTICS_PAGE_LIMIT = 1000
OPEN_STATUSES = ["triggered", "acknowledged"]
# The most recently resolved first; the number breaks ties, so pages do not shift between requests.
NEWEST_RESOLUTIONS_FIRST = "resolved_at:desc,incident_number:desc"
# A window is not split below this: more incidents than the cap in one minute is not an account.
SMALLEST_WINDOW = pd.Timedelta(minutes=1)


RESPONDER_FIELDS = {
    "total_interruptions": "total_interruptions",
    "business_hour_interruptions": "total_business_hour_interruptions",
    "off_hour_interruptions": "total_off_hour_interruptions",
    "sleep_hour_interruptions": "total_sleep_hour_interruptions",
    "total_notifications": "total_notifications",
    "incident_count": "total_incident_count",
    "seconds_on_call": "total_seconds_on_call",
}


def collect_incidents(client: PagerDutyClient, instant: pd.Timestamp, *, window_days: int) -> dict[str, pd.DataFrame]:
    """``pagerduty_incidents`` and ``pagerduty_responder_weeks`` as of ``instant``."""
    since = instant - pd.Timedelta(days=max(window_days, INCIDENT_LOOK_BACK_DAYS))
    # The open ones first, then analytics, then the resolved ones analytics lacks: an incident is
    # either open at the first query (and kept from it) or already resolved, which is final, so
    # the list still counts it when it is asked last, whatever it was when analytics answered.
    listed = {incident["id"]: incident for incident in _open_incidents(client)}
    analysed = {row["id"]: row for row in _analytics_incidents(client, since, instant)}
    listed |= {incident["id"]: incident for incident in _resolved_lacking(client, since, instant, analysed)}
    # The responders' weeks are asked on a thread while the incident rows are built here: the
    # rows fill the waits for PagerDuty's answers (still one request at a time: the incidents
    # are all read by now).
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="pagerduty-responders") as asking:
        weeks = asking.submit(_responder_weeks, client, instant)
        rows = [_from_analytics(row, listed.get(incident_id)) for incident_id, row in analysed.items()]
        only_listed = [incident for incident_id, incident in listed.items() if incident_id not in analysed]
        # In the order a read of the whole window by creation gave (ties kept by number).
        only_listed.sort(key=lambda incident: (incident.get("created_at") or "", incident.get("incident_number") or 0))
        rows += [_from_list(incident) for incident in only_listed]
        incidents = frame("pagerduty_incidents", sorted(rows, key=lambda row: row["created_at"] or ""))
        return {"pagerduty_incidents": incidents, "pagerduty_responder_weeks": weeks.result()}


def _analytics_incidents(client: PagerDutyClient, since: pd.Timestamp, until: pd.Timestamp) -> Iterator[dict[str, Any]]:
    body = {
        "filters": {"created_at_start": since.isoformat(), "created_at_end": until.isoformat()},
        "limit": ANALYTICS_PAGE_LIMIT,
        "order": "asc",
        "order_by": "created_at",
        "time_zone": "Etc/UTC",
    }
    while True:
        page = client.query("/analytics/raw/incidents", body)
        yield from page.get("data") or []
        if not page.get("more") or not page.get("last"):
            return
        body = {**body, "starting_after": page["last"]}


def _open_incidents(client: PagerDutyClient) -> Iterator[dict[str, Any]]:
    """Every incident open now, in the window or before it (a long-running one may predate it)."""
    yield from client.iter_all("/incidents", "incidents", {"statuses[]": OPEN_STATUSES, "date_range": "all"})


def _resolved_lacking(
    client: PagerDutyClient, since: pd.Timestamp, until: pd.Timestamp, analysed: Mapping[str, dict[str, Any]]
) -> Iterator[dict[str, Any]]:
    """The resolved incidents created in [since, until) that analytics lacks (and the pages' others).

    Where the tail ends is counted, not assumed. Analytics catches an incident up after it is
    resolved, so what it lacks is the latest resolutions, whenever the incident was created: one
    opened three weeks ago and resolved an hour ago is missing as surely as one opened an hour
    ago. So the list is read by resolution, newest first, not by creation. And how far back:
    PagerDuty documents the lag only as "generally within 24 hours" (the raw incidents'
    reference; the sandbox holds back what was created in the last 24 hours), which bounds
    nothing: a fixed cut a day back would silently drop an incident whenever the pipeline runs
    late. The list's own ``total`` (the resolved incidents it counts in the window) says where
    to stop instead: once analytics and the pages read hold that many distinct ones, every
    one is held, as both read the same [since, until) of creation and analytics holds resolved
    incidents only. That is about a day of resolutions in pages of 100 after a daily run, and
    the first page alone when analytics has caught up (a backfill). The count stands as this
    read's completeness evidence under ``/incidents`` (the list's total, the incidents held).
    """
    params = {
        "since": since.isoformat(),
        "until": until.isoformat(),
        "time_zone": "UTC",
        "statuses[]": ["resolved"],
        "sort_by": NEWEST_RESOLUTIONS_FIRST,
        "total": "true",
        "limit": PAGE_LIMIT,
    }
    held = {incident_id for incident_id, row in analysed.items() if row.get("resolved_at")}
    offset = 0
    while offset + PAGE_LIMIT <= MAX_OFFSET_WINDOW:
        page = client.get("/incidents", {**params, "offset": offset})
        incidents = page.get("incidents")
        if not isinstance(incidents, list):
            raise SourceError(f"{SOURCE}: GET /incidents answered without an 'incidents' list")
        yield from incidents
        held.update(incident["id"] for incident in incidents)
        total = page.get("total") or 0
        if len(held) >= total or not page.get("more") or not incidents:
            evidence = client.collections.setdefault("/incidents", [0, 0])
            evidence[0] += total
            evidence[1] += len(held)
            return
        offset += len(incidents)
    # Analytics lacks more than a query can page through: the window's resolved incidents whole.
    yield from _windowed(client, since, until, {"time_zone": "UTC", "statuses[]": ["resolved"]})


def _windowed(
    client: PagerDutyClient, since: pd.Timestamp, until: pd.Timestamp, params: dict[str, Any]
) -> Iterator[dict[str, Any]]:
    """``GET /incidents`` over [since, until), halving the window while it holds more than the offset cap."""
    try:
        window = {**params, "since": since.isoformat(), "until": until.isoformat()}
        yield from client.iter_all("/incidents", "incidents", window)
    except BeyondOffsetCap:
        if until - since <= SMALLEST_WINDOW:
            raise
        middle = since + (until - since) / 2
        yield from _windowed(client, since, middle, params)
        yield from _windowed(client, middle, until, params)


def _responder_weeks(client: PagerDutyClient, instant: pd.Timestamp) -> pd.DataFrame:
    """Each responder's load in each of the ``LOAD_WEEKS`` weeks counted back from ``instant``."""
    weeks = [
        row
        for week in range(LOAD_WEEKS)
        for row in _responder_week(client, instant - pd.Timedelta(weeks=week + 1), instant - pd.Timedelta(weeks=week))
    ]
    return frame("pagerduty_responder_weeks", weeks)


def _responder_week(client: PagerDutyClient, start: pd.Timestamp, end: pd.Timestamp) -> list[dict[str, Any]]:
    body = {"filters": {"date_range_start": start.isoformat(), "date_range_end": end.isoformat()}}
    page = client.query("/analytics/metrics/responders/all", {**body, "time_zone": "Etc/UTC"})
    return [
        {
            "responder_id": row.get("responder_id"),
            "week_start": start.isoformat(),
            "week_end": end.isoformat(),
            **{column: row.get(field) for column, field in RESPONDER_FIELDS.items()},
        }
        for row in page.get("data") or []
    ]


def _from_analytics(row: dict[str, Any], listed: dict[str, Any] | None) -> dict[str, Any]:
    acknowledged = _first_acknowledgement(listed) if listed else None
    if acknowledged is None and row.get("seconds_to_first_ack") is not None and row.get("created_at"):
        created = pd.Timestamp(_zoned(row["created_at"]))
        acknowledged = (created + pd.Timedelta(seconds=row["seconds_to_first_ack"])).isoformat()
    return {
        "incident_id": row["id"],
        "incident_number": row.get("incident_number"),
        "title": row.get("description"),
        "service_id": row.get("service_id"),
        "team_id": row.get("team_id"),
        "escalation_policy_id": row.get("escalation_policy_id"),
        "urgency": row.get("urgency"),
        "priority": row.get("priority_name"),
        "status": "resolved" if row.get("resolved_at") else row.get("status"),
        "created_at": _zoned(row.get("created_at")),
        "acknowledged_at": acknowledged,
        "resolved_at": _zoned(row.get("resolved_at")),
        "seconds_to_first_ack": row.get("seconds_to_first_ack"),
        "seconds_to_resolve": row.get("seconds_to_resolve"),
        "escalation_count": row.get("escalation_count"),
        "engaged_user_count": row.get("engaged_user_count"),
        "assigned_user_ids": ",".join(row.get("assigned_user_ids") or []) or None,
        "total_interruptions": row.get("total_interruptions"),
        "business_hour_interruptions": row.get("business_hour_interruptions"),
        "off_hour_interruptions": row.get("off_hour_interruptions"),
        "sleep_hour_interruptions": row.get("sleep_hour_interruptions"),
        "origin": "analytics",
    }


def _from_list(incident: dict[str, Any]) -> dict[str, Any]:
    created, resolved = incident.get("created_at"), incident.get("resolved_at")
    acknowledged = _first_acknowledgement(incident)
    assigned = [(a.get("assignee") or {}).get("id") for a in incident.get("assignments") or []]
    return {
        "incident_id": incident["id"],
        "incident_number": incident.get("incident_number"),
        "title": incident.get("title"),
        "service_id": (incident.get("service") or {}).get("id"),
        "team_id": next((team.get("id") for team in incident.get("teams") or []), None),
        "escalation_policy_id": (incident.get("escalation_policy") or {}).get("id"),
        "urgency": incident.get("urgency"),
        "priority": (incident.get("priority") or {}).get("summary") or (incident.get("priority") or {}).get("name"),
        "status": incident.get("status"),
        "created_at": created,
        "acknowledged_at": acknowledged,
        "resolved_at": resolved,
        "seconds_to_first_ack": _seconds(created, acknowledged),
        "seconds_to_resolve": _seconds(created, resolved),
        "assigned_user_ids": ",".join(dict.fromkeys(user for user in assigned if user)) or None,
        "origin": "incidents",
    }


def _first_acknowledgement(incident: dict[str, Any]) -> str | None:
    times = sorted(ack["at"] for ack in incident.get("acknowledgements") or [] if ack.get("at"))
    return times[0] if times else None


def _seconds(start: str | None, end: str | None) -> int | None:
    if not start or not end:
        return None
    return int((pd.Timestamp(end) - pd.Timestamp(start)).total_seconds())


@overload
def _zoned(value: str) -> str: ...
@overload
def _zoned(value: str | None) -> str | None: ...
def _zoned(value: str | None) -> str | None:
    """Analytics answers in the asked ``time_zone`` (UTC) without an offset: say it is UTC."""
    if not value or re.search(ZONED_ISO_8601, value):
        return value
    return f"{value}Z"
