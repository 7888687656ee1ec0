"""Interruptions and time on call, by PagerDuty's published Insights definitions.

- An interruption is a phone, SMS or push notification; email is not one.
- Notifications to the same person within 60 seconds count once: per user, in time order, a
  notification counts unless it comes less than 60 s after the last one that counted.
- Each interruption falls in exactly one kind of hours, in the responder's own time zone
  (``user.time_zone``): sleep hours 22:00-08:00 every night; business hours 08:00-18:00 Monday
  to Friday; off hours the rest (weekday evenings 18:00-22:00 and weekend days 08:00-22:00).
- Seconds on call come from the final schedules of every escalation level that targets a
  schedule; a user targeted directly by a level is on call at that level all the time.
  Overlapping shifts count once.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime, time, timedelta

from .model import Incident, Notification, PagerDutyState
from .schedules import get_zone, render_final

INTERRUPTING = frozenset({"phone", "sms", "push"})
DEDUPE_WINDOW = timedelta(seconds=60)
SLEEP_START, SLEEP_END = time(22, 0), time(8, 0)
BUSINESS_END = time(18, 0)
HOUR_KINDS = ("business", "off", "sleep")


def hour_kind(at: datetime, time_zone: str) -> str:
    """``business``, ``off`` or ``sleep``: the kind of hours ``at`` falls in, in ``time_zone``."""
    local = at.astimezone(get_zone(time_zone))
    clock = local.time()
    if clock >= SLEEP_START or clock < SLEEP_END:
        return "sleep"
    if local.isoweekday() <= 5 and clock < BUSINESS_END:
        return "business"
    return "off"


def interruptions(notifications: Iterable[Notification]) -> list[Notification]:
    """The notifications that count as interruptions: no email, one per person per 60 s."""
    last_counted: dict[str, datetime] = {}
    counted = []
    for note in sorted(notifications, key=lambda n: (n.at, n.user)):
        if note.kind not in INTERRUPTING:
            continue
        previous = last_counted.get(note.user)
        if previous is not None and note.at - previous < DEDUPE_WINDOW:
            continue
        last_counted[note.user] = note.at
        counted.append(note)
    return counted


def interruption_counts(state: PagerDutyState, notifications: Iterable[Notification]) -> Counter:
    """Counter of ``total``, ``business``, ``off`` and ``sleep`` interruptions (each user's zone)."""
    counts: Counter = Counter({kind: 0 for kind in ("total", *HOUR_KINDS)})
    for note in interruptions(notifications):
        counts["total"] += 1
        counts[hour_kind(note.at, state.users[note.user].time_zone)] += 1
    return counts


def assignees(incident: Incident) -> list[str]:
    """The users the incident was ever assigned to, in order of first assignment."""
    return list(dict.fromkeys(user for _, user in incident.assignments))


def seconds_on_call(state: PagerDutyState, since: datetime, until: datetime) -> dict[str, dict[str, int]]:
    """User id -> ``{"total", "level_1", "level_2_plus"}`` seconds on call in ``[since, until)``."""
    spans: dict[tuple[str, str], list[tuple[datetime, datetime]]] = {}
    finals: dict[str, list] = {}
    for policy in state.escalation_policies.values():
        for level, rule in enumerate(policy.rules, start=1):
            band = "level_1" if level == 1 else "level_2_plus"
            for kind, target_id in rule.targets:
                if kind == "user":
                    spans.setdefault((target_id, band), []).append((since, until))
                    continue
                if target_id not in finals:
                    schedule = state.schedules[target_id]
                    finals[target_id] = render_final(schedule.layers, schedule.overrides, schedule.zone, since, until)
                for entry in finals[target_id]:
                    spans.setdefault((entry.user, band), []).append((entry.start, entry.end))
    out: dict[str, dict[str, int]] = {}
    for (user, band), intervals in spans.items():
        row = out.setdefault(user, {"total": 0, "level_1": 0, "level_2_plus": 0})
        row[band] = _covered_seconds(intervals)
    for user, row in out.items():
        both = spans.get((user, "level_1"), []) + spans.get((user, "level_2_plus"), [])
        row["total"] = _covered_seconds(both)
    return out


def _covered_seconds(intervals: list[tuple[datetime, datetime]]) -> int:
    total, end = 0.0, None
    for start, stop in sorted(intervals):
        if end is not None and start < end:
            start = end
        if stop > start:
            total += (stop - start).total_seconds()
            end = stop if end is None else max(end, stop)
    return int(total)
