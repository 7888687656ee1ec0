"""The registry-API benchmark at a small size: the floor met, the tables those of the files."""

from __future__ import annotations

from benchmarks import floors
from benchmarks.registry_api import measure


def test_a_small_organisation_is_read_at_the_floor(tmp_path):
    result = measure(12, tmp_path, page_size=50)
    assert result["entities"] > 100  # every team's Group, Users and Components
    assert (
        result["requests"] == result["received"] == result["floor"] == floors.backstage_requests(result["entities"], 50)
    )
    assert result["same_tables_as_files"]


def test_the_floor_is_full_pages_of_one_query():
    assert [floors.backstage_requests(n, 1000) for n in (0, 1, 1000, 1001, 32000)] == [1, 1, 1, 2, 32]
