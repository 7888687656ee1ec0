"""Which earlier audit the page, the emails and score_change_7d compare with (scorecard.week_before, compared_with)."""

from __future__ import annotations

import datetime as dt

from oncall_readiness.scorecard import compared_with


def test_reports_compare_with_about_a_week_before_else_the_latest_earlier_audit():
    day = dt.date(2026, 12, 7)
    week, daily, far = dt.date(2026, 11, 30), dt.date(2026, 12, 6), dt.date(2026, 11, 2)
    assert compared_with(day, [far, week, daily, day]) == week  # the weekly comparison, not yesterday
    assert compared_with(day, [far, daily, day]) == daily  # no audit 4 to 10 days back: the previous one
    assert compared_with(day, [day]) is None  # the first audit
