"""Who a page reaches, moment by moment: an escalation policy's levels over a time window.

A window is cut into segments at every shift boundary of the policy's schedules; within a
segment nobody changes, so each level pages one fixed set of people: the users on call in
its schedules (final schedules, overrides included) plus the users it names directly.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pandas as pd

SCHEDULE_TARGETS = ("schedule_reference", "schedule")
USER_TARGETS = ("user_reference", "user")


@dataclass(frozen=True)
class Segment:
    start: pd.Timestamp
    end: pd.Timestamp
    levels: tuple[frozenset[str], ...]  # level 1 first: the user ids it pages
    schedules: dict[str, frozenset[str]]  # first-level schedule id -> user ids on call in it


@dataclass(frozen=True)
class Window:
    start: pd.Timestamp
    end: pd.Timestamp


def policy_segments(targets: pd.DataFrame, shifts: pd.DataFrame, window: Window) -> list[Segment]:
    """The segments of ``window`` for one policy (its rows of ``pagerduty_escalation_targets``)."""
    levels = sorted(targets["level"].dropna().unique())
    schedules = set(targets.loc[targets["target_type"].isin(SCHEDULE_TARGETS), "target_id"])
    mine = shifts[shifts["schedule_id"].isin(schedules) & (shifts["end"] > window.start)]
    mine = mine[mine["start"] < window.end]
    cuts = sorted({window.start, window.end, *mine["start"], *mine["end"]} - {pd.NaT})
    cuts = [cut for cut in cuts if window.start <= cut <= window.end]
    segments = []
    for start, end in zip(cuts, cuts[1:], strict=False):
        on_call = _on_call(mine, start, end)
        paged = tuple(_level_users(targets[targets["level"] == level], on_call) for level in levels)
        first = targets[(targets["level"] == levels[0]) & targets["target_type"].isin(SCHEDULE_TARGETS)]
        segments.append(Segment(start, end, paged, {s: on_call.get(s, frozenset()) for s in first["target_id"]}))
    return segments


def _on_call(shifts: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> dict[str, frozenset[str]]:
    covering = shifts[(shifts["start"] <= start) & (shifts["end"] >= end)]
    return {schedule: frozenset(users) for schedule, users in covering.groupby("schedule_id")["user_id"]}


def _level_users(level: pd.DataFrame, on_call: dict[str, frozenset[str]]) -> frozenset[str]:
    users = set(level.loc[level["target_type"].isin(USER_TARGETS), "target_id"])
    for schedule in level.loc[level["target_type"].isin(SCHEDULE_TARGETS), "target_id"]:
        users |= on_call.get(schedule, frozenset())
    return frozenset(users)


def spans(segments: list[Segment], key) -> Iterator[tuple[Window, object]]:
    """Consecutive segments with the same non-None ``key(segment)``, merged into one window each."""
    current, value = None, None
    for segment in segments:
        found = key(segment)
        if current is not None and found == value and segment.start == current.end:
            current = Window(current.start, segment.end)
            continue
        if current is not None:
            yield current, value
        current, value = (Window(segment.start, segment.end), found) if found is not None else (None, None)
    if current is not None:
        yield current, value


def when(window: Window) -> str:
    """``from 2026-11-21 18:00 to 2026-11-23 09:00 UTC``."""
    return f"from {window.start:%Y-%m-%d %H:%M} to {window.end:%Y-%m-%d %H:%M} UTC"
