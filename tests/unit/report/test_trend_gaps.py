"""The email's trend chart marks the weeks whose audit had unknown checks, as the page does."""

from __future__ import annotations

import datetime as dt
import io

from matplotlib import image

from oncall_readiness.report.chart import score_trend_png
from oncall_readiness.report.weekly import WeekByTeam, load_week
from oncall_readiness.warehouse import Warehouse
from tests.integration.page_history import LAST, publish_history

WEEKS = tuple(LAST - dt.timedelta(weeks=back) for back in range(3, -1, -1))
PURPLE = (0x82 / 255, 0x50 / 255, 0xDF / 255)


def purple_pixels(png: bytes) -> int:
    pixels = image.imread(io.BytesIO(png))[..., :3]
    near = (abs(pixels[..., 0] - PURPLE[0]) < 0.08) & (abs(pixels[..., 1] - PURPLE[1]) < 0.08)
    return int((near & (abs(pixels[..., 2] - PURPLE[2]) < 0.08)).sum())


def test_a_week_with_unknown_checks_is_drawn_hollow_and_purple():
    scores = [80.0, 80.0, 100.0, 80.0]
    plain = score_trend_png(WEEKS, scores)
    marked = score_trend_png(WEEKS, scores, [False, False, True, False])
    assert purple_pixels(plain) == 0 and purple_pixels(marked) > 20


def test_the_weeks_rows_say_which_slots_had_unknown_checks(tmp_path):
    url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    publish_history(url)  # identity's PagerDuty data failed validation on 9 Nov
    warehouse = Warehouse(url)
    try:
        rows = WeekByTeam(load_week(warehouse, LAST))
    finally:
        warehouse.dispose()
    assert rows.rows("identity").unknown_slots == {dt.date(2026, 11, 9)}
    assert rows.rows("payments").unknown_slots == frozenset()
