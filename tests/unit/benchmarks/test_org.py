"""The synthetic organisation: what it writes loads in the sandbox and the registry, and its counts are true."""

from __future__ import annotations

import csv
import datetime as dt

import pytest

from benchmarks import floors
from benchmarks.layout import write
from benchmarks.org import INSTANT, PEOPLE_PER_TEAM, SERVICES_PER_TEAM, Organisation, Team
from oncall_readiness.registry import load_registry
from readiness_sandbox.emulators import EMULATORS


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    org = Organisation.of(30)
    return org, write(org, tmp_path_factory.mktemp("org"))


def test_the_catalog_loads_with_every_team_person_and_service(written):
    org, files = written
    registry = load_registry(files.catalog)
    assert len(registry.teams) == org.counts["teams"] == 30
    assert len(registry.people) == org.counts["people"] == 30 * PEOPLE_PER_TEAM
    assert len(registry.services) == org.counts["services"] == 30 * SERVICES_PER_TEAM


def test_every_state_file_loads_in_its_emulator_with_the_counted_objects(written):
    org, files = written
    counts = org.counts
    pagerduty = EMULATORS["pagerduty"].load(files.state("pagerduty"))
    assert len(pagerduty.users) == counts["pagerduty_users"]
    assert counts["pagerduty_users"] - counts["commanders"] < counts["people"]  # joiners without a user
    assert len(pagerduty.schedules) == counts["schedules"]
    assert len(pagerduty.incidents) == counts["incidents"]
    grafana = EMULATORS["grafana"].load(files.state("grafana"))
    assert len(grafana.dashboards) == counts["dashboards"]
    assert len(grafana.teams) == counts["grafana_teams"]
    github = EMULATORS["github"].load(files.state("github"))
    assert len(github.repositories) == counts["github_repositories"]
    confluence = EMULATORS["confluence"].load(files.state("confluence"))
    assert len(confluence.pages) == counts["confluence_runbooks"] + counts["reviews"]
    assert counts["confluence_runbooks"] > 0 and counts["reviews"] > 0
    reviews = [page for page in confluence.pages.values() if "postmortem" in page.labels]
    assert len(reviews) == counts["reviews"]
    jira = EMULATORS["jira"].load(files.state("jira"))
    assert len(jira.issues) == counts["review_actions"]
    assert EMULATORS["chaos_calendar"].load(files.state("chaos_calendar"))
    assert counts["github_runbooks"] + counts["confluence_runbooks"] == counts["services"]


def test_the_hr_export_lists_every_fifth_teams_recent_joiner(written):
    org, files = written
    with files.hr_export.open(encoding="utf-8") as export:
        rows = list(csv.DictReader(export))
    assert [row["team"] for row in rows] == [team.name for team in org.teams if team.index % 5 == 0]
    assert {row["start_date"] for row in rows} == {(INSTANT - dt.timedelta(days=20)).date().isoformat()}


def test_some_teams_are_built_to_fail_and_the_plan_is_deterministic():
    teams = Organisation.of(100).teams
    assert {flaw for team in teams for flaw in team.flaws} >= {"daily-turns", "rotation-of-two", "stale-runbook"}
    assert sum(not team.flaws for team in teams) > 30  # most teams are sound
    assert [team.flaws for team in teams] == [team.flaws for team in Organisation.of(100).teams]


def test_incident_responders_are_on_call_when_paged():
    team = Team(3)  # daily turns
    assert "daily-turns" in team.flaws
    monday = dt.datetime(2026, 11, 9, 9, tzinfo=dt.UTC)
    assert team.on_call(monday) != team.on_call(monday + dt.timedelta(days=1))
    assert team.exempt not in team.rotation


def test_request_floors_are_pages_of_the_largest_size():
    org = Organisation.of(150)
    floor = floors.request_floors(org)
    assert floor["pagerduty"]["users"] == -(-org.counts["pagerduty_users"] // 100)
    assert floor["grafana"]["teams"] == 1 + 150  # one search page, one member list per team
    assert floor["confluence"]["runbooks"] == 1  # 75 pages, 250 ids a call
    assert floors.oncall_entries(Organisation.of(1), 28, 14) == 7  # 42 days of Monday hand-overs: 7 turns
    assert floors.oncall_entries(Organisation.of(3), 28, 14) - floors.oncall_entries(Organisation.of(2), 28, 14) == 43


def test_the_incidents_floor_lists_only_what_the_sandboxs_analytics_lacks():
    # 10,800 PagerDuty incidents, 200 of them open, in the 34 days before the instant (the 200 teams
    # on JSM Operations have their 1,200 as alerts)
    org = Organisation.of(2000)
    caught_up = floors.request_floors(org, now=INSTANT + dt.timedelta(days=2))["pagerduty"]
    assert caught_up["incidents"] == 1 + 2  # the page whose total says analytics holds them all; the open ones
    assert caught_up["analytics"] == 11 + 4  # 10,600 resolved, 1,000 a page; a query per week
    at_the_instant = floors.request_floors(org, now=INSTANT)["pagerduty"]
    assert at_the_instant["incidents"] == 3 + 2  # 297 resolved in the last 24 hours, 100 a page
    assert at_the_instant["analytics"] == 11 + 4  # 10,303 held


def test_one_team_in_ten_is_on_jsm_operations_with_its_own_floor(written):
    org, files = written
    jsm = [team for team in org.teams if team.on_jsm]
    assert [team.index for team in jsm] == [7, 17, 27]
    registry = load_registry(files.catalog)
    teams = registry.teams.set_index("team")
    assert set(teams.index[teams["oncall_platform"] == "jsm_ops"]) == {team.name for team in jsm}
    site = EMULATORS["jsm_ops"].load(files.state("jsm_ops"))
    assert len(site.schedules) == len(site.teams) == org.counts["jsm_teams"] == 3
    assert len(site.alerts) == org.counts["jsm_alerts"] == 3 * 6
    floor = floors.request_floors(org)["jsm_ops"]
    assert floor["timelines"] == floor["escalations"] == 3 and floor["alert_logs"] == org.counts["jsm_alerts_look_back"]


def test_the_time_floor_is_latency_bound_until_the_rate_limit_binds():
    assert floors.time_floor("pagerduty", 960, 0.02) == pytest.approx(19.2)  # one window: latency only
    assert floors.time_floor("pagerduty", 961, 0.02) == 60  # the 961st waits for the next minute
    assert floors.time_floor("grafana", 8000, 0.02) == pytest.approx(20.0)  # 8 at once, no rate limit


def test_divisions_share_incident_commanders_and_some_teams_lack_them():
    org = Organisation.of(45)
    assert len(org.divisions) == 3 and org.counts["commanders"] == 9
    assert org.teams[10].commander_schedule is None  # team 11: no incident commanders (fails incident-command)
    assert org.teams[0].commander_schedule == org.teams[19].commander_schedule != org.teams[20].commander_schedule
    floor = floors.request_floors(org)["pagerduty"]
    assert (floor["priorities"], floor["incident_workflows"], floor["workflow_triggers"]) == (1, 1, 1)
    assert floors.commander_oncall_entries(org, 28, 14) == 3 * 7  # 42 days of Monday hand-overs each
