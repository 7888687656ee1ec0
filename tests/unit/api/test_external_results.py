"""Pushed results: validated with the field named, stored once, read as of an instant."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from pydantic import ValidationError

from oncall_readiness import external_results
from oncall_readiness.api.models import ExternalResult
from oncall_readiness.external_results import ExternalResultError, Registered, accepted, record, results_as_of
from oncall_readiness.warehouse import Warehouse

NOW = dt.datetime(2026, 11, 16, 9, tzinfo=dt.UTC)
GOOD = {
    "team": "checkout",
    "check_id": "security-scan",
    "status": "fail",
    "reason": "CVE-2026-1234 in openssl.",
    "subject": "service:checkout-web",
    "observed_at": "2026-11-15T10:00:00+01:00",
}


REGISTRY = Registered(frozenset({"checkout"}), {"checkout": {"service:checkout-web": "service:checkout-web"}})


@pytest.fixture
def warehouse(tmp_path):
    warehouse = Warehouse(f"duckdb:///{tmp_path / 'warehouse.duckdb'}")
    yield warehouse
    warehouse.dispose()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"status": "waived"}, "status"),
        ({"observed_at": "2026-11-15T10:00:00"}, "observed_at"),
        ({"reason": "  "}, "reason"),
        ({"team": None}, "team"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_a_malformed_result_names_its_field(change, field):
    with pytest.raises(ValidationError) as error:
        ExternalResult.model_validate(GOOD | change)
    assert error.value.errors()[0]["loc"] == (field,)


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"check_id": "chaos-day"}, "check_id", "not an external check"),
        ({"team": "nobody"}, "team", "not a team of the latest audit"),
        ({"observed_at": "2026-11-17T00:00:00Z"}, "observed_at", "in the future"),
    ],
)
def test_what_only_the_catalogue_and_registry_can_tell_is_refused_too(change, field, words):
    result = ExternalResult.model_validate(GOOD | change)
    with pytest.raises(ExternalResultError) as error:
        accepted(result, external_checks=["security-scan"], registry=REGISTRY, now=NOW)
    assert error.value.field == field and words in error.value.message


def test_a_result_is_stored_once_and_read_as_of_the_instant(warehouse):
    first = ExternalResult.model_validate(GOOD)
    assert first.observed_at == dt.datetime(2026, 11, 15, 9, tzinfo=dt.UTC)  # normalised to UTC
    assert record(warehouse, first, received_at=NOW, received_by="scanner") is True
    assert record(warehouse, first, received_at=NOW, received_by="scanner") is False  # a retried push
    fixed = ExternalResult.model_validate(
        GOOD | {"status": "pass", "reason": "Fixed.", "observed_at": "2026-11-17T08:00Z"}
    )
    record(warehouse, fixed, received_at=NOW + dt.timedelta(days=1), received_by="scanner")
    team_wide = ExternalResult.model_validate(GOOD | {"subject": None, "status": "warn"})
    record(warehouse, team_wide, received_at=NOW, received_by=None)

    on_16th = results_as_of(warehouse, pd.Timestamp("2026-11-16T00:00Z"))
    assert sorted(zip(on_16th["subject"].fillna("-"), on_16th["status"], strict=True)) == [
        ("-", "warn"),
        ("service:checkout-web", "fail"),
    ]  # a backfill of the 16th does not see the fix observed on the 17th
    on_18th = results_as_of(warehouse, pd.Timestamp("2026-11-18T00:00Z"))
    assert set(on_18th.loc[on_18th["subject"].notna(), "status"]) == {"pass"}
    rows = warehouse.query("SELECT COUNT(*) AS n FROM readiness.external_results")
    assert rows.at[0, "n"] == 3


def test_before_any_push_the_audit_reads_no_result(warehouse):
    assert results_as_of(warehouse, pd.Timestamp("2026-11-16T00:00Z")).empty
    assert list(external_results.results_as_of(warehouse, pd.Timestamp.now(tz="UTC")).columns) == list(
        external_results.COLUMNS
    )
