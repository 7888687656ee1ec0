"""Waivers as written: the file beside the catalog and the Group annotation, and every way one can be bad."""

from __future__ import annotations

import dataclasses
import datetime as dt
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from oncall_readiness.checks.catalogue import load_catalogue
from oncall_readiness.errors import WaiverError
from oncall_readiness.registry import load_registry
from oncall_readiness.waivers import (
    WAIVER_COLUMNS,
    WAIVERS_ENV_VAR,
    WAIVERS_FILE,
    load_waivers,
    waiver_table,
    waivers_path,
)

TEAM = """\
apiVersion: backstage.io/v1alpha1
kind: Group
metadata:
  name: payments
  annotations:
    pagerduty.com/schedule-ids: PS1
{annotations}
spec:
  type: team
  profile: {{email: payments@example.com}}
  members: [ada]
---
apiVersion: backstage.io/v1alpha1
kind: User
metadata: {{name: ada}}
spec: {{profile: {{email: ada@example.com}}}}
---
apiVersion: backstage.io/v1alpha1
kind: User
metadata: {{name: dana}}
spec: {{profile: {{email: dana@example.com}}}}
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata: {{name: payments-api}}
spec: {{type: service, lifecycle: production, owner: group:payments}}
"""

GOOD = """\
waivers:
  - check: chaos-day
    team: payments
    reason: Chaos Day moved to January after the data centre move.
    approver: dana@example.com
    approved: 2026-10-01
    expires: 2026-12-15
  - check: dashboard-coverage
    team: payments
    subject: service:payments-api
    reason: New dashboards land with the Grafana upgrade.
    approver: dana@example.com
    approved: 2026-11-01
    expires: 2026-11-30
"""


def catalog(tmp_path: Path, waivers: str | None = None, annotations: str = "") -> Path:
    folder = tmp_path / "catalog"
    folder.mkdir()
    (folder / "payments.yaml").write_text(TEAM.format(annotations=textwrap.indent(annotations, "    ")))
    if waivers is not None:
        (folder / WAIVERS_FILE).write_text(waivers)
    return folder


def loaded(folder: Path, catalogue=None) -> pd.DataFrame:
    return load_waivers(load_registry(folder), catalogue or load_catalogue(), waivers_path(folder))


def problems(tmp_path: Path, waivers: str | None = None, annotations: str = "", catalogue=None) -> list[str]:
    folder = catalog(tmp_path, waivers, annotations)
    with pytest.raises(WaiverError) as caught:
        loaded(folder, catalogue)
    lines = str(caught.value).splitlines()
    assert lines[0].endswith("in the waivers:") and caught.value.problems == lines[1:]
    return lines[1:]


def test_the_file_beside_the_catalog_is_read_and_not_taken_for_entities(tmp_path):
    waivers = loaded(catalog(tmp_path, GOOD))
    assert list(waivers["check_id"]) == ["chaos-day", "dashboard-coverage"]
    first = waivers.iloc[0]
    assert (first["team"], first["subject"], first["approver"]) == ("payments", None, "dana@example.com")
    assert (first["approved"], first["expires"]) == (dt.date(2026, 10, 1), dt.date(2026, 12, 15))
    assert waivers.iloc[1]["subject"] == "service:payments-api"
    assert first["source"].endswith(f"{WAIVERS_FILE}:2")


def test_no_file_no_waivers_and_an_env_var_overrides_the_place(tmp_path, monkeypatch):
    folder = catalog(tmp_path)
    assert waivers_path(folder) is None and loaded(folder).empty
    elsewhere = tmp_path / "approved.yaml"
    elsewhere.write_text(GOOD)
    monkeypatch.setenv(WAIVERS_ENV_VAR, str(elsewhere))
    assert len(loaded(folder)) == 2
    monkeypatch.setenv(WAIVERS_ENV_VAR, str(tmp_path / "typo.yaml"))
    with pytest.raises(WaiverError, match="typo.yaml: READINESS_WAIVERS names a file that does not exist"):
        waivers_path(folder)


def test_a_group_annotation_holds_the_teams_own_waivers(tmp_path):
    annotation = """\
readiness/waivers: |
  - check: oncall-load
    reason: Launch week; load will settle.
    approver: dana@example.com
    approved: 2026-11-10
    expires: 2026-11-24
"""
    waivers = loaded(catalog(tmp_path, annotations=annotation))
    assert list(waivers[["team", "check_id"]].itertuples(index=False, name=None)) == [("payments", "oncall-load")]


def test_active_from_approval_to_expiry_inclusive():
    waivers = pd.DataFrame(
        {
            "team": ["t"] * 3,
            "check_id": ["c"] * 3,
            "subject": [None] * 3,
            "reason": ["r"] * 3,
            "approver": ["a"] * 3,
            "approved": [dt.date(2026, 11, 1), dt.date(2026, 11, 17), dt.date(2026, 10, 1)],
            "expires": [dt.date(2026, 11, 16), dt.date(2026, 12, 1), dt.date(2026, 11, 15)],
            "source": ["f:1"] * 3,
        }
    )
    table = waiver_table(waivers, pd.Timestamp("2026-11-16T00:00", tz="UTC"))
    assert list(table.columns) == WAIVER_COLUMNS
    # expires today: still active; approved tomorrow (a backfill): not yet; expired yesterday: no longer
    assert list(table["active"]) == [True, False, False]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"check": "chaos-days"}, ":2: waivers[0].check: unknown check 'chaos-days'"),
        ({"team": "payment"}, ":3: waivers[0].team: unknown team 'payment'"),
        ({"approver": ""}, ":5: waivers[0].approver: missing"),
        ({"approved": "2026-13-01"}, ":6: waivers[0].approved: bad date '2026-13-01' (expected YYYY-MM-DD)"),
        (
            {"expires": "2026-09-30"},
            ":7: waivers[0].expires: 2026-09-30 is before the waiver was approved (2026-10-01)",
        ),
        (
            {"expires": "2027-01-15"},
            ":7: waivers[0].expires: the waiver runs 106 days from 2026-10-01, longer than max_waiver_days (90, "
            "checks.yaml); expire it by 2026-12-30",
        ),
        ({"subject": "service:search-api"}, "waivers[0].subject: team 'payments' has no service 'search-api'"),
        ({"subject": "payments-api"}, "waivers[0].subject: 'payments-api' must be one of service:<name>"),
        ({"expiry": "2026-12-01"}, "waivers[0].expiry: unknown field (fields: check, team, subject"),
    ],
)
def test_a_bad_waiver_names_the_file_line_and_field(tmp_path, change, expected):
    entry = {
        "check": "chaos-day",
        "team": "payments",
        "reason": "Moved to January.",
        "approver": "dana@example.com",
        "approved": "2026-10-01",
        "expires": "2026-12-15",
    }
    entry.update(change)
    lines = "\n".join(
        f"    {key}: {value!r}" if key != "check" else f"  - {key}: {value!r}" for key, value in entry.items()
    )
    (found,) = problems(tmp_path, "waivers:\n" + lines + "\n")
    assert f"catalog/{WAIVERS_FILE}:" in found
    assert expected in found, found


def test_a_missing_field_and_every_other_problem_are_reported_at_once(tmp_path):
    found = problems(tmp_path, "waivers:\n  - check: chaos-day\n    team: payments\n  - team: nobody\n")
    assert any("waivers[0].reason: missing" in line for line in found)
    assert any("waivers[0].approver: missing" in line for line in found)
    assert any("waivers[1].check: missing" in line for line in found)


def test_a_planned_check_and_a_shorter_allowed_length(tmp_path):
    catalogue = load_catalogue()
    planned = dataclasses.replace(catalogue.checks["chaos-day"], status="planned")
    strict = dataclasses.replace(catalogue, checks={**catalogue.checks, "chaos-day": planned}, max_waiver_days=30)
    found = problems(tmp_path, GOOD, catalogue=strict)
    assert any("waivers[0].check: 'chaos-day' is not implemented yet" in line for line in found)
    assert not any("waivers[1]" in line for line in found)  # 29 days: within 30


def test_bad_annotation_names_the_group_file_and_line(tmp_path):
    annotation = """\
readiness/waivers: |
  - check: oncall-load
    team: search
    reason: Launch week.
    approved: 2026-11-10
    expires: 2026-11-24
"""
    found = problems(tmp_path, annotations=annotation)
    where = "payments.yaml:1: Group 'payments' metadata.annotations.readiness/waivers[0]"
    assert any(line.endswith(f"{where}.approver: missing") for line in found), found
    assert any("readiness/waivers[0].team: 'search' is not this Group ('payments')" in line for line in found)


def test_yaml_that_does_not_parse_names_the_line(tmp_path):
    (found,) = problems(tmp_path, "waivers:\n  - check: [chaos-day\n")
    assert "YAML does not parse" in found and f"{WAIVERS_FILE}:" in found


def test_the_sample_organisation_has_an_active_and_an_expired_waiver():
    from readiness_sandbox.sample_org import CATALOG

    table = waiver_table(loaded(CATALOG), pd.Timestamp("2026-11-16", tz="UTC")).set_index("team")
    assert table.at["notifications", "active"] and table.at["notifications", "check_id"] == "chaos-day"
    assert not table.at["catalog", "active"] and table.at["catalog", "expires"] == dt.date(2026, 11, 13)


@pytest.mark.parametrize(
    ("approver", "annotations", "problem"),
    [
        ("me", "", "waivers[0].approver: 'me' is no one in the catalog (the email of a User who approves it)"),
        ("ada@example.com", "", "waivers[0].approver: 'ada@example.com' is a member of team 'payments': a waiver"),
        (
            "dana@example.com",
            "readiness/waiver-approvers: boss@example.com",
            "waivers[0].approver: 'dana@example.com' is not one of the waiver approvers of 'payments' "
            "(readiness/waiver-approvers: boss@example.com)",
        ),
    ],
    ids=["no-one", "a-member-of-the-team", "not-an-approver-of-the-group"],
)
def test_a_waiver_cannot_approve_itself(tmp_path, approver, annotations, problem):
    waivers = GOOD.replace("approver: dana@example.com", f"approver: {approver}", 1)
    with pytest.raises(WaiverError) as raised:
        loaded(catalog(tmp_path, waivers, annotations=annotations))
    assert any(problem in line for line in raised.value.problems), raised.value.problems


def test_an_approver_the_group_names_is_accepted_in_any_case(tmp_path):
    waivers = GOOD.replace("approver: dana@example.com", "approver: Dana@Example.com", 1)
    table = loaded(catalog(tmp_path, waivers, annotations="readiness/waiver-approvers: dana@example.com, x@y.z"))
    assert set(table["approver"]) == {"dana@example.com"}
