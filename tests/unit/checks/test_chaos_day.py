"""chaos-day over small, eye-checkable organisations and calendars.

The audit instant is 2026-11-16T00:00Z; "N days ago" is counted from a Chaos Day's date to
2026-11-16. Calendars are built with ``icalendar`` and normalised by the source module, as
the collector does (recurring events expanded, times placed in the calendar's zone).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from icalendar import Calendar, Event

from oncall_readiness.checks.catalogue import load_catalogue
from oncall_readiness.checks.runner import evaluate_checks
from oncall_readiness.sources.chaos_calendar import normalise, not_configured

INSTANT = pd.Timestamp("2026-11-16T00:00:00Z")
CHECK = "chaos-day"
LONDON = ZoneInfo("Europe/London")
WRITE_UP = "https://wiki.example.com/chaos/{uid}"
UNREADABLE = "chaos_calendar: GET /calendars/chaos.ics answered 503: Service Unavailable"


def at(day: str, hour: int = 10) -> dt.datetime:
    return dt.datetime.combine(dt.date.fromisoformat(day), dt.time(hour), tzinfo=LONDON)


def event(uid, day, *, teams=("shop",), summary=None, url="default", description=None, **props) -> Event:
    """A Chaos Day 10:00-16:00 London, owned through its categories, with a write-up unless ``url=None``."""
    component = Event()
    component.add("UID", uid)
    component.add("DTSTAMP", dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    component.add("SUMMARY", summary or f"Chaos Day {uid}")
    start = at(day) if isinstance(day, str) else day
    component.add("DTSTART", start)
    if isinstance(start, dt.datetime):
        component.add("DTEND", start + dt.timedelta(hours=6))
    if teams:
        component.add("CATEGORIES", list(teams))
    if url:
        component.add("URL", WRITE_UP.format(uid=uid) if url == "default" else url)
    if description:
        component.add("DESCRIPTION", description)
    for name, value in props.items():
        component.add(name.replace("_", "-"), value)
    return component


def calendar(*events: Event) -> Calendar:
    feed = Calendar()
    feed.add("PRODID", "-//test//chaos//EN")
    feed.add("VERSION", "2.0")
    feed.add("X-WR-TIMEZONE", "Europe/London")
    for component in events:
        feed.add_component(component)
    return feed


def audit(teams, feed=None, *, people=(), overrides=(), unavailable=None):
    """Results by team and findings by subject; ``teams`` maps a team to its annotation (or None).

    ``feed=None``: no calendar connected; ``unavailable``: the calendar could not be read.
    """
    facts = {
        "registry_teams": pd.DataFrame({"team": list(teams), "last_chaos_day": [_date(day) for day in teams.values()]}),
        "registry_people": pd.DataFrame(
            [(team, start and dt.date.fromisoformat(start)) for team, start in people], columns=["team", "start_date"]
        ),
        "registry_thresholds": pd.DataFrame(
            [(team, CHECK, key, value) for team, key, value in overrides], columns=["team", "check_id", "key", "value"]
        ),
    }
    if unavailable is None:
        facts |= not_configured() if feed is None else normalise(feed, instant=INSTANT, teams=list(teams))
    catalogue = load_catalogue()
    only = dataclasses.replace(catalogue, checks={CHECK: catalogue.checks[CHECK]})
    gone = {} if unavailable is None else {"chaos_calendar": unavailable}
    results, findings = evaluate_checks(audit_instant=INSTANT, facts=facts, unavailable=gone, catalogue=only)
    return results.set_index("team"), findings.set_index("subject")


def _date(day):
    return dt.date.fromisoformat(day) if day else None


# --- by age, from the annotation alone (no calendar connected) ------------------------------------


def test_a_recent_annotation_passes_and_names_its_date():
    results, findings = audit({"shop": "2026-10-28"})
    assert results.at["shop", "status"] == "pass" and results.at["shop", "score"] == 10
    assert (
        results.at["shop", "reason"] == "Last Chaos Day 2026-10-28 (recorded in readiness/last-chaos-day), 19 days ago."
    )
    assert findings.at["team:shop", "outcome"] == "pass"


@pytest.mark.parametrize(
    ("day", "status", "tail"),
    [
        ("2026-08-18", "pass", "90 days ago."),
        ("2026-08-17", "warn", "91 days ago: more than 90 days."),
        ("2026-05-20", "warn", "180 days ago: more than 90 days."),
        ("2026-05-19", "fail", "181 days ago: more than 180 days."),
        ("2026-11-16", "pass", "today."),
    ],
)
def test_age_passes_to_max_days_warns_to_warn_days_then_fails(day, status, tail):
    results, _ = audit({"shop": day})
    assert results.at["shop", "status"] == status
    assert results.at["shop", "reason"].endswith(tail)


def test_thresholds_are_per_team():
    results, _ = audit(
        {"shop": "2026-10-01", "ops": "2026-10-01"},
        overrides=[("ops", "max_days", "30"), ("ops", "warn_days", "40")],
    )
    assert results.at["shop", "status"] == "pass"
    assert results.at["ops", "status"] == "fail" and results.at["ops", "reason"].endswith("more than 40 days.")


def test_never_fails_and_says_no_calendar_is_connected():
    results, findings = audit({"shop": None})
    assert results.at["shop", "status"] == "fail" and results.at["shop", "score"] == 0
    assert results.at["shop", "reason"] == (
        "No Chaos Day recorded in readiness/last-chaos-day (no Chaos Day calendar is connected)."
    )
    assert findings.at["team:shop", "outcome"] == "fail"


def test_a_new_team_passes_until_its_first_chaos_day_is_due():
    people = [("shop", "2026-10-01"), ("shop", "2026-09-20"), ("ops", "2026-10-01"), ("ops", None)]
    results, _ = audit({"shop": None, "ops": None}, people=people)
    assert results.at["shop", "status"] == "pass"
    assert results.at["shop", "reason"] == (
        "No Chaos Day recorded in readiness/last-chaos-day (no Chaos Day calendar is connected), but the team is new "
        "(its first member joined 2026-09-20): first Chaos Day due by 2026-12-19."
    )
    assert results.at["ops", "status"] == "fail"  # someone without a start date counts as long-standing


def test_a_new_teams_recent_chaos_day_still_owes_its_write_up():
    results, _ = audit(
        {"shop": None}, calendar(event("first", "2026-11-02", url=None)), people=[("shop", "2026-10-01")]
    )
    assert results.at["shop", "status"] == "warn"
    assert results.at["shop", "reason"].endswith("14 days ago, and its event links no write-up.")


def test_a_team_whose_first_member_joined_max_days_ago_is_not_new():
    results, _ = audit({"shop": None}, people=[("shop", "2026-08-18")])  # 90 days ago
    assert results.at["shop", "status"] == "fail"


# --- the calendar ----------------------------------------------------------------------------------


def test_a_held_event_passes_naming_it_and_the_next_planned_one():
    feed = calendar(
        event("past", "2026-10-28", summary="Shop: kill the ledger primary"),
        event("plan", "2026-12-03", summary="Shop: lose a region", url=None),
    )
    results, findings = audit({"shop": None}, feed)
    assert results.at["shop", "status"] == "pass"
    assert results.at["shop", "reason"] == (
        'Last Chaos Day 2026-10-28 ("Shop: kill the ledger primary"), 19 days ago; '
        'next Chaos Day on 2026-12-03 ("Shop: lose a region").'
    )
    assert findings.at["event:past", "message"] == (
        'Chaos Day "Shop: kill the ledger primary" on 2026-10-28, 19 days ago: its write-up is '
        "https://wiki.example.com/chaos/past"
    )
    assert findings.at["event:plan", "outcome"] == "pass"
    assert findings.at["event:plan", "message"] == 'Chaos Day "Shop: lose a region" is planned for 2026-12-03'


def test_an_event_in_the_future_is_a_plan_not_a_chaos_day():
    feed = calendar(event("later-today", at("2026-11-16", 9)), event("plan", "2026-11-20"))
    results, findings = audit({"shop": "2026-05-01"}, feed)
    assert results.at["shop", "status"] == "fail"
    assert results.at["shop", "reason"] == (
        "Last Chaos Day 2026-05-01 (recorded in readiness/last-chaos-day), 199 days ago: more than 180 days; "
        'next Chaos Day on 2026-11-16 ("Chaos Day later-today").'
    )
    assert "event:plan" not in findings.index  # only the next plan is named


def test_only_a_plan_fails_naming_it():
    results, _ = audit({"shop": None}, calendar(event("plan", "2026-12-10", summary="Shop: storm")))
    assert results.at["shop", "status"] == "fail"
    assert results.at["shop", "reason"] == (
        "No Chaos Day recorded, neither in readiness/last-chaos-day nor in the Chaos Day calendar; "
        'next Chaos Day on 2026-12-10 ("Shop: storm").'
    )


def test_the_latest_of_annotation_and_calendar_counts():
    feed = calendar(
        event("july-a", "2026-07-15", teams=["newer-annotation"], url=None),
        event("july-b", "2026-07-15", teams=["newer-event"]),
    )
    results, _ = audit({"newer-annotation": "2026-10-28", "newer-event": "2026-05-12"}, feed)
    assert results.at["newer-annotation", "reason"].startswith("Last Chaos Day 2026-10-28 (recorded in")
    assert results.at["newer-annotation", "status"] == "pass"  # its older event's missing write-up does not matter
    assert results.at["newer-event", "status"] == "warn"
    assert results.at["newer-event", "reason"] == (
        'Last Chaos Day 2026-07-15 ("Chaos Day july-b"), 124 days ago: more than 90 days.'
    )


def test_an_event_on_the_annotations_day_stands_for_it():
    results, findings = audit({"shop": "2026-09-30"}, calendar(event("sept", "2026-09-30", url=None)))
    assert results.at["shop", "status"] == "warn"
    assert results.at["shop", "reason"] == (
        'Last Chaos Day 2026-09-30 ("Chaos Day sept"), 47 days ago, and its event links no write-up.'
    )
    assert findings.at["event:sept", "outcome"] == "warn"
    assert findings.at["event:sept", "message"].endswith("47 days ago: it links no write-up")


@pytest.mark.parametrize(
    ("description", "status"),
    [
        ("Notes: https://wiki.example.com/chaos/notes.", "pass"),
        ("Join: https://meet.google.com/abc-defg-hij\nDial-in: +44 20 7946 0000", "warn"),
        ("Join https://us02web.zoom.us/j/123 then write it up at https://docs.example.com/w", "pass"),
        ("We will write it up.", "warn"),
    ],
)
def test_a_link_in_the_description_is_a_write_up_but_a_video_call_is_not(description, status):
    results, _ = audit({"shop": None}, calendar(event("e", "2026-11-02", url=None, description=description)))
    assert results.at["shop", "status"] == status


def test_a_missing_write_up_is_named_on_a_warning_or_failing_chaos_day_too():
    results, _ = audit({"shop": None}, calendar(event("old", "2026-03-02", url=None)))
    assert results.at["shop", "status"] == "fail"
    assert results.at["shop", "reason"].endswith("259 days ago: more than 180 days, and its event links no write-up.")


def test_a_recurring_series_is_expanded_with_its_exceptions():
    series = event(
        "quarterly",
        at("2025-10-14", 9),
        summary="Quarterly game day",
        RRULE={"FREQ": "MONTHLY", "INTERVAL": 3},
        EXDATE=at("2026-10-14", 9),  # cancelled: the last one held is the moved July instance
    )
    moved = event("quarterly", at("2026-07-16", 9), summary="Game day (moved)", RECURRENCE_ID=at("2026-07-14", 9))
    results, findings = audit({"shop": None}, calendar(series, moved))
    assert results.at["shop", "status"] == "warn"
    assert results.at["shop", "reason"] == (
        'Last Chaos Day 2026-07-16 ("Game day (moved)"), 123 days ago: more than 90 days; '
        'next Chaos Day on 2027-01-14 ("Quarterly game day").'
    )
    assert findings.loc["event:quarterly/2026-07-16", "outcome"] == "warn"
    assert findings.loc["event:quarterly/2027-01-14", "outcome"] == "pass"


def test_teams_own_events_by_category_or_description_line_without_case():
    feed = calendar(
        event("a", "2026-11-02", teams=["Chaos Day", "SHOP"]),
        event("b", "2026-11-03", teams=["team:Ops"]),
        event("c", "2026-11-04", teams=(), description="Our fire drill.\nteam: web, Data"),
        event("d", "2026-11-05", teams=["guild"]),  # a category that names no team: nobody's
    )
    results, findings = audit({"shop": None, "ops": None, "web": None, "data": None, "guild-less": None}, feed)
    for team, uid in (("shop", "a"), ("ops", "b"), ("web", "c"), ("data", "c")):
        assert results.at[team, "status"] == "pass", team
        assert f"event:{uid}" in findings[findings["team"] == team].index
    assert results.at["guild-less", "status"] == "fail"


# --- the calendar unavailable ----------------------------------------------------------------------


def test_an_unreadable_calendar_makes_every_team_unknown_saying_what_the_annotation_alone_gives():
    results, findings = audit({"fresh": "2026-10-28", "stale": "2025-11-03", "never": None}, unavailable=UNREADABLE)
    # A newer event without a write-up would turn the fresh annotation's pass into a warn: no pass from half the data.
    assert results.at["fresh", "status"] == "unknown" and pd.isna(results.at["fresh", "score"])
    assert results.at["fresh", "reason"] == (
        f"The Chaos Day calendar could not be read: {UNREADABLE}; Last Chaos Day 2026-10-28 (recorded in "
        "readiness/last-chaos-day), 19 days ago by readiness/last-chaos-day alone."
    )
    assert results.at["stale", "status"] == "unknown" and pd.isna(results.at["stale", "score"])
    assert results.at["stale", "reason"] == (
        f"The Chaos Day calendar could not be read: {UNREADABLE}; readiness/last-chaos-day alone dates the last one "
        "2025-11-03, 378 days ago."
    )
    assert results.at["never", "status"] == "unknown"
    assert results.at["never", "reason"].endswith("; readiness/last-chaos-day records no Chaos Day.")
    assert set(findings["outcome"]) == {"unknown"}  # never a pass or a fail from partial data


def test_an_unreadable_calendar_leaves_a_new_team_unknown_with_its_due_date():
    # A recent calendar event without a write-up would make even a new team warn.
    results, _ = audit({"shop": None}, people=[("shop", "2026-10-01")], unavailable=UNREADABLE)
    assert results.at["shop", "status"] == "unknown"
    assert "first Chaos Day due by 2026-12-30" in results.at["shop", "reason"]
