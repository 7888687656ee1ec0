"""PagerDuty's facts wound back to a past audit instant (sources.pagerduty.as_of)."""

from __future__ import annotations

import pandas as pd

from oncall_readiness.sources.facts import typed_frame
from oncall_readiness.sources.pagerduty.as_of import as_of
from oncall_readiness.sources.pagerduty.facts import FACT_COLUMNS

INSTANT = pd.Timestamp("2026-11-02T00:00", tz="UTC")


def incident(incident_id: str, created: str, acknowledged: str | None, resolved: str | None, status: str) -> dict:
    return {
        "incident_id": incident_id,
        "status": status,
        "created_at": created,
        "acknowledged_at": acknowledged,
        "resolved_at": resolved,
        "seconds_to_first_ack": 60 if acknowledged else None,
        "seconds_to_resolve": 600 if resolved else None,
    }


def facts() -> dict[str, pd.DataFrame]:
    incidents = [
        incident("Q1", "2026-10-30T10:00Z", "2026-10-30T10:01Z", "2026-10-30T10:10Z", "resolved"),
        incident("Q2", "2026-11-01T23:00Z", "2026-11-01T23:01Z", "2026-11-02T01:00Z", "resolved"),
        incident("Q3", "2026-11-01T23:30Z", "2026-11-02T00:05Z", "2026-11-02T02:00Z", "resolved"),
        incident("Q4", "2026-11-05T08:00Z", None, None, "triggered"),
    ]
    services = [
        {"service_id": "PV1", "name": "old", "created_at": "2024-01-01T00:00Z"},
        {"service_id": "PV2", "name": "new", "created_at": "2026-11-10T00:00Z"},
    ]
    return {
        "pagerduty_incidents": typed_frame(incidents, FACT_COLUMNS["pagerduty_incidents"]),
        "pagerduty_services": typed_frame(services, FACT_COLUMNS["pagerduty_services"]),
    }


def test_incidents_created_after_the_instant_did_not_exist_and_later_resolutions_had_not_happened():
    wound = as_of(facts(), INSTANT)["pagerduty_incidents"].set_index("incident_id")
    assert list(wound.index) == ["Q1", "Q2", "Q3"]
    assert wound.at["Q1", "status"] == "resolved" and wound.at["Q1", "seconds_to_resolve"] == 600
    assert wound.at["Q2", "status"] == "acknowledged" and pd.isna(wound.at["Q2", "resolved_at"])
    assert pd.isna(wound.at["Q2", "seconds_to_resolve"]) and wound.at["Q2", "seconds_to_first_ack"] == 60
    assert wound.at["Q3", "status"] == "triggered" and pd.isna(wound.at["Q3", "acknowledged_at"])


def test_services_created_after_the_instant_are_left_out_and_the_rest_kept():
    wound = as_of(facts(), INSTANT)
    assert list(wound["pagerduty_services"]["service_id"]) == ["PV1"]
    assert as_of(facts(), pd.Timestamp("2026-12-01T00:00", tz="UTC"))["pagerduty_services"]["service_id"].tolist() == [
        "PV1",
        "PV2",
    ]
