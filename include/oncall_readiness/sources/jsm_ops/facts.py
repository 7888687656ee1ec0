"""JSM Operations' facts tables: the platform-neutral on-call facts' shapes, made of what the API answered.

Each ``jsm_ops_<x>`` table has exactly the columns of ``oncall_<x>`` (``oncall_facts``) but the
``platform`` one, so the on-call facts are these tables renamed (:func:`oncall_facts_of`).
Schema version 1; every timestamp is UTC. How JSM's objects become them:

- ``jsm_ops_users``: the Jira platform's accounts of everyone the read names (``accountId``,
  ``displayName``, ``emailAddress`` lower-cased, NA when the profile hides it, ``timeZone``);
- ``jsm_ops_notification_rules``: the calling account's own ``create-alert`` rules, one row per
  step (``sendAfter`` minutes; ``voice`` is ``phone``, ``mobile`` is ``push``; ``deliverable``:
  rule and step enabled; urgency ``high``: a JSM alert has no urgency and the rule applies to
  every alert). Nobody else's: the API shows a person's rules only to that person (the platform's
  permanent gap, ``oncall_facts.JSM_OPS.cannot_give``);
- ``jsm_ops_schedules``, ``jsm_ops_team_schedules`` (the schedule's ``teamId``),
  ``jsm_ops_rotation_members`` (a rotation's ``user`` participants in order; a turn is ``length``
  hours, days or weeks), ``jsm_ops_shifts`` (the final timeline's periods of users, overrides and
  forwarding applied, contiguous periods of one person in one rotation joined; a shift crossing
  the start of the timeline's first day or its end is cut there);
- ``jsm_ops_escalation_levels``: a team's escalations, their rules by ``delay`` (JSM counts each
  rule's delay from the alert's creation: a level's ``delay_minutes`` is the next rule's delay
  minus its own, the last level's the repeat's ``waitInterval``); ``num_loops`` the repeat's
  ``count`` (0 without a ``waitInterval``); a recipient ``schedule`` notified by ``default`` (who
  is on call) is ``schedule``, a ``user`` is ``user``, anything else keeps JSM's words (``team``,
  ``schedule:next``): not followed. A routing rule that notifies a schedule directly is a
  one-level policy ``routing-rule:<id>``;
- ``jsm_ops_services``: the alert routes: per audited team its route ``<teamId>`` (the team's
  name) and one per registry service of the team, ``<teamId>:<service>``, all with the escalation
  the team's default routing rule notifies (NA when it notifies none); ``jsm_ops_service_links``:
  each registry service of a team on JSM and its route (the team unknown to JSM: a route JSM has
  not, so the service has no policy);
- ``jsm_ops_incidents``: the alerts of the look-back, numbered by their ``tinyId``, titled by
  their ``message``, at ``<site>/jira/ops/alerts/<id>`` (the JSM UI's page of the alert), of the
  registry team whose JSM team is a responder, routed to ``<teamId>:<entity>`` when the
  alert's ``entity`` names one of the team's services, else ``<teamId>``; urgency ``high`` for
  priorities P1 to P3 (JSM's default P3 pages like PagerDuty's high urgency), ``low`` for P4 and
  P5; resolved at ``closeTime``; assigned: everyone notified;
- ``jsm_ops_notifications``: the alert logs ``Sent [<Method>] notification to [<email>]``, the
  person found by email; ``jsm_ops_responder_weeks``: per person and 7-day week back from the
  audit instant, PagerDuty's interruptions computed from them (``interruptions``), with the
  alerts that notified the person and the seconds they were on call;
- ``jsm_ops_priorities``: JSM's fixed P1 (most severe) to P5;
- ``jsm_ops_unreadable``: facet, reason: what this read could not give (alerts refused or past
  the 20,000 JSM lists, a notification log not understood: ``interruptions``; JSM Operations has
  no incident workflows: ``incident_workflows``);
- ``jsm_ops_collections``: collection, reported_total (JSM's own count when it gives one),
  collected: the evidence that no page went missing.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pandas as pd

from oncall_readiness import oncall_facts
from oncall_readiness.oncall_facts import WAKING_CONTACTS, from_frame
from oncall_readiness.sources.facts import Facts, typed_frame
from oncall_readiness.sources.jsm_ops.collect import JsmRead
from oncall_readiness.sources.window import AuditWindow

PLATFORM = oncall_facts.JSM_OPS.name
PREFIX = f"{PLATFORM}_"
# The on-call tables JSM gives, as its own facts: oncall_<x> -> jsm_ops_<x>, without the platform column.
NEUTRAL = (
    "oncall_users",
    "oncall_notification_rules",
    "oncall_schedules",
    "oncall_team_schedules",
    "oncall_rotation_members",
    "oncall_shifts",
    "oncall_escalation_levels",
    "oncall_services",
    "oncall_service_links",
    "oncall_incidents",
    "oncall_responder_weeks",
    "oncall_notifications",
    "oncall_priorities",
    "oncall_unreadable",
)
FACT_COLUMNS: dict[str, dict[str, str]] = {
    **{
        PREFIX + table.removeprefix("oncall_"): {
            c: k for c, k in oncall_facts.FACT_COLUMNS[table].items() if c != "platform"
        }
        for table in NEUTRAL
    },
    "jsm_ops_collections": {"collection": "string", "reported_total": "integer", "collected": "integer"},
}
CONTACT_TYPES = {"voice": "phone", "sms": "sms", "mobile": "push", "email": "email"}
TURN_SECONDS = {"hourly": 3600, "daily": 86_400, "weekly": 604_800}
PRIORITIES = ("P1", "P2", "P3", "P4", "P5")
HIGH_PRIORITIES = ("P1", "P2", "P3")
NOTIFICATION_LOG = re.compile(r"^Sent \[(?P<method>[^\]]+)\] notification to \[(?P<to>[^\]]+)\]", re.IGNORECASE)
NO_WORKFLOWS = (
    "Jira Service Management Operations has no incident workflows in its API: what brings commanders in is not known"
)
WEEKS = 4
DEDUPE_SECONDS = 60


def table(name: str) -> str:
    return PREFIX + name


def normalise(read: JsmRead, registry: Mapping[str, pd.DataFrame], window: AuditWindow) -> Facts:
    """The ``jsm_ops_*`` facts of one read, for the registry's teams on JSM."""
    teams = _team_of(registry)  # JSM team id -> registry team
    users = {str(u.get("accountId")): u for u in read.users}
    by_email = {str(u["emailAddress"]).strip().lower(): ident for ident, u in users.items() if u.get("emailAddress")}
    rows: dict[str, list[dict[str, Any]]] = defaultdict(list)

    for ident, user in users.items():
        email = user.get("emailAddress")
        rows["users"].append(
            {
                "user_id": ident,
                "name": user.get("displayName"),
                "email": str(email).strip().lower() if email else None,
                "time_zone": user.get("timeZone"),
            }
        )
    caller = by_email.get(read.caller_email.strip().lower())
    if caller:
        rows["notification_rules"] += _caller_rules(read.caller_rules, caller)

    for schedule in read.schedules:
        sid = str(schedule["id"])
        rows["schedules"].append(
            {"schedule_id": sid, "name": schedule.get("name"), "time_zone": schedule.get("timezone")}
        )
        team = teams.get(str(schedule.get("teamId")))
        if team:
            rows["team_schedules"].append({"team": team, "schedule_id": sid})
        for position, rotation in enumerate(schedule.get("rotations") or [], start=1):
            people = [p for p in rotation.get("participants") or [] if p.get("type") == "user" and p.get("id")]
            for member, person in enumerate(people, start=1):
                rows["rotation_members"].append(
                    {
                        "schedule_id": sid,
                        "rotation_id": rotation.get("id"),
                        "rotation_name": rotation.get("name"),
                        "rotation_position": position,
                        "member_position": member,
                        "user_id": person["id"],
                        "turn_length_seconds": TURN_SECONDS.get(str(rotation.get("type")), 0)
                        * int(rotation.get("length") or 1),
                        "rotation_start": rotation.get("startDate"),
                        "rotation_end": rotation.get("endDate"),
                    }
                )
        rows["shifts"] += _shifts(sid, read.timelines.get(sid) or {})

    routes = _routes(read, teams, registry, rows)
    for alert in read.alerts:
        rows["incidents"].append(_incident(alert, teams, read.site_url, routes, read.alert_logs, by_email, rows))
    rows["responder_weeks"] = _responder_weeks(rows["notifications"], rows["shifts"], users, window)
    rows["priorities"] = [
        {"priority_id": name, "name": name, "position": n} for n, name in enumerate(PRIORITIES, start=1)
    ]
    rows["unreadable"] += [{"facet": "incident_workflows", "reason": NO_WORKFLOWS}]
    for gap in read.unreadable:
        rows["unreadable"].append({"facet": "interruptions", "reason": str(gap["reason"])})
    rows["collections"] = [
        {"collection": "/v1/schedules", "reported_total": None, "collected": len(read.schedules)},
        {"collection": "/v1/alerts", "reported_total": None, "collected": len(read.alerts)},
    ]
    return {name: typed_frame(rows[name.removeprefix(PREFIX)], kinds) for name, kinds in FACT_COLUMNS.items()}


def _team_of(registry: Mapping[str, pd.DataFrame]) -> dict[str, str]:
    teams = registry.get("registry_teams")
    if teams is None or "jsm_ops_team" not in teams:
        return {}
    named = teams.dropna(subset=["jsm_ops_team"])
    return {str(jsm).strip(): str(team) for team, jsm in zip(named["team"], named["jsm_ops_team"], strict=True)}


def _caller_rules(rules: Iterable[Mapping[str, Any]], caller: str) -> list[dict[str, Any]]:
    rows = []
    for rule in rules:
        if rule.get("actionType") != "create-alert":
            continue
        for step in rule.get("steps") or []:
            contact = step.get("contact") or {}
            method = str(contact.get("method") or "")
            rows.append(
                {
                    "user_id": caller,
                    "rule_id": f"{rule.get('id')}/{step.get('id')}",
                    "urgency": "high",
                    "start_delay_minutes": step.get("sendAfter", 0),
                    "contact_method_id": step.get("id"),
                    "contact_method_type": CONTACT_TYPES.get(method, method),
                    "deliverable": bool(rule.get("enabled", True)) and bool(step.get("enabled", True)),
                }
            )
    return rows


def _shifts(schedule_id: str, timeline: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The final timeline's periods of people, one person's contiguous periods in a rotation joined."""
    shifts: list[dict[str, Any]] = []
    for rotation in (timeline.get("finalTimeline") or {}).get("rotations") or []:
        joined: list[list[Any]] = []
        for period in sorted(rotation.get("periods") or [], key=lambda p: str(p.get("startDate"))):
            responder = period.get("responder") or {}
            people = [responder] if responder.get("type") == "user" else period.get("flattenedResponders") or []
            for person in people:
                if person.get("type") != "user" or not person.get("id"):
                    continue
                start, end = pd.Timestamp(period["startDate"]), pd.Timestamp(period["endDate"])
                last = next((j for j in reversed(joined) if j[0] == person["id"]), None)
                if last is not None and last[2] == start:
                    last[2] = end
                else:
                    joined.append([person["id"], start, end])
        shifts += [
            {"schedule_id": schedule_id, "user_id": who, "start": a.isoformat(), "end": b.isoformat()}
            for who, a, b in joined
        ]
    return shifts


def _routes(
    read: JsmRead, teams: Mapping[str, str], registry: Mapping[str, pd.DataFrame], rows: dict[str, list[dict[str, Any]]]
) -> dict[str, set[str]]:
    """Every audited team's routes (services, levels, links); JSM team id -> the services it routes."""
    services = registry.get("registry_services", pd.DataFrame(columns=["service", "team"]))
    of_team: dict[str, set[str]] = defaultdict(set)
    for service, team in zip(services["service"], services["team"], strict=True):
        of_team[str(team)].add(str(service))
    routes: dict[str, set[str]] = {}
    for jsm_team, team in teams.items():
        names = of_team.get(team, set())
        routes[jsm_team] = names
        for service in sorted(names):
            rows["service_links"].append({"service": service, "team": team, "service_id": f"{jsm_team}:{service}"})
        if jsm_team in read.missing_teams or jsm_team not in read.escalations:
            continue  # JSM has no such team: its services' routes are not there
        for escalation in read.escalations[jsm_team]:
            rows["escalation_levels"] += _levels(escalation)
        policy = _default_policy(read.routing_rules.get(jsm_team) or [], rows)
        name = read.teams.get(jsm_team) or team
        rows["services"].append({"service_id": jsm_team, "name": name, "escalation_policy_id": policy})
        rows["services"] += [
            {"service_id": f"{jsm_team}:{service}", "name": service, "escalation_policy_id": policy}
            for service in sorted(names)
        ]
    return routes


def _levels(escalation: Mapping[str, Any]) -> list[dict[str, Any]]:
    rules = sorted(escalation.get("rules") or [], key=lambda r: int(r.get("delay") or 0))
    repeat = escalation.get("repeat") or {}
    wait = int(repeat.get("waitInterval") or 0)
    loops = int(repeat.get("count") or 0) if wait > 0 else 0
    rows = []
    for level, rule in enumerate(rules, start=1):
        following = rules[level]["delay"] if level < len(rules) else None
        delay = int(following) - int(rule.get("delay") or 0) if following is not None else (wait or None)
        recipient = rule.get("recipient") or {}
        kind, notify = str(recipient.get("type") or ""), str(rule.get("notifyType") or "default")
        target = kind if kind in ("user",) or (kind == "schedule" and notify == "default") else f"{kind}:{notify}"
        rows.append(
            {
                "escalation_policy_id": escalation.get("id"),
                "escalation_policy_name": escalation.get("name"),
                "num_loops": loops,
                "level": level,
                "delay_minutes": delay,
                "target_type": target,
                "target_id": recipient.get("id"),
            }
        )
    return rows


def _default_policy(rules: Sequence[Mapping[str, Any]], rows: dict[str, list[dict[str, Any]]]) -> str | None:
    """The escalation policy the team's default routing rule notifies (a schedule: a one-level policy)."""
    chosen = next((r for r in rules if r.get("isDefault")), None) or (rules[-1] if rules else None)
    notify = (chosen or {}).get("notify") or {}
    if notify.get("type") == "escalation" and notify.get("id"):
        return str(notify["id"])
    if notify.get("type") == "schedule" and notify.get("id") and chosen is not None:
        policy = f"routing-rule:{chosen.get('id')}"
        rows["escalation_levels"].append(
            {
                "escalation_policy_id": policy,
                "escalation_policy_name": chosen.get("name"),
                "num_loops": 0,
                "level": 1,
                "delay_minutes": None,
                "target_type": "schedule",
                "target_id": notify["id"],
            }
        )
        return policy
    return None


def _incident(
    alert: Mapping[str, Any],
    teams: Mapping[str, str],
    site_url: str,
    routes: Mapping[str, set[str]],
    logs: Mapping[str, list[dict[str, Any]]],
    by_email: Mapping[str, str],
    rows: dict[str, list[dict[str, Any]]],
) -> dict[str, Any]:
    alert_id = str(alert["id"])
    team = next(
        (
            str(r.get("id"))
            for r in alert.get("responders") or []
            if r.get("type") == "team" and str(r.get("id")) in routes
        ),
        None,
    )
    entity = str(alert.get("entity") or "")
    route = (f"{team}:{entity}" if entity in routes.get(team, set()) else team) if team else None
    notified: list[str] = []
    for log in logs.get(alert_id) or []:
        text = str(log.get("log") or "")
        match = NOTIFICATION_LOG.match(text)
        if match is None:
            if "notification" in text.lower() and text.lower().startswith("sent"):
                rows["unreadable"].append(
                    {"facet": "interruptions", "reason": f"alert {alert_id}: a notification log not understood"}
                )
            continue
        user = by_email.get(match["to"].strip().lower())
        method = match["method"].strip().lower()
        if user is None or method not in CONTACT_TYPES:
            rows["unreadable"].append(
                {
                    "facet": "interruptions",
                    "reason": f"alert {alert_id}: a notification to someone or by a means JSM did not name",
                }
            )
            continue
        rows["notifications"].append(
            {
                "user_id": user,
                "incident_id": alert_id,
                "sent_at": log.get("logTime"),
                "contact_method_type": CONTACT_TYPES[method],
            }
        )
        if user not in notified:
            notified.append(user)
    priority = str(alert.get("priority") or "P3")
    return {
        "incident_id": alert_id,
        "incident_number": alert.get("tinyId"),
        "title": alert.get("message"),
        # The API gives no web address: the JSM UI shows an alert at <site>/jira/ops/alerts/<id>.
        "url": f"{site_url}/jira/ops/alerts/{quote(alert_id, safe='')}" if site_url else None,
        "service_id": route,
        "team": teams.get(team) if team else None,
        "urgency": "high" if priority in HIGH_PRIORITIES else "low",
        "priority": priority,
        "created_at": alert.get("createdAt"),
        "resolved_at": alert.get("closeTime"),
        "assigned_user_ids": ",".join(notified),
    }


def _responder_weeks(
    notifications: list[dict[str, Any]],
    shifts: list[dict[str, Any]],
    users: Mapping[str, Mapping[str, Any]],
    window: AuditWindow,
) -> list[dict[str, Any]]:
    """PagerDuty's interruption figures per person and week, from the notifications JSM logged."""
    instant = pd.Timestamp(window.instant)
    weeks = [
        (instant - pd.Timedelta(days=7 * (n + 1)), instant - pd.Timedelta(days=7 * n)) for n in reversed(range(WEEKS))
    ]
    by_user: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for note in notifications:
        by_user[note["user_id"]].append(note)
    on_call: dict[str, list[tuple[pd.Timestamp, pd.Timestamp]]] = defaultdict(list)
    for shift in shifts:
        on_call[shift["user_id"]].append((pd.Timestamp(shift["start"]), pd.Timestamp(shift["end"])))
    rows = []
    for user in sorted(set(by_user) | set(on_call)):
        zone = _zone(users.get(user, {}).get("timeZone"))
        for start, end in weeks:
            notes = sorted(
                (n for n in by_user.get(user, []) if start <= pd.Timestamp(n["sent_at"]) < end),
                key=lambda n: str(n["sent_at"]),
            )
            seconds = _seconds_on_call(on_call.get(user, []), start, end)
            if not notes and not seconds:
                continue
            counts = {"business": 0, "off": 0, "sleep": 0}
            last: pd.Timestamp | None = None
            for note in notes:
                if note["contact_method_type"] not in WAKING_CONTACTS:
                    continue
                moment = pd.Timestamp(note["sent_at"])
                if last is not None and (moment - last).total_seconds() < DEDUPE_SECONDS:
                    continue  # two within 60 s interrupt once
                last = moment
                counts[_kind(moment.tz_convert(zone))] += 1
            rows.append(
                {
                    "user_id": user,
                    "week_start": start.isoformat(),
                    "week_end": end.isoformat(),
                    "total_interruptions": sum(counts.values()),
                    "business_hour_interruptions": counts["business"],
                    "off_hour_interruptions": counts["off"],
                    "sleep_hour_interruptions": counts["sleep"],
                    "total_notifications": len(notes),
                    "incident_count": len({n["incident_id"] for n in notes}),
                    "seconds_on_call": seconds,
                }
            )
    return rows


def _zone(name: Any) -> ZoneInfo:
    try:
        return ZoneInfo(str(name)) if name else ZoneInfo("UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _kind(local: pd.Timestamp) -> str:
    """PagerDuty's classes: sleep 22:00-08:00, off weekday evenings 18:00-22:00 and weekend days, business the rest."""
    if local.hour >= 22 or local.hour < 8:
        return "sleep"
    if local.weekday() >= 5 or local.hour >= 18:
        return "off"
    return "business"


def _seconds_on_call(spans: list[tuple[pd.Timestamp, pd.Timestamp]], start: pd.Timestamp, end: pd.Timestamp) -> int:
    """Seconds within [start, end) the person was on call in any schedule (overlaps counted once)."""
    clipped = sorted((max(a, start), min(b, end)) for a, b in spans if a < end and b > start)
    total, reach = 0.0, None
    for a, b in clipped:
        if reach is not None and a < reach:
            a = reach
        if b > a:
            total += (b - a).total_seconds()
            reach = b if reach is None else max(reach, b)
    return int(total)


def oncall_facts_of(facts: Mapping[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The ``oncall_*`` tables of JSM's facts: the same columns, with the platform named."""
    return {
        neutral: from_frame(neutral, facts[table(neutral.removeprefix("oncall_"))], PLATFORM) for neutral in NEUTRAL
    }
