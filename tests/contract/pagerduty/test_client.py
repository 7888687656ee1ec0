"""The PagerDuty collector against the emulator: fewest calls, pagination, throttling, errors."""

from __future__ import annotations

import pandas as pd
import pytest

from oncall_readiness.errors import SourceError
from oncall_readiness.registry import load_registry
from oncall_readiness.sources.pagerduty import PagerDutyClient, collect, collect_for_audit
from oncall_readiness.sources.window import AuditWindow
from readiness_sandbox.process import running_sandbox
from readiness_sandbox.sample_org import CATALOG as SAMPLE_CATALOG

WINDOW = AuditWindow(pd.Timestamp("2026-11-16T00:00:00Z"), look_back_days=28)


def big_account(users: int) -> dict:
    """An account with many users and one weekly rotation of the first three."""
    people = [
        {"id": f"PU{i:05d}", "name": f"User {i}", "email": f"User.{i}@Example.com", "time_zone": "UTC"}
        for i in range(users)
    ]
    layer = {
        "id": "PL00001",
        "name": "Layer 1",
        "start": "2026-01-05T09:00:00Z",
        "end": None,
        "rotation_virtual_start": "2026-01-05T09:00:00Z",
        "rotation_turn_length_seconds": 604800,
        "users": [p["id"] for p in people[:3]],
        "restrictions": [],
    }
    schedule = {"id": "PS00001", "name": "Big rotation", "time_zone": "UTC", "teams": [], "layers": [layer]}
    return {"users": people, "schedules": [schedule]}


SAMPLE_SCHEDULES = list(load_registry(SAMPLE_CATALOG).team_schedules["schedule_id"])


@pytest.fixture(scope="module")
def sample_sandbox():
    with running_sandbox() as sandbox:
        yield sandbox


def test_sample_org_collects_in_one_call_per_collection(sample_sandbox):
    client = PagerDutyClient(sample_sandbox.token, base_url=sample_sandbox.url("pagerduty"))
    facts = collect(client, WINDOW, SAMPLE_SCHEDULES)
    assert client.requests_made == 5  # users, schedules (with layers), services, policies, one /oncalls window
    assert len(facts["pagerduty_users"]) > 30
    assert facts["pagerduty_users"]["email"].str.islower().all()
    shifts = facts["pagerduty_oncall_shifts"]
    assert set(shifts["schedule_id"]) == set(SAMPLE_SCHEDULES)
    assert (shifts["end"] > pd.Timestamp(WINDOW.since)).all() and (shifts["start"] < pd.Timestamp(WINDOW.until)).all()
    assert not shifts.duplicated().any()  # a schedule at two escalation levels still counts each shift once
    assert not facts["pagerduty_rotation_members"].empty


def test_one_walk_reads_how_everyone_is_paged_and_the_schedules_ahead(sample_sandbox):
    client = PagerDutyClient(sample_sandbox.token, base_url=sample_sandbox.url("pagerduty"))
    ahead = AuditWindow(WINDOW.instant, look_back_days=28, look_ahead_days=14)
    services = load_registry(SAMPLE_CATALOG).services["pagerduty_service_id"].dropna()
    # identity's schedule, left in the account when the team moved to JSM Operations, still has its gap
    facts = collect(client, ahead, [*SAMPLE_SCHEDULES, "PS0IDN1"], services)
    assert client.requests_made == 5  # contact methods and rules come with the users, the future with /oncalls
    methods, rules = facts["pagerduty_contact_methods"], facts["pagerduty_notification_rules"]
    assert set(methods["type"]) == {"phone", "email"}
    assert "address" not in methods.columns  # a phone number is personal data no check needs
    olivia = rules[rules["user_id"] == "PUNTF02"]
    assert list(olivia[["urgency", "contact_method_type"]].itertuples(index=False, name=None)) == [("high", "email")]
    shifts = facts["pagerduty_oncall_shifts"]
    identity = shifts[shifts["schedule_id"] == "PS0IDN1"].sort_values("start")
    ahead_of_audit = identity[identity["end"] > pd.Timestamp(WINDOW.until)]
    assert ahead_of_audit["end"].max() >= pd.Timestamp("2026-11-30T00:00:00Z")
    gaps = [
        (end, start)
        for end, start in zip(ahead_of_audit["end"].iloc[:-1], ahead_of_audit["start"].iloc[1:], strict=True)
        if start > end
    ]
    assert gaps == [(pd.Timestamp("2026-11-21T18:00:00Z"), pd.Timestamp("2026-11-23T09:00:00Z"))]


def test_incidents_and_responder_load_in_eight_calls_with_the_open_incident(sample_sandbox):
    class Hook:
        def get_conn(self):
            return client

    client = PagerDutyClient(sample_sandbox.token, base_url=sample_sandbox.url("pagerduty"))
    registry = load_registry(SAMPLE_CATALOG).to_facts()
    instant = pd.Timestamp(WINDOW.until)
    facts = collect_for_audit(Hook(), registry, AuditWindow(instant, look_back_days=28, look_ahead_days=14))
    # users, schedules, services, policies, /oncalls (two pages with the incident commanders' schedules);
    # priorities, incident workflows, their triggers; raw incidents, the window's list, the open ones; 4 weeks
    assert client.requests_made == 6 + 3 + 3 + 4
    incidents = facts["pagerduty_incidents"].set_index("incident_id")
    assert incidents["created_at"].min() >= instant - pd.Timedelta(days=35)
    assert (incidents.loc["Q0CHK021", "status"], incidents.loc["Q0CHK021", "origin"]) == ("acknowledged", "incidents")
    assert pd.isna(incidents.loc["Q0CHK021", "resolved_at"])
    resolved = incidents[incidents["status"] == "resolved"]
    assert (resolved["origin"] == "analytics").all() and resolved["sleep_hour_interruptions"].notna().all()
    weeks = facts["pagerduty_responder_weeks"]
    assert sorted(weeks["week_start"].unique()) == [instant - pd.Timedelta(weeks=n) for n in (4, 3, 2, 1)]
    oliver = weeks[(weeks["responder_id"] == "PUIDN01") & (weeks["week_start"] == pd.Timestamp("2026-11-02", tz="UTC"))]
    assert oliver["sleep_hour_interruptions"].tolist() == [3]
    collections = facts["pagerduty_collections"].set_index("collection")
    assert collections.at["/incidents", "collected"] == collections.at["/incidents", "reported_total"]


def test_oncalls_window_gives_the_same_shifts_as_each_final_schedule(sample_sandbox):
    """The one-query path (/oncalls) and the per-schedule path (final_schedule) must agree."""
    client = PagerDutyClient(sample_sandbox.token, base_url=sample_sandbox.url("pagerduty"))
    shifts = collect(client, WINDOW, SAMPLE_SCHEDULES)["pagerduty_oncall_shifts"]
    params = {"since": WINDOW.since.isoformat(), "until": WINDOW.until.isoformat(), "time_zone": "UTC"}
    for schedule_id in SAMPLE_SCHEDULES:
        final = client.get(f"/schedules/{schedule_id}", params)["schedule"]["final_schedule"]
        expected = {
            (e["user"]["id"], pd.Timestamp(e["start"]), pd.Timestamp(e["end"]))
            for e in final["rendered_schedule_entries"]
        }
        mine = shifts[shifts["schedule_id"] == schedule_id]
        clipped = {
            (user, max(start, pd.Timestamp(WINDOW.since)), min(end, pd.Timestamp(WINDOW.until)))
            for user, start, end in zip(mine["user_id"], mine["start"], mine["end"], strict=True)
        }
        assert clipped == expected, schedule_id


def test_pagination_walks_every_page_at_the_largest_page_size():
    with running_sandbox(states={"pagerduty": big_account(250)}) as sandbox:
        client = PagerDutyClient(sandbox.token, base_url=sandbox.url("pagerduty"))
        facts = collect(client, WINDOW, ["PS00001"])
    users = facts["pagerduty_users"]
    assert len(users) == 250 and users["user_id"].is_unique
    assert users["email"].iloc[0] == "user.0@example.com"
    # 250 users in pages of 100, schedules, services, policies; no policy targets the
    # schedule, so its final schedule is read on its own.
    assert client.requests_made == 3 + 1 + 1 + 1 + 1
    assert set(facts["pagerduty_oncall_shifts"]["user_id"]) == {"PU00000", "PU00001", "PU00002"}


def test_throttled_collection_gives_the_same_facts(sample_sandbox):
    client = PagerDutyClient(sample_sandbox.token, base_url=sample_sandbox.url("pagerduty"))
    unthrottled = collect(client, WINDOW, SAMPLE_SCHEDULES)
    with running_sandbox(rate_limit="2/1") as throttled_sandbox:
        client = PagerDutyClient(
            throttled_sandbox.token, base_url=throttled_sandbox.url("pagerduty"), backoff_factor=0.1
        )
        throttled = collect(client, WINDOW, SAMPLE_SCHEDULES)
    assert client.retries >= 1, "the sandbox should have answered 429 at least once"
    for table, frame in unthrottled.items():
        pd.testing.assert_frame_equal(frame, throttled[table], obj=table)


def test_server_errors_are_retried():
    with running_sandbox(fail_next=2) as sandbox:
        client = PagerDutyClient(sandbox.token, base_url=sandbox.url("pagerduty"), backoff_factor=0.05)
        facts = collect(client, WINDOW)
    assert client.retries == 2 and len(facts["pagerduty_users"]) > 0


def test_a_wrong_token_fails_at_once_with_the_api_message_and_no_secret(sample_sandbox):
    client = PagerDutyClient("wrong-secret-token", base_url=sample_sandbox.url("pagerduty"))
    with pytest.raises(SourceError) as error:
        collect(client, WINDOW)
    message = str(error.value)
    assert message.startswith("pagerduty: GET /pagerduty/schedules answered 401")  # the first collection read
    assert "wrong-secret-token" not in message
    assert client.requests_made == 1


def test_no_token_is_refused_before_any_call():
    with pytest.raises(SourceError, match="no API token"):
        PagerDutyClient("")
