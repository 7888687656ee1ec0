"""PagerDuty's facts as of the audit instant: what a backfill of a past date may know.

PagerDuty answers with the account as it is now. What carries a date is wound back to the
audit instant, so that auditing a past date judges that date, not today:

- incidents created after the instant did not exist: dropped (the list of open incidents is
  "open now", however recent);
- an incident resolved or acknowledged after the instant was still open, or not yet
  acknowledged, then: its ``resolved_at`` / ``acknowledged_at`` and the durations measured to
  them are cleared and its status is what it was (``acknowledged`` or ``triggered``);
- services created after the instant did not exist: dropped.

Users, contact methods, notification rules, schedules and escalation policies carry no
creation date in the REST API: they are read as they are now (docs/sources/pagerduty.md,
"Auditing a past date").
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd


def as_of(facts: Mapping[str, pd.DataFrame], instant: pd.Timestamp) -> dict[str, pd.DataFrame]:
    """``facts`` with the incidents and services as they were at ``instant``."""
    wound = dict(facts)
    if "pagerduty_incidents" in wound:
        wound["pagerduty_incidents"] = _incidents_as_of(wound["pagerduty_incidents"], instant)
    if "pagerduty_services" in wound:
        services = wound["pagerduty_services"]
        wound["pagerduty_services"] = services[~(services["created_at"] > instant).fillna(False)].reset_index(drop=True)
    return wound


def _incidents_as_of(incidents: pd.DataFrame, instant: pd.Timestamp) -> pd.DataFrame:
    kept = incidents[~(incidents["created_at"] > instant).fillna(False)].reset_index(drop=True)
    unresolved = (kept["resolved_at"] > instant).fillna(False)
    unacknowledged = (kept["acknowledged_at"] > instant).fillna(False)
    if not (unresolved.any() or unacknowledged.any()):
        return kept
    kept = kept.copy()
    kept.loc[unresolved, ["resolved_at", "seconds_to_resolve"]] = pd.NA
    kept.loc[unacknowledged, ["acknowledged_at", "seconds_to_first_ack"]] = pd.NA
    acknowledged = kept["acknowledged_at"].notna()
    kept.loc[unresolved & acknowledged, "status"] = "acknowledged"
    kept.loc[unresolved & ~acknowledged, "status"] = "triggered"
    return kept
