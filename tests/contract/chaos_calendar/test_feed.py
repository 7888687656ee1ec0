"""Reading an iCalendar feed into facts: RFC 5545 times and recurrences, team claims, write-ups, bad feeds.

Feeds are written out as text, the way calendars publish them, so each case reads as the
``.ics`` lines it is about. The audit instant is 2026-11-16T00:00Z.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from oncall_readiness.errors import SourceError
from oncall_readiness.sources.chaos_calendar import normalise, parse_feed

INSTANT = pd.Timestamp("2026-11-16T00:00:00Z")
TEAMS = ["payments", "checkout", "search"]


def feed(*events: str, header: str = "X-WR-TIMEZONE:Europe/London") -> bytes:
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//test//chaos//EN", *header.splitlines()]
    for event in events:
        lines += ["BEGIN:VEVENT", "DTSTAMP:20260101T000000Z", *event.strip().splitlines(), "END:VEVENT"]
    return ("\r\n".join([*lines, "END:VCALENDAR"]) + "\r\n").encode()


def facts(content: bytes) -> dict[str, pd.DataFrame]:
    return normalise(parse_feed(content, "GET /feed.ics"), instant=INSTANT, teams=TEAMS)


def events(content: bytes) -> pd.DataFrame:
    return facts(content)["chaos_calendar_events"].set_index("uid")


def test_all_day_and_floating_times_are_placed_in_the_calendars_zone_and_stored_in_utc():
    table = events(
        feed(
            "UID:all-day\nDTSTART;VALUE=DATE:20260715\nDTEND;VALUE=DATE:20260716",
            "UID:floating\nDTSTART:20261210T100000\nDTEND:20261210T160000",
            "UID:zoned\nDTSTART;TZID=America/New_York:20261001T090000",
            "UID:utc\nDTSTART:20251103T100000Z",
        )
    )
    assert table.at["all-day", "start"] == pd.Timestamp("2026-07-14T23:00Z")  # midnight in London (BST)
    assert table.at["all-day", "end"] == pd.Timestamp("2026-07-15T23:00Z")
    assert table.at["all-day", "day"] == dt.date(2026, 7, 15) and table.at["all-day", "all_day"]
    assert table.at["floating", "start"] == pd.Timestamp("2026-12-10T10:00Z")  # GMT in December
    assert table.at["zoned", "start"] == pd.Timestamp("2026-10-01T13:00Z")
    assert table.at["utc", "start"] == table.at["utc", "end"] == pd.Timestamp("2025-11-03T10:00Z")
    assert str(table["start"].dtype) == "datetime64[ns, UTC]"


def test_without_x_wr_timezone_floating_times_are_utc():
    table = events(feed("UID:floating\nDTSTART:20260715T100000", header=""))
    assert table.at["floating", "start"] == pd.Timestamp("2026-07-15T10:00Z")
    assert facts(feed(header=""))["chaos_calendar_feed"].at[0, "time_zone"] == "UTC"


def test_recurring_events_are_expanded_with_rdate_exdate_and_moved_instances_over_a_bounded_range():
    series = """
UID:monthly
SUMMARY:Monthly drill
DTSTART;TZID=Europe/London:20240101T100000
RRULE:FREQ=MONTHLY
RDATE;TZID=Europe/London:20261120T150000
EXDATE;TZID=Europe/London:20261001T100000
"""
    moved = """
UID:monthly
SUMMARY:Monthly drill (moved)
RECURRENCE-ID;TZID=Europe/London:20260901T100000
DTSTART;TZID=Europe/London:20260903T100000
"""
    table = facts(feed(series, moved))["chaos_calendar_events"]
    days = [day.isoformat() for day in table["day"]]
    assert days[0] == "2024-12-01"  # the range starts 730 days before the instant (2024-11-16)
    assert days[-1] == "2027-11-01"  # and ends 365 days after it
    assert "2026-10-01" not in days and "2026-09-01" not in days
    assert {"2026-09-03", "2026-11-20", "2026-11-01", "2026-12-01"} <= set(days)
    assert table["recurring"].all() and table[["uid", "start"]].duplicated().sum() == 0
    moved_row = table[table["day"] == dt.date(2026, 9, 3)].iloc[0]
    assert moved_row["summary"] == "Monthly drill (moved)"


def test_teams_are_claimed_by_category_or_description_and_unknown_explicit_ones_are_kept():
    claims = facts(
        feed(
            "UID:a\nDTSTART:20261001T100000Z\nCATEGORIES:Chaos Day,PAYMENTS\nCATEGORIES:team:checkout",
            "UID:b\nDTSTART:20261002T100000Z\nDESCRIPTION:Drill.\\nTeam: search, checkout\\nteam:",
            "UID:c\nDTSTART:20261003T100000Z\nCATEGORIES:team:paymnets,Guild",
        )
    )["chaos_calendar_event_teams"]
    assert sorted(zip(claims["uid"], claims["team"], claims["claimed_by"], strict=True)) == [
        ("a", "checkout", "categories"),
        ("a", "payments", "categories"),
        ("b", "checkout", "description"),
        ("b", "search", "description"),
        ("c", "paymnets", "categories"),  # kept as written: the data contract names it
    ]


@pytest.mark.parametrize(
    ("lines", "write_up"),
    [
        (
            "URL:https://wiki.example.com/chaos/1\nDESCRIPTION:see https://other.example.com",
            "https://wiki.example.com/chaos/1",
        ),
        ("DESCRIPTION:Write-up: https://wiki.example.com/chaos/2.", "https://wiki.example.com/chaos/2"),
        (
            "DESCRIPTION:Join https://meet.google.com/a-b-c\\nNotes (https://docs.example.com/n)",
            "https://docs.example.com/n",
        ),
        ("DESCRIPTION:Join https://acme.zoom.us/j/1 or https://teams.microsoft.com/l/x", None),
        ("URL:mailto:team@example.com", None),
    ],
)
def test_the_write_up_is_the_url_or_the_first_link_that_is_not_a_video_call(lines, write_up):
    table = events(feed(f"UID:e\nDTSTART:20261001T100000Z\n{lines}"))
    assert (None if pd.isna(table.at["e", "write_up_url"]) else table.at["e", "write_up_url"]) == write_up


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (feed(header="X-WR-TIMEZONE:Mars/Olympus"), "the feed's X-WR-TIMEZONE 'Mars/Olympus' is not a known time zone"),
        (feed("UID:no-start\nSUMMARY:When?"), "the feed's event 'no-start' has no start (DTSTART)"),
        (feed("UID:bad-rule\nDTSTART:20261001T100000Z\nRRULE:FREQ=SOMETIMES"), "the feed has an event that cannot be"),
        (b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nEND:VEVENT\r\n", "GET /feed.ics answered with an iCalendar feed that"),
        (b"<!doctype html>", "GET /feed.ics answered with something that is not an iCalendar feed"),
    ],
)
def test_a_bad_feed_is_a_source_error_naming_the_problem(content, message):
    with pytest.raises(SourceError) as error:
        facts(content)
    assert str(error.value).startswith(f"chaos_calendar: {message}")
