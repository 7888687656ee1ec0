"""A past date read as of its instant: the calendar's events created since, the catalog's dates after it."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from oncall_readiness.registry import load_registry
from oncall_readiness.registry.tables import facts_as_of
from oncall_readiness.sources.chaos_calendar import normalise, parse_feed
from readiness_sandbox.sample_org import CATALOG

FEED = b"""BEGIN:VCALENDAR\r
VERSION:2.0\r
PRODID:-//test//EN\r
BEGIN:VEVENT\r
UID:held@x\r
SUMMARY:Payments: lose a region\r
DTSTART:20261028T100000Z\r
DTEND:20261028T160000Z\r
DTSTAMP:20261101T080000Z\r
CREATED:20261001T080000Z\r
CATEGORIES:payments\r
URL:https://wiki.example/chaos-2026-10-28\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:entered-late@x\r
SUMMARY:Payments: recorded afterwards\r
DTSTART:20261020T100000Z\r
DTEND:20261020T160000Z\r
DTSTAMP:20261112T080000Z\r
CREATED:20261112T080000Z\r
CATEGORIES:payments\r
END:VEVENT\r
END:VCALENDAR\r
"""


def test_an_event_put_in_the_calendar_after_the_instant_was_not_there_then():
    feed = parse_feed(FEED, "a test feed")
    before = normalise(feed, instant=pd.Timestamp("2026-11-02T00:00Z"), teams=["payments"])
    after = normalise(feed, instant=pd.Timestamp("2026-11-16T00:00Z"), teams=["payments"])
    assert list(before["chaos_calendar_events"]["uid"]) == ["held@x"]
    assert sorted(after["chaos_calendar_events"]["uid"]) == ["entered-late@x", "held@x"]
    # The event's URL is the finding's link; an event without one links nothing.
    assert after["chaos_calendar_links"].to_dict("records") == [
        {"subject": "event:held@x", "name": "Payments: lose a region", "url": "https://wiki.example/chaos-2026-10-28"}
    ]


def test_the_catalog_as_of_a_past_date_has_not_got_its_later_joiners_nor_its_later_chaos_day():
    facts = load_registry(CATALOG).to_facts()
    past = facts_as_of(facts, dt.date(2026, 11, 2))
    people = set(past["registry_people"]["person"])
    assert "noah-schulz" in set(facts["registry_people"]["person"])  # starts 2026-11-09
    assert "noah-schulz" not in people and "sofia-rossi" in people  # Sofia Rossi started 2026-09-14
    teams = past["registry_teams"].set_index("team")["last_chaos_day"]
    assert str(facts["registry_teams"].set_index("team").at["checkout", "last_chaos_day"]) == "2026-09-30"
    assert str(teams.at["checkout"]) == "2026-09-30"  # written before the date: kept
    assert facts_as_of(facts, dt.date(2026, 11, 16))["registry_people"].equals(facts["registry_people"])
    early = facts_as_of(facts, dt.date(2026, 9, 1))["registry_teams"].set_index("team")["last_chaos_day"]
    assert pd.isna(early.at["checkout"])  # annotated since: its value then is not known
