"""The loss model: minutes to resolution (to the instant while open) times the service's price."""

from __future__ import annotations

import pandas as pd
import pytest

from oncall_readiness.incidents.cost import (
    currency,
    incident_costs,
    incident_tables,
    incidents_table,
    iso_week,
    money_text,
    note_text,
)
from oncall_readiness.schema import INCIDENT_COLUMNS, INCIDENT_COST_COLUMNS

INSTANT = pd.Timestamp("2026-11-16T00:00:00Z")  # a Monday: ISO week 2026-W47 starts


def services() -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "service": "checkout-api",
                "team": "checkout",
                "pagerduty_service_id": "PVCHK01",
                "cost_per_minute": 200.0,
            },
            {"service": "checkout-tax", "team": "checkout", "pagerduty_service_id": "PVCHK04", "cost_per_minute": None},
            {"service": "search-api", "team": "search", "pagerduty_service_id": "PVSRC01", "cost_per_minute": 12.5},
            {"service": "search-media", "team": "search", "pagerduty_service_id": None, "cost_per_minute": 99.0},
        ]
    )


def incident(incident_id, service_id, created, resolved=None, *, urgency="high", status=None) -> dict:
    return {
        "incident_id": incident_id,
        "incident_number": int(incident_id[-3:]),
        "title": f"{incident_id} is down",
        "service_id": service_id,
        "urgency": urgency,
        "priority": "P1",
        "status": status or ("resolved" if resolved else "triggered"),
        "created_at": pd.Timestamp(created),
        "acknowledged_at": pd.NaT,
        "resolved_at": pd.Timestamp(resolved) if resolved else pd.NaT,
        "seconds_to_first_ack": pd.NA,
        "seconds_to_resolve": pd.NA,
    }


FACTS = pd.DataFrame(
    [
        incident("Q0CHK001", "PVCHK01", "2026-11-10T10:00:00Z", "2026-11-10T11:02:00Z"),  # 62 min x 200
        incident("Q0CHK002", "PVCHK01", "2026-11-15T23:00:00Z", status="acknowledged"),  # open: 60 min to the instant
        incident("Q0CHK003", "PVCHK04", "2026-11-11T09:00:00Z", "2026-11-11T09:30:00Z"),  # no price
        incident("Q0SRC004", "PVSRC01", "2026-11-08T23:50:00Z", "2026-11-09T00:10:00Z", urgency="low"),  # W45
        incident("Q0XXX005", "PVUNKNOWN", "2026-11-12T12:00:00Z", "2026-11-12T12:10:00Z"),  # not in the registry
    ]
)


@pytest.fixture
def table() -> pd.DataFrame:
    return incidents_table(FACTS, services(), INSTANT, money="GBP").set_index("incident_id")


def test_a_resolved_incident_is_priced_to_its_resolution(table):
    row = table.loc["Q0CHK001"]
    assert (row["team"], row["service"], row["minutes"], row["estimated_loss"]) == (
        "checkout",
        "checkout-api",
        62,
        12_400,
    )
    assert row["priced"] and row["currency"] == "GBP" and row["cost_per_minute"] == 200


def test_an_open_incident_is_priced_to_the_instant_not_the_wall_clock(table):
    row = table.loc["Q0CHK002"]
    assert row["minutes"] == 60 and row["estimated_loss"] == 12_000 and pd.isna(row["resolved_at"])


def test_an_unpriced_service_is_unpriced_never_zero(table):
    row = table.loc["Q0CHK003"]
    assert not row["priced"] and pd.isna(row["estimated_loss"]) and pd.isna(row["cost_per_minute"])
    assert row["minutes"] == 30 and row["team"] == "checkout"


def test_an_incident_on_an_unknown_service_keeps_a_null_team(table):
    row = table.loc["Q0XXX005"]
    assert pd.isna(row["team"]) and pd.isna(row["service"]) and row["pagerduty_service_id"] == "PVUNKNOWN"
    assert not row["priced"] and row["minutes"] == 10


def test_the_incidents_table_has_the_warehouse_columns(table):
    assert list(table.reset_index().columns) == list(INCIDENT_COLUMNS)
    assert len(table) == len(FACTS)  # nothing dropped


def test_costs_per_team_and_iso_week(table):
    costs = incident_costs(table.reset_index())
    assert list(costs.columns) == list(INCIDENT_COST_COLUMNS)
    rows = {(row.team, row.iso_week): row for row in costs.itertuples()}
    checkout = rows[("checkout", "2026-W46")]
    assert (checkout.incidents, checkout.high_urgency_incidents, checkout.unpriced_incidents) == (3, 3, 1)
    assert checkout.minutes == 62 + 60 + 30 and checkout.estimated_loss == 12_400 + 12_000  # priced ones only
    search = rows[("search", "2026-W45")]  # created Sunday 8 November, late: still ISO week 45
    assert (search.incidents, search.high_urgency_incidents, search.estimated_loss) == (1, 0, 250)
    unknown = next(row for row in costs.itertuples() if row.team is None)
    assert unknown.iso_week == "2026-W46" and unknown.unpriced_incidents == 1 and pd.isna(unknown.estimated_loss)


def test_iso_weeks_follow_iso_years():
    moments = pd.Series(pd.to_datetime(["2026-12-31T12:00:00Z", "2027-01-03T23:59:00Z", "2027-01-04T00:00:00Z"]))
    assert list(iso_week(moments)) == ["2026-W53", "2026-W53", "2027-W01"]


def test_without_pagerduty_incidents_the_audit_writes_no_incident_rows(caplog):
    assert incident_tables({"registry_services": services()}, INSTANT, unavailable="PagerDuty timed out") == (
        None,
        None,
    )
    assert "PagerDuty timed out" in caplog.text


def test_incident_tables_from_an_audits_facts(monkeypatch):
    monkeypatch.setenv("READINESS_CURRENCY", "eur")
    incidents, costs = incident_tables({"pagerduty_incidents": FACTS, "registry_services": services()}, INSTANT)
    assert set(incidents["currency"]) == {"EUR"} and set(costs["currency"]) == {"EUR"}


def test_currency_defaults_to_gbp(monkeypatch):
    monkeypatch.delenv("READINESS_CURRENCY", raising=False)
    assert currency() == "GBP"


def test_the_note_text():
    assert note_text(62, 200.0, "GBP", "checkout-api") == (
        "Estimated loss so far: 62 min x GBP 200/min = GBP 12,400 (checkout-api)"
    )
    assert note_text(1_234, 45.5, "EUR", "payments-ledger") == (
        "Estimated loss so far: 1,234 min x EUR 45.50/min = EUR 56,147 (payments-ledger)"
    )
    assert money_text(1234.5) == "1,234.50" and money_text(1_000_000.0) == "1,000,000"
