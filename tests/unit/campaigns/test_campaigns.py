"""The campaigns file: where it is, what it may say (bad ones named by file, line and field), and progress."""

from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from oncall_readiness import campaigns
from oncall_readiness.campaigns import Campaign, campaign_progress, load_campaigns
from oncall_readiness.errors import CampaignError
from oncall_readiness.registry import load_registry

SAMPLE_CATALOG = Path(__file__).parents[3] / "include" / "sample_org" / "catalog"
CHECKS = ["rotation-sustainability", "escalation-path"]
DAY = dt.date(2026, 11, 16)


@pytest.fixture
def org() -> tuple[pd.DataFrame, pd.DataFrame]:
    """A department (no services) of two teams, and a team without a parent."""
    teams = pd.DataFrame(
        {
            "team": ["commerce", "payments", "checkout", "identity"],
            "parent": [None, "commerce", "commerce", None],
            "type": ["department", "team", "team", "team"],
        }
    )
    services = pd.DataFrame(
        {"service": ["pay-api", "chk-api", "idn-api"], "team": ["payments", "checkout", "identity"]}
    )
    return teams, services


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "readiness-campaigns.yaml"
    path.write_text(textwrap.dedent(text))
    return path


GOOD = """\
campaigns:
  - id: rotations
    title: Sustainable rotations
    checks: [rotation-sustainability]
    teams: all
    start: 2026-11-02
    due: 2026-12-14
  - id: commerce-silver
    title: Commerce at silver
    level: silver
    teams: [commerce]
    start: 2026-10-01
    due: 2026-11-30
"""


def test_a_campaign_names_checks_or_a_level_and_its_teams_expand_to_audited_teams(tmp_path, org):
    loaded = load_campaigns(write(tmp_path, GOOD), *org, CHECKS)
    assert [c.id for c in loaded] == ["rotations", "commerce-silver"]
    assert loaded[0].teams == ("checkout", "identity", "payments")  # all: the department itself is not audited
    assert loaded[1].teams == ("checkout", "payments")  # a department stands for its teams
    assert loaded[1].level == "silver" and loaded[1].checks == ()
    assert loaded[0].start == dt.date(2026, 11, 2) and loaded[0].due == dt.date(2026, 12, 14)


def test_the_staged_table_round_trips(tmp_path, org):
    loaded = load_campaigns(write(tmp_path, GOOD), *org, CHECKS)
    assert campaigns.campaigns_from_frame(campaigns.campaigns_frame(loaded)) == loaded


@pytest.mark.parametrize(
    ("entry", "line", "field", "problem"),
    [
        (
            "    title: T\n    checks: [rotation-sustainability]\n    teams: all\n    start: 2026-11-02\n",
            2,
            "due",
            "missing",
        ),
        (
            "    title: T\n    checks: [no-such-check]\n    teams: all\n    start: 2026-11-02\n    due: 2026-12-01\n",
            4,
            "checks",
            "unknown or not implemented check 'no-such-check'",
        ),
        (
            "    title: T\n    level: platinum\n    teams: all\n    start: 2026-11-02\n    due: 2026-12-01\n",
            4,
            "level",
            "'platinum' is not a level",
        ),
        (
            "    title: T\n    level: none\n    teams: all\n    start: 2026-11-02\n    due: 2026-12-01\n",
            4,
            "level",
            "'none' is not a level",
        ),
        (
            "    title: T\n    teams: all\n    start: 2026-11-02\n    due: 2026-12-01\n",
            2,
            "checks",
            "a campaign asks for checks, a level, or both: neither is given",
        ),
        (
            "    title: T\n    level: bronze\n    teams: [payments, ghosts]\n"
            "    start: 2026-11-02\n    due: 2026-12-01\n",
            5,
            "teams",
            "unknown team or group 'ghosts'",
        ),
        (
            "    title: T\n    level: bronze\n    teams: all\n    start: 2026-11-02\n    due: 2026-10-01\n",
            7,
            "due",
            "2026-10-01 is before the start 2026-11-02",
        ),
        (
            "    title: T\n    level: bronze\n    teams: all\n    start: 2026-13-02\n    due: 2026-12-01\n",
            6,
            "start",
            "bad date '2026-13-02'",
        ),
        (
            "    title: T\n    level: bronze\n    teams: all\n    start: 2026-11-02\n"
            "    due: 2026-12-01\n    owner: me\n",
            8,
            "owner",
            "unknown field",
        ),
        (
            "    title: T\n    level: bronze\n    teams: 3\n    start: 2026-11-02\n    due: 2026-12-01\n",
            5,
            "teams",
            "expected a list of names",
        ),
    ],
)
def test_a_bad_campaign_is_named_by_file_line_and_field(tmp_path, org, entry, line, field, problem):
    path = write(tmp_path, "campaigns:\n  - id: bad\n" + entry)
    with pytest.raises(CampaignError) as raised:
        load_campaigns(path, *org, CHECKS)
    assert f"{path}:{line}: campaign 'bad' {field}: {problem}" in str(raised.value)


def test_duplicate_and_malformed_ids_and_every_problem_at_once(tmp_path, org):
    text = GOOD + "  - id: rotations\n    title: Again\n    level: gold\n    teams: all\n    start: 2026-11-02\n"
    text += (
        "    due: 2026-12-01\n  - id: Not_Kebab\n    title: X\n    level: gold\n    teams: all\n    start: 2026-11-02\n"
    )
    text += "    due: 2026-12-01\n"
    with pytest.raises(CampaignError) as raised:
        load_campaigns(write(tmp_path, text), *org, CHECKS)
    assert raised.value.problems == [
        f"{tmp_path / 'readiness-campaigns.yaml'}:14: campaign 'rotations' id: duplicate of the campaign on line 2",
        f"{tmp_path / 'readiness-campaigns.yaml'}:20: campaign 'Not_Kebab' id: 'Not_Kebab' is not lower-case words "
        "joined by hyphens",
    ]


def test_a_file_that_is_not_yaml_or_not_a_list_of_campaigns_stops_with_its_line(tmp_path, org):
    with pytest.raises(CampaignError, match=r"readiness-campaigns.yaml:3: YAML does not parse"):
        load_campaigns(write(tmp_path, "campaigns:\n  - id: [unclosed\n"), *org, CHECKS)
    with pytest.raises(CampaignError, match=r":1: expected one key, campaigns"):
        load_campaigns(write(tmp_path, "- id: x\n"), *org, CHECKS)


def test_where_the_file_is(tmp_path, monkeypatch):
    monkeypatch.delenv(campaigns.CAMPAIGNS_ENV_VAR, raising=False)
    catalog = tmp_path / "catalog"
    catalog.mkdir()
    (catalog / "teams.yaml").write_text("")
    assert campaigns.campaigns_path(catalog) is None  # no file: no campaigns
    beside = catalog / "readiness-campaigns.yaml"
    beside.write_text(GOOD)
    assert campaigns.campaigns_path(catalog) == beside  # the catalog folder
    assert campaigns.campaigns_path(catalog / "teams.yaml") == beside  # the folder of a catalog file
    monkeypatch.setenv(campaigns.CAMPAIGNS_ENV_VAR, str(tmp_path / "missing.yaml"))
    with pytest.raises(CampaignError, match="READINESS_CAMPAIGNS names a file that does not exist"):
        campaigns.campaigns_path(catalog)


def test_the_sample_organisation_has_its_three_campaigns(monkeypatch):
    monkeypatch.delenv(campaigns.CAMPAIGNS_ENV_VAR, raising=False)
    registry = load_registry(SAMPLE_CATALOG)  # the catalog reader skips readiness-*.yaml
    frame = campaigns.load_for_audit(SAMPLE_CATALOG, registry.teams, registry.services)
    staged = {c.id: c for c in campaigns.campaigns_from_frame(frame)}
    assert set(staged) == {"sustainable-rotations", "commerce-bronze", "runbook-week"}
    assert staged["sustainable-rotations"].teams == (
        "catalog",
        "checkout",
        "identity",
        "notifications",
        "payments",
        "search",
    )
    assert staged["commerce-bronze"].teams == ("catalog", "checkout", "payments", "search")


def campaign(**overrides) -> Campaign:
    values = {
        "id": "rotations",
        "title": "Rotations",
        "description": "",
        "checks": ("rotation-sustainability", "escalation-path"),
        "level": None,
        "teams": ("payments", "checkout", "identity", "search"),
        "start": dt.date(2026, 11, 2),
        "due": dt.date(2026, 12, 14),
    }
    return Campaign(**{**values, **overrides})


def test_a_team_meets_a_campaign_when_every_check_passes_or_is_waived():
    card = pd.DataFrame({"team": ["payments", "checkout", "identity"], "level": ["gold", "bronze", "silver"]})
    results = pd.DataFrame(
        {
            "team": ["payments", "payments", "checkout", "checkout", "identity", "identity"],
            "check_id": ["rotation-sustainability", "escalation-path"] * 3,
            "status": ["pass", "pass", "pass", "waived", "warn", "unknown"],
        }
    )
    progress = campaign_progress([campaign()], DAY, card, results).set_index("team")
    assert list(progress.columns) == ["campaign_id", "title", "meets", "reason", "start", "due"]
    assert progress["meets"].to_dict() == {"payments": True, "checkout": True, "identity": False, "search": False}
    assert progress.at["identity", "reason"] == (
        "Behind: rotation-sustainability is warn; escalation-path is unknown (due 2026-12-14)."
    )
    assert progress.at["search", "reason"].startswith("Behind: rotation-sustainability is not assessed")
    assert progress.at["payments", "reason"] == "Meets rotation-sustainability, escalation-path passing."


def test_a_level_campaign_asks_at_least_that_level():
    card = pd.DataFrame({"team": ["payments", "checkout", "identity"], "level": ["gold", "silver", "bronze"]})
    results = pd.DataFrame(columns=["team", "check_id", "status"])
    levelled = campaign(checks=(), level="silver", teams=("payments", "checkout", "identity"))
    progress = campaign_progress([levelled], DAY, card, results).set_index("team")
    assert progress["meets"].to_dict() == {"payments": True, "checkout": True, "identity": False}
    assert progress.at["identity", "reason"] == "Behind: level is bronze, silver asked (due 2026-12-14)."


def test_progress_starts_on_the_start_date_and_goes_on_past_the_due_date():
    card = pd.DataFrame({"team": ["payments"], "level": ["gold"]})
    results = pd.DataFrame({"team": ["payments"], "check_id": ["rotation-sustainability"], "status": ["pass"]})
    later = campaign(checks=("rotation-sustainability",), teams=("payments",), start=DAY + dt.timedelta(days=1))
    overdue = campaign(id="old", checks=("rotation-sustainability",), teams=("payments",), due=dt.date(2026, 11, 10))
    progress = campaign_progress([later, overdue], DAY, card, results)
    assert list(progress["campaign_id"]) == ["old"]
