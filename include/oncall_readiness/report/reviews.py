"""What the organisation learned: the reviews published last week, and what each team still owes.

Read from the week's audit (``incident_reviews``, ``action_items`` and ``incidents``, the
``post-incident-review`` check's tables; :mod:`oncall_readiness.checks.post_incident_review`):

- *What we learned last week* (the digest, every team's email, the Readiness page): every
  review created in the seven days before the week's audit date, in every team, so that one
  team's lesson reaches all the others. A review readable by fewer than everyone is left out:
  it is not shared with the organisation, and listing its title would say more than its page.
- *Reviews due* (the team's email): its incidents still waiting for a review (due, or due
  soon), and its actions open past their due date.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd

# The longest list an email carries: the rest are on the page (the digest stays within its size).
LEARNED_SHOWN = 25


def learned_last_week(
    reviews: pd.DataFrame | None, incidents: pd.DataFrame | None, week: dt.date, display_names: dict[str, str]
) -> list[dict[str, Any]]:
    """The reviews created in the seven days before ``week`` (an audit date), open to everyone, newest first."""
    if reviews is None or reviews.empty:
        return []
    created = pd.to_datetime(reviews["created"], utc=True)
    start = pd.Timestamp(week - dt.timedelta(days=7), tz="UTC")
    end = pd.Timestamp(week, tz="UTC")
    restricted = reviews["restricted"].astype("boolean").fillna(False).astype(bool)
    shown = reviews[reviews["review_url"].notna() & (created >= start) & (created < end) & ~restricted.to_numpy()]
    shown = shown.assign(created=created[shown.index]).sort_values(["created", "team"], ascending=[False, True])
    titles = _incident_titles(incidents)
    rows = []
    for row in shown.to_dict("records"):
        number, title = titles.get(str(row["incident_id"]), (None, None))
        rows.append(
            {
                "team": row["team"],
                "team_name": display_names.get(str(row["team"])) or row["team"],
                "incident_id": row["incident_id"],
                "incident": f"#{number}" if number is not None else str(row["incident_id"]),
                "incident_title": title,
                "title": row["title"],
                "url": row["review_url"],
                "published": row["created"].date(),
            }
        )
    return rows


def reviews_due(
    reviews: pd.DataFrame | None, actions: pd.DataFrame | None, incidents: pd.DataFrame | None
) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """Per team: its incidents waiting for a review (earliest due first) and its overdue actions
    (most overdue first). Split once for the week: filtering per team cost each email milliseconds."""
    titles = _incident_titles(incidents)
    due: dict[str, dict[str, list[dict[str, Any]]]] = {}

    def entry(team: Any) -> dict[str, list[dict[str, Any]]]:
        return due.setdefault(str(team), {"waiting": [], "overdue": []})

    def named(incident_id: Any) -> tuple[str, Any]:
        number, title = titles.get(str(incident_id), (None, None))
        return (f"#{number}" if number is not None else str(incident_id)), title

    if reviews is not None and not reviews.empty:
        for row in reviews[reviews["review_url"].isna()].sort_values("due").to_dict("records"):
            incident, title = named(row["incident_id"])
            waiting = {"incident": incident, "incident_id": row["incident_id"], "title": title, "due": row["due"]}
            entry(row["team"])["waiting"].append(waiting)
    if actions is not None and not actions.empty:
        late = actions[pd.to_numeric(actions["days_overdue"]).fillna(0) > 0]
        for row in late.sort_values("days_overdue", ascending=False).to_dict("records"):
            incident, _ = named(row["incident_id"])
            action = {str(key): value for key, value in row.items()}
            entry(row["team"])["overdue"].append(
                {**action, "incident": incident, "days_overdue": int(row["days_overdue"])}
            )
    return due


def _incident_titles(incidents: pd.DataFrame | None) -> dict[str, tuple[Any, Any]]:
    if incidents is None or incidents.empty:
        return {}
    numbers = incidents["incident_number"] if "incident_number" in incidents else [None] * len(incidents)
    return {
        str(incident_id): (None if pd.isna(number) else int(number), title)
        for incident_id, number, title in zip(incidents["incident_id"], numbers, incidents["title"], strict=True)
    }
