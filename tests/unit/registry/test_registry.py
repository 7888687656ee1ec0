"""The registry loader over small fixture catalogs, the Backstage example and the sample org."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from oncall_readiness.errors import RegistryError
from oncall_readiness.registry import (
    FACT_COLUMNS,
    PEOPLE_COLUMNS,
    SERVICE_COLUMNS,
    TEAM_COLUMNS,
    TEAM_SCHEDULE_COLUMNS,
    THRESHOLD_COLUMNS,
    Registry,
    catalog_path,
    load_registry,
)
from oncall_readiness.registry.backstage import display_path as display
from readiness_sandbox.sample_org import CATALOG as SAMPLE_CATALOG

FIXTURES = Path(__file__).parent / "fixtures"
ERRORS = FIXTURES / "errors"


def problems_of(path: str | Path) -> list[str]:
    with pytest.raises(RegistryError) as caught:
        load_registry(path)
    lines = str(caught.value).splitlines()
    assert lines[0] == f"{len(lines) - 1} problem{'s' if len(lines) != 2 else ''} in the registry catalog:"
    assert caught.value.problems == lines[1:]
    return lines[1:]


def members(registry: Registry, team: str) -> set[str]:
    people = registry.people
    return set(people.loc[people["team"] == team, "person"])


def row(frame: pd.DataFrame, column: str, value: str) -> dict:
    rows = frame[frame[column] == value].to_dict("records")
    assert len(rows) == 1, rows
    return rows[0]


# --------------------------------------------------------------------------- a valid catalog


@pytest.fixture(scope="module")
def valid() -> Registry:
    return load_registry(FIXTURES / "valid")


def test_frames_have_the_documented_columns_and_object_dtype(valid):
    expected = {
        "teams": TEAM_COLUMNS,
        "people": PEOPLE_COLUMNS,
        "services": SERVICE_COLUMNS,
        "team_schedules": TEAM_SCHEDULE_COLUMNS,
        "thresholds": THRESHOLD_COLUMNS,
    }
    for name, columns in expected.items():
        frame = getattr(valid, name)
        assert list(frame.columns) == columns, name
        assert all(pd.api.types.is_object_dtype(dtype) for dtype in frame.dtypes), name
    assert TEAM_COLUMNS == [
        "team",
        "display_name",
        "email",
        "parent",
        "type",
        "opsgenie_team",
        "jsm_ops_team",
        "oncall_platform",
        "grafana_team",
        "last_chaos_day",
        "incident_commander_schedule",
        "review_space",
        "source_file",
    ]
    assert PEOPLE_COLUMNS == ["person", "display_name", "email", "team", "start_date", "oncall_exempt", "source_file"]


def test_folder_is_read_recursively_with_yml_and_other_kinds_ignored(valid):
    assert list(valid.teams["team"]) == ["alpha", "beta"]
    assert set(valid.services["service"]) == {"alpha-api", "alpha-batch", "beta-web", "gamma"}  # no System, API
    assert row(valid.services, "service", "gamma")["source_file"] == "nested/extra.yml"


def test_membership_is_the_union_of_members_and_member_of(valid):
    # ada: only in alpha's spec.members; bob: only his own memberOf; cy: one of each.
    assert members(valid, "alpha") == {"ada", "bob", "cy"}
    assert members(valid, "beta") == {"cy"}
    assert len(valid.people[valid.people["person"] == "cy"]) == 2  # one row per membership


def test_user_in_no_team_gets_one_row_without_team(valid):
    dee = row(valid.people, "person", "dee")
    assert dee["team"] is None
    assert dee["email"] == "dee@example.com"


def test_emails_are_lower_cased_and_missing_values_are_none(valid):
    assert row(valid.people, "person", "ada")["email"] == "ada.lovelace@example.com"
    assert set(valid.people.loc[valid.people["person"] == "bob", "email"]) == {"bob@example.com"}
    assert row(valid.teams, "team", "alpha")["email"] == "team-alpha@example.com"
    beta = row(valid.teams, "team", "beta")
    assert beta["email"] is None and beta["last_chaos_day"] is None and beta["grafana_team"] is None


def test_display_name_falls_back_to_the_name(valid):
    assert row(valid.teams, "team", "alpha")["display_name"] == "Team Alpha"
    assert row(valid.teams, "team", "beta")["display_name"] == "beta"
    assert set(valid.people.loc[valid.people["person"] == "bob", "display_name"]) == {"bob"}


def test_group_annotations(valid):
    alpha = row(valid.teams, "team", "alpha")
    assert alpha["opsgenie_team"] == "alpha-og"
    assert alpha["grafana_team"] == "alpha-grafana"
    assert alpha["last_chaos_day"] == dt.date(2026, 10, 1)
    assert alpha["type"] == "team"
    # comma-separated, blanks and repeats dropped, one tidy row each
    assert valid.team_schedules.to_dict("records") == [
        {"team": "alpha", "schedule_id": "PSALPH1", "source": "pagerduty"},
        {"team": "alpha", "schedule_id": "PSALPH2", "source": "pagerduty"},
    ]


def test_user_annotations(valid):
    ada = row(valid.people, "person", "ada")
    assert ada["start_date"] == dt.date(2026, 11, 10)
    assert type(ada["start_date"]) is dt.date
    assert ada["oncall_exempt"] is None
    bob = row(valid.people, "person", "bob")
    assert bob["start_date"] == dt.date(2019, 1, 7)  # unquoted YAML date accepted
    assert bob["oncall_exempt"] == "health"


def test_component_annotations_and_runbook_link(valid):
    api = row(valid.services, "service", "alpha-api")
    assert api == {
        "service": "alpha-api",
        "team": "alpha",
        "owner": "group:alpha",
        "runbook_url": "https://github.com/example-org/alpha-runbooks/blob/main/alpha-api.md",
        "pagerduty_service_id": "PVALPH1",
        "dashboard_selector": "alpha-api",
        "alert_selector": "service=alpha-api",
        "cost_per_minute": 12.5,
        "lifecycle": "production",
        "type": "service",
        "tier": "1",  # readiness/tier: 1 (a YAML number) is kept as text
        "availability_target": 99.95,
        "slo_selector": "sloth_service=alpha",
        "source_file": "alpha.yaml",
    }
    batch = row(valid.services, "service", "alpha-batch")
    assert batch["runbook_url"] is None and batch["cost_per_minute"] is None and batch["tier"] is None
    assert batch["availability_target"] is None and batch["slo_selector"] is None  # the check applies the default


def test_readiness_files_beside_the_catalog_are_not_entities(tmp_path):
    """readiness-waivers.yaml and the like live in the catalog folder; the reader skips them, globs included."""
    (tmp_path / "team.yaml").write_text(
        "apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata: {name: a}\nspec: {type: team}\n"
    )
    (tmp_path / "readiness-waivers.yaml").write_text("waivers: []\n")
    (tmp_path / "all.yaml").write_text(
        "apiVersion: backstage.io/v1alpha1\nkind: Location\nmetadata: {name: all}\nspec: {targets: ['./*.yaml']}\n"
    )
    assert list(load_registry(tmp_path).teams["team"]) == ["a"]
    assert list(load_registry(tmp_path / "all.yaml").teams["team"]) == ["a"]
    (tmp_path / "stray.yaml").write_text("waivers: []\n")  # any other file must still be an entity
    with pytest.raises(RegistryError, match="stray.yaml:1: document is not an entity|stray.yaml:1: entity kind"):
        load_registry(tmp_path)


def test_group_waiver_annotations_are_kept_unparsed_for_the_waivers_module(tmp_path):
    (tmp_path / "team.yaml").write_text(
        "# a team\napiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata:\n  name: a\n  annotations:\n"
        "    readiness/waivers: '- check: chaos-day'\nspec: {type: team}\n"
    )
    (annotation,) = load_registry(tmp_path).waiver_annotations
    assert annotation == ("a", f"{display(tmp_path)}/team.yaml", 2, "- check: chaos-day")


def test_thresholds_come_from_group_annotations(valid):
    assert valid.thresholds.to_dict("records") == [
        {"team": "alpha", "check_id": "rotation-sustainability", "key": "min_people", "value": "2"},
        {"team": "alpha", "check_id": "runbook-freshness", "key": "warn_days", "value": "14"},
    ]


def test_owner_rules(valid):
    # "owner: ada" without kind: no Group ada, so the User; she is in one team only.
    batch = row(valid.services, "service", "alpha-batch")
    assert (batch["owner"], batch["team"]) == ("user:ada", "alpha")
    # user:cy is in two teams: an unowned service, not an error.
    web = row(valid.services, "service", "beta-web")
    assert (web["owner"], web["team"]) == ("user:cy", None)
    # "Group:ALPHA": kinds and names compare case-insensitively, the entity's spelling is kept.
    gamma = row(valid.services, "service", "gamma")
    assert (gamma["owner"], gamma["team"]) == ("group:alpha", "alpha")


def test_to_facts(valid):
    facts = valid.to_facts()
    assert set(facts) == {
        "registry_teams",
        "registry_people",
        "registry_services",
        "registry_team_schedules",
        "registry_thresholds",
    }
    assert facts["registry_people"].equals(valid.people)
    assert facts["registry_people"] is not valid.people
    assert "source_file" in facts["registry_services"].columns
    assert {table: list(columns) for table, columns in FACT_COLUMNS.items()} == {
        table: list(frame.columns) for table, frame in facts.items()
    }
    assert FACT_COLUMNS["registry_people"]["start_date"] == "date"
    assert FACT_COLUMNS["registry_services"]["cost_per_minute"] == "float"
    assert FACT_COLUMNS["registry_teams"]["team"] == "string"


# --------------------------------------------------------------------------- Locations


def test_location_file_follows_targets_once_and_skips_urls():
    registry = load_registry(FIXTURES / "location" / "index.yaml")
    assert list(registry.teams["team"]) == ["ops"]
    assert list(registry.people["person"]) == ["eve"]
    # the glob target found sub/part-two.yaml; unreferenced.yaml is not a target
    assert list(registry.services["service"]) == ["ops-tool"]
    assert row(registry.services, "service", "ops-tool")["source_file"] == "sub/part-two.yaml"


def test_folder_reads_every_file_even_when_also_a_location_target():
    registry = load_registry(FIXTURES / "location")
    assert sorted(registry.services["service"]) == ["ops-tool", "stray"]
    assert len(registry.teams) == 1  # part-one.yaml reached three ways, read once: no duplicate


def test_missing_path_is_an_error(tmp_path):
    (problem,) = problems_of(tmp_path / "nope")
    assert problem.endswith("nope: catalog path does not exist")


# --------------------------------------------------------------------------- problems


@pytest.fixture
def in_errors(monkeypatch):
    """Run from the errors folder, so that messages show short relative file names."""
    monkeypatch.chdir(ERRORS)


def test_duplicate_names_both_files(in_errors):
    assert problems_of("duplicate") == [
        "duplicate/b.yaml: Group 'Twins' metadata.name: duplicate of Group 'twins' in duplicate/a.yaml"
    ]


def test_unknown_owner(in_errors):
    assert problems_of("unknown_owner.yaml") == [
        "unknown_owner.yaml: Component 'orphan' spec.owner: unknown owner 'group:nobody'"
    ]


def test_unknown_member_on_both_sides(in_errors):
    assert problems_of("unknown_member.yaml") == [
        "unknown_member.yaml: Group 'crew' spec.members: unknown member 'ghost'",
        "unknown_member.yaml: User 'wanderer' spec.memberOf: unknown group 'nowhere'",
    ]


def test_bad_dates(in_errors):
    assert problems_of("bad_dates.yaml") == [
        "bad_dates.yaml: Group 'late' metadata.annotations.readiness/last-chaos-day:"
        " bad date '01/10/2026' (expected YYYY-MM-DD)",
        "bad_dates.yaml: User 'newbie' metadata.annotations.readiness/start-date:"
        " bad date '2026-02-30' (expected YYYY-MM-DD)",
    ]


def test_missing_email(in_errors):
    assert problems_of("missing_email.yaml") == ["missing_email.yaml: User 'ada' spec.profile.email: missing"]


def test_non_numeric_cost(in_errors):
    assert problems_of("bad_cost.yaml") == [
        "bad_cost.yaml: Component 'till' metadata.annotations.readiness/cost-per-minute: not a number >= 0 'a lot'"
    ]


def test_availability_target_must_be_a_percentage(in_errors):
    where = "bad_availability_target.yaml: Component '{}' metadata.annotations.readiness/availability-target"
    assert problems_of("bad_availability_target.yaml") == [
        where.format("safe") + ": not a percentage above 0 and at most 100 '100.5' (write it as \"99.9\")",
        where.format("box") + ": not a percentage above 0 and at most 100 'three nines' (write it as \"99.9\")",
    ]


def test_yaml_that_does_not_parse_names_file_and_line(in_errors):
    (problem,) = problems_of("bad_yaml.yaml")
    assert problem.startswith("bad_yaml.yaml:6: YAML does not parse: ")


def test_entity_without_name_or_kind(in_errors):
    assert problems_of("no_name_or_kind.yaml") == [
        "no_name_or_kind.yaml:1: Component (no name) metadata.name: missing",
        "no_name_or_kind.yaml:10: entity 'kindless' kind: missing",
    ]


def test_malformed_threshold(in_errors):
    (problem,) = problems_of("bad_threshold.yaml")
    assert problem.startswith(
        "bad_threshold.yaml: Group 'tuned' metadata.annotations.readiness/Rotation Sustainability.min_people:"
        " malformed threshold"
    )


def test_missing_location_target(in_errors):
    assert problems_of("missing_target.yaml") == [
        "missing_target.yaml: Location 'pointer' spec.targets: ./does-not-exist.yaml does not exist"
    ]


def test_all_problems_are_collected_and_raised_once_grouped_by_file(in_errors):
    problems = problems_of(".")
    assert len(problems) == 15
    files = [p.split(":", 1)[0] for p in problems]
    assert files == sorted(files)
    assert "missing_email.yaml: User 'ada' spec.profile.email: missing" in problems
    assert "unknown_owner.yaml: Component 'orphan' spec.owner: unknown owner 'group:nobody'" in problems


def test_messages_name_files_relative_to_the_working_directory():
    # run from the repository root, the path reads from there
    problems = problems_of(ERRORS / "missing_email.yaml")
    assert problems[0].endswith("missing_email.yaml: User 'ada' spec.profile.email: missing")
    assert "fixtures/errors/missing_email.yaml" in problems[0]


# --------------------------------------------------------------------------- Backstage's example catalog


@pytest.fixture(scope="module")
def backstage_examples(reference_dir) -> Path:
    examples = reference_dir / "backstage" / "examples"
    if not examples.is_dir():
        pytest.skip(f"the Backstage example catalog is not at {examples}")
    return examples


def test_backstage_example_folder_loads(backstage_examples):
    registry = load_registry(backstage_examples)
    assert set(registry.teams["team"]) == {
        "acme-corp",
        "infrastructure",
        "backstage",
        "boxoffice",
        "team-a",
        "team-b",
        "team-c",
        "team-d",
        "team-e",
    }
    assert row(registry.teams, "team", "team-a")["parent"] == "backstage"
    assert row(registry.teams, "team", "infrastructure")["email"] is None
    assert members(registry, "team-a") == {
        "breanna.davison",
        "janelle.dawe",
        "nigel.manning",
        "guest",
        "development/guest",  # a User of the same name in another namespace
    }
    assert members(registry, "team-b") == {
        "amelia.park",
        "colette.brock",
        "jenny.doe",
        "jonathon.page",
        "justine.barrow",
    }
    assert members(registry, "team-c") == {
        "calum.leavy",
        "frank.tiernan",
        "peadar.macmahon",
        "sarah.gilroy",
        "tara.macgovern",
    }
    assert members(registry, "team-d") == {"eva.macdowell", "lucy.sheehan"}
    assert members(registry, "team-e") == set()
    assert row(registry.people, "person", "jenny.doe")["email"] == "jenny-doe@example.com"
    # 13 Components; APIs, Systems, Domains and Resources are ignored
    assert len(registry.services) == 13
    services = registry.services.set_index("service")
    assert services.at["petstore", "team"] == "team-c"
    # "owner: guest" (no kind, no Group guest) and "owner: user:guest": the guest's one team
    assert (services.at["playback-order", "owner"], services.at["playback-order", "team"]) == ("user:guest", "team-a")
    assert (services.at["searcher", "owner"], services.at["searcher", "team"]) == ("user:guest", "team-a")
    assert services["team"].notna().all()
    assert registry.team_schedules.empty and registry.thresholds.empty


def test_backstage_example_location_file_reaches_the_same_groups(backstage_examples):
    registry = load_registry(backstage_examples / "acme-corp.yaml")  # Location -> org.yaml -> Location -> groups
    assert len(registry.teams) == 9
    assert len(registry.people) == 17
    assert registry.services.empty


# --------------------------------------------------------------------------- the sample organisation


def test_the_catalog_comes_only_from_readiness_catalog(monkeypatch):
    monkeypatch.delenv("READINESS_CATALOG", raising=False)
    with pytest.raises(RegistryError, match="READINESS_CATALOG is not set"):
        catalog_path()  # no silent fallback to the sample organisation
    monkeypatch.setenv("READINESS_CATALOG", str(FIXTURES / "valid"))
    assert catalog_path() == FIXTURES / "valid"


def test_sample_org_loads(monkeypatch):
    monkeypatch.delenv("READINESS_CATALOG", raising=False)
    registry = load_registry(SAMPLE_CATALOG)
    teams = ["catalog", "checkout", "commerce", "identity", "notifications", "payments", "search"]
    assert sorted(registry.teams["team"]) == teams  # commerce: the department (issue 13's roll-ups)
    parents = registry.teams.set_index("team")["parent"].dropna().to_dict()
    assert parents == {"catalog": "commerce", "checkout": "commerce", "payments": "commerce", "search": "commerce"}
    assert len(registry.services) == 21  # payments-sandbox: experimental, out of the service checks' scope
    assert len(registry.people) == 44  # Dana Lee, the head of engineering, and 3 incident commanders, in no team
    assert registry.people["person"].is_unique  # one team each
    assert registry.services["team"].notna().all()
    assert len(registry.team_schedules) == 6  # identity is on call in JSM Operations: no PagerDuty schedule
    assert registry.teams.set_index("team").at["identity", "oncall_platform"] == "jsm_ops"
    # the Location file reaches the same catalog
    via_location = load_registry(SAMPLE_CATALOG / "all.yaml")
    for name in ("teams", "people", "services", "team_schedules", "thresholds"):
        assert getattr(via_location, name).equals(getattr(registry, name)), name


# --------------------------------------------------------------------------- hostile or empty input

LAUGHS = "".join(f"    l{n}: &l{n} [{', '.join([f'*l{n - 1}'] * 9)}]\n" for n in range(2, 10))


def test_yaml_aliases_that_explode_are_refused_naming_the_file(tmp_path):
    catalog = tmp_path / "laughs.yaml"
    catalog.write_text(
        "apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata:\n  name: payments\n  labels:\n"
        "    l1: &l1 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + LAUGHS + "spec:\n  type: team\n  children: []\n"
    )
    assert catalog.stat().st_size < 1000  # a small file that expands to 9**9 strings
    (problem,) = problems_of(catalog)
    assert problem.endswith(
        "laughs.yaml:1: YAML aliases expand this document by more than 10000 nodes; refused "
        "(write the values out, or use fewer aliases)"
    )


def test_a_few_aliases_are_fine(tmp_path):
    catalog = tmp_path / "anchors.yaml"
    catalog.write_text(
        "apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata:\n  name: payments\n"
        "  annotations: &shared {readiness/last-chaos-day: '2026-10-01'}\nspec:\n  type: team\n  children: []\n"
        "---\napiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata:\n  name: search\n"
        "  annotations: {readiness/last-chaos-day: '2026-10-02'}\nspec:\n  type: team\n  children: []\n"
    )
    assert sorted(load_registry(catalog).teams["team"]) == ["payments", "search"]


def test_a_catalog_without_teams_is_an_error(tmp_path):
    (tmp_path / "empty").mkdir()
    (problem,) = problems_of(tmp_path / "empty")
    assert "no teams: the catalog holds no Group entities" in problem
    users_only = tmp_path / "users.yaml"
    users_only.write_text(
        "apiVersion: backstage.io/v1alpha1\nkind: User\nmetadata:\n  name: ada\n"
        "spec:\n  profile: {email: ada@example.com}\n  memberOf: []\n"
    )
    (problem,) = problems_of(users_only)
    assert "no teams" in problem


# --- the on-call platform of each team ---------------------------------------------------------


def write_catalog(tmp_path, group_annotations, service_annotations=None):
    import yaml

    entities = [
        {
            "apiVersion": "backstage.io/v1alpha1",
            "kind": "Group",
            "metadata": {"name": "search", "annotations": group_annotations},
            "spec": {"type": "team", "children": []},
        },
        {
            "apiVersion": "backstage.io/v1alpha1",
            "kind": "Component",
            "metadata": {"name": "search-api", "annotations": service_annotations or {}},
            "spec": {"type": "service", "lifecycle": "production", "owner": "group:search"},
        },
    ]
    path = tmp_path / "catalog.yaml"
    path.write_text(yaml.safe_dump_all(entities), encoding="utf-8")
    return path


def test_a_team_is_on_pagerduty_unless_its_group_names_a_jsm_operations_team(tmp_path):
    on_pagerduty = load_registry(write_catalog(tmp_path, {"pagerduty.com/schedule-ids": "PS1"}))
    assert on_pagerduty.teams.set_index("team").at["search", "oncall_platform"] == "pagerduty"
    on_jsm = load_registry(write_catalog(tmp_path, {"atlassian.com/jsm-ops-team": "7f3c9a"}))
    team = on_jsm.teams.set_index("team").loc["search"]
    assert (team["oncall_platform"], team["jsm_ops_team"]) == ("jsm_ops", "7f3c9a")
    assert on_jsm.team_schedules.empty


def test_a_team_on_jsm_operations_that_names_pagerduty_schedules_is_an_error_naming_both(tmp_path):
    catalog = write_catalog(tmp_path, {"atlassian.com/jsm-ops-team": "7f3c9a", "pagerduty.com/schedule-ids": "PS1"})
    with pytest.raises(RegistryError) as raised:
        load_registry(catalog)
    message = str(raised.value)
    assert "catalog.yaml: Group 'search' metadata.annotations" in message, message
    assert "atlassian.com/jsm-ops-team" in message and "pagerduty.com/schedule-ids" in message


def test_a_service_of_a_team_on_jsm_operations_that_names_a_pagerduty_service_is_an_error(tmp_path):
    catalog = write_catalog(
        tmp_path, {"atlassian.com/jsm-ops-team": "7f3c9a"}, service_annotations={"pagerduty.com/service-id": "PV1"}
    )
    with pytest.raises(RegistryError) as raised:
        load_registry(catalog)
    message = str(raised.value)
    assert "catalog.yaml" in message and "search-api" in message
    assert "atlassian.com/jsm-ops-team" in message and "pagerduty.com/service-id" in message


def test_the_review_space_annotation_becomes_the_groups_review_space(tmp_path):
    from oncall_readiness.registry import load_registry

    (tmp_path / "team.yaml").write_text(
        "apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata:\n  name: shop\n"
        "  annotations:\n    readiness/review-space: SHOP, OPS\nspec:\n  type: team\n  children: []\n"
    )
    teams = load_registry(tmp_path).teams.set_index("team")
    assert teams.at["shop", "review_space"] == "SHOP, OPS"
