"""The sample organisation dated for another audit date: every date moved, the rest as written."""

from __future__ import annotations

import datetime as dt

import yaml

from readiness_sandbox.demo import latest_monday, weekly_dates
from readiness_sandbox.sample_org import SAMPLE_ORG
from readiness_sandbox.sample_times import ANCHOR, shift_text, shifted_sample_org


def test_iso_dates_and_times_move_by_whole_days_keeping_the_time_of_day():
    text = 'created_at: "2026-11-15T17:45:00Z"\nstart_date: 2026-09-14\nid: CVE-2026-4410\n'
    assert shift_text(text, 21) == 'created_at: "2026-12-06T17:45:00Z"\nstart_date: 2026-10-05\nid: CVE-2026-4410\n'


def test_a_feed_moves_its_event_dates_but_not_its_time_zone_rules():
    feed = (
        "BEGIN:VTIMEZONE\r\nDTSTART:19701025T020000\r\nEND:VTIMEZONE\r\n"
        "BEGIN:VEVENT\r\nDTSTART;TZID=Europe/London:20261028T100000\r\n"
        "RRULE:FREQ=MONTHLY;UNTIL=20270101T000000Z\r\nUID:chaos-2026-10-28-payments@x\r\nEND:VEVENT\r\n"
    )
    moved = shift_text(feed, 7, ics=True)
    assert "DTSTART:19701025T020000" in moved
    assert "DTSTART;TZID=Europe/London:20261104T100000\r\n" in moved
    assert "UNTIL=20270108T000000Z" in moved
    assert "UID:chaos-2026-11-04-payments@x" in moved  # ids move with their dates: references still match


def test_the_copy_for_the_anchor_is_the_sample_and_a_later_date_moves_every_file(tmp_path):
    same = shifted_sample_org(tmp_path / "same", ANCHOR)
    assert (same / "pagerduty.yaml").read_text() == (SAMPLE_ORG / "pagerduty.yaml").read_text()
    later = shifted_sample_org(tmp_path / "later", ANCHOR + dt.timedelta(weeks=3))
    incidents = yaml.safe_load((later / "pagerduty.yaml").read_text())["incidents"]
    original = yaml.safe_load((SAMPLE_ORG / "pagerduty.yaml").read_text())["incidents"]
    assert [i["created_at"] for i in incidents] != [i["created_at"] for i in original]
    assert "2026-11-30" in (later / "hr_joiners.csv").read_text()  # Noah Schulz's 2026-11-09, three weeks on
    assert (later / "chaos_days.ics").read_bytes().count(b"\r\n") == (SAMPLE_ORG / "chaos_days.ics").read_bytes().count(
        b"\r\n"
    )


def test_the_demo_audits_weekly_dates_up_to_the_latest_monday():
    assert latest_monday(dt.date(2026, 12, 9)) == dt.date(2026, 12, 7)
    assert latest_monday(dt.date(2026, 12, 7)) == dt.date(2026, 12, 7)
    assert weekly_dates(dt.date(2026, 12, 7), 3) == ["2026-11-23", "2026-11-30", "2026-12-07"]
