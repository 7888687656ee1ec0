"""The Readiness page's incident views: a team's last week of incidents, and the open incidents with their cost.

- Last week's incidents: the weekly emails' insights (:mod:`oncall_readiness.report.insights`) for
  the team's audit, the same rows the email shows.
- Open incidents: the warehouse table ``open_incident_costs``, which each run of the
  ``incident_cost_watch`` DAG replaces with the open high-urgency incidents it saw and their
  running loss. Before the watch ever ran the table does not exist ("the cost watch has not
  run"); a run that saw nothing leaves it empty ("no open incidents as of" that run).

Reads with bound parameters only; an absent table is a message, never an error page.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from oncall_readiness.report.incident_email import team_section
from oncall_readiness.report.insights import load_insights, reflect
from oncall_readiness.warehouse import Warehouse

OPEN_INCIDENT_COSTS = "open_incident_costs"
WATCH_DAG_ID = "incident_cost_watch"
STALE_AFTER = dt.timedelta(minutes=15)  # the watch runs every 5 minutes
OPEN_COLUMNS = (
    "checked_at",
    "incident_id",
    "incident_number",
    "title",
    "team",
    "service",
    "urgency",
    "created_at",
    "minutes",
    "cost_per_minute",
    "currency",
    "estimated_loss",
    "priced",
)


@dataclass(frozen=True)
class OpenIncident:
    incident_id: str
    number: int | None
    title: str
    team: str | None
    service: str | None
    urgency: str | None
    created_at: dt.datetime | None
    minutes: float | None
    cost: str  # "GBP 12,400 (62 min × GBP 200/min)", or why there is none


@dataclass(frozen=True)
class OpenIncidents:
    """What the last cost watch saw; ``message`` when there is no row to list."""

    checked_at: dt.datetime | None
    incidents: list[OpenIncident]
    message: str | None
    stale: str | None  # a warning when the watch's last look is old


def open_incidents(
    warehouse: Warehouse,
    team: str | None = None,
    *,
    now: dt.datetime | None = None,
    last_run: dt.datetime | None = None,
) -> OpenIncidents:
    """The open incidents of the last cost watch (of ``team``, or all), oldest first.

    ``last_run``: when the watch last succeeded (from Airflow's metadata DB), which dates an empty
    table; ``now`` (default: the current time) decides whether the watch looks stale.
    """
    with warehouse.engine.connect() as conn:
        table = reflect(conn, OPEN_INCIDENT_COSTS, warehouse.schema)
        if table is None:
            return OpenIncidents(
                None, [], f"The cost watch has not run: the {WATCH_DAG_ID} DAG writes this list.", None
            )
        columns = [table.c[name] for name in OPEN_COLUMNS if name in table.c]
        query = sa.select(*columns)
        if team is not None and "team" in table.c:
            query = query.where(table.c.team == sa.bindparam("team", team))
        if "created_at" in table.c:
            query = query.order_by(table.c.created_at)
        rows = [dict(row) for row in conn.execute(query).mappings()]
        checked = conn.execute(sa.select(sa.func.max(table.c.checked_at))).scalar() if "checked_at" in table.c else None
    checked_at = _utc(checked) or _utc(last_run)
    stale = _stale(checked_at, now or dt.datetime.now(dt.UTC))
    if not rows and checked_at is None:  # an empty table the audit's publish created, no watch run seen
        return OpenIncidents(None, [], f"The cost watch has not run: the {WATCH_DAG_ID} DAG writes this list.", None)
    if not rows:
        whose = f" of {team}" if team is not None else ""
        return OpenIncidents(checked_at, [], f"No open incidents{whose} as of {checked_at:%Y-%m-%d %H:%M} UTC.", stale)
    return OpenIncidents(checked_at, [_incident(row) for row in rows], None, stale)


def team_insights(warehouse: Warehouse, team: str, audit_date: dt.date) -> dict[str, Any]:
    """The email's "Last week's incidents" section of ``team`` for its audit, without the chart."""
    return team_section(load_insights(warehouse, audit_date), team, cid=None)


def _incident(row: dict[str, Any]) -> OpenIncident:
    number = row.get("incident_number")
    return OpenIncident(
        incident_id=str(row.get("incident_id") or ""),
        number=None if number is None else int(number),
        title=str(row.get("title") or ""),
        team=row.get("team"),
        service=row.get("service"),
        urgency=row.get("urgency"),
        created_at=_utc(row.get("created_at")),
        minutes=None if row.get("minutes") is None else float(row["minutes"]),
        cost=_cost(row),
    )


def _cost(row: dict[str, Any]) -> str:
    currency = row.get("currency") or ""
    minutes, rate, loss = row.get("minutes"), row.get("cost_per_minute"), row.get("estimated_loss")
    if not row.get("priced") or loss is None:
        return "unpriced: the service has no cost per minute in the registry"
    return f"{currency} {float(loss):,.0f} ({float(minutes or 0):,.0f} min × {currency} {float(rate or 0):,.0f}/min)"


def _stale(checked_at: dt.datetime | None, now: dt.datetime) -> str | None:
    if checked_at is None or now - checked_at <= STALE_AFTER:
        return None
    minutes = int((now - checked_at).total_seconds() // 60)
    return f"The cost watch last looked {minutes} minutes ago: is the {WATCH_DAG_ID} DAG running?"


def _utc(value: object) -> dt.datetime | None:
    """A timestamp from the warehouse (naive UTC) or from Airflow, as an aware UTC datetime."""
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if not isinstance(value, dt.datetime):
        return None
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)
