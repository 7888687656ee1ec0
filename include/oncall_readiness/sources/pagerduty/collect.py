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
large as PagerDuty allows (100). A collection whose first page says it holds more than classic
pagination can reach (offset + limit <= 10,000) is read in team or schedule slices instead
(``slices``). Pages are read one ahead of their use, still one request at a time
(``pages``). The incident commanders' schedules (the registry's
``readiness/incident-commander-schedule``) join the same ``/oncalls`` query; with them come the
three reads of how a major incident brings its commander in (``workflows``: priorities,
incident workflows with their steps, their triggers). The facts tables: ``facts``; the
incidents: ``incidents``; the client: ``client``.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, cast

import pandas as pd

from oncall_readiness.hr import TABLE as HR_TABLE
from oncall_readiness.sources.facts import Facts
from oncall_readiness.sources.pagerduty.as_of import as_of
from oncall_readiness.sources.pagerduty.client import (
    MAX_OFFSET_WINDOW,
    PAGE_LIMIT,
    SCHEDULE_TARGETS,
    USER_INCLUDES,
    USER_TARGETS,
    PagerDutyClient,
)
from oncall_readiness.sources.pagerduty.facts import frame, normalise
from oncall_readiness.sources.pagerduty.incidents import collect_incidents
from oncall_readiness.sources.pagerduty.links import object_links, registry_links
from oncall_readiness.sources.pagerduty.slices import (
    AccountTeams,
    Slice,
    fetch_missing,
    find_users_by_email,
    narrowed,
    pack,
    read_by_team,
    read_slice,
    report_unread,
)
from oncall_readiness.sources.pagerduty.workflows import WorkflowReads, read_workflows
from oncall_readiness.sources.window import AuditWindow

if TYPE_CHECKING:
    from oncall_readiness.hooks.base import ReadinessHook

log = logging.getLogger(__name__)


def collect(
    client: PagerDutyClient,
    window: AuditWindow,
    schedule_ids: Iterable[str] = (),
    service_ids: Iterable[str] = (),
    *,
    people_emails: Iterable[str] = (),
    incidents_as_of: pd.Timestamp | None = None,
    commander_schedule_ids: Iterable[str] = (),
) -> dict[str, pd.DataFrame]:
    """Read the account and return its facts tables.

    ``schedule_ids`` are the schedules the registry links to teams and ``service_ids`` the
    PagerDuty services of its components: the final schedules (overrides included) of the
    former and of every schedule the latter's escalation policies page come from one
    ``/oncalls`` window query; only a linked schedule that no escalation policy targets (so
    ``/oncalls`` cannot show it) costs a call of its own. A collection past the offset cap is
    read in team slices (:mod:`.slices`); then the joiners (``people_emails``), the
    registry's services and schedules, and the users and policies they refer to, that belong to
    no team are looked up one by one. With ``incidents_as_of`` (the audit instant), the incidents and
    the responders' load up to it too (:mod:`.incidents`). ``commander_schedule_ids`` (the incident
    commanders' schedules) are read like the linked schedules, in the same ``/oncalls`` query; when
    there are any, the priorities and incident workflows are read too (:mod:`.workflows`).
    """
    window_params = {"since": window.since.isoformat(), "until": window.until.isoformat(), "time_zone": "UTC"}
    teams, service_ids = AccountTeams(client), set(service_ids)
    schedule_params = {"include[]": ["schedule_layers"], **window_params}
    schedules = read_by_team(client, "/schedules", "schedules", schedule_params, teams)
    services = read_by_team(client, "/services", "services", {}, teams)
    fetch_missing(client, services, service_ids, "/services", "service")
    policies = read_by_team(client, "/escalation_policies", "escalation_policies", {}, teams)
    for collected in (schedules, services, policies):
        teams.learn(collected)  # past the cap, users are sliced by the teams these name
    users = read_by_team(client, "/users", "users", {"include[]": USER_INCLUDES}, teams)
    fetch_missing(
        client, policies, _policies_of(services.objects, service_ids), "/escalation_policies", "escalation_policy"
    )
    commanders = {schedule_id for schedule_id in commander_schedule_ids if schedule_id}
    wanted = set(schedule_ids) | commanders | _paged_schedules(policies.objects, services.objects, service_ids)
    fetch_missing(client, schedules, wanted, "/schedules", "schedule", window_params)
    known = sorted(wanted & schedules.by_id.keys())
    shifts = _final_schedules(client, known, policies.objects, window, schedules.by_id)
    find_users_by_email(client, users, people_emails, USER_INCLUDES)
    referenced = _referenced_users(schedules.objects, policies.objects, shifts)
    fetch_missing(client, users, referenced, "/users", "user", {"include[]": USER_INCLUDES})
    for path, collected in (("/users", users), ("/schedules", schedules), ("/services", services)):
        report_unread(path, collected)
    report_unread("/escalation_policies", policies)
    account = {"users": users.objects, "schedules": schedules.objects, "shifts": shifts}
    account |= {"services": services.objects, "policies": policies.objects}
    workflows = read_workflows(client) if commanders else WorkflowReads()
    if incidents_as_of is None:
        facts = normalise(**account, workflows=workflows)
    else:
        look_back = (incidents_as_of - pd.Timestamp(window.since)).days
        # The account's facts are normalised while the incidents are read: the work of one fills
        # the other's waits for PagerDuty (still one request at a time).
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="pagerduty-normalise") as normaliser:
            normalised = normaliser.submit(normalise, **account, workflows=workflows)
            incidents = collect_incidents(client, incidents_as_of, window_days=look_back)
            facts = normalised.result() | incidents
    facts["pagerduty_collections"] = _collections(client)
    facts["pagerduty_links"] = object_links(account)
    return facts


def _collections(client: PagerDutyClient) -> pd.DataFrame:
    return frame(
        "pagerduty_collections",
        (
            {"collection": path, "reported_total": total, "collected": got}
            for path, (total, got) in client.collections.items()
        ),
    )


def _policies_of(services: list[dict[str, Any]], service_ids: set[str]) -> set[str | None]:
    return {(service.get("escalation_policy") or {}).get("id") for service in services if service["id"] in service_ids}


def _paged_schedules(policies: list[dict[str, Any]], services: list[dict[str, Any]], service_ids: set[str]) -> set[str]:
    """The schedules that the escalation policies of ``service_ids`` page, at any level."""
    policy_ids = _policies_of(services, service_ids)
    return {
        target["id"]
        for policy in policies
        if policy["id"] in policy_ids
        for rule in policy.get("escalation_rules") or []
        for target in rule.get("targets") or []
        if target.get("type") in SCHEDULE_TARGETS
    }


def _referenced_users(
    schedules: list[dict[str, Any]], policies: list[dict[str, Any]], shifts: list[dict[str, Any]]
) -> set[str]:
    """The users that rotations, escalation rules and on-call shifts name: the ones a check may look up."""
    members = {
        (member.get("user") or {}).get("id")
        for schedule in schedules
        for layer in schedule.get("schedule_layers") or []
        for member in layer.get("users") or []
    }
    targets = {
        target.get("id")
        for policy in policies
        for rule in policy.get("escalation_rules") or []
        for target in rule.get("targets") or []
        if target.get("type") in USER_TARGETS
    }
    return {user for user in members | targets | {shift["user_id"] for shift in shifts} if user is not None}


def _final_schedules(
    client: PagerDutyClient,
    schedule_ids: list[str],
    policies: list[dict[str, Any]],
    window: AuditWindow,
    schedules: Mapping[str, dict[str, Any]],
) -> list[dict[str, Any]]:
    """(schedule_id, user_id, start, end) of every final-schedule shift of the schedules in the window.

    ``/oncalls`` is asked for batches of schedules over the whole window, packed so that each
    batch's entries (``_expected_entries``) fill its pages; a batch expected past the offset
    cap, or whose first page says it is, is halved (schedules, then the window) until each
    part fits. A shift across two windows comes twice: it is kept once.
    """
    window_params = {"since": window.since.isoformat(), "until": window.until.isoformat(), "time_zone": "UTC"}
    targeted = {
        target["id"]
        for policy in policies
        for rule in policy.get("escalation_rules") or []
        for target in rule.get("targets") or []
        if target.get("type") in SCHEDULE_TARGETS
    }
    via_oncalls = [schedule_id for schedule_id in schedule_ids if schedule_id in targeted]
    since, until = pd.Timestamp(window.since), pd.Timestamp(window.until)
    shifts = []
    expected = _expected_entries(via_oncalls, policies, schedules)
    per_schedule = dict(expected)
    for batch in pack(expected, page=PAGE_LIMIT, cap=MAX_OFFSET_WINDOW):
        whole = Slice("schedule_ids[]", batch, since, until)
        for piece in narrowed(whole, sum(per_schedule[s] for s in batch), MAX_OFFSET_WINDOW):
            for entry in read_slice(client, "/oncalls", "oncalls", {"time_zone": "UTC"}, piece):
                if entry.get("schedule") and entry.get("start"):
                    shifts.append(_shift(entry["schedule"]["id"], entry))
    # The listing does not render final schedules (PagerDuty/api-schema#430): ask one by one.
    for schedule_id in (s for s in schedule_ids if s not in targeted):
        final = client.get(f"/schedules/{schedule_id}", window_params)["schedule"].get("final_schedule") or {}
        shifts += [_shift(schedule_id, entry) for entry in final.get("rendered_schedule_entries") or []]
    # The same shift shows once per escalation policy and level that targets the schedule.
    return list({(s["schedule_id"], s["user_id"], s["start"], s["end"]): s for s in shifts}.values())


def _expected_entries(
    schedule_ids: list[str], policies: list[dict[str, Any]], schedules: Mapping[str, dict[str, Any]]
) -> list[tuple[str, int]]:
    """(schedule id, the ``/oncalls`` entries it should bring): its layers' turns in the window, once per
    escalation rule that pages it (``/oncalls`` answers an entry per policy and level)."""
    rules = Counter(
        target["id"]
        for policy in policies
        for rule in policy.get("escalation_rules") or []
        for target in rule.get("targets") or []
        if target.get("type") in SCHEDULE_TARGETS
    )
    turns = {
        schedule_id: max(
            (len(layer.get("rendered_schedule_entries") or ()) for layer in schedule.get("schedule_layers") or ()),
            default=1,
        )
        for schedule_id, schedule in schedules.items()
    }
    return [(schedule_id, max(1, rules[schedule_id]) * turns.get(schedule_id, 1)) for schedule_id in schedule_ids]


def _shift(schedule_id: str, entry: dict[str, Any]) -> dict[str, Any]:
    return {
        "schedule_id": schedule_id,
        "user_id": (entry.get("user") or {}).get("id"),
        "start": entry.get("start"),
        "end": entry.get("end"),
    }


def collect_for_audit(hook: ReadinessHook, registry: Mapping[str, pd.DataFrame], window: AuditWindow) -> Facts:
    """The audit's collection: the window's days back and ahead of the audit instant, and its incidents."""
    client = cast(PagerDutyClient, hook.get_conn())  # the source's hook builds its client
    facts = collect(
        client,
        window,
        schedule_ids=registry["registry_team_schedules"]["schedule_id"],
        service_ids=registry["registry_services"]["pagerduty_service_id"].dropna(),
        people_emails=joiner_emails(registry, window),
        incidents_as_of=window.instant,
        commander_schedule_ids=commander_schedules(registry),
    )
    log.info("PagerDuty: %d requests, %d retried after 429 or 5xx", client.requests_made, client.retries)
    facts["pagerduty_links"] = registry_links(facts["pagerduty_links"], facts["pagerduty_users"], registry)
    return as_of(facts, window.instant)  # a past date's audit: incidents and services as they were then


def commander_schedules(registry: Mapping[str, pd.DataFrame]) -> list[str]:
    """The incident-commander schedules any group names (departments included: the teams below inherit them)."""
    groups = registry["registry_teams"]
    if "incident_commander_schedule" not in groups.columns:
        return []
    return sorted(set(groups["incident_commander_schedule"].dropna().astype(str)))


def joiner_emails(registry: Mapping[str, pd.DataFrame], window: AuditWindow) -> list[str]:
    """The emails of the people who started in the window's ``joiner_days`` up to its instant.

    ``joiner-permissions`` looks joiners up in PagerDuty by email, and a joiner may have an
    account in no team yet, which team slices cannot see: past the offset cap these are the
    emails worth one look-up each. Everyone else is found through the users that schedules,
    escalation rules and shifts name, so a large registry of people without PagerDuty accounts
    costs no request. Start dates come from the catalog and the HR export.
    """
    if window.joiner_days <= 0:
        return []
    day = window.instant.tz_convert("UTC").tz_localize(None).normalize()
    people = [registry["registry_people"], registry.get(HR_TABLE, pd.DataFrame(columns=["email", "start_date"]))]
    dated = pd.concat([frame[["email", "start_date"]] for frame in people], ignore_index=True)
    started = pd.to_datetime(dated["start_date"], errors="coerce")
    recent = started.between(day - pd.Timedelta(days=window.joiner_days), day) & dated["email"].notna()
    return sorted(set(dated.loc[recent, "email"].astype(str).str.strip().str.lower()))
