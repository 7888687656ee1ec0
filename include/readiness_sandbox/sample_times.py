"""The sample organisation moved in time: every date in its files shifted to a chosen audit date.

The sample is authored against one anchor, the audit instant ``ANCHOR`` (2026-11-16T00:00Z):
its incidents, joiners, commits, page versions, Chaos Days, waivers and campaigns are dated
around it. ``make demo`` and ``make airflow`` audit a date near today instead, so that nothing
reads weeks old under the real clock (an incident "open for 21 days", a cost in millions):
:func:`shifted_sample_org` copies the sample with every date moved by the whole days between
the anchor and that date, and the sandbox, the catalog and the HR export are read from the
copy. Times of day stay as written; a shift by a whole number of weeks (Monday to Monday,
the demo's) also keeps every weekday.

What moves: ISO 8601 dates and times in every text file (YAML, CSV, the catalog's annotations,
the feed's URLs and ids alike, so references between files still match), and the iCalendar
feed's basic-format dates (``DTSTART:20261028T100000``, ``UNTIL=...``) outside its time-zone
definitions.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path

from readiness_sandbox.sample_org import SAMPLE_ORG

ANCHOR = dt.date(2026, 11, 16)  # the sample's audit date (include/sample_org/README.md)
TEXT_SUFFIXES = {".yaml", ".yml", ".csv", ".ics", ".json"}
_ISO_DATE = re.compile(r"(?<![\d])(\d{4})-(\d{2})-(\d{2})(?![\d])")
_ICS_DATE = re.compile(r"(?<![\d])(\d{4})(\d{2})(\d{2})(?=T\d{6}|[\s;,]|$)")
_ICS_DATED = re.compile(r"^(DTSTART|DTEND|DTSTAMP|DUE|EXDATE|RDATE|RECURRENCE-ID|CREATED|LAST-MODIFIED|RRULE)[;:]")


def shift_days(audit_date: dt.date) -> int:
    """The whole days from the sample's anchor to ``audit_date``."""
    return (audit_date - ANCHOR).days


def shift_text(text: str, days: int, *, ics: bool = False) -> str:
    """``text`` with every date ``days`` later (earlier when negative)."""
    if not days:
        return text
    delta = dt.timedelta(days=days)

    def iso(match: re.Match[str]) -> str:
        moved = _moved(match, delta)
        return moved.isoformat() if moved else match.group(0)

    def basic(match: re.Match[str]) -> str:
        moved = _moved(match, delta)
        return moved.strftime("%Y%m%d") if moved else match.group(0)

    shifted = _ISO_DATE.sub(iso, text)
    if not ics:
        return shifted
    lines, in_zone = [], False
    for line in shifted.splitlines(keepends=True):
        in_zone = (in_zone or line.startswith("BEGIN:VTIMEZONE")) and not line.startswith("END:VTIMEZONE")
        if not in_zone and _ICS_DATED.match(line):
            line = _ICS_DATE.sub(basic, line)
        lines.append(line)
    return "".join(lines)


def shifted_sample_org(target: Path, audit_date: dt.date, source: Path = SAMPLE_ORG) -> Path:
    """A copy of the sample organisation in ``target`` (replaced) dated for ``audit_date``; ``target``."""
    days = shift_days(audit_date)
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(source, target)
    if days:
        for path in sorted(target.rglob("*")):
            if path.is_file() and path.suffix in TEXT_SUFFIXES:
                with path.open(newline="") as file:  # as written: the feed's lines end in CRLF
                    text = file.read()
                with path.open("w", newline="") as file:
                    file.write(shift_text(text, days, ics=path.suffix == ".ics"))
    return target


def _moved(match: re.Match[str], delta: dt.timedelta) -> dt.date | None:
    try:
        day = dt.date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError:  # digits that are no date (an id)
        return None
    return day + delta if day.year >= 2000 else None  # the feed's 1970 DST rules are not dates of the sample
