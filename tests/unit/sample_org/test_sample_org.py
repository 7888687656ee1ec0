"""The sample organisation: its catalog and its PagerDuty account agree, and hold the designed facts.

The design (what each team's data should produce, check by check) is in
include/sample_org/README.md. On-call is computed here from the layer definitions in a few
lines, independently of the emulator: turn ``i`` starts at ``rotation_virtual_start + i *
turn length`` and belongs to ``users[i mod n]``; later layers win; overrides win over layers.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
import yaml

from oncall_readiness.registry import load_registry

SAMPLE_ORG = Path(__file__).resolve().parents[3] / "include" / "sample_org"
UTC = dt.UTC
AUDIT_INSTANT = dt.datetime(2026, 11, 16, tzinfo=UTC)
WINDOW_START = AUDIT_INSTANT - dt.timedelta(days=28)
WEEK = dt.timedelta(days=7)
# The groups that name incident commanders (readiness/incident-commander-schedule), and whose.
COMMANDER_SCHEDULES = {"commerce": "PS0ICM1", "search": "PS0ICS1", "notifications": "PS0ICN1"}
# What identity left in PagerDuty when it moved to JSM Operations (jsm_ops.yaml): the same story there.
IDENTITY_LEFT_BEHIND = {"PVIDN01", "PVIDN02", "PVIDN03"}
ID_PATTERNS = {
    "users": r"PU[A-Z0-9]{5}",
    "teams": r"PT[A-Z0-9]{5}",
    "schedules": r"PS[A-Z0-9]{5}",
    "escalation_policies": r"PE[A-Z0-9]{5}",
    "services": r"PV[A-Z0-9]{5}",
    "incidents": r"Q[A-Z0-9]+",
}


def moment(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def on_call(schedule: dict, t: dt.datetime) -> str | None:
    for override in schedule.get("overrides") or []:
        if moment(override["start"]) <= t < moment(override["end"]):
            return override["user"]
    for layer in reversed(schedule["layers"]):
        if moment(layer["start"]) <= t and (layer["end"] is None or t < moment(layer["end"])):
            turn = (t - moment(layer["rotation_virtual_start"])) // dt.timedelta(
                seconds=layer["rotation_turn_length_seconds"]
            )
            return layer["users"][turn % len(layer["users"])]
    return None


def hours_on_call(schedule: dict) -> Counter:
    """User id -> hours on call in the 28-day window (hour resolution: every hand-over is on the hour or half)."""
    hours, t = Counter(), WINDOW_START
    while t < AUDIT_INSTANT:
        hours[on_call(schedule, t + dt.timedelta(minutes=15))] += 0.5
        t += dt.timedelta(minutes=30)
    return hours


@pytest.fixture(scope="module")
def registry():
    return load_registry(SAMPLE_ORG / "catalog")


@pytest.fixture(scope="module")
def pd_state() -> dict:
    return yaml.safe_load((SAMPLE_ORG / "pagerduty.yaml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def by_id(pd_state) -> dict[str, dict]:
    return {item["id"]: item for section in pd_state.values() for item in section if "id" in item}  # priorities: none


@pytest.fixture(scope="module")
def email_of(pd_state) -> dict[str, str]:
    return {user["id"]: user["email"] for user in pd_state["users"]}


def product_teams(registry) -> pd.DataFrame:
    """The six audited teams: every Group but the department commerce (a parent group without services)."""
    return registry.teams[registry.teams["type"] == "team"]


def team_people(registry, team: str, *, exempt: bool | None = None) -> set[str]:
    people = registry.people[registry.people["team"] == team]
    if exempt is not None:
        people = people[people["oncall_exempt"].notna() == exempt]
    return set(people["email"])


def schedule_of(registry, pd_state, team: str, index: int = 0) -> dict:
    ids = list(registry.team_schedules.loc[registry.team_schedules["team"] == team, "schedule_id"])
    return next(s for s in pd_state["schedules"] if s["id"] == ids[index])


def rotation(schedule: dict, email_of) -> set[str]:
    return {email_of[u] for layer in schedule["layers"] for u in layer["users"]}


# --------------------------------------------------------------------------- shape and cross-references


def test_sizes(registry, pd_state):
    assert len(registry.teams) == 7  # six teams and their department, commerce (a parent group, not audited)
    assert registry.teams.set_index("team")["parent"].dropna().to_dict() == dict.fromkeys(
        ["catalog", "checkout", "payments", "search"], "commerce"
    )
    # with Dana Lee and Commerce's three incident commanders, in no team
    assert len(registry.people) == 44 and registry.people["person"].is_unique
    assert len(registry.services) == 21  # 20 in production, payments-sandbox experimental (out of scope)
    assert len(pd_state["users"]) == 41  # 38 team members and 3 incident commanders
    assert len(pd_state["schedules"]) == 7 + len(COMMANDER_SCHEDULES)
    assert len(pd_state["escalation_policies"]) == 6 + len(COMMANDER_SCHEDULES)  # one incident-command policy each
    assert len(pd_state["services"]) == 19


def test_pagerduty_ids_follow_the_pattern_and_are_unique(pd_state):
    for section, pattern in ID_PATTERNS.items():
        ids = [item["id"] for item in pd_state[section]]
        assert len(ids) == len(set(ids)), section
        for item_id in ids:
            assert re.fullmatch(pattern, item_id), item_id
            assert section == "incidents" or len(item_id) == 7, item_id
    for schedule in pd_state["schedules"]:
        for layer in schedule["layers"]:
            assert re.fullmatch(r"PL[A-Z0-9]{5}", layer["id"])
        for override in schedule.get("overrides") or []:
            assert re.fullmatch(r"PO[A-Z0-9]{5}", override["id"])


def test_catalog_schedule_and_service_ids_exist_in_pagerduty(registry, pd_state, by_id):
    for schedule_id in registry.team_schedules["schedule_id"]:
        assert schedule_id in by_id and schedule_id.startswith("PS"), schedule_id
    annotated = registry.services.dropna(subset=["pagerduty_service_id"])
    for service, service_id in zip(annotated["service"], annotated["pagerduty_service_id"], strict=True):
        assert by_id[service_id]["name"] == service
    # and every PagerDuty service is a catalog component, but identity's: the team moved to JSM Operations
    # (atlassian.com/jsm-ops-team), its PagerDuty services left behind in the account, unlinked
    assert {s["id"] for s in pd_state["services"]} - IDENTITY_LEFT_BEHIND == set(annotated["pagerduty_service_id"])
    unpaged = set(registry.services.loc[registry.services["pagerduty_service_id"].isna(), "service"])
    on_jsm = set(registry.services.loc[registry.services["team"] == "identity", "service"])  # paged through JSM
    assert unpaged - on_jsm == {"catalog-media", "payments-sandbox"}  # payments-sandbox: experimental, out of scope


def test_every_pagerduty_user_is_a_registry_person(registry, pd_state):
    emails = set(registry.people["email"])
    assert {user["email"] for user in pd_state["users"]} <= emails
    missing = emails - {user["email"] for user in pd_state["users"]}
    # two joiners, on purpose; and the head of engineering, who approves waivers and is on call for no team
    assert missing == {"noah.schulz@example.com", "nora.diaz@example.com", "dana.lee@example.com"}


def test_every_reference_in_the_pagerduty_account_resolves(pd_state, by_id):
    users = {u["id"] for u in pd_state["users"]}
    for team in pd_state["teams"]:
        assert {m["user"] for m in team["members"]} <= users
    for schedule in pd_state["schedules"]:
        assert all(t in by_id for t in schedule["teams"])
        for layer in schedule["layers"]:
            assert set(layer["users"]) <= users
            # Only Notifications' incident commanders keep office hours (incident-command fails it).
            assert layer["restrictions"] == [] or schedule["id"] == "PS0ICN1"
        for override in schedule.get("overrides") or []:
            assert override["user"] in users
    for policy in pd_state["escalation_policies"]:
        for rule in policy["rules"]:
            for target in rule["targets"]:
                kind = {"schedule_reference": "PS", "user_reference": "PU"}[target["type"]]
                assert target["id"].startswith(kind) and target["id"] in by_id
    for service in pd_state["services"]:
        assert service["escalation_policy"] in by_id and all(t in by_id for t in service["teams"])
    for incident in pd_state["incidents"]:
        assert incident["service"] in by_id and incident["escalation_policy"] in by_id
        assert all(a["assignee"] in users for a in incident["assignments"])


def test_pagerduty_teams_match_the_catalog_teams(registry, pd_state, email_of):
    for team in product_teams(registry).itertuples():
        (pd_team,) = [t for t in pd_state["teams"] if t["name"] == team.display_name]
        assert {email_of[m["user"]] for m in pd_team["members"]} <= team_people(registry, team.team)
        for schedule_id in registry.team_schedules.loc[registry.team_schedules["team"] == team.team, "schedule_id"]:
            schedule = next(s for s in pd_state["schedules"] if s["id"] == schedule_id)
            assert schedule["teams"] == [pd_team["id"]]
            assert rotation(schedule, email_of) <= team_people(registry, team.team)


def test_layers_start_on_a_monday_at_nine_local_well_before_the_window(pd_state):
    for schedule in pd_state["schedules"]:
        zone = ZoneInfo(schedule["time_zone"])
        for layer in schedule["layers"]:
            for field in ("start", "rotation_virtual_start"):
                local = moment(layer[field]).astimezone(zone)
                expected = (2026, 1, dt.time(9, 0))  # 2026, Monday, 09:00
                assert (local.year, local.isoweekday(), local.time()) == expected, (schedule["id"], field)
                # A layer starts long before the window, or (Identity's rebuilt rotation) after the audit.
                start = moment(layer[field])
                assert start < WINDOW_START - dt.timedelta(days=90) or (field == "start" and start > AUDIT_INSTANT)
    assert len({s["time_zone"] for s in pd_state["schedules"]}) >= 4


# --------------------------------------------------------------------------- the designed rotation facts


def test_payments_two_weekly_schedules_of_every_non_exempt_member(registry, pd_state, email_of):
    assert len(registry.team_schedules[registry.team_schedules["team"] == "payments"]) == 2
    exempt = registry.people[registry.people["oncall_exempt"].notna()]
    assert dict(zip(exempt["person"], exempt["oncall_exempt"], strict=True)) == {
        "hannah-price": "health",
        "grace-kim": "family",
    }
    primary, secondary = (schedule_of(registry, pd_state, "payments", i) for i in (0, 1))
    for schedule in (primary, secondary):
        assert rotation(schedule, email_of) == team_people(registry, "payments", exempt=False)
        assert len(rotation(schedule, email_of)) == 6
        assert {layer["rotation_turn_length_seconds"] for layer in schedule["layers"]} == {604800}
        assert max(hours_on_call(schedule).values()) <= 168  # nobody more than one week
    # the secondary is the previous week's primary: never the same person at once
    t = WINDOW_START
    while t < AUDIT_INSTANT:
        assert on_call(primary, t) != on_call(secondary, t)
        t += dt.timedelta(hours=6)


def test_checkout_weekly_rotation_of_five_and_one_exempt(registry, pd_state, email_of):
    schedule = schedule_of(registry, pd_state, "checkout")
    assert rotation(schedule, email_of) == team_people(registry, "checkout", exempt=False)
    assert len(rotation(schedule, email_of)) == 5
    assert max(hours_on_call(schedule).values()) <= 168


def test_search_hands_over_daily(registry, pd_state, email_of):
    schedule = schedule_of(registry, pd_state, "search")
    assert [layer["rotation_turn_length_seconds"] for layer in schedule["layers"]] == [86400]
    assert rotation(schedule, email_of) == team_people(registry, "search")
    # fair share: ceil(28 days / (1 day x 6 people)) = 5 turns; nobody is above it
    assert max(hours_on_call(schedule).values()) <= 5 * 24


def test_catalog_joiner_is_not_in_the_rotation(registry, pd_state, email_of):
    schedule = schedule_of(registry, pd_state, "catalog")
    missing = team_people(registry, "catalog", exempt=False) - rotation(schedule, email_of)
    assert missing == {"noah.schulz@example.com"}
    noah = registry.people.set_index("person").loc["noah-schulz"]
    assert noah["start_date"] == dt.date(2026, 11, 9) and noah["oncall_exempt"] is None


def test_identity_override_gives_one_person_fourteen_days(registry, pd_state, email_of):
    schedule = next(s for s in pd_state["schedules"] if s["id"] == "PS0IDN1")  # as JSM's timeline has it (below)
    assert rotation(schedule, email_of) == team_people(registry, "identity")
    assert len(rotation(schedule, email_of)) == 7
    hours = hours_on_call(schedule)
    ((busiest, busiest_hours),) = hours.most_common(1)
    assert email_of[busiest] == "oliver.bennett@example.com"
    assert busiest_hours == 14 * 24
    assert sorted(hours.values())[-2] <= 168  # everyone else at most one week
    # without the override, nobody would exceed one week
    plain = {**schedule, "overrides": []}
    assert max(hours_on_call(plain).values()) <= 168


def test_notifications_rotation_has_two_people(registry, pd_state, email_of):
    schedule = schedule_of(registry, pd_state, "notifications")
    assert len(rotation(schedule, email_of)) == 2
    assert len(hours_on_call(schedule)) == 2
    assert len(team_people(registry, "notifications") - rotation(schedule, email_of)) == 5


def test_every_team_has_a_schedule_and_every_schedule_a_team(registry, pd_state):
    on_jsm = set(registry.teams.dropna(subset=["jsm_ops_team"])["team"])
    assert on_jsm == {"identity"}
    assert set(registry.team_schedules["team"]) == set(product_teams(registry)["team"]) - on_jsm
    team_schedules = {s["id"] for s in pd_state["schedules"]} - set(COMMANDER_SCHEDULES.values()) - {"PS0IDN1"}
    assert set(registry.team_schedules["schedule_id"]) == team_schedules


def test_incident_commanders_are_named_up_the_tree(registry, pd_state):
    named = registry.teams.set_index("team")["incident_commander_schedule"].dropna().to_dict()
    assert named == COMMANDER_SCHEDULES  # identity names none, and has no group above it
    schedules = {s["id"] for s in pd_state["schedules"]}
    assert set(named.values()) <= schedules


# --------------------------------------------------------------------------- facts for the other checks


def test_joiners_of_the_last_90_days(registry):
    since = AUDIT_INSTANT.date() - dt.timedelta(days=90)
    joiners = registry.people[registry.people["start_date"] >= since]
    assert dict(zip(joiners["person"], joiners["team"], strict=True)) == {
        "sofia-rossi": "payments",
        "vikram-rao": "search",
        "noah-schulz": "catalog",
        "zara-malik": "identity",
        "nora-diaz": "notifications",
        "leo-park": "notifications",
    }
    assert registry.people["start_date"].max() == dt.date(2026, 11, 15)  # the day before the audit


def test_registry_side_of_the_other_checks(registry):
    everything = registry.services.set_index("service")
    assert everything.loc[everything["lifecycle"] != "production"].index.tolist() == ["payments-sandbox"]
    assert everything["tier"].dropna().to_dict() == {"payments-api": "1"}
    services = everything[everything["lifecycle"] == "production"]  # what the scoped service checks judge
    assert set(services.index[services["runbook_url"].isna()]) == {"checkout-fraud-scorer", "notifications-sms"}
    urls = services["runbook_url"].dropna()
    assert urls.str.startswith("https://github.com/example-org/").any()
    assert urls.str.startswith("https://example.atlassian.net/wiki/spaces/OPS/pages/").any()
    assert (services["dashboard_selector"] == services.index).all()
    assert (services["alert_selector"] == "service=" + services.index).all()
    assert services["cost_per_minute"].notna().sum() == 5
    teams = product_teams(registry).set_index("team")
    assert teams["email"].tolist() == [f"team-{team}@example.com" for team in teams.index]
    assert (teams["grafana_team"] == teams.index).all()
    assert teams.at["catalog", "last_chaos_day"] is None
    assert teams.at["payments", "last_chaos_day"] == dt.date(2026, 10, 28)
    assert teams.at["notifications", "last_chaos_day"] < dt.date(2026, 1, 1)


def test_escalation_policies(registry, pd_state):
    teams = set(product_teams(registry)["team"])
    levels = {p["name"].lower(): p["rules"] for p in pd_state["escalation_policies"] if p["name"].lower() in teams}
    assert [r["targets"][0]["id"] for r in levels["payments"]] == ["PS0PAY1", "PS0PAY2"]
    assert len(levels["notifications"]) == 1
    assert [t["type"] for t in levels["checkout"][0]["targets"]] == ["schedule_reference"]
    assert [t["type"] for t in levels["checkout"][1]["targets"]] == ["user_reference"]
    assert all(len(rules) == 2 for team, rules in levels.items() if team != "notifications")


QUARTER_START = AUDIT_INSTANT - dt.timedelta(days=90)
WEEKS = [WINDOW_START + i * WEEK for i in range(4)]


def test_incidents_fill_the_quarter_and_go_to_who_was_on_call(pd_state, by_id):
    incidents = pd_state["incidents"]
    assert len(incidents) >= 90
    assert [i["incident_number"] for i in incidents] == list(range(1, len(incidents) + 1))
    assert [moment(i["created_at"]) for i in incidents] == sorted(moment(i["created_at"]) for i in incidents)
    night = 0
    for incident in incidents:
        created = moment(incident["created_at"])
        assert QUARTER_START <= created < moment(incident["acknowledged_at"]) < AUDIT_INSTANT
        if incident["status"] == "resolved":
            assert moment(incident["acknowledged_at"]) < moment(incident["resolved_at"]) < AUDIT_INSTANT
        policy = by_id[incident["escalation_policy"]]
        assert by_id[incident["service"]]["escalation_policy"] == policy["id"]
        first = policy["rules"][0]["targets"][0]
        assignee = on_call(by_id[first["id"]], created)
        assert incident["assignments"][0] == {"at": incident["created_at"], "assignee": assignee}
        zone = ZoneInfo(by_id[first["id"]]["time_zone"])
        night += created.astimezone(zone).hour < 7 or created.astimezone(zone).hour >= 22
    assert night >= 4


def test_exactly_one_incident_is_open_on_a_priced_service(pd_state, registry):
    still_open = [i for i in pd_state["incidents"] if i["status"] != "resolved"]
    assert [(i["id"], i["service"], i["status"], i["urgency"]) for i in still_open] == [
        ("Q0CHK021", "PVCHK01", "acknowledged", "high")
    ]
    created = moment(still_open[0]["created_at"]).astimezone(ZoneInfo("America/New_York"))
    assert (created.date(), created.hour) == (dt.date(2026, 11, 15), 18)  # Sunday evening
    assert "resolved_at" not in still_open[0]
    services = registry.services.set_index("pagerduty_service_id")
    assert (services.loc["PVCHK01", "service"], float(services.loc["PVCHK01", "cost_per_minute"])) == (
        "checkout-api",
        85,
    )


def test_notifications_follow_the_assignees_rules(pd_state, by_id):
    """High urgency calls at once (Jamal Wright: email, then the phone at 15 min unless acknowledged)."""
    for incident in pd_state["incidents"]:
        acknowledged = moment(incident["acknowledged_at"])
        expected = []
        for assignment in incident["assignments"]:
            user = by_id[assignment["assignee"]]
            kinds = {method["id"]: method["type"] for method in user["contact_methods"]}
            for rule in user["notification_rules"]:
                when = moment(assignment["at"]) + dt.timedelta(minutes=rule["start_delay_in_minutes"])
                if rule["urgency"] == incident["urgency"] and (
                    rule["start_delay_in_minutes"] == 0 or when < acknowledged
                ):
                    expected.append((when, user["id"], kinds[rule["contact_method"]]))
        found = [(moment(n["at"]), n["user"], n["type"]) for n in incident["notifications"]]
        assert sorted(found) == sorted(expected), incident["id"]


def hour_kind(at: dt.datetime, zone: str) -> str:
    local = at.astimezone(ZoneInfo(zone))
    if local.hour >= 22 or local.hour < 8:
        return "sleep"
    return "business" if local.isoweekday() <= 5 and local.hour < 18 else "off"


def load_by_responder_week(pd_state, by_id) -> dict[tuple[str, int], Counter]:
    """(user id, week index) -> Counter of sleep/off/business interruptions and incidents, in the 28 days."""
    load: dict[tuple[str, int], Counter] = {}
    for incident in pd_state["incidents"]:
        created = moment(incident["created_at"])
        if incident["status"] != "resolved" or not WINDOW_START <= created < AUDIT_INSTANT:
            continue
        week = (created - WINDOW_START) // WEEK
        for user in {a["assignee"] for a in incident["assignments"]}:
            load.setdefault((user, week), Counter())["incidents"] += 1
        last: dict[str, dt.datetime] = {}
        for note in sorted(incident["notifications"], key=lambda n: n["at"]):
            at, user = moment(note["at"]), note["user"]
            if note["type"] == "email" or (user in last and at - last[user] < dt.timedelta(seconds=60)):
                continue
            last[user] = at
            load.setdefault((user, week), Counter())[hour_kind(at, by_id[user]["time_zone"])] += 1
    return load


def team_of(pd_state, user_id: str) -> str:
    return next(t["name"].lower() for t in pd_state["teams"] if any(m["user"] == user_id for m in t["members"]))


def test_oncall_load_design(pd_state, by_id):
    """README "oncall-load": who is interrupted when, and the outcome it gives each team."""
    load = load_by_responder_week(pd_state, by_id)
    sleep = {key: c["sleep"] for key, c in load.items() if c["sleep"] > 2}
    off = {key: c["off"] for key, c in load.items() if c["off"] > 5}
    assert sleep == {("PUIDN01", 2): 3, ("PUNTF01", 1): 3}  # identity, notifications: fail
    assert off == {("PUCHK04", 1): 6}  # checkout: warn (Chloe Martin, week of 2026-10-26)
    hours = hours_on_call(by_id["PS0SRC1"])
    incidents = Counter()
    for (user, _), counts in load.items():
        incidents[user] += counts["incidents"]
    per_shift = {user: incidents[user] / (hours[user] / 12) for user in hours if hours[user]}
    assert hours["PUSRC04"] == 96 and incidents["PUSRC04"] == 18  # Meera Pillai: 2.25 per 12 h
    assert {user for user, rate in per_shift.items() if rate > 2} == {"PUSRC04"}
    for schedule_id in ("PS0PAY1", "PS0CHK1", "PS0CAT1", "PS0IDN1", "PS0NTF1"):
        for user, spent in hours_on_call(by_id[schedule_id]).items():
            assert incidents[user] / (spent / 12) <= 2, (schedule_id, user)
    failing = {team_of(pd_state, user) for user, _ in sleep}
    warning = {team_of(pd_state, user) for user, _ in off} | {"search"}
    assert failing == {"identity", "notifications"} and warning == {"checkout", "search"}


def test_everyone_is_called_at_once_on_high_urgency_but_the_two_designed_exceptions(pd_state):
    def waking_delays(user):
        kinds = {method["id"]: method["type"] for method in user.get("contact_methods", [])}
        return sorted(
            rule["start_delay_in_minutes"]
            for rule in user.get("notification_rules", [])
            if rule["urgency"] == "high" and kinds[rule["contact_method"]] in ("phone", "sms", "push")
        )

    delays = {user["id"]: waking_delays(user) for user in pd_state["users"]}
    assert delays.pop("PUNTF02") == []  # Olivia Turner: email only
    assert delays.pop("PUCHK03") == [15]  # Jamal Wright: the phone after 15 minutes
    assert all(found == [0] for found in delays.values())
