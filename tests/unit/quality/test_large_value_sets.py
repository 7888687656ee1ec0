"""A large value set (tested in pandas, then by GX against one marker) reports exactly what GX reports itself.

At 2,000 teams the PagerDuty contract holds user ids against 20,000 users; GX copies such a
set about a hundred times per expectation, so ``validate_source`` tests large sets in pandas.
The report (counts, unexpected examples, outcome, the order of the rows) must not change.
"""

from __future__ import annotations

import pandas as pd
import pytest

from oncall_readiness import quality
from oncall_readiness.quality import QualityContext, failure_summary, validate_source

KNOWN = [f"PU{number:05d}" for number in range(300)]  # past LARGE_VALUE_SET: the pandas path


def facts() -> dict[str, pd.DataFrame]:
    """Members whose user ids are mostly known: two unknown ones, a missing one, a duplicate."""
    user_ids = [*KNOWN[:40], "PUNKNOWN1", None, "PUNKNOWN2", KNOWN[3]]
    return {
        "members": pd.DataFrame(
            {
                "user_id": pd.Series(user_ids, dtype="str"),
                "schedule_id": [f"PS{n % 7}" for n in range(len(user_ids))],
                "position": list(range(len(user_ids))),
                # A numeric column (Grafana's ids are Int64) with a large set: one unknown id, one missing.
                "team_id": pd.Series([*range(len(user_ids) - 2), 9999, None], dtype="Int64"),
            }
        ),
        "schedules": pd.DataFrame({"schedule_id": [f"PS{n}" for n in range(5)]}),
    }


def suites(frames, context):
    import great_expectations.expectations as gxe

    return {
        "members": [
            gxe.ExpectColumnValuesToNotBeNull(column="schedule_id"),
            gxe.ExpectColumnValuesToBeInSet(column="user_id", value_set=KNOWN),
            gxe.ExpectColumnValuesToNotBeNull(column="user_id"),
            gxe.ExpectCompoundColumnsToBeUnique(column_list=["user_id", "schedule_id"]),
            gxe.ExpectColumnValuesToBeUnique(column="user_id"),
            gxe.ExpectColumnValuesToBeInSet(column="schedule_id", value_set=[f"PS{n}" for n in range(200)]),
            gxe.ExpectColumnValuesToBeInSet(column="user_id", value_set=KNOWN[:200], mostly=0.5),
            gxe.ExpectColumnValuesToBeBetween(column="position", min_value=0),
            gxe.ExpectColumnValuesToBeInSet(column="team_id", value_set=list(range(300))),
        ],
        "schedules": [gxe.ExpectColumnValuesToBeInSet(column="schedule_id", value_set=KNOWN + ["PS1"])],
    }


@pytest.fixture(scope="module")
def reports():
    context = QualityContext(audit_instant=pd.Timestamp("2026-11-16T00:00:00Z"), registry={})
    in_pandas = validate_source("test", suites, facts(), context)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(quality, "LARGE_VALUE_SET", 10**9)  # every set through GX itself, as before
        by_gx = validate_source("test", suites, facts(), context)
    return in_pandas, by_gx


def test_large_value_sets_report_the_same_rows_in_the_same_order_as_gx(reports):
    in_pandas, by_gx = reports
    pd.testing.assert_frame_equal(in_pandas, by_gx)
    assert failure_summary(in_pandas) == failure_summary(by_gx)


def test_the_unknown_values_are_counted_and_shown(reports):
    in_pandas, _ = reports
    in_set = in_pandas[in_pandas["expectation"].str.startswith("expect_column_values_to_be_in_set(column=user_id")]
    strict, mostly = in_set.iloc[0], in_set.iloc[1]
    assert (strict["success"], strict["observed_value"]) == (False, "2 unexpected of 44")
    assert "PUNKNOWN1" in strict["details"] and "PUNKNOWN2" in strict["details"]
    assert bool(mostly["success"])  # 41 of 43 known ids are in the first 200: mostly=0.5 holds
    team_ids = in_pandas[in_pandas["expectation"].str.startswith("expect_column_values_to_be_in_set(column=team_id")]
    assert (bool(team_ids.iloc[0]["success"]), team_ids.iloc[0]["observed_value"]) == (False, "1 unexpected of 44")
    assert "9999" in team_ids.iloc[0]["details"]
    schedules = in_pandas[in_pandas["facts_table"] == "schedules"].iloc[0]
    assert (schedules["success"], schedules["observed_value"]) == (False, "4 unexpected of 5")
