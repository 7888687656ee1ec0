"""Chaos Days, from an iCalendar (RFC 5545) feed: one ``GET`` of the feed, parsed and expanded.

The feed is what Google Calendar ("secret address in iCal format"), Outlook ("publish a
calendar", ICS link) and Confluence Team Calendars ("subscribe", iCal) publish: one file
holding every event, so the whole read is a single request, retried on 429 and 5xx. It is
parsed with ``icalendar`` and its recurring events (``RRULE``, ``RDATE``, ``EXDATE``, moved
instances with ``RECURRENCE-ID``) are expanded with ``recurring-ical-events`` over
``LOOK_BACK_DAYS`` before and ``LOOK_AHEAD_DAYS`` after the audit instant. Every event of
the feed is a Chaos Day; those starting after the audit instant are plans.

A team owns an event when one of its ``CATEGORIES`` is the team's name or ``team:<name>``,
or its ``DESCRIPTION`` has a line ``team: <name>`` (several names separated by commas);
names compare without case, and one event may belong to several teams. A category that
names no team is just a category; an explicit ``team:`` naming no registry team is kept
as written, and the data contract rejects it. The write-up is the event's ``URL``, else the
first http(s) link of its description that is not a video-call link.

Dates without a time (all-day events) and times without a zone are placed in the calendar's
time zone (``X-WR-TIMEZONE``, else UTC); every time is stored in UTC.

Facts tables (schema version 1):

- ``chaos_calendar_feed``: one row: configured (false when no connection is defined: the
  calendar is optional), calendar_name (``X-WR-CALNAME``), time_zone, events_read (``VEVENT``
  components in the feed), occurrences (rows of ``chaos_calendar_events``), range_start and
  range_end (the expansion range).
- ``chaos_calendar_events``: one row per occurrence in the range: uid, start, end (UTC),
  day (its date in the calendar's time zone), all_day, summary, write_up_url, recurring.
- ``chaos_calendar_event_teams``: uid, start, team, claimed_by (``categories`` or
  ``description``): which team each occurrence belongs to.
- ``chaos_calendar_links``: subject (``event:<uid>``), name (its summary), url (its ``URL``,
  the write-up): the findings' links; an event without one has no page to link.

As of the audit instant: an event whose ``CREATED`` is after it was not in the calendar yet
and is left out (a backfill sees the calendar as it was, as far as the feed tells).

Connection ``chaos_calendar_default`` (optional): the feed's URL in the host, with basic
auth from the login and password when the server asks for it; or the feed's secret address
(a full URL) in the password, used instead of the host. A secret address never appears in
an error or a log: messages name only its site.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pandas as pd
import requests

from oncall_readiness import schema
from oncall_readiness.errors import ConnectionMissingError, SourceError
from oncall_readiness.sources.facts import Facts, links_frame, typed_frame
from oncall_readiness.sources.http import ApiClient, raise_for_error
from oncall_readiness.sources.window import AuditWindow

if TYPE_CHECKING:
    from icalendar import Calendar, Event

    from oncall_readiness.hooks.base import ReadinessHook

log = logging.getLogger(__name__)

SOURCE = "chaos_calendar"
TITLE = "Chaos Day calendar"
# Far enough back for any warn_days a team may set, far enough ahead to name the next plan.
LOOK_BACK_DAYS = 730
LOOK_AHEAD_DAYS = 365
CLAIMS = ("categories", "description")
_ORDER = ["start", "uid"]  # facts in time order, whatever order the feed lists its events in
TEAM_CLAIM = re.compile(r"^\s*team\s*:\s*(.*?)\s*$", re.IGNORECASE)
TEAM_LINE = re.compile(r"^\s*team\s*:\s*(.*?)\s*$", re.IGNORECASE | re.MULTILINE)
LINK = re.compile(r"https?://[^\s<>\"'\]]+", re.IGNORECASE)
# An invitation's video-call link is how to join, not what was learned.
CALL_HOSTS = ("meet.google.com", "zoom.us", "teams.microsoft.com", "teams.live.com", "webex.com")

FACT_COLUMNS: dict[str, dict[str, str]] = {
    "chaos_calendar_feed": {
        "configured": "boolean",
        "calendar_name": "string",
        "time_zone": "string",
        "events_read": "integer",
        "occurrences": "integer",
        "range_start": "timestamp",
        "range_end": "timestamp",
    },
    "chaos_calendar_events": {
        "uid": "string",
        "start": "timestamp",
        "end": "timestamp",
        "day": "date",
        "all_day": "boolean",
        "summary": "string",
        "write_up_url": "string",
        "recurring": "boolean",
    },
    "chaos_calendar_event_teams": {
        "uid": "string",
        "start": "timestamp",
        "team": "string",
        "claimed_by": "string",
    },
    "chaos_calendar_links": dict(schema.LINK_COLUMNS),
}


class ChaosCalendarClient(ApiClient):
    """A read-only client of one iCalendar feed: its URL, optional basic auth, retries on 429 and 5xx.

    With ``secret_address`` the URL itself is the credential: ``base_url`` (shown by the Test
    button) is then only its site, and messages say "the secret address at <site>".
    """

    def __init__(
        self,
        feed_url: str,
        *,
        login: str | None = None,
        password: str | None = None,
        secret_address: bool = False,
        max_retries: int = 6,
        backoff_factor: float = 0.5,
        timeout: float | tuple[float, float] = (10, 60),
    ) -> None:
        parts = urlsplit(feed_url.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise SourceError(f"{SOURCE}: the feed's address is not an http(s) URL")
        if parts.username or parts.password:  # https://user:pass@host/... becomes basic auth
            login, password = login or parts.username, password or parts.password
            parts = parts._replace(netloc=parts.netloc.rpartition("@")[2])
        site = urlunsplit((parts.scheme, parts.netloc, "", "", ""))
        super().__init__(
            site if secret_address else urlunsplit(parts), max_retries=max_retries, backoff_factor=backoff_factor
        )
        self.secret_address = secret_address
        self.feed_path = urlunsplit(("", "", parts.path, parts.query, "")) if secret_address else ""
        self.where = f"the secret address at {site}" if secret_address else (parts.path or "/")
        self.timeout = timeout
        self.session.headers.update({"Accept": "text/calendar, text/plain;q=0.5"})
        if login:
            self.session.auth = (login, password or "")

    def calendar(self) -> Calendar:
        """The feed, fetched and parsed; ``SourceError`` when it cannot be read or is not iCalendar."""
        try:
            response = self._send(self.feed_path, timeout=self.timeout)
        except requests.RequestException as error:
            raise SourceError(
                f"{SOURCE}: GET {self.where} failed after {self.max_retries} retries: {_why(error)}"
            ) from None
        finally:
            self.requests_made += 1
        if not response.ok and self.secret_address:
            reason = response.reason or "no message"
            raise SourceError(f"{SOURCE}: GET {self.where} answered {response.status_code}: {reason}")
        raise_for_error(response, SOURCE)
        return parse_feed(response.content, f"GET {self.where}", response.headers.get("Content-Type"))


def _why(error: requests.RequestException) -> str:
    """The root cause of a connection failure in a few words: never the URL, which may be the secret."""
    if match := re.search(r"\[Errno -?\d+\] ([^'\")\]]+)", str(error)):
        return match.group(1).strip()
    if isinstance(error, requests.Timeout):
        return "timed out"
    if isinstance(error, requests.exceptions.RetryError):
        return "too many error answers"
    return type(error).__name__


def parse_feed(content: bytes, where: str, content_type: str | None = None) -> Calendar:
    """The feed as an ``icalendar.Calendar``; ``SourceError`` naming what came back instead."""
    from icalendar import Calendar

    if not content.lstrip(b"\xef\xbb\xbf \t\r\n").upper().startswith(b"BEGIN:VCALENDAR"):
        raise SourceError(
            f"{SOURCE}: {where} answered with something that is not an iCalendar feed "
            f"({content_type or 'no content type'}, not starting with BEGIN:VCALENDAR); "
            "is the connection aimed at the feed's .ics address?"
        )
    try:
        calendar = Calendar.from_ical(content)
    except ValueError as error:  # its text quotes the feed: keep only what went wrong
        problem = str(error).split(":")[0]
        raise SourceError(
            f"{SOURCE}: {where} answered with an iCalendar feed that does not parse ({problem})"
        ) from None
    for event in calendar.walk("VEVENT"):
        if event.get("DTSTART") is None:
            raise SourceError(f"{SOURCE}: the feed's event {_text(event.get('UID'))!r} has no start (DTSTART)")
    return calendar


def normalise(
    calendar: Calendar,
    *,
    instant: pd.Timestamp,
    teams: Iterable[str],
    look_back_days: int = LOOK_BACK_DAYS,
    look_ahead_days: int = LOOK_AHEAD_DAYS,
) -> dict[str, pd.DataFrame]:
    """The feed's occurrences around ``instant`` as the documented facts tables."""
    zone = calendar_zone(calendar)
    since, until = instant - pd.Timedelta(days=look_back_days), instant + pd.Timedelta(days=look_ahead_days)
    known = {str(team).casefold(): str(team) for team in teams}
    series = _series_uids(calendar)
    events, claims = [], []
    for occurrence in _occurrences(calendar, since, until):
        if _created_after(occurrence, instant):  # a backfill: the event was not in the calendar yet
            continue
        event = _event_row(occurrence, zone, series)
        events.append(event)
        claims += [
            {"uid": event["uid"], "start": event["start"], "team": team, "claimed_by": how}
            for team, how in owners(occurrence, known).items()
        ]
    feed = {
        "configured": True,
        "calendar_name": _text(calendar.get("X-WR-CALNAME")),
        "time_zone": str(zone),
        "events_read": len(calendar.walk("VEVENT")),
        "occurrences": len(events),
        "range_start": since,
        "range_end": until,
    }
    return {
        "chaos_calendar_feed": _frame("chaos_calendar_feed", [feed]),
        "chaos_calendar_events": _frame("chaos_calendar_events", events).sort_values(_ORDER, ignore_index=True),
        "chaos_calendar_event_teams": _frame("chaos_calendar_event_teams", claims).sort_values(
            [*_ORDER, "team"], ignore_index=True
        ),
        # An event's page is its URL (the sample's: the write-up); a feed gives no other address.
        "chaos_calendar_links": links_frame(
            {"subject": f"event:{event['uid']}", "name": event["summary"], "url": event["write_up_url"]}
            for event in events
        ),
    }


def _created_after(event: Event, instant: pd.Timestamp) -> bool:
    """Whether the event's ``CREATED`` (when it was put in the calendar, RFC 5545) is after ``instant``."""
    created = event.get("CREATED")
    moment = getattr(created, "dt", None)
    if not isinstance(moment, dt.datetime):
        return False
    return pd.Timestamp(moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)) > instant


def not_configured() -> dict[str, pd.DataFrame]:
    """The facts when no calendar is connected: no events, and a feed row that says so."""
    return {
        table: _frame(
            table, [{"configured": False, "events_read": 0, "occurrences": 0}] if table.endswith("feed") else []
        )
        for table in FACT_COLUMNS
    }


def calendar_zone(calendar: Calendar) -> dt.tzinfo:
    """``X-WR-TIMEZONE`` (Google's and Outlook's calendar-wide zone), else UTC."""
    name = _text(calendar.get("X-WR-TIMEZONE"))
    if not name:
        return dt.UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise SourceError(f"{SOURCE}: the feed's X-WR-TIMEZONE {name!r} is not a known time zone") from None


def _series_uids(calendar: Calendar) -> set[str]:
    """UIDs of recurring events: a rule, extra dates, or a moved instance."""
    return {
        str(event.get("UID"))
        for event in calendar.walk("VEVENT")
        if any(event.get(name) is not None for name in ("RRULE", "RDATE", "RECURRENCE-ID"))
    }


def _occurrences(calendar: Calendar, since: pd.Timestamp, until: pd.Timestamp) -> list[Event]:
    import recurring_ical_events

    try:
        return list(recurring_ical_events.of(calendar).between(since.to_pydatetime(), until.to_pydatetime()))
    except ValueError as error:  # the library's errors name the event and what is wrong with it
        raise SourceError(f"{SOURCE}: the feed has an event that cannot be expanded: {error}") from None


def _event_row(event: Event, zone: dt.tzinfo, series: set[str]) -> dict[str, Any]:
    start = _placed(event.start, zone)
    uid = _text(event.get("UID"))
    return {
        "uid": uid,
        "start": pd.Timestamp(start).tz_convert("UTC"),
        "end": pd.Timestamp(_placed(event.end, zone)).tz_convert("UTC"),
        "day": start.astimezone(zone).date(),
        "all_day": not isinstance(event.start, dt.datetime),
        "summary": _text(event.get("SUMMARY")),
        "write_up_url": write_up(event),
        "recurring": uid in series,
    }


def _placed(moment: dt.date, zone: dt.tzinfo) -> dt.datetime:
    """A date (at midnight) or a floating time placed in the calendar's zone; a zoned time as it is."""
    if not isinstance(moment, dt.datetime):
        return dt.datetime.combine(moment, dt.time(), tzinfo=zone)
    return moment.replace(tzinfo=zone) if moment.tzinfo is None else moment


def owners(event: Event, known: Mapping[str, str]) -> dict[str, str]:
    """Team -> how the event names it (``categories`` or ``description``); registry spelling when known."""
    claims: dict[str, str] = {}
    for category in _categories(event):
        explicit = TEAM_CLAIM.match(category)
        name = explicit.group(1) if explicit else category
        if name and (explicit or name.casefold() in known):
            claims.setdefault(known.get(name.casefold(), name), "categories")
    for line in TEAM_LINE.findall(_text(event.get("DESCRIPTION")) or ""):
        for name in (part.strip() for part in line.split(",")):
            if name:
                claims.setdefault(known.get(name.casefold(), name), "description")
    return claims


def _categories(event: Event) -> Iterator[str]:
    for category in event.categories:
        text = str(category).strip()
        if text:
            yield text


def write_up(event: Event) -> str | None:
    """The event's ``URL``, else the first http(s) link of its description that is not a video call."""
    url = _text(event.get("URL"))
    if url and url.lower().startswith(("http://", "https://")):
        return url
    link: str
    for link in LINK.findall(_text(event.get("DESCRIPTION")) or ""):
        link = link.rstrip(".,;:)")
        host = (urlsplit(link).hostname or "").lower()
        if not any(host == call or host.endswith("." + call) for call in CALL_HOSTS):
            return link
    return None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _frame(table: str, rows: list[dict[str, Any]]) -> pd.DataFrame:
    return typed_frame(rows, FACT_COLUMNS[table])


def collect_for_audit(hook: ReadinessHook, registry: Mapping[str, pd.DataFrame], window: AuditWindow) -> Facts:
    """The audit's collection: the feed's Chaos Days around the instant; nothing when none is connected.

    The calendar is optional (teams may record Chaos Days with the ``readiness/last-chaos-day``
    annotation alone), so a connection that is not defined is not an error: the facts say so.
    """
    try:
        client = cast(ChaosCalendarClient, hook.get_conn())  # the source's hook builds its client
    except ConnectionMissingError as error:
        log.info("%s: %s; Chaos Days are read from the registry's annotations alone", TITLE, error)
        return not_configured()
    facts = normalise(
        client.calendar(),
        instant=window.instant,
        teams=registry["registry_teams"]["team"],
        look_back_days=max(window.look_back_days, LOOK_BACK_DAYS),
        look_ahead_days=max(window.look_ahead_days, LOOK_AHEAD_DAYS),
    )
    log.info(
        "%s: %d events, %d occurrences in range, %d team claims, %d requests, %d retried",
        TITLE,
        facts["chaos_calendar_feed"]["events_read"].iloc[0],
        len(facts["chaos_calendar_events"]),
        len(facts["chaos_calendar_event_teams"]),
        client.requests_made,
        client.retries,
    )
    return facts
