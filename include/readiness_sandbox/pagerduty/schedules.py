"""Time handling and schedule rendering for the PagerDuty emulator.

Pure functions over aware datetimes (UTC internally). The rules:

- a layer's turn ``i`` starts at ``rotation_virtual_start + i * turn_length`` and belongs to
  ``users[i mod n]``; turns are clipped to ``[layer.start, layer.end)`` and to the window;
- restrictions (``daily_restriction``, ``weekly_restriction``) are wall-clock windows in the
  schedule's time zone; a restricted layer covers only the parts of its turns inside them;
- the final schedule is, at every instant, the last override covering it, else the last
  (highest) layer covering it; adjacent entries of the same user are merged.
"""

from __future__ import annotations

import functools
import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from typing import NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

UTC = ZoneInfo("UTC")
_UTC_KEYS = {"UTC", "Etc/UTC", "Etc/Universal", "Universal", "Zulu", "Etc/Zulu"}
# An unencoded "+" in a query string arrives as a space: "09:00:00 01:00".
_SPACE_OFFSET = re.compile(r"(T\d\d:\d\d(?::\d\d(?:\.\d+)?)?) (\d\d:?\d\d)$")


class Entry(NamedTuple):
    """A rendered schedule entry: ``user`` (a user id) is on call in ``[start, end)``."""

    start: datetime
    end: datetime
    user: str


@dataclass(frozen=True)
class Restriction:
    type: str  # "daily_restriction" or "weekly_restriction"
    start_time_of_day: time
    duration: timedelta
    start_day_of_week: int | None = None  # ISO weekday, 1 = Monday (weekly only)

    def as_json(self) -> dict:
        out = {
            "type": self.type,
            "start_time_of_day": self.start_time_of_day.strftime("%H:%M:%S"),
            "duration_seconds": int(self.duration.total_seconds()),
        }
        if self.start_day_of_week is not None:
            out["start_day_of_week"] = self.start_day_of_week
        return out


@dataclass(frozen=True)
class Layer:
    id: str
    name: str
    start: datetime
    end: datetime | None
    rotation_virtual_start: datetime
    turn_length: timedelta
    users: tuple[str, ...]
    restrictions: tuple[Restriction, ...] = ()


@dataclass(frozen=True)
class Override:
    id: str
    start: datetime
    end: datetime
    user: str


# --- time parsing and formatting -------------------------------------------------------


def get_zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name``; ValueError if unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:
        raise ValueError(f"unknown time zone {name!r}") from exc


def parse_time(value: object, *, default_tz: tzinfo = UTC) -> datetime:
    """An aware UTC datetime from an ISO 8601 string, a date or a datetime.

    Values without an offset (and plain dates) are read in ``default_tz``.
    """
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime.combine(value, time())
    elif isinstance(value, str):
        text = _SPACE_OFFSET.sub(r"\1+\2", value.strip())
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError as exc:
            raise ValueError(f"{value!r} is not an ISO 8601 date-time") from exc
    else:
        raise ValueError(f"{value!r} is not an ISO 8601 date-time")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=default_tz)
    return parsed.astimezone(UTC)


def format_time(moment: datetime | None, tz: ZoneInfo) -> str | None:
    """ISO 8601 in ``tz`` with its offset (``Z`` for UTC, like PagerDuty)."""
    if moment is None:
        return None
    return _formatted(moment, tz)


# Turns start and end on the same instants across thousands of schedules and their pages: each
# instant is converted and formatted once per zone, not once per entry rendered.
@functools.lru_cache(maxsize=1 << 16)
def _formatted(moment: datetime, tz: ZoneInfo) -> str:
    text = moment.astimezone(tz).isoformat(timespec="seconds")
    if tz.key in _UTC_KEYS and text.endswith("+00:00"):
        text = text[: -len("+00:00")] + "Z"
    return text


def add_months(moment: datetime, months: int) -> datetime:
    """``moment`` plus calendar months (the day clamped to the month's length)."""
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    next_month = date(year + month // 12, month % 12 + 1, 1)
    last_day = (next_month - timedelta(days=1)).day
    return moment.replace(year=year, month=month, day=min(moment.day, last_day))


# --- rendering ---------------------------------------------------------------------------


def render_layer(layer: Layer, tz: ZoneInfo, since: datetime, until: datetime) -> list[Entry]:
    """The layer's entries in ``[since, until)``, one per turn (or per restricted window)."""
    start = max(since, layer.start)
    end = until if layer.end is None else min(until, layer.end)
    if start >= end:
        return []
    turns = list(_turns(layer, start, end))
    if not layer.restrictions:
        return turns
    windows = restriction_windows(layer.restrictions, tz, start, end)
    return [
        Entry(max(turn.start, w_start), min(turn.end, w_end), turn.user)
        for turn in turns
        for w_start, w_end in windows
        if max(turn.start, w_start) < min(turn.end, w_end)
    ]


def _turns(layer: Layer, start: datetime, end: datetime) -> Iterator[Entry]:
    length = layer.turn_length
    index = (start - layer.rotation_virtual_start) // length
    while True:
        turn_start = layer.rotation_virtual_start + index * length
        if turn_start >= end:
            return
        user = layer.users[index % len(layer.users)]
        yield Entry(max(turn_start, start), min(turn_start + length, end), user)
        index += 1


def restriction_windows(
    restrictions: Iterable[Restriction], tz: ZoneInfo, since: datetime, until: datetime
) -> list[tuple[datetime, datetime]]:
    """The union of the restrictions' windows that overlap ``[since, until)``, clipped."""
    first_day = since.astimezone(tz).date() - timedelta(days=7)
    last_day = until.astimezone(tz).date()
    windows = []
    for restriction in restrictions:
        day = first_day
        while day <= last_day:
            if _applies_on(restriction, day):
                w_start = datetime.combine(day, restriction.start_time_of_day, tzinfo=tz)
                w_start = w_start.astimezone(UTC)
                w_end = w_start + restriction.duration
                if w_start < until and w_end > since:
                    windows.append((max(w_start, since), min(w_end, until)))
            day += timedelta(days=1)
    return _union(windows)


def _applies_on(restriction: Restriction, day: date) -> bool:
    if restriction.type == "daily_restriction":
        return True
    return day.isoweekday() == restriction.start_day_of_week


def _union(windows: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    merged: list[tuple[datetime, datetime]] = []
    for w_start, w_end in sorted(windows):
        if merged and w_start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], w_end))
        else:
            merged.append((w_start, w_end))
    return merged


def render_overrides(overrides: Iterable[Override], since: datetime, until: datetime) -> list[Entry]:
    """The overrides in ``[since, until)``; a later override wins where two overlap."""
    clipped = [
        Entry(max(o.start, since), min(o.end, until), o.user) for o in overrides if o.start < until and o.end > since
    ]
    return paint([[entry] for entry in clipped])


def render_final(
    layers: Sequence[Layer],
    overrides: Iterable[Override],
    tz: ZoneInfo,
    since: datetime,
    until: datetime,
) -> list[Entry]:
    """The final schedule in ``[since, until)``: overrides over later layers over earlier ones."""
    painted = paint(
        [render_layer(layer, tz, since, until) for layer in layers] + [render_overrides(overrides, since, until)]
    )
    return merge_adjacent(painted)


def paint(entry_lists: Iterable[Iterable[Entry]]) -> list[Entry]:
    """Lay the entries on a timeline in order; each one hides what it covers.

    The timeline stays sorted and without overlaps, so each entry only touches the entries it
    overlaps, found by bisection: painting a layer of hourly turns over months stays fast.
    """
    timeline: list[Entry] = []
    for entries in entry_lists:
        for entry in entries:
            _paint_one(timeline, entry)
    return sorted(timeline)


def _paint_one(timeline: list[Entry], entry: Entry) -> None:
    first = bisect_right(timeline, entry.start, key=_end)  # the first that ends after the entry starts
    after = bisect_left(timeline, entry.end, key=_start)  # the first that starts at or after its end
    after = max(after, first)
    pieces = []
    if first < after and timeline[first].start < entry.start:
        pieces.append(timeline[first]._replace(end=entry.start))
    pieces.append(entry)
    if first < after and timeline[after - 1].end > entry.end:
        pieces.append(timeline[after - 1]._replace(start=entry.end))
    timeline[first:after] = pieces


def _start(entry: Entry) -> datetime:
    return entry.start


def _end(entry: Entry) -> datetime:
    return entry.end


def merge_adjacent(entries: Sequence[Entry]) -> list[Entry]:
    """Join entries of the same user that touch."""
    merged: list[Entry] = []
    for entry in entries:
        if merged and merged[-1].user == entry.user and merged[-1].end == entry.start:
            merged[-1] = merged[-1]._replace(end=entry.end)
        else:
            merged.append(entry)
    return merged


def coverage_percentage(entries: Iterable[Entry], since: datetime, until: datetime) -> float:
    """Covered share of ``[since, until)`` in percent, rounded to 2 decimals."""
    window = (until - since).total_seconds()
    if window <= 0:
        return 0.0
    covered = sum((e.end - e.start).total_seconds() for e in entries)
    return round(100.0 * covered / window, 2)


def overlapping(entries: Iterable[Entry], since: datetime, until: datetime) -> list[Entry]:
    """Entries overlapping ``[since, until)``, or containing ``since`` when the two are equal."""
    if since == until:
        return [e for e in entries if e.start <= since < e.end]
    return [e for e in entries if e.start < until and e.end > since]
