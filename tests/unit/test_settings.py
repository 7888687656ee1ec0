"""A whole-number setting: its default when unset, the number when whole and positive, else refused by name."""

import pytest

from oncall_readiness.settings import whole_number


def test_unset_or_blank_is_the_default(monkeypatch):
    monkeypatch.delenv("READINESS_TEST_DAYS", raising=False)
    assert whole_number("READINESS_TEST_DAYS", 7, unit="days") == 7
    monkeypatch.setenv("READINESS_TEST_DAYS", "  ")
    assert whole_number("READINESS_TEST_DAYS", 7, unit="days") == 7


def test_a_whole_positive_number_is_taken(monkeypatch):
    monkeypatch.setenv("READINESS_TEST_DAYS", " 3 ")
    assert whole_number("READINESS_TEST_DAYS", 7, unit="days") == 3


@pytest.mark.parametrize("bad", ["0", "-1", "1.5", "seven"])
def test_anything_else_is_refused_naming_the_variable_and_the_unit(monkeypatch, bad):
    monkeypatch.setenv("READINESS_TEST_DAYS", bad)
    expected = f"READINESS_TEST_DAYS must be a whole number of days, at least 1, not '{bad}'"
    with pytest.raises(ValueError, match=expected):
        whole_number("READINESS_TEST_DAYS", 7, unit="days")
