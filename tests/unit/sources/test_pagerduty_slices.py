"""Slicing PagerDuty collections past the offset cap, without a server: halving, dedupe, look-ups, request counts."""

from __future__ import annotations

import logging
import math

import pandas as pd
import pytest

from oncall_readiness.sources.pagerduty import slices as pagerduty_slices
from oncall_readiness.sources.pagerduty.incidents import BeyondOffsetCap
from oncall_readiness.sources.pagerduty.slices import (
    AccountTeams,
    Collected,
    Slice,
    fetch_missing,
    find_users_by_email,
    narrowed,
    pack,
    read_by_team,
    read_slice,
    report_unread,
)

PAGE = 100
SINCE, UNTIL = pd.Timestamp("2026-11-01T00:00:00Z"), pd.Timestamp("2026-11-03T00:00:00Z")


class FakePagerDuty:
    """Objects with ``teams``, ``schedule`` and ``at``; a query may hold at most ``cap`` of them.

    Like PagerDuty, the first page of a query past the cap is answered (and counted) before
    the client gives up on it; a query within it costs one request per page of 100.
    """

    def __init__(self, objects: list[dict], *, cap: int):
        self.objects, self.cap = objects, cap
        self.requests_made, self.queries = 0, []

    def _matches(self, obj: dict, params: dict) -> bool:
        teams, schedules = params.get("team_ids[]"), params.get("schedule_ids[]")
        if teams is not None and not set(teams) & set(obj.get("teams", ())):
            return False
        if schedules is not None and obj.get("schedule") not in schedules:
            return False
        if "query" in params and params["query"] not in obj.get("email", ""):
            return False
        return "since" not in params or pd.Timestamp(params["since"]) <= obj["at"] < pd.Timestamp(params["until"])

    def iter_all(self, path: str, key: str, params: dict | None = None):
        params = params or {}
        if path == "/teams":
            teams = sorted({team for obj in self.objects for team in obj.get("teams", ())})
            self.requests_made += max(1, math.ceil(len(teams) / PAGE))
            yield from ({"id": team} for team in teams)
            return
        found = [obj for obj in self.objects if self._matches(obj, params)]
        self.queries.append((params, len(found)))
        if len(found) > self.cap:
            self.requests_made += 1
            raise BeyondOffsetCap(f"GET {path} has {len(found)} objects", total=len(found))
        self.requests_made += max(1, math.ceil(len(found) / PAGE))
        yield from found

    def find(self, path: str, params: dict | None = None) -> dict | None:
        self.requests_made += 1
        object_id = path.rsplit("/", 1)[1]
        found = next((obj for obj in self.objects if obj["id"] == object_id), None)
        return None if found is None else {"user": found}


def people(teams: int, size: int) -> list[dict]:
    return [
        {"id": f"U{t}-{i}", "email": f"u{t}.{i}@example.com", "teams": [f"T{t:03d}"]}
        for t in range(teams)
        for i in range(size)
    ]


def test_a_slice_is_halved_by_its_ids_first_then_by_its_window():
    piece = Slice("schedule_ids[]", ("A", "B", "C"), SINCE, UNTIL)
    first, second = piece.halves()
    assert (first.ids, second.ids) == (("A",), ("B", "C"))
    early, late = first.halves()
    assert early.ids == late.ids == ("A",)
    assert (early.since, early.until) == (SINCE, SINCE + pd.Timedelta(days=1))
    assert (late.since, late.until) == (SINCE + pd.Timedelta(days=1), UNTIL)
    assert Slice("schedule_ids[]", ("A",), SINCE, SINCE + pd.Timedelta(hours=1)).halves() is None
    assert Slice("team_ids[]", ("T1",)).halves() is None
    assert Slice("team_ids[]", ("T1", "T2")).params() == {"team_ids[]": ["T1", "T2"]}


def test_a_small_collection_is_one_plain_read_and_never_lists_teams():
    client = FakePagerDuty(people(3, 40), cap=10_000)
    asked = []
    collected = read_by_team(client, "/users", "users", {}, lambda: asked.append(1) or [])
    assert len(collected.objects) == 120 and not collected.sliced
    assert client.requests_made == 2 and asked == []


def test_past_the_cap_team_slices_read_everyone_once_and_a_slice_still_too_big_is_halved(monkeypatch):
    monkeypatch.setattr(pagerduty_slices, "IDS_PER_QUERY", 4)
    objects = people(9, 30)  # 270 people; the cap is 100
    objects[0]["teams"].append("T008")  # in two teams: read twice, kept once
    client = FakePagerDuty(objects, cap=100)
    collected = read_by_team(client, "/users", "users", {}, lambda: [f"T{t:03d}" for t in range(9)])

    assert collected.sliced and collected.reported_total == 270
    assert sorted(collected.by_id) == sorted(obj["id"] for obj in objects)
    # Plain (270: refused); 4 teams (120: refused) -> 2 + 2 (60 each), twice; 1 team (31).
    sizes = [found for _, found in client.queries]
    assert sizes == [270, 120, 60, 60, 120, 60, 60, 31]
    assert client.requests_made == 1 + (1 + 1 + 1) * 2 + 1


def test_a_query_that_cannot_be_narrowed_further_names_what_it_tried():
    objects = [{"id": f"E{i}", "schedule": "S1", "at": SINCE + pd.Timedelta(minutes=i)} for i in range(200)]
    client = FakePagerDuty(objects, cap=50)  # 60 entries in the first hour: one schedule, the smallest window
    piece = Slice("schedule_ids[]", ("S1",), SINCE, SINCE + pd.Timedelta(hours=4))
    narrowest = r"1 schedule_ids\[\], 2026-11-01T00:00:00\+00:00 to 2026-11-01T01:00:00\+00:00"
    with pytest.raises(BeyondOffsetCap, match=rf"cannot narrow further: {narrowest}"):
        list(read_slice(client, "/oncalls", "oncalls", {}, piece))


def test_a_window_past_the_cap_is_halved_and_nothing_is_lost():
    objects = [{"id": f"E{i}", "schedule": "S1", "at": SINCE + pd.Timedelta(minutes=10 * i)} for i in range(288)]
    client = FakePagerDuty(objects, cap=100)
    found = list(read_slice(client, "/oncalls", "oncalls", {}, Slice("schedule_ids[]", ("S1",), SINCE, UNTIL)))
    assert sorted(obj["id"] for obj in found) == sorted(obj["id"] for obj in objects)


def test_after_a_sliced_read_the_teamless_people_the_audit_names_are_looked_up(caplog):
    objects = people(2, 60) + [
        {"id": "JOINER", "email": "joiner@example.com", "teams": []},
        {"id": "ROTA", "email": "rota@example.com", "teams": []},
        {"id": "ALONE", "email": "alone@example.com", "teams": []},
    ]
    client = FakePagerDuty(objects, cap=100)
    users = read_by_team(client, "/users", "users", {}, lambda: ["T000", "T001"])
    assert "JOINER" not in users.by_id
    before = client.requests_made
    find_users_by_email(client, users, ["Joiner@Example.com ", "u0.1@example.com", None], [])
    fetch_missing(client, users, ["ROTA", "U0-1", "TYPO"], "/users", "user")
    assert {"JOINER", "ROTA"} <= users.by_id.keys() and not {"ALONE", "TYPO"} & users.by_id.keys()
    assert client.requests_made == before + 3  # a query for the joiner, a GET for the rotation member, one 404
    with caplog.at_level(logging.WARNING):
        report_unread("/users", users)
    assert "1 of the 123 objects of GET /users belong to no team" in caplog.text


def test_a_plain_read_needs_no_look_ups():
    client = FakePagerDuty(people(1, 5), cap=100)
    users = read_by_team(client, "/users", "users", {}, list)
    find_users_by_email(client, users, ["missing@example.com"], [])
    fetch_missing(client, users, ["MISSING"], "/users", "user")
    assert client.requests_made == 1


def test_collected_keeps_the_first_of_each_id():
    collected = Collected([{"id": "A", "n": 1}])
    collected.add([{"id": "A", "n": 2}, {"id": "B", "n": 3}])
    assert collected.objects == [{"id": "A", "n": 1}, {"id": "B", "n": 3}]


def test_only_recent_joiners_are_worth_a_look_up_by_email():
    from oncall_readiness.checks.catalogue import load_catalogue
    from oncall_readiness.hr import TABLE as HR_TABLE
    from oncall_readiness.sources.pagerduty import joiner_emails
    from oncall_readiness.sources.window import AuditWindow

    overrides = pd.DataFrame(
        {"team": ["search"], "check_id": ["joiner-permissions"], "key": ["joiner_days"], "value": ["120"]}
    )
    registry = {
        "registry_teams": pd.DataFrame({"team": ["payments", "search"]}),
        "registry_thresholds": overrides,
        "registry_people": pd.DataFrame(
            {
                "email": ["Old.Timer@example.com", " New.Hire@example.com", None, "future@example.com"],
                "start_date": ["2020-01-01", "2026-08-01", "2026-11-01", "2026-12-01"],
            }
        ),
        HR_TABLE: pd.DataFrame({"email": ["hr.only@example.com"], "start_date": ["2026-11-10"]}),
    }
    # search's 120 days reach back to 2026-07-19: the longest window of any team counts.
    joiner_days = load_catalogue().longest_threshold("joiner_days", registry["registry_teams"]["team"], overrides)
    assert joiner_days == 120
    emails = joiner_emails(registry, AuditWindow(pd.Timestamp("2026-11-16T06:00:00Z"), joiner_days=joiner_days))
    assert emails == ["hr.only@example.com", "new.hire@example.com"]
    assert joiner_emails(registry, AuditWindow(pd.Timestamp("2026-11-16T06:00:00Z"))) == []  # no joiner check


def _pages(batches: list[tuple[str, ...]], expected: dict[str, int]) -> int:
    return sum(max(1, math.ceil(sum(expected[i] for i in batch) / PAGE)) for batch in batches)


def test_schedules_are_packed_so_their_entries_fill_whole_pages():
    # 300 schedules of 7 weekly turns, every seventh of 43 daily ones: 3,648 entries, 37 pages at best.
    expected = {f"S{i:03d}": 43 if i % 7 == 3 else 7 for i in range(300)}
    batches = pack(list(expected.items()), page=PAGE, cap=10_000)
    assert [i for batch in batches for i in batch] == list(expected)  # each once, in order
    assert all(len(batch) <= pagerduty_slices.IDS_PER_QUERY for batch in batches)
    assert _pages(batches, expected) == math.ceil(sum(expected.values()) / PAGE) == 37
    # Batches of 100 ids, as before, end on partly filled pages: 2 more requests here.
    plain = [tuple(list(expected)[start : start + 100]) for start in range(0, 300, 100)]
    assert _pages(plain, expected) == 39


def test_a_packed_batch_stays_within_the_cap_and_a_schedule_past_it_goes_alone():
    expected = {"A": 6_000, "B": 6_000, "HUGE": 25_000, "C": 10}
    batches = pack(list(expected.items()), page=PAGE, cap=10_000)
    assert batches == [("A",), ("B",), ("HUGE",), ("C",)]
    assert pack([], page=PAGE, cap=10_000) == []


def test_a_slice_expected_past_the_cap_is_halved_before_it_is_asked():
    whole = Slice("schedule_ids[]", ("S1",), SINCE, UNTIL)
    parts = narrowed(whole, 25_000, cap=10_000)
    assert len(parts) == 4 and parts[0].since == SINCE and parts[-1].until == UNTIL
    assert all(a.until == b.since for a, b in zip(parts, parts[1:], strict=False))
    assert narrowed(whole, 9_000, cap=10_000) == [whole]


def test_users_are_sliced_by_the_teams_that_whole_reads_name_without_listing_teams():
    client = FakePagerDuty(people(3, 40), cap=100)
    teams = AccountTeams(client)
    teams.learn(Collected([{"id": "S1", "teams": [{"id": "T000"}, {"id": "T001"}]}, {"id": "S2", "teams": []}]))
    teams.learn(Collected([{"id": "X", "teams": [{"id": "T999"}]}], sliced=True))  # a sliced read teaches nothing
    teams.learn(Collected([{"id": "P1", "teams": [{"id": "T002"}, {"id": "T000"}]}]))
    users = read_by_team(client, "/users", "users", {}, teams)
    assert teams.named.keys() == {"T000", "T001", "T002"}
    assert len(users.by_id) == 120 and not users.may_lack
    # The refused plain read (120), the three teams' slice refused too (120), halved: 40 and 80 people.
    assert client.requests_made == 1 + 1 + 2  # and no GET /teams


def test_with_no_team_named_the_accounts_teams_are_listed_once():
    client = FakePagerDuty(people(3, 40), cap=100)
    teams = AccountTeams(client)
    assert teams() == ["T000", "T001", "T002"] and teams() == ["T000", "T001", "T002"]
    assert client.requests_made == 1


def test_slices_that_brought_the_whole_total_leave_nothing_to_look_up(caplog):
    client = FakePagerDuty(people(2, 60), cap=100)
    users = read_by_team(client, "/users", "users", {}, lambda: ["T000", "T001"])
    assert users.sliced and users.reported_total == len(users.by_id) == 120 and not users.may_lack
    before = client.requests_made
    find_users_by_email(client, users, ["joiner.without.pagerduty@example.com"], [])
    fetch_missing(client, users, ["NO-SUCH-USER"], "/users", "user")
    assert client.requests_made == before  # neither exists: the total says so
    with caplog.at_level(logging.WARNING):
        report_unread("/users", users)
    assert "belong to no team" not in caplog.text
