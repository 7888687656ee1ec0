"""The loss estimate of an incident: its minutes of outage times the price of its service's minute.

An incident's minutes run from its ``created_at`` (triggered) to its ``resolved_at``, or to the
instant of the run while it is open. Its price is the ``readiness/cost-per-minute`` annotation
of the registry component whose ``pagerduty.com/service-id`` is the incident's service; the
currency is ``READINESS_CURRENCY`` (default GBP). An incident on a service without a price is
*unpriced*: its loss is NULL, never 0, and it is counted apart. An incident on a service the
registry does not know has no team (NULL): it is reported, never dropped. PagerDuty gives an
incident one service, so an outage across services is several incidents, each priced alone.

Pure pandas: ``incident_tables(facts, instant)`` builds the warehouse's ``incidents`` and
``incident_costs`` (per team and ISO week of ``created_at``) from an audit's facts.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping

import pandas as pd

from oncall_readiness import config
from oncall_readiness.schema import INCIDENT_COLUMNS, INCIDENT_COST_COLUMNS

log = logging.getLogger(__name__)

SERVICE_PRICE_COLUMNS = ["pagerduty_service_id", "service", "team", "cost_per_minute"]


def currency() -> str:
    """The currency of every price in the registry: ``READINESS_CURRENCY``, default GBP."""
    return config.CURRENCY.require()


def service_prices(services: pd.DataFrame) -> pd.DataFrame:
    """The registry's services by PagerDuty service id: (pagerduty_service_id, service, team, cost_per_minute)."""
    known = services.loc[services["pagerduty_service_id"].notna(), SERVICE_PRICE_COLUMNS].copy()
    known["cost_per_minute"] = pd.to_numeric(known["cost_per_minute"], errors="coerce").astype("float64")
    # A service id named by two components: the first one wins, as the registry lists them.
    return known.drop_duplicates("pagerduty_service_id").reset_index(drop=True)


def price_incidents(
    incidents: pd.DataFrame, services: pd.DataFrame, instant: pd.Timestamp, *, money: str | None = None
) -> pd.DataFrame:
    """Every incident with its team, service, minutes, price and estimated loss, as of ``instant``.

    ``incidents`` has the columns of the ``pagerduty_incidents`` facts (at least incident_id,
    service_id, created_at, resolved_at); ``services`` those of ``registry_services``.
    """
    instant = _utc(pd.Series([instant])).iloc[0]
    priced = incidents.rename(columns={"service_id": "pagerduty_service_id"}).copy()
    for column in ("created_at", "acknowledged_at", "resolved_at"):
        if column in priced:
            priced[column] = _utc(priced[column])
    priced = priced.merge(service_prices(services), on="pagerduty_service_id", how="left", validate="many_to_one")
    end = priced["resolved_at"].where(priced["resolved_at"].notna(), instant)
    seconds = (end - priced["created_at"]).dt.total_seconds().clip(lower=0)
    priced["minutes"] = (seconds / 60).astype("float64")
    priced["currency"] = money or currency()
    priced["estimated_loss"] = priced["minutes"] * priced["cost_per_minute"]  # NaN when unpriced, never 0
    priced["priced"] = priced["cost_per_minute"].notna()
    return priced


def incidents_table(
    incidents: pd.DataFrame, services: pd.DataFrame, instant: pd.Timestamp, *, money: str | None = None
) -> pd.DataFrame:
    """The warehouse's ``incidents`` rows (its columns, in order; NA where a fact is missing)."""
    priced = price_incidents(incidents, services, instant, money=money)
    for column in INCIDENT_COLUMNS:
        if column not in priced:
            priced[column] = pd.NA
    return priced[list(INCIDENT_COLUMNS)].reset_index(drop=True)


def incident_costs(incidents: pd.DataFrame) -> pd.DataFrame:
    """The warehouse's ``incident_costs``: per team (NULL for unknown services) and ISO week of ``created_at``."""
    if incidents.empty:
        return pd.DataFrame(columns=list(INCIDENT_COST_COLUMNS))
    frame = incidents.assign(
        iso_week=iso_week(incidents["created_at"]),
        high=incidents["urgency"].eq("high"),
        unpriced=~incidents["priced"].astype(bool),
        team=incidents["team"].astype(object),
    )
    grouped = frame.groupby(["team", "iso_week"], dropna=False, sort=True)
    costs = grouped.agg(
        incidents=("incident_id", "size"),
        high_urgency_incidents=("high", "sum"),
        minutes=("minutes", "sum"),
        unpriced_incidents=("unpriced", "sum"),
        currency=("currency", "first"),
    )
    # The sum of the priced incidents' losses; NULL when none of the group's incidents is priced.
    costs["estimated_loss"] = grouped["estimated_loss"].sum(min_count=1)
    costs = costs.reset_index()
    costs["team"] = costs["team"].astype(object).where(costs["team"].notna(), None)
    return costs[list(INCIDENT_COST_COLUMNS)]


def incident_tables(
    facts: Mapping[str, pd.DataFrame], instant: pd.Timestamp, *, unavailable: str | None = None
) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """``incidents`` and ``incident_costs`` from an audit's facts; (None, None) without PagerDuty's incidents.

    Without the ``pagerduty_incidents`` facts (PagerDuty down, or its data failed validation)
    the audit date gets no incident rows, and the log says why: an empty table would read as
    "no incidents".
    """
    if "pagerduty_incidents" not in facts:
        log.warning(
            "No incident rows for this audit: PagerDuty's incident facts are not available (%s)",
            unavailable or "not collected in this run",
        )
        return None, None
    incidents = incidents_table(facts["pagerduty_incidents"], facts["registry_services"], instant)
    unpriced = incidents.loc[~incidents["priced"].astype(bool), "pagerduty_service_id"].dropna().unique()
    if len(unpriced):
        log.info("Unpriced incidents on %d services without readiness/cost-per-minute", len(unpriced))
    return incidents, incident_costs(incidents)


def iso_week(moments: pd.Series) -> pd.Series:
    """``2026-W46``: the ISO year and week of each timestamp (UTC)."""
    calendar = _utc(moments).dt.isocalendar()
    weeks: pd.Series = calendar["year"].astype(str) + "-W" + calendar["week"].astype(str).str.zfill(2)
    return weeks


def money_text(amount: float) -> str:
    """``12,400`` or ``1,234.50``: thousands separators, pennies only when there are some."""
    if math.isclose(amount, round(amount), abs_tol=1e-9):
        return f"{round(amount):,}"
    return f"{amount:,.2f}"


def note_text(minutes: int, cost_per_minute: float, money: str, service: str) -> str:
    """ "Estimated loss so far: 62 min x GBP 200/min = GBP 12,400 (checkout-api)"."""
    loss = minutes * cost_per_minute
    return (
        f"Estimated loss so far: {minutes:,} min x {money} {money_text(cost_per_minute)}/min = "
        f"{money} {money_text(loss)} ({service})"
    )


def _utc(moments: pd.Series) -> pd.Series:
    """Timestamps as UTC-aware (naive ones are read as UTC)."""
    moments = pd.to_datetime(moments, utc=False)
    if not isinstance(moments.dtype, pd.DatetimeTZDtype):
        return moments.dt.tz_localize("UTC")
    return moments.dt.tz_convert("UTC")
