"""The run of ``readiness_alerts``: which audit dates its asset events name, and the page's URL."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from oncall_readiness.alerts import EVENT_AUDIT_DATE, SCORECARD_ASSET_NAME, SCORECARD_ASSET_URI
from oncall_readiness.alerts.delivery import AlertDeliveryError, send_alerts
from oncall_readiness.warehouse import Warehouse

log = logging.getLogger(__name__)


def event_dates(triggering_asset_events: Mapping[Any, Iterable[Any]] | None) -> list[dt.date]:
    """The audit dates the scorecard asset's events name (each publish names its date in ``extra``)."""
    dates = set()
    for asset, events in (triggering_asset_events or {}).items():
        if getattr(asset, "name", asset) not in (SCORECARD_ASSET_NAME, SCORECARD_ASSET_URI):
            continue
        for event in events:
            day = (getattr(event, "extra", None) or {}).get(EVENT_AUDIT_DATE)
            if day:
                dates.add(dt.date.fromisoformat(str(day)[:10]))
    return sorted(dates)


def alert_dates(warehouse_url: str, triggering_asset_events: Mapping[Any, Iterable[Any]] | None) -> list[dt.date]:
    """The events' audit dates; a run without any (manual): the latest published audit date."""
    dates = event_dates(triggering_asset_events)
    if dates:
        return dates
    warehouse = Warehouse(warehouse_url)
    try:
        latest = warehouse.latest_audit_date()
    finally:
        warehouse.dispose()
    log.info("No scorecard event names an audit date: alerting for the latest published one, %s", latest)
    return [latest] if latest else []


def send_for_dates(warehouse_url: str, dates: list[dt.date], *, page_root: str | None = None) -> list[dict[str, Any]]:
    """Send every date's alerts; a delivery failure of one date does not keep the others from going."""
    summaries, failures = [], []
    for day in dates:
        try:
            summaries.append(send_alerts(warehouse_url, day, page_root=page_root).summary())
        except AlertDeliveryError as error:
            failures.append(f"{day}: {error}")
    if failures:
        raise AlertDeliveryError("; ".join(failures))
    return summaries
