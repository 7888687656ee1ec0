"""Who a page reaches, moment by moment: an escalation policy's levels over a time window.

A window is cut into segments at every shift boundary of the policy's schedules; within a
segment nobody changes, so each level pages one fixed set of people: the users on call in
its schedules (final schedules, overrides included) plus the users it names directly.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import tzinfo
from typing import Any, TypeVar

import pandas as pd

from oncall_readiness.oncall_facts import (
    DEFAULT_PLATFORM,
    PLATFORMS,
    SCHEDULE_TARGET,
    USER_TARGET,
    WAKING_CONTACTS,
    Platform,
)

T = TypeVar("T")


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


# start, end (nanoseconds since the epoch, UTC: comparing ints is several times as fast as
# comparing Timestamps, and the walk compares every shift with every cut), user id
Shift = tuple[int, int, str]


def shifts_by_schedule(shifts: pd.DataFrame) -> dict[str, list[Shift]]:
    """The final-schedule shifts of ``oncall_shifts`` grouped by schedule, once for every policy.

    Each policy then walks only its own schedules' shifts: filtering the whole table per policy
    made the walk grow with policies x shifts (minutes at 2,000 teams). A shift without a start
    or an end covers no moment (NaT compares false), so it is left out.
    """
    shifts = shifts.dropna(subset=["start", "end"])
    index: dict[str, list[Shift]] = defaultdict(list)
    columns = (shifts["schedule_id"].tolist(), _nanoseconds(shifts["start"]), _nanoseconds(shifts["end"]))
    for schedule, start, end, user in zip(*columns, shifts["user_id"].tolist(), strict=True):
        index[schedule].append((start, end, user))
    return dict(index)


def _nanoseconds(moments: pd.Series) -> list[int]:
    return moments.to_numpy(dtype="datetime64[ns]").view("int64").tolist()


@functools.lru_cache(maxsize=4096)  # policies share their cuts (the hand-overs of a weekly rotation)
def _moment(nanoseconds: int, tz: tzinfo | None) -> pd.Timestamp:
    """A cut back as a Timestamp in the window's time zone (or naive, as the window is)."""
    moment = pd.Timestamp(nanoseconds, tz="UTC")
    return moment.tz_convert(tz) if tz is not None else moment.tz_localize(None)


@dataclass(frozen=True)
class PolicyTargets:
    """One escalation policy's rows of ``oncall_escalation_levels``, in plain Python.

    Every check walks thousands of policies of two or three rows each: a DataFrame filter per
    policy and level cost about a millisecond each, seconds at 2,000 teams.
    """

    policy_id: str
    name: str | None  # the first name the rows give
    levels: tuple[int, ...]  # the levels, in order
    targets: dict[int, list[tuple[str, str]]]  # level -> [(target_type, target_id)] in row order
    delays: dict[int, int]  # level -> the longest escalation delay the level's rows give (levels without one absent)

    @classmethod
    def by_policy(cls, targets: pd.DataFrame) -> dict[str, PolicyTargets]:
        """Every policy of the facts table, by id."""
        rows: dict[str, list[Sequence[Any]]] = defaultdict(list)
        columns = ("escalation_policy_id", "escalation_policy_name", "level", "target_type", "target_id")
        delays = targets.get("delay_minutes", pd.Series([None] * len(targets), dtype=object))
        values = [*(targets[column].tolist() for column in columns), delays.tolist()]
        for policy_id, *row in zip(*values, strict=True):
            rows[policy_id].append(row)
        return {policy_id: cls.of(policy_id, policy_rows) for policy_id, policy_rows in rows.items()}

    @classmethod
    def of(cls, policy_id: str, rows: list[Sequence[Any]]) -> PolicyTargets:
        """One policy from its rows: (name, level, target_type, target_id, escalation delay) each."""
        names = [name for name, *_ in rows if not pd.isna(name)]
        targets: dict[int, list[tuple[str, str]]] = defaultdict(list)
        delays: dict[int, int] = {}
        for _, level, kind, target, delay in rows:
            if pd.isna(level):
                continue
            targets[level].append((kind, target))
            if not pd.isna(delay):
                delays[level] = max(delays.get(level, delay), delay)
        return cls(policy_id, names[0] if names else None, tuple(sorted(targets)), dict(targets), delays)

    def users(self, level: int) -> set[str]:
        return {target for kind, target in self.targets[level] if kind == USER_TARGET}

    def schedules(self, level: int) -> list[str]:
        return [target for kind, target in self.targets[level] if kind == SCHEDULE_TARGET]


def policy_segments(policy: PolicyTargets, shifts: Mapping[str, list[Shift]], window: Window) -> list[Segment]:
    """The segments of ``window`` for one policy.

    ``shifts`` is :func:`shifts_by_schedule` of the facts table.
    """
    levels = policy.levels
    by_level = {level: (policy.users(level), policy.schedules(level)) for level in levels}
    schedules = {schedule for _, level_schedules in by_level.values() for schedule in level_schedules}
    since, until = window.start.value, window.end.value  # nanoseconds, as the shifts are
    mine = [
        (schedule, start, end, user)
        for schedule in schedules
        for start, end, user in shifts.get(schedule, ())
        if end > since and start < until
    ]
    cuts = sorted({since, until, *(s[1] for s in mine), *(s[2] for s in mine)})
    cuts = [cut for cut in cuts if since <= cut <= until]
    moments = {cut: _moment(cut, window.start.tz) for cut in cuts}
    first = list(dict.fromkeys(by_level[levels[0]][1])) if levels else []
    segments = []
    for start, end in zip(cuts, cuts[1:], strict=False):
        on_call = _on_call(mine, start, end)
        paged = tuple(_level_users(*by_level[level], on_call) for level in levels)
        segments.append(Segment(moments[start], moments[end], paged, {s: on_call.get(s, frozenset()) for s in first}))
    return segments


def _on_call(shifts: list[tuple[str, int, int, str]], start: int, end: int) -> dict[str, frozenset[str]]:
    covering: dict[str, set[str]] = defaultdict(set)
    for schedule, shift_start, shift_end, user in shifts:
        if shift_start <= start and shift_end >= end:
            covering[schedule].add(user)
    return {schedule: frozenset(users) for schedule, users in covering.items()}


def _level_users(users: set[str], schedules: list[str], on_call: dict[str, frozenset[str]]) -> frozenset[str]:
    if not users and len(schedules) == 1:  # the usual level: one schedule, nobody by name
        return on_call.get(schedules[0], frozenset())
    found = set(users)
    for schedule in schedules:
        found |= on_call.get(schedule, frozenset())
    return frozenset(found)


def spans(segments: list[Segment], key: Callable[[Segment], T | None]) -> Iterator[tuple[Window, T]]:
    """Consecutive segments with the same non-None ``key(segment)``, merged into one window each."""
    current: tuple[Window, T] | None = None  # the open window and its value
    for segment in segments:
        found = key(segment)
        if current is not None and found == current[1] and segment.start == current[0].end:
            current = (Window(current[0].start, segment.end), current[1])
            continue
        if current is not None:
            yield current
        current = (Window(segment.start, segment.end), found) if found is not None else None
    if current is not None:
        yield current


def when(window: Window) -> str:
    """``from 2026-11-21 18:00 to 2026-11-23 09:00 UTC``."""
    return f"from {window.start:%Y-%m-%d %H:%M} to {window.end:%Y-%m-%d %H:%M} UTC"


# --- who can be woken, and the findings every on-call timeline shares ------------------------
# escalation-path judges a policy's first level with these, incident-command a commander
# schedule: the same rules, so the same words.

# A finding of one timeline: subject, outcome, message (the team is added by its caller).
Finding = tuple[str, str, str]

MAX_WINDOWS = 3


class People:
    """Names and reachability of the platforms' users, named as the registry names them where it can."""

    def __init__(self, facts: Mapping[str, pd.DataFrame]) -> None:
        users = facts["oncall_users"][["user_id", "name", "email", "platform"]]
        registry = facts["registry_people"].drop_duplicates("email")[["email", "person", "display_name"]]
        known = users.merge(registry, on="email", how="left")
        self.platforms = user_platforms(facts)
        self.names = dict(
            zip(known["user_id"].tolist(), known["display_name"].fillna(known["name"]).tolist(), strict=True)
        )
        self.subjects: dict[str, str] = {
            user: f"person:{person}" if not pd.isna(person) else self._platform(user).user_subject(user)
            for user, person in zip(known["user_id"].tolist(), known["person"].tolist(), strict=True)
        }
        self.first_wake = _first_waking_minutes(facts["oncall_notification_rules"])
        unreadable = facts["oncall_unreadable"]
        rules_unread = unreadable[unreadable["facet"] == "notification_rules"]
        self.rules_unread = dict(zip(rules_unread["platform"].tolist(), rules_unread["reason"].tolist(), strict=True))

    def _platform(self, user_id: str) -> Platform:
        return PLATFORMS.get(self.platforms.get(user_id, DEFAULT_PLATFORM), PLATFORMS[DEFAULT_PLATFORM])

    def name(self, user_id: str) -> str:
        return self.names.get(user_id) or f"{self._platform(user_id).title} user {user_id}"

    def names_of(self, user_ids: Iterable[str]) -> str:
        return ", ".join(sorted(self.name(user) for user in user_ids))

    def can_wake(self, user_id: str) -> bool:
        return user_id in self.first_wake

    def wake_unknown(self, user_id: str) -> str | None:
        """Why it is unknown whether the user can be woken (their platform does not show their rules), else None."""
        if user_id in self.first_wake:
            return None
        return self.rules_unread.get(self.platforms.get(user_id, DEFAULT_PLATFORM))

    def subject(self, user_id: str) -> str:
        return self.subjects.get(user_id) or self._platform(user_id).user_subject(user_id)


def user_platforms(facts: Mapping[str, pd.DataFrame]) -> dict[str, str]:
    """User id -> the platform of the user, from every table that names users (a user id is one platform's)."""
    found: dict[str, str] = {}
    named = [
        (facts["oncall_shifts"], "user_id"),
        (facts["oncall_rotation_members"], "user_id"),
        (facts["oncall_users"], "user_id"),
    ]
    levels = facts["oncall_escalation_levels"]
    named.append((levels[levels["target_type"] == USER_TARGET], "target_id"))
    for table, column in named:
        found.update(zip(table[column].tolist(), table["platform"].tolist(), strict=True))
    return found


def _first_waking_minutes(rules: pd.DataFrame) -> dict[str, int]:
    """User id -> minutes after a high-urgency page until a call, text or push reaches them."""
    waking = rules[
        (rules["urgency"] == "high")
        & rules["contact_method_type"].isin(WAKING_CONTACTS)
        & rules["deliverable"].fillna(False).astype(bool)
    ]
    minutes = waking.groupby("user_id")["start_delay_minutes"].min().astype(int)
    return dict(zip(minutes.index.tolist(), minutes.tolist(), strict=True))


def gaps(segments: list[Segment], schedule_names: Mapping[str, str]) -> list[Finding]:
    """Per first-level schedule: fail naming the windows with nobody on call, else a pass."""
    schedules = sorted({s for segment in segments for s in segment.schedules})
    found = []
    for schedule in schedules:
        empty = [w for w, _ in spans(segments, _nobody_on_call(schedule))]
        name = schedule_names.get(schedule, schedule)
        if empty:
            found.append((f"schedule:{schedule}", "fail", f"Nobody is on call in {name} {windows(empty)}"))
        else:
            found.append((f"schedule:{schedule}", "pass", f"{name} has someone on call at every moment ahead"))
    return found


def _nobody_on_call(schedule: str) -> Callable[[Segment], bool | None]:
    """A ``spans`` key: True where nobody is on call in ``schedule``."""
    return lambda segment: True if not segment.schedules.get(schedule) else None


def unreachable(segments: list[Segment], where: str, people: People) -> list[Finding]:
    """A fail per person in each window where nobody at the first level (``where`` says which) can be woken.

    When the platform of someone there does not show how they are notified, whether anyone can be
    woken in that window is unknown: an unknown for them, and no fail for the others.
    """

    def asleep(segment: Segment) -> frozenset[str] | None:
        first = segment.levels[0]
        return first if first and not any(people.can_wake(user) for user in first) else None

    found = []
    for window, users in spans(segments, asleep):
        unsure = {user: reason for user in users if (reason := people.wake_unknown(user))}
        for user in sorted(unsure or users):
            if unsure:
                message = (
                    f"Whether anyone {where} can be woken {when(window)} is unknown: "
                    f"{unsure[user]} ({people.name(user)})"
                )
                found.append((people.subject(user), "unknown", message))
                continue
            message = (
                f"Nobody {where} can be woken {when(window)}: {people.name(user)} "
                "has no high-urgency notification rule that calls, texts or pushes"
            )
            found.append((people.subject(user), "fail", message))
    return found


def windows(found: list[Window]) -> str:
    """The first ``MAX_WINDOWS`` windows, and how many more."""
    shown = ", ".join(when(window) for window in found[:MAX_WINDOWS])
    more = len(found) - MAX_WINDOWS
    return shown + (f" and {more} more times" if more > 0 else "")
