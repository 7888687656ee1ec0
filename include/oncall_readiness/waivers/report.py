"""A team's waivers as its weekly email tells them: in force, running out this week, or just expired.

Read from the week's ``waivers`` table (one audit date: every waiver with its ``active`` flag).
The email is the only place a team is told, unasked, that an exception is ending, so:

- a waiver in force is listed with its expiry and approver;
- one that expires within ``NOTICE_DAYS`` after the audit says it runs out this week;
- one that expired within ``NOTICE_DAYS`` before the audit says it no longer applies, so the
  check counts again (the week it expires; later emails no longer mention it).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd

NOTICE_DAYS = 7
ACTIVE, ENDING, EXPIRED = "active", "ending", "expired"


def team_waivers(waivers: pd.DataFrame | None, team: str, audit_date: dt.date) -> list[dict[str, Any]]:
    """The team's waivers worth telling in the email of ``audit_date``'s scorecard, ending soonest first."""
    if waivers is None or waivers.empty:
        return []
    mine = waivers[waivers["team"] == team]
    told = []
    for row in mine.itertuples(index=False):
        expires, approved = _date(row.expires), _date(row.approved)
        if bool(row.active):
            state = ENDING if (expires - audit_date).days < NOTICE_DAYS else ACTIVE
        elif approved <= audit_date and 0 < (audit_date - expires).days <= NOTICE_DAYS:
            state = EXPIRED
        else:
            continue  # expired long ago, or not approved yet on this date
        told.append(
            {
                "check_id": row.check_id,
                "subject": row.subject if isinstance(row.subject, str) else None,
                "reason": row.reason,
                "approver": row.approver,
                "expires": expires,
                "state": state,
                "note": _note(state, expires),
            }
        )
    return sorted(told, key=lambda w: (w["expires"], w["check_id"], w["subject"] or ""))


def _note(state: str, expires: dt.date) -> str:
    if state == EXPIRED:
        return f"expired on {expires}: it no longer applies, the check counts again"
    if state == ENDING:
        return f"expires on {expires}, this week: fix what it covers or have it renewed"
    return f"in force until {expires}"


def _date(value: Any) -> dt.date:  # a cell: a date, a timestamp or ISO text
    return value if isinstance(value, dt.date) and not isinstance(value, dt.datetime) else pd.Timestamp(value).date()
