"""One rounding rule for scores: one decimal in the API, the page, the emails and the demo's console."""

from __future__ import annotations

import duckdb
import pytest

from oncall_readiness import schema
from oncall_readiness.api.models import TeamScore
from oncall_readiness.report.html import TEMPLATES
from oncall_readiness.report.message import format_score
from oncall_readiness.warehouse import Warehouse

# What a single-precision column gives back for 43.8 and 56.2 (an older warehouse's FLOAT on DuckDB).
NOISY = [43.79999923706055, 56.20000076293945]


@pytest.mark.parametrize("noisy", NOISY)
def test_the_api_serves_a_score_with_one_decimal(noisy):
    card = TeamScore(
        team="t", score=noisy, level="none", passed=0, warned=0, failed=0, unknown=0, score_change_7d=noisy
    )
    assert (card.score, card.score_change_7d) == (round(noisy, 1), round(noisy, 1))
    assert str(round(noisy, 1)) in card.model_dump_json()


def test_the_page_the_emails_and_the_console_show_the_same_text():
    page = TEMPLATES.from_string(
        '{% import "page_macros.html.j2" as m %}{{ m.score(a) }} {{ m.score(b) }} {{ m.score(c) }}'
    )
    assert page.render(a=NOISY[0], b=100.0, c=None) == "43.8 100 –"
    assert [format_score(value) for value in (NOISY[0], 100.0, None)] == ["43.8", "100", "–"]
    assert schema.rounded_score(float("nan")) is None


def test_the_warehouse_stores_scores_in_double_precision(tmp_path):
    warehouse = Warehouse(f"duckdb:///{tmp_path / 'w.duckdb'}")
    with warehouse.engine.begin() as conn:
        warehouse.ensure_schema(conn)
    warehouse.dispose()
    with duckdb.connect(str(tmp_path / "w.duckdb")) as db:
        kinds = dict(
            db.execute(
                "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'scorecard'"
            ).fetchall()
        )
    assert kinds["score"] == "DOUBLE"
