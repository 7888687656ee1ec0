"""Scores, levels and the weekly change, as a reader of the scorecard sees them."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from oncall_readiness import schema
from oncall_readiness.checks.catalogue import Catalogue, CheckDefinition, LevelRequirement
from oncall_readiness.scorecard import score_teams, week_before


def check(check_id, weight):
    return CheckDefinition(check_id, check_id, "implemented", ("registry",), weight, "", {}, "")


CATALOGUE = Catalogue(
    checks={"heavy": check("heavy", 3), "light": check("light", 1)},
    status_scores={"pass": 10, "warn": 5, "fail": 0},
)


def results(rows):
    frame = pd.DataFrame(rows, columns=["team", "check_id", "status"])
    return frame.assign(score=frame["status"].map(CATALOGUE.status_scores).astype("Float64"))


def card(rows, previous=None):
    return score_teams(results(rows), previous, CATALOGUE).set_index("team")


def test_all_pass_is_gold_and_weights_count():
    scores = card([("a", "heavy", "pass"), ("a", "light", "pass"), ("b", "heavy", "pass"), ("b", "light", "fail")])
    assert scores.at["a", "score"] == 100 and scores.at["a", "level"] == "gold"
    assert scores.at["b", "score"] == 75  # (3 * 10 + 1 * 0) / 4 * 10
    assert scores.at["b", "level"] == "bronze"  # a failed check rules out gold and silver
    assert (scores.at["b", "passed"], scores.at["b", "failed"]) == (1, 1)


def test_warn_gives_half_and_levels_follow_the_rubric():
    scores = card([("a", "heavy", "pass"), ("a", "light", "warn"), ("c", "heavy", "warn"), ("c", "light", "warn")])
    assert scores.at["a", "score"] == 87.5 and scores.at["a", "level"] == "silver"
    assert scores.at["c", "score"] == 50 and scores.at["c", "level"] == "bronze"


def test_unknown_neither_raises_nor_lowers_the_score():
    scores = card([("a", "heavy", "unknown"), ("a", "light", "pass"), ("z", "heavy", "unknown")])
    assert scores.at["a", "score"] == 100 and scores.at["a", "unknown"] == 1
    assert pd.isna(scores.at["z", "score"]) and scores.at["z", "level"] == "none"


def test_change_over_seven_days():
    previous = pd.DataFrame({"team": ["a"], "score": [60.0]})
    scores = card([("a", "heavy", "pass"), ("b", "heavy", "fail")], previous)
    assert scores.at["a", "score_change_7d"] == 40
    assert pd.isna(scores.at["b", "score_change_7d"])


def test_the_scorecard_has_the_warehouse_columns_and_counts_each_status():
    scores = score_teams(results([("a", "heavy", "pass"), ("a", "light", "unknown")]), None, CATALOGUE)
    assert list(scores.columns) == list(schema.RESULT_TABLES["scorecard"])
    row = scores.iloc[0]
    assert {column: row[column] for column in schema.STATUS_COUNTS.values()} == {
        "passed": 1,
        "warned": 0,
        "failed": 0,
        "unknown": 1,
        "waived": 0,
    }
    assert not row["fully_assessed"]


def test_waived_neither_raises_nor_lowers_the_score_and_is_counted_apart():
    scores = card([("a", "heavy", "waived"), ("a", "light", "pass")])
    assert scores.at["a", "score"] == 100 and scores.at["a", "level"] == "gold"
    assert (scores.at["a", "passed"], scores.at["a", "waived"]) == (1, 1) and scores.at["a", "fully_assessed"]


@pytest.mark.parametrize(
    ("dates", "expected"),
    [
        (["2026-11-09", "2026-11-16"], "2026-11-09"),  # exactly a week
        (["2026-11-10", "2026-11-15"], "2026-11-10"),  # a weekly audit that ran a day late
        (["2026-11-12", "2026-11-06"], "2026-11-06"),  # 4 and 10 days before: the earlier
        (["2026-11-02", "2026-11-14"], None),  # 14 and 2 days before: neither is about a week
        (["2026-11-23"], None),  # after the audit
    ],
)
def test_the_change_over_seven_days_compares_with_the_audit_closest_to_a_week_before(dates, expected):
    day = dt.date(2026, 11, 16)
    found = week_before(day, [dt.date.fromisoformat(value) for value in dates])
    assert found == (dt.date.fromisoformat(expected) if expected else None)


TIER_ONE = Catalogue(
    checks=CATALOGUE.checks,
    status_scores=CATALOGUE.status_scores,
    level_requirements=(LevelRequirement("gold", {"tier": ("1",)}, ("light",)),),
)
SERVICES = pd.DataFrame({"service": ["a-api", "b-api"], "team": ["a", "b"], "tier": ["1", None]})


def test_a_level_may_ask_more_of_teams_owning_tier_1_services():
    rows = [("a", "heavy", "pass"), ("a", "light", "warn"), ("b", "heavy", "pass"), ("b", "light", "warn")]
    for _ in range(3):
        rows += [("a", "heavy", "pass"), ("b", "heavy", "pass")]  # enough weight for gold despite the warn
    scored = score_teams(results(rows), None, TIER_ONE, services=SERVICES).set_index("team")
    assert scored.at["b", "score"] == scored.at["a", "score"] > 90
    assert scored.at["b", "level"] == "gold"  # no tier-1 service: the rubric alone
    assert scored.at["a", "level"] == "silver"  # owns a tier-1 service and does not pass `light`
    waived = [(t, c, "waived" if (t, c) == ("a", "light") else s) for t, c, s in rows]
    assert score_teams(results(waived), None, TIER_ONE, services=SERVICES).set_index("team").at["a", "level"] == "gold"
    assert score_teams(results(rows), None, TIER_ONE).set_index("team").at["a", "level"] == "gold"  # no services given
