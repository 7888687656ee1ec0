"""Reading JSM Operations for the audit: the audited teams' schedules, escalations, alerts, in the fewest calls.

What one audit reads (``n`` schedules of the audited teams, ``t`` teams, ``a`` alerts of theirs
in the look-back, ``p`` people):

- ``GET /v1/teams``: the operations teams the account sees (1 call);
- ``GET /v1/schedules?expand=rotation&size=50``: every schedule with its rotations and their
  participants (one call per 50 schedules); the audited teams' are those whose ``teamId`` is
  one of theirs;
- ``GET /v1/schedules/{id}/timeline?date=<look-back start>&interval=<days>&intervalUnit=days``:
  each schedule's final timeline (overrides and forwarding applied) from the look-back to the
  look-ahead, in one call per schedule (``n``);
- ``GET /v1/teams/{id}/escalations`` and ``/routing-rules``: per team, its escalations (rules,
  delays, recipients) and which one its routing rules notify (``2t``);
- ``GET /v1/notification-rules``: the rules of the account the audit calls as (1 call): the API
  shows a person's notification rules only to that person, so everyone else's are unknown;
- ``GET /v1/alerts?sort=createdAt&order=desc&size=100``: alerts newest first, read until they
  are older than the look-back (one call per 100 alerts of the whole site in that time, at most
  20,000: beyond them the alerts are unreadable, never "none"), and for each alert of an audited
  team ``GET /v1/alerts/{id}/logs?size=100`` (``a`` calls, more for a long log);
- ``GET <site>/rest/api/3/user/bulk``: the people's names, emails and time zones (one call per
  200 people).

So ``2 + ceil(S/50) + n + 2t + ceil(A/100) + a + ceil(p/200)`` calls, ``S`` and ``A`` the site's
schedules and alerts in the look-back. A 404 on a team's escalations says the team does not
exist (its services have no escalation); any other error there fails the source (its checks
unknown). Alerts refused (401, 402, 403) or past the 20,000 JSM lists are recorded as unreadable
(oncall-load unknown for the teams on JSM), never as none.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from oncall_readiness.sources.jsm_ops.client import (
    ALERT_WINDOW,
    PAGE_SIZE,
    SCHEDULE_PAGE,
    JsmOpsClient,
    RefusedRequest,
)
from oncall_readiness.sources.window import AuditWindow

# The statuses that say the account may not read something (not that it is absent).
REFUSALS = (401, 402, 403)


@dataclass
class JsmRead:
    """What one collection read, as the API answered it (``normalise`` makes the facts of it)."""

    teams: dict[str, str] = field(default_factory=dict)  # audited JSM team id -> its name ("" when unseen)
    missing_teams: set[str] = field(default_factory=set)  # ids JSM says do not exist (404)
    schedules: list[dict[str, Any]] = field(default_factory=list)  # the audited teams' schedules, rotations expanded
    timelines: dict[str, dict[str, Any]] = field(default_factory=dict)  # schedule id -> its timeline answer
    escalations: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # team id -> escalations
    routing_rules: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # team id -> routing rules
    caller_rules: list[dict[str, Any]] = field(default_factory=list)  # the calling account's notification rules
    caller_email: str = ""
    site_url: str = ""  # the site's address, without a trailing slash: where its web pages are
    alerts: list[dict[str, Any]] = field(default_factory=list)  # the audited teams' alerts of the look-back
    alert_logs: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # alert id -> its logs, oldest first
    users: list[dict[str, Any]] = field(default_factory=list)  # the Jira platform's accounts of the people seen
    unreadable: list[dict[str, Any]] = field(default_factory=list)  # {collection, status, reason}
    requests: int = 0


def audited_team_ids(registry: Mapping[str, pd.DataFrame]) -> dict[str, str]:
    """Registry team -> JSM team id, for the Groups annotated ``atlassian.com/jsm-ops-team``."""
    teams = registry.get("registry_teams")
    if teams is None or "jsm_ops_team" not in teams.columns:
        return {}
    named = teams.dropna(subset=["jsm_ops_team"])
    if "oncall_platform" in named:
        named = named[named["oncall_platform"].fillna("") == "jsm_ops"]
    return {
        str(team): str(jsm).strip()
        for team, jsm in zip(named["team"], named["jsm_ops_team"], strict=True)
        if str(jsm).strip()
    }


def read(client: JsmOpsClient, team_ids: Iterable[str], window: AuditWindow) -> JsmRead:
    """Everything the audit needs of ``team_ids`` (JSM team ids), as of ``window``."""
    wanted = sorted(set(team_ids))
    result = JsmRead()
    if not wanted:
        return result
    seen = {
        str(t.get("teamId")): str(t.get("teamName") or "") for t in client.get("/v1/teams").get("platformTeams") or []
    }
    result.teams = {team: seen.get(team, "") for team in wanted}
    result.caller_email = client.email
    result.site_url = client.base_url.rstrip("/")

    schedules = client.values("/v1/schedules", {"expand": "rotation", "size": SCHEDULE_PAGE, "offset": 0})
    result.schedules = [s for s in schedules if str(s.get("teamId") or "") in result.teams]
    interval_days = _interval_days(window)
    for schedule in result.schedules:
        result.timelines[str(schedule["id"])] = client.get(
            f"/v1/schedules/{schedule['id']}/timeline",
            {"date": _iso(window.since), "interval": interval_days, "intervalUnit": "days"},
        )

    for team in wanted:
        for collection, store in (("escalations", result.escalations), ("routing-rules", result.routing_rules)):
            path = f"/v1/teams/{team}/{collection}"
            try:
                store[team] = client.values(path, {"offset": 0, "size": PAGE_SIZE})
            except RefusedRequest as error:
                if error.status != 404:  # refused or failed: the team's escalation path is not known
                    raise
                result.missing_teams.add(team)  # JSM says the team does not exist

    result.caller_rules = client.values("/v1/notification-rules", {"offset": 0, "size": PAGE_SIZE})
    _read_alerts(client, result, window)
    result.users = client.users(sorted(_people(result)))
    result.requests = client.requests_made
    return result


def _read_alerts(client: JsmOpsClient, result: JsmRead, window: AuditWindow) -> None:
    """The audited teams' alerts created in the look-back (and still open ones older), with their logs,
    as they were at the audit instant: one created later did not exist yet, one closed later was open."""
    since, instant = pd.Timestamp(window.since), pd.Timestamp(window.instant)
    teams = set(result.teams)
    schedules = {str(s["id"]) for s in result.schedules}
    escalations = {str(e.get("id")) for team in result.escalations.values() for e in team}
    offset = 0
    try:
        while True:
            size = min(PAGE_SIZE, ALERT_WINDOW - 1 - offset)
            if size < 1:
                result.unreadable.append(
                    {
                        "collection": "/v1/alerts",
                        "status": None,
                        "reason": f"more than {ALERT_WINDOW} alerts since {_iso(window.since)}: JSM lists no more",
                    }
                )
                break
            page = client.get("/v1/alerts", {"sort": "createdAt", "order": "desc", "offset": offset, "size": size})
            values = page.get("values") or []
            older = False
            for alert in values:
                created = pd.Timestamp(str(alert.get("createdAt")))
                if created < since:
                    older = True
                    continue
                if created > instant:
                    continue  # after the audit instant (a backfill): it did not exist then
                if _responds(alert, teams, schedules, escalations):
                    result.alerts.append(_as_of(alert, instant))
            if older or not values or not (page.get("links") or {}).get("next"):
                break
            offset += len(values)
    except RefusedRequest as error:
        if error.status not in REFUSALS:
            raise
        result.unreadable.append({"collection": "/v1/alerts", "status": error.status, "reason": str(error)})
        result.alerts = []
        return
    for alert in result.alerts:
        logs = client.values(f"/v1/alerts/{alert['id']}/logs", {"size": PAGE_SIZE})
        result.alert_logs[str(alert["id"])] = sorted(logs, key=lambda log: str(log.get("logTime") or ""))


def _as_of(alert: dict[str, Any], instant: pd.Timestamp) -> dict[str, Any]:
    """The alert as it was at ``instant``: closed after it, it was still open then."""
    closed = alert.get("closeTime")
    if closed and pd.Timestamp(str(closed)) > instant:
        return {**alert, "closeTime": None, "status": "open"}
    return alert


def _responds(alert: Mapping[str, Any], teams: set[str], schedules: set[str], escalations: set[str]) -> bool:
    for responder in alert.get("responders") or []:
        kind, ident = responder.get("type"), str(responder.get("id"))
        if (kind == "team" and ident in teams) or (kind == "schedule" and ident in schedules):
            return True
        if kind == "escalation" and ident in escalations:
            return True
    return False


def _people(result: JsmRead) -> set[str]:
    """Every account id the read names: rotation participants, people on call, escalation recipients."""
    people: set[str] = set()
    for schedule in result.schedules:
        for rotation in schedule.get("rotations") or []:
            people |= {
                str(p["id"]) for p in rotation.get("participants") or [] if p.get("type") == "user" and p.get("id")
            }
    for timeline in result.timelines.values():
        for rotation in (timeline.get("finalTimeline") or {}).get("rotations") or []:
            for period in rotation.get("periods") or []:
                for responder in [period.get("responder") or {}, *(period.get("flattenedResponders") or [])]:
                    if responder.get("type") == "user" and responder.get("id"):
                        people.add(str(responder["id"]))
    for escalations in result.escalations.values():
        for escalation in escalations:
            for rule in escalation.get("rules") or []:
                recipient = rule.get("recipient") or {}
                if recipient.get("type") == "user" and recipient.get("id"):
                    people.add(str(recipient["id"]))
    return people


def _interval_days(window: AuditWindow) -> int:
    """Whole days from the start of the look-back's first day to the end of the look-ahead."""
    start = pd.Timestamp(window.since).floor("D")
    return max(1, math.ceil((pd.Timestamp(window.until) - start) / pd.Timedelta(days=1)))


def _iso(moment: Any) -> str:
    return pd.Timestamp(moment).tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ")
