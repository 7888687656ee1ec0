"""The HR export of joiners: its documented columns, clear errors, and where the audit finds it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from oncall_readiness import audit, hr
from oncall_readiness.registry import load_registry
from oncall_readiness.source_catalogue import REGISTRY, fact_schemas
from readiness_sandbox.sample_org import CATALOG as SAMPLE_CATALOG
from readiness_sandbox.sample_org import HR_EXPORT as SAMPLE_HR_EXPORT

TEAMS = ["payments", "checkout"]
HEADER = "email,team,start_date,status\n"


@pytest.fixture(autouse=True)
def in_tmp_path(tmp_path, monkeypatch):
    """Messages name the file relative to the working directory."""
    monkeypatch.chdir(tmp_path)


def export(tmp_path: Path, text: str, name: str = "joiners.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def problems(path: Path) -> list[str]:
    with pytest.raises(hr.HRExportError) as error:
        hr.load_hr_joiners(path, teams=TEAMS)
    return error.value.problems


def test_a_valid_export_becomes_the_registry_hr_joiners_table(tmp_path):
    path = export(
        tmp_path,
        "\ufeffEmployee ID,Email,Name,Team,Start_Date,Status\n"  # a BOM, other columns, any case, any order
        "E1, Ann.Lee@Example.com ,Ann Lee,Payments,2026-11-02,Active\n"
        "\n"
        "E2,bob@example.com,,checkout,2026-09-01,leaver\n",
    )
    joiners = hr.load_hr_joiners(path, teams=TEAMS)
    assert list(joiners.columns) == hr.COLUMNS == list(hr.FACT_COLUMNS[hr.TABLE])
    assert joiners.to_dict("records") == [
        {
            "email": "ann.lee@example.com",
            "name": "Ann Lee",
            "team": "payments",
            "start_date": dt.date(2026, 11, 2),
            "status": "active",
            "source": "joiners.csv:2",
        },
        {
            "email": "bob@example.com",
            "name": None,
            "team": "checkout",
            "start_date": dt.date(2026, 9, 1),
            "status": "leaver",
            "source": "joiners.csv:4",
        },
    ]


def test_bad_rows_are_all_reported_naming_file_line_and_column(tmp_path):
    path = export(
        tmp_path,
        HEADER + "ann@example.com,payments,2026-13-01,active\n"
        ",payments,2026-11-01,active\n"
        "cy at example.com,payments,2026-11-01,active\n"
        "dee@example.com,paymnets,2026-11-01,active\n"
        "eve@example.com,checkout,,\n"
        "fay@example.com,payments,01/11/2026,active\n"
        "gus@example.com,checkout,2026-11-01,active\n"
        "GUS@example.com,Checkout,2026-11-02,active\n",
    )
    assert problems(path) == [
        "joiners.csv:2: column start_date: bad date '2026-13-01' (expected YYYY-MM-DD)",
        "joiners.csv:3: column email: missing",
        "joiners.csv:4: column email: not an email 'cy at example.com'",
        "joiners.csv:5: column team: unknown team 'paymnets' (not a Group in the registry)",
        "joiners.csv:6: column start_date: missing",
        "joiners.csv:6: column status: missing (active, leaver, ...)",
        "joiners.csv:7: column start_date: bad date '01/11/2026' (expected YYYY-MM-DD)",
        "joiners.csv:9: duplicate of line 8 (same email and team)",
    ]


def test_a_missing_column_or_file_is_named(tmp_path):
    assert problems(export(tmp_path, "email,team,start\nann@example.com,payments,2026-11-01\n")) == [
        "joiners.csv:1: missing column 'start_date' (the header must name email, team, start_date, status)",
        "joiners.csv:1: missing column 'status' (the header must name email, team, start_date, status)",
    ]
    assert problems(export(tmp_path, "")) == [
        "joiners.csv:1: no header row (expected the columns email, team, start_date, status)"
    ]
    missing = problems(tmp_path / "nowhere.csv")
    assert len(missing) == 1 and "nowhere.csv: cannot read the HR export" in missing[0]
    assert str(hr.HRExportError(missing)).startswith("1 problem in the HR export:\n")


def test_the_export_is_read_only_where_configured(tmp_path, monkeypatch):
    monkeypatch.delenv(hr.HR_CSV_ENV, raising=False)
    assert hr.configured_hr_path() is None  # no default: not even the sample organisation's
    assert hr.joiner_facts(TEAMS)[hr.TABLE].empty
    monkeypatch.setenv(hr.HR_CSV_ENV, str(tmp_path / "hr.csv"))
    assert hr.configured_hr_path() == tmp_path / "hr.csv"
    monkeypatch.setenv(hr.HR_CSV_ENV, " ")
    assert hr.configured_hr_path() is None


def test_the_sample_export_matches_the_sample_catalog():
    registry = load_registry(SAMPLE_CATALOG)
    joiners = hr.load_hr_joiners(SAMPLE_HR_EXPORT, teams=registry.teams["team"])
    active = joiners[joiners["status"] == "active"]
    catalog = registry.people.set_index("email")
    for row in active.itertuples():
        if row.email in catalog.index:  # the catalog and HR agree on every start date they share
            assert catalog.at[row.email, "start_date"] == row.start_date, row.email
    assert set(active["email"]) - set(catalog.index) == {"isabel.moreno@example.com"}


def test_the_audit_stages_the_export_with_the_registry(tmp_path, monkeypatch):
    monkeypatch.setenv("READINESS_STAGING_DIR", str(tmp_path / "staging"))
    monkeypatch.setenv("READINESS_CATALOG", str(SAMPLE_CATALOG))
    monkeypatch.setenv(hr.HR_CSV_ENV, str(export(tmp_path, HEADER + "new@example.com,payments,2026-11-10,active\n")))
    run = audit.AuditRun(audit.audit_instant("2026-11-16T00:00:00+00:00"), "manual__hr")
    audit.stage_registry(run)
    staged = run.staging.read(REGISTRY)[hr.TABLE]
    assert staged["email"].tolist() == ["new@example.com"]
    assert staged["start_date"].tolist() == [dt.date(2026, 11, 10)]
    assert fact_schemas()[hr.TABLE]["start_date"] == "date"  # the warehouse knows the table


def test_a_bad_export_stops_the_audit_before_anything_is_staged(tmp_path, monkeypatch):
    monkeypatch.setenv("READINESS_STAGING_DIR", str(tmp_path / "staging"))
    monkeypatch.setenv("READINESS_CATALOG", str(SAMPLE_CATALOG))
    monkeypatch.setenv(hr.HR_CSV_ENV, str(export(tmp_path, HEADER + "new@example.com,nobody,2026-11-10,active\n")))
    run = audit.AuditRun(audit.audit_instant("2026-11-16T00:00:00+00:00"), "manual__hr")
    with pytest.raises(hr.HRExportError, match="unknown team 'nobody'"):
        audit.stage_registry(run)
    assert not run.staging.status(REGISTRY).get("ok")
