"""is_in and records answer exactly as pandas' isin and itertuples do, on Arrow text and on anything else."""

import numpy as np
import pandas as pd
import pytest

from oncall_readiness.frames import is_in, records

TEAMS = pd.Series(["payments", None, "search", "checkout"], index=[5, 6, 7, 8], name="team")


VALUE_SETS = {
    "a list": ["payments"],
    "a set": {"payments", "checkout"},
    "a frozenset": frozenset(["search"]),
    "a series with a missing value": pd.Series(["checkout", None]),
    "an index": pd.Index(["search"]),
    "nothing": [],
    "a missing value": [np.nan],  # matches a missing one, as in pandas
    "not all text": [1, "payments"],  # pandas' own rules
    "a categorical": pd.Series(["payments"], dtype="category"),
    "numbers": pd.Series([1, 2]),
}


# Ids by name: a set's repr changes order from one process to the next (pytest-xdist compares them).
@pytest.mark.parametrize("values", VALUE_SETS.values(), ids=VALUE_SETS.keys())
def test_is_in_answers_as_pandas_isin(values):
    expected = TEAMS.isin(values)
    found = is_in(TEAMS, values)
    pd.testing.assert_series_equal(found, expected)


def test_is_in_on_columns_that_are_not_arrow_text():
    numbers = pd.Series([1, 2, 3])
    objects = pd.Series(["a", None], dtype=object)
    pd.testing.assert_series_equal(is_in(numbers, {2}), numbers.isin({2}))
    pd.testing.assert_series_equal(is_in(objects, ["a"]), objects.isin(["a"]))


def test_records_are_itertuples_rows():
    frame = pd.DataFrame(
        {
            "team": ["payments", None],
            "people": pd.array([3, None], dtype="Int64"),
            "since": pd.to_datetime(["2026-11-01", None], utc=True),
            "class": ["a", "b"],  # a keyword: renamed as itertuples renames it
        }
    )
    assert list(records(frame)) == list(frame.itertuples(index=False))
    assert [row._fields for row in records(frame)] == [row._fields for row in frame.itertuples(index=False)]
    assert list(records(frame.iloc[:0])) == []
