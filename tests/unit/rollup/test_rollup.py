"""Roll-ups: which groups are audited as teams, and each parent group's score and level from its teams."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from oncall_readiness import rollup
from oncall_readiness.registry import groups as group_tree
from oncall_readiness.registry import load_registry

SAMPLE_CATALOG = Path(__file__).parents[3] / "include" / "sample_org" / "catalog"


def groups(*rows: tuple[str, str | None, str]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["team", "parent", "type"])


def owned(**services_per_team: int) -> pd.DataFrame:
    rows = [(f"{team}-{n}", team) for team, count in services_per_team.items() for n in range(count)]
    return pd.DataFrame(rows, columns=["service", "team"])


def scorecard(**teams: tuple[float | None, str]) -> pd.DataFrame:
    return pd.DataFrame(
        [(team, score, level) for team, (score, level) in teams.items()], columns=["team", "score", "level"]
    ).astype({"score": "Float64"})


ORG = groups(
    ("acme", None, "organization"),
    ("commerce", "acme", "department"),
    ("platform", "acme", "department"),
    ("payments", "commerce", "team"),
    ("checkout", "commerce", "team"),
    ("identity", "platform", "team"),
    ("loner", None, "team"),
)


def test_parent_groups_without_services_are_not_audited_as_teams():
    audited = group_tree.audited_teams(ORG, owned(payments=1, checkout=1, identity=1, loner=1))
    assert list(audited["team"]) == ["payments", "checkout", "identity", "loner"]
    # A department that owns a service is audited as a team too.
    audited = group_tree.audited_teams(ORG, owned(payments=1, platform=2))
    assert "platform" in set(audited["team"]) and "commerce" not in set(audited["team"])


def test_a_group_covers_every_team_below_it():
    assert group_tree.teams_under("acme", ORG, {"payments", "checkout", "identity", "loner"}) == [
        "checkout",
        "identity",
        "payments",
    ]
    assert group_tree.teams_under("commerce", ORG, {"payments", "checkout"}) == ["checkout", "payments"]
    assert group_tree.ancestors("payments", ORG) == ["commerce", "acme"]


def test_a_cycle_in_the_parents_is_walked_once():
    looped = groups(("a", "b", "department"), ("b", "a", "department"), ("t", "a", "team"))
    assert group_tree.teams_under("a", looped, {"t"}) == ["t"]
    assert group_tree.ancestors("t", looped) == ["a", "b"]


def test_the_score_is_weighted_by_services_and_the_level_is_the_lowest_teams():
    card = scorecard(payments=(100.0, "gold"), checkout=(40.0, "none"), identity=(80.0, "silver"), loner=(0.0, "none"))
    table = rollup.scorecard_rollup(card, ORG, owned(payments=3, checkout=1, identity=0)).set_index("group_name")
    assert list(table.index) == ["acme", "commerce", "platform"]  # parent groups only
    # commerce: (100 x 3 + 40 x 1) / 4; a team without services weighs one.
    assert table.at["commerce", "score"] == 85.0
    assert table.at["commerce", "level"] == "none"  # checkout holds none
    assert table.at["commerce", "teams"] == 2 and table.at["commerce", "services"] == 4
    # acme: every team below it, not the mean of its departments' means: (300 + 40 + 80) / 5.
    assert table.at["acme", "score"] == 84.0 and table.at["acme", "teams"] == 3
    assert table.at["platform", "level"] == "silver" and table.at["platform", "group_type"] == "department"
    assert table.at["commerce", "parent"] == "acme" and pd.isna(table.at["acme", "parent"])


def test_teams_without_a_score_are_left_out_of_the_mean_but_not_of_the_level():
    card = scorecard(payments=(90.0, "gold"), checkout=(None, "none"), identity=(None, "none"))
    table = rollup.scorecard_rollup(card, ORG, owned(payments=1, checkout=1)).set_index("group_name")
    assert table.at["commerce", "score"] == 90.0 and table.at["commerce", "level"] == "none"
    assert pd.isna(table.at["platform", "score"])  # nothing scored below it


@pytest.mark.parametrize("columns", [rollup.ROLLUP_COLUMNS])
def test_the_table_has_the_warehouse_columns(columns):
    table = rollup.scorecard_rollup(scorecard(), ORG, owned())
    assert (
        list(table.columns)
        == columns
        == [
            "group_name",
            "group_type",
            "parent",
            "score",
            "level",
            "teams",
            "services",
        ]
    )


def test_the_sample_department_rolls_up_its_four_teams():
    registry = load_registry(SAMPLE_CATALOG)
    assert "commerce" not in set(group_tree.audited_teams(registry.teams, registry.services)["team"])
    card = scorecard(
        payments=(100.0, "gold"),
        checkout=(53.3, "bronze"),
        search=(46.7, "none"),
        catalog=(40.0, "none"),
        identity=(50.0, "bronze"),
        notifications=(0.0, "none"),
    )
    table = rollup.scorecard_rollup(card, registry.teams, registry.services)
    assert table.to_dict("records") == [
        {
            "group_name": "commerce",
            "group_type": "department",
            "parent": None,
            # (100 x 5 + 53.3 x 4 + 46.7 x 3 + 40 x 3) / 15: every service a team owns weighs, payments-sandbox
            # (experimental, out of scope of the production checks) too
            "score": 64.9,
            "level": "none",
            "teams": 4,
            "services": 15,
        }
    ]
