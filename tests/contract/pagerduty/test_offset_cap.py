"""Accounts past classic pagination's offset cap, read completely by the collector from the emulator.

The emulator refuses ``offset + limit`` beyond 10,000 as PagerDuty does (400, code 2002), so
a collector that paged past the cap would fail here; one that stopped at it would miss objects.
The request counts are exact: each is the fewest pages the slices can be read in, plus one
first page per query that turned out to be too big.
"""

from __future__ import annotations

import logging
import math

import pandas as pd
import pytest
import yaml

from oncall_readiness.sources.pagerduty import PagerDutyClient, collect
from oncall_readiness.sources.window import AuditWindow
from readiness_sandbox.process import running_sandbox

WINDOW = AuditWindow(pd.Timestamp("2026-11-16T00:00:00Z"), look_back_days=28)
PAGE = 100


def _user(user_id: str, email: str) -> dict:
    return {"id": user_id, "name": f"Person {user_id}", "email": email, "time_zone": "UTC"}


def _layer(layer_id: str, users: list[str], turn_seconds: int, start: str = "2026-01-05T09:30:00Z") -> dict:
    return {
        "id": layer_id,
        "name": "Layer 1",
        "start": start,
        "end": None,
        "rotation_virtual_start": start,
        "rotation_turn_length_seconds": turn_seconds,
        "users": users,
        "restrictions": [],
    }


TEAMS, TEAM_SIZE = 203, 50


def many_people() -> dict:
    """10,153 people: 203 teams of 50 (one person in two teams), and three people in no team.

    PUJOIN1 is a joiner the registry names by email, PUROTA1 a member of a rotation that
    belongs to no team, PULONE1 someone nothing refers to.
    """
    users = [_user(f"PU{i:05d}", f"person.{i}@example.com") for i in range(TEAMS * TEAM_SIZE)]
    teams = [
        {
            "id": f"PT{t:04d}",
            "name": f"Team {t:04d}",
            "members": [{"user": f"PU{t * TEAM_SIZE + i:05d}", "role": "responder"} for i in range(TEAM_SIZE)],
        }
        for t in range(TEAMS)
    ]
    teams[-1]["members"].append({"user": "PU00000", "role": "observer"})
    users += [
        _user("PUJOIN1", "joiner@example.com"),
        _user("PUROTA1", "rota@example.com"),
        _user("PULONE1", "alone@example.com"),
    ]
    schedule = {
        "id": "PS00001",
        "name": "Teamless rotation",
        "time_zone": "UTC",
        "teams": [],
        "layers": [_layer("PL00001", ["PU00001", "PUROTA1"], 604800)],
    }
    return {"users": users, "teams": teams, "schedules": [schedule]}


def state_file(state: dict, folder) -> str:
    """The state written with libyaml: 10,000 people take the pure-Python dumper many seconds."""
    path = folder / "pagerduty.yaml"
    path.write_text(yaml.dump(state, Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper)), encoding="utf-8")
    return str(path)


def test_users_past_the_cap_are_read_in_team_slices_each_once(caplog, tmp_path):
    emails = ["person.5@example.com", "JOINER@example.com", "not.in.pagerduty@example.com"]
    with running_sandbox(states={"pagerduty": state_file(many_people(), tmp_path)}, timeout=180) as sandbox:
        client = PagerDutyClient(sandbox.token, base_url=sandbox.url("pagerduty"))
        with caplog.at_level(logging.INFO, logger="oncall_readiness.sources.pagerduty.slices"):
            facts = collect(client, WINDOW, ["PS00001"], people_emails=emails)

    users = facts["pagerduty_users"]
    in_teams = {f"PU{i:05d}" for i in range(TEAMS * TEAM_SIZE)}
    assert users["user_id"].is_unique and users["email"].is_unique
    assert set(users["user_id"]) == in_teams | {"PUJOIN1", "PUROTA1"}  # PULONE1: no team, nobody refers to them
    memberships = facts["pagerduty_user_teams"]
    assert sorted(memberships[memberships["user_id"] == "PU00000"]["team_id"]) == ["PT0000", f"PT{TEAMS - 1:04d}"]
    assert not memberships.duplicated().any()
    collections = facts["pagerduty_collections"].set_index("collection")
    assert (collections["collected"] == collections["reported_total"]).all()
    assert "1 of the 10153 objects of GET /users belong to no team" in caplog.text

    # The plain query's first page (total 10,153), the 203 teams, then 2 slices of 100 teams
    # (5,000 people each) and one of 3 (151: PU00000 twice); schedules, services and policies
    # whole; the teamless schedule's final schedule; the two registry emails not found in the
    # slices; the teamless rotation member. The people alone need 102 pages at the least.
    slices = 2 * math.ceil(5000 / PAGE) + math.ceil(151 / PAGE)
    assert client.requests_made == 1 + math.ceil(TEAMS / PAGE) + slices + 3 + 1 + 2 + 1


def hourly_rotations() -> dict:
    """Three hourly rotations: PS0BIG1 paged by 16 escalation policies, PS0MID1 and PS0MID2 by 5 each.

    Over the 28-day window, PS0BIG1 alone has more than 10,000 on-call entries (16 x 673), the
    three together 17,498.
    """
    users = [_user(f"PU{i:05d}", f"person.{i}@example.com") for i in range(4)]
    ids = ["PU00000", "PU00001", "PU00002", "PU00003"]
    schedules = [
        {"id": sid, "name": sid, "time_zone": "UTC", "teams": [], "layers": [_layer(f"PL{sid[2:]}", ids, 3600)]}
        for sid in ("PS0BIG1", "PS0MID1", "PS0MID2")
    ]
    paged = ["PS0BIG1"] * 16 + ["PS0MID1"] * 5 + ["PS0MID2"] * 5
    policies = [
        {
            "id": f"PE{n:05d}",
            "name": f"Policy {n}",
            "num_loops": 0,
            "teams": [],
            "rules": [{"escalation_delay_in_minutes": 30, "targets": [{"type": "schedule_reference", "id": sid}]}],
        }
        for n, sid in enumerate(paged)
    ]
    return {"users": users, "schedules": schedules, "escalation_policies": policies}


def test_oncall_entries_past_the_cap_are_split_by_schedule_then_by_window():
    schedule_ids = ["PS0BIG1", "PS0MID1", "PS0MID2"]
    with running_sandbox(states={"pagerduty": hourly_rotations()}) as sandbox:
        client = PagerDutyClient(sandbox.token, base_url=sandbox.url("pagerduty"))
        facts = collect(client, WINDOW, schedule_ids)
        checker = PagerDutyClient(sandbox.token, base_url=sandbox.url("pagerduty"))
        params = {"since": WINDOW.since.isoformat(), "until": WINDOW.until.isoformat(), "time_zone": "UTC"}
        finals = {
            sid: checker.get(f"/schedules/{sid}", params)["schedule"]["final_schedule"]["rendered_schedule_entries"]
            for sid in schedule_ids
        }
        assert checker.find("/schedules/PNOSUCH") is None  # what a look-up of a registry typo gets

    shifts = facts["pagerduty_oncall_shifts"]
    assert not shifts.duplicated().any()  # 16 policies, and the shift across the two windows, count once
    for sid, entries in finals.items():
        mine = shifts[shifts["schedule_id"] == sid][["user_id", "start", "end"]]
        since, until = pd.Timestamp(WINDOW.since), pd.Timestamp(WINDOW.until)
        # An on-call entry keeps its shift's real bounds; the final schedule cuts it at the window.
        got = {(user, max(start, since), min(end, until)) for user, start, end in mine.itertuples(index=False)}
        expected = {(e["user"]["id"], pd.Timestamp(e["start"]), pd.Timestamp(e["end"])) for e in entries}
        assert len(expected) == 673 and got == expected, sid  # 672 hours, cut at :30 at both ends
    collections = facts["pagerduty_collections"].set_index("collection")
    # Every entry read, the shift across the halves of PS0BIG1's window in each half.
    oncalls = collections.loc["/oncalls"]
    assert oncalls["collected"] == oncalls["reported_total"] == 16 * 674 + 10 * 673

    # Schedules, services, policies, users; then, as the schedules' layers (673 turns each) and
    # the policies (16 and 5 rules) let the collector expect, PS0BIG1 (16 x 673 = 10,768 entries,
    # past the cap) alone and halved before asking: two 14-day windows (16 x 337 each: the
    # shift at midnight is in both), then PS0MID1 and PS0MID2 together (6,730). No query is
    # refused. The fewest pages 17,498 entries fit in: 175.
    oncall_pages = 2 * math.ceil(16 * 337 / PAGE) + math.ceil(10 * 673 / PAGE)
    assert client.requests_made == 4 + oncall_pages
    assert oncall_pages <= math.ceil((16 * 673 + 10 * 673) / PAGE) + 2


@pytest.mark.parametrize("path", ["/users", "/oncalls"])
def test_a_client_paging_past_the_cap_gets_pagerdutys_refusal(path):
    with running_sandbox(states={"pagerduty": hourly_rotations()}) as sandbox:
        client = PagerDutyClient(sandbox.token, base_url=sandbox.url("pagerduty"))
        response = client.session.get(f"{sandbox.url('pagerduty')}{path}", params={"offset": 9901, "limit": 100})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == 2002
    assert response.json()["error"]["message"] == "Arguments Caused Error"
