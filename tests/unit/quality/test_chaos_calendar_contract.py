"""The Chaos Day calendar's data contract passes a clean read of the sample feed and catches broken ones.

The clean read is the sample organisation's feed (``include/sample_org/chaos_days.ics``)
normalised as the collector does; every other case corrupts it the way a bad feed or a
regression in the normaliser would.
"""

from __future__ import annotations

import pandas as pd
import pytest

from oncall_readiness.quality import QualityContext, failure_summary, validate_source
from oncall_readiness.registry import load_registry
from oncall_readiness.source_catalogue import SOURCES
from oncall_readiness.sources.chaos_calendar import normalise, not_configured, parse_feed
from readiness_sandbox.sample_org import CATALOG, state_file

INSTANT = pd.Timestamp("2026-11-16T00:00:00Z")
REGISTRY = load_registry(CATALOG).to_facts()
EVENTS, CLAIMS = "chaos_calendar_events", "chaos_calendar_event_teams"


def sample_facts() -> dict[str, pd.DataFrame]:
    feed = parse_feed(state_file("chaos_days.ics").read_bytes(), "the sample feed")
    return normalise(feed, instant=INSTANT, teams=REGISTRY["registry_teams"]["team"])


def validate(facts) -> pd.DataFrame:
    return validate_source("chaos_calendar", SOURCES["chaos_calendar"].suites, facts, QualityContext(INSTANT, REGISTRY))


def failed(report: pd.DataFrame) -> pd.DataFrame:
    return report[~report["success"]]


@pytest.mark.parametrize("facts", [sample_facts, not_configured], ids=["sample feed", "not configured"])
def test_a_clean_read_and_no_calendar_both_meet_the_contract(facts):
    report = validate(facts())
    assert failure_summary(report) is None
    assert set(report["facts_table"]) == {"chaos_calendar_feed", EVENTS, CLAIMS, "chaos_calendar_links"}


def test_the_same_occurrence_twice_fails():
    facts = sample_facts()
    facts[EVENTS] = pd.concat([facts[EVENTS], facts[EVENTS].head(1)], ignore_index=True)
    facts["chaos_calendar_feed"]["occurrences"] += 1
    problems = failed(validate(facts))
    assert list(problems["expectation"]) == ["expect_compound_columns_to_be_unique(column_list=['uid', 'start'])"]
    assert "chaos-identity-quarterly@chaos.example.com" in problems["details"].iloc[0]  # the earliest occurrence


def test_an_explicit_team_that_the_registry_does_not_know_fails_naming_the_event():
    facts = sample_facts()
    claims = facts[CLAIMS]
    claims.loc[claims["uid"] == "chaos-2026-09-30-checkout@chaos.example.com", "team"] = "chekout"
    problems = failed(validate(facts))
    assert list(problems["facts_table"]) == [CLAIMS]
    assert (
        problems["expectation"].iloc[0].startswith("expect_column_pair_values_to_be_in_set(column_A=team, column_B=uid")
    )
    assert problems["observed_value"].iloc[0] == f"1 unexpected of {len(claims)}"
    assert problems["details"].iloc[0] == "e.g. ('chekout', 'chaos-2026-09-30-checkout@chaos.example.com')"


def test_times_without_a_zone_fail():
    facts = sample_facts()
    facts[EVENTS]["start"] = facts[EVENTS]["start"].dt.tz_localize(None)
    problems = failed(validate(facts))
    assert "expect_column_values_to_be_between(column=start, max_value=2027-11-16 00:00:00+00:00)" in set(
        problems["expectation"]
    )
    assert set(problems["facts_table"]) == {EVENTS}


def test_a_missing_uid_or_start_fails():
    facts = sample_facts()
    facts[EVENTS].loc[0, "uid"] = None
    facts[EVENTS].loc[1, "start"] = pd.NaT
    expectations = set(failed(validate(facts))["expectation"])
    assert "expect_column_values_to_not_be_null(column=uid)" in expectations
    assert "expect_column_values_to_not_be_null(column=start)" in expectations


def test_occurrences_lost_on_the_way_fail():
    facts = sample_facts()
    facts[EVENTS] = facts[EVENTS].iloc[1:]
    assert list(failed(validate(facts))["expectation"]) == ["expect_table_row_count_to_equal(value=16)"]
