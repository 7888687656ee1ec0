"""A past date through the real readiness_audit DAG: every source read as of that date, findings linked.

The sandbox serves the sample organisation as it is on its anchor date (2026-11-16): incidents,
joiners, runbook commits and Chaos Days dated up to then. Auditing two weeks earlier must read
each source as of that instant (nothing created since may break a data contract and turn checks
`unknown`), and every finding whose subject a source links carries that link in the warehouse.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from oncall_readiness import schema
from oncall_readiness.checks.catalogue import load_catalogue
from oncall_readiness.source_catalogue import collected_sources
from oncall_readiness.warehouse import Warehouse
from readiness_sandbox.demo import DEMO_AUDIT_DATE, airflow_env, run_audits
from readiness_sandbox.external_results import seed_external_results
from readiness_sandbox.process import running_sandbox
from readiness_sandbox.prometheus import running_prometheus

pytestmark = pytest.mark.e2e

PAST_DATE = (dt.date.fromisoformat(DEMO_AUDIT_DATE) - dt.timedelta(days=14)).isoformat()
# The sources whose facts link what the sample's findings name (a subject kind each at least).
LINKED = {
    "pagerduty": "escalation_policy:",
    "grafana": "alert-rule:grafana/",
    "prometheus": "alert-rule:prometheus/",
    "github": "service:",
    "confluence": "service:",
    "chaos_calendar": "event:",
}


@pytest.fixture(scope="module")
def past(tmp_path_factory, airflow_metadata):
    """The audit of two weeks before the anchor, then of the anchor: one Airflow process, one warehouse."""
    tmp = tmp_path_factory.mktemp("past")
    warehouse_path = tmp / "warehouse.duckdb"
    airflow_metadata(tmp / "airflow" / "airflow.db")
    with running_sandbox() as sandbox, running_prometheus() as prometheus:
        env = airflow_env(
            airflow_home=tmp / "airflow",
            sandbox=sandbox,
            warehouse=warehouse_path,
            staging=tmp / "staging",
            prometheus_url=prometheus.base_url,
        )
        seed_external_results(f"duckdb:///{warehouse_path}")
        run_audits(env, [PAST_DATE, DEMO_AUDIT_DATE], tmp / "audits.log")
    warehouse = Warehouse(f"duckdb:///{warehouse_path}")
    yield warehouse, tmp
    warehouse.dispose()


def test_a_past_date_meets_every_data_contract_and_no_check_is_unknown_for_it(past):
    warehouse, _ = past
    day = dt.date.fromisoformat(PAST_DATE)
    quality = warehouse.query("SELECT * FROM readiness.data_quality WHERE audit_date = :day", day=day)
    broken = quality[~quality["success"].astype(bool)]
    assert broken.empty, broken[["source", "facts_table", "expectation", "observed_value"]].to_string()
    assert set(quality["source"]) >= {"registry", *(source.name for source in collected_sources())}
    results = warehouse.query("SELECT * FROM readiness.check_results WHERE audit_date = :day", day=day)
    contract = results[results["reason"].str.contains("unavailable|failed validation", regex=True)]
    assert contract.empty, contract[["team", "check_id", "reason"]].to_string()


def test_the_past_date_knows_nothing_created_after_it(past):
    warehouse, _ = past
    day = dt.date.fromisoformat(PAST_DATE)
    instant = pd.Timestamp(PAST_DATE, tz="UTC")
    incidents = warehouse.query("SELECT * FROM readiness.facts_pagerduty_incidents WHERE audit_date = :day", day=day)
    assert len(incidents) and (pd.to_datetime(incidents["created_at"], utc=True) <= instant).all()
    # What was resolved after the instant was still open then.
    later = incidents[incidents["resolved_at"].isna()]
    assert set(later["status"]) <= {"triggered", "acknowledged"}
    people = warehouse.query("SELECT * FROM readiness.facts_registry_people WHERE audit_date = :day", day=day)
    started = people["start_date"].dropna().astype(str)
    assert (started <= PAST_DATE).all()
    # The anchor date still has them: the filter is the date's, not the data's.
    anchor = warehouse.query(
        "SELECT count(*) AS n FROM readiness.facts_pagerduty_incidents WHERE audit_date = :day",
        day=dt.date.fromisoformat(DEMO_AUDIT_DATE),
    )
    assert int(anchor["n"].iloc[0]) > len(incidents)


@pytest.mark.parametrize("source", sorted(LINKED))
def test_a_finding_about_what_a_source_links_carries_its_url(past, source):
    warehouse, _ = past
    day = dt.date.fromisoformat(DEMO_AUDIT_DATE)
    links = warehouse.query(
        f"SELECT * FROM readiness.facts_{source}{schema.LINKS_SUFFIX} WHERE audit_date = :day", day=day
    )
    assert len(links), f"{source} links nothing"
    assert links["url"].str.match(r"^https?://").all()
    findings = warehouse.query("SELECT * FROM readiness.findings WHERE audit_date = :day", day=day)
    # A check links through the sources it reads: its findings about what they link carry the link.
    reading = [check.id for check in load_catalogue().implemented() if source in check.sources]
    kind = findings[
        findings["subject"].str.startswith(LINKED[source])
        & findings["subject"].isin(links["subject"])
        & findings["check_id"].isin(reading)
    ]
    assert len(kind), f"no finding of a check reading {source} names a subject it links"
    assert kind["url"].notna().all(), kind[kind["url"].isna()][["check_id", "subject"]].to_string()
    assert kind["subject_name"].notna().all()
    ours = kind.merge(links, on="subject", suffixes=("", "_link"))
    assert (ours["url"] == ours["url_link"]).any(), f"no finding carries {source}'s own link"


def test_a_pagerduty_finding_links_to_the_page_pagerduty_gives(past):
    warehouse, _ = past
    findings = warehouse.query(
        "SELECT * FROM readiness.findings WHERE audit_date = :day AND subject = 'escalation_policy:PE0CHK1'",
        day=dt.date.fromisoformat(DEMO_AUDIT_DATE),
    )
    assert len(findings)
    assert findings["url"].str.endswith("/escalation_policies/PE0CHK1").all()
    assert (findings["subject_name"] == "Checkout").all()


def test_a_past_dates_run_is_recorded_as_its_scheduled_run_would_be(past):
    """Not a run of weeks ("Total 21d") nor the latest run: started with its first task, due at its instant."""
    import sqlite3

    _, tmp = past
    with sqlite3.connect(tmp / "airflow" / "airflow.db") as db:
        runs = db.execute(
            "SELECT logical_date, run_after, data_interval_end, start_date, end_date FROM dag_run"
            " WHERE dag_id = 'readiness_audit' ORDER BY logical_date"
        ).fetchall()
    assert [run[0][:10] for run in runs] == [PAST_DATE, DEMO_AUDIT_DATE]
    for _, run_after, interval_end, start, end in runs:
        assert run_after == interval_end
        assert pd.Timestamp(end) - pd.Timestamp(start) < pd.Timedelta(minutes=10)
