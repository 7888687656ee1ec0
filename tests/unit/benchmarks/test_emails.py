"""The weekly build's benchmark: what it measures on a small warehouse, and the files it leaves for the send."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from benchmarks.emails import measure_build
from oncall_readiness.warehouse import RESULT_TABLES, Warehouse

WEEK = dt.date(2026, 11, 16)
TEAMS = ("checkout", "payments")


def published_warehouse(path) -> str:
    """Two teams' scorecard of WEEK, with their addresses in the registry's facts."""
    url = f"duckdb:///{path / 'warehouse.duckdb'}"
    warehouse = Warehouse(url)
    try:
        card = pd.DataFrame(
            [
                {column: None for column in RESULT_TABLES["scorecard"]} | {"team": team, "score": 90.0, "level": "gold"}
                for team in TEAMS
            ],
            columns=list(RESULT_TABLES["scorecard"]),
        )
        empty = {name: pd.DataFrame(columns=list(RESULT_TABLES[name])) for name in ("check_results", "findings")}
        warehouse.publish(WEEK, scorecard=card, facts={}, **empty)
        registry = pd.DataFrame(
            [{"team": team, "display_name": team.title(), "email": f"{team}@example.com"} for team in TEAMS]
        ).assign(audit_date=WEEK)
        with warehouse.engine.begin() as conn:
            registry.to_sql("facts_registry_teams", conn, schema=warehouse.schema, index=False, if_exists="append")
    finally:
        warehouse.dispose()
    return url


def test_the_build_is_measured_and_its_emails_left_for_the_send(tmp_path):
    figures = measure_build(published_warehouse(tmp_path), "2026-11-16", out_dir=tmp_path / "emails")

    assert (figures["week"], figures["teams"], figures["emails"], figures["team_emails"]) == ("2026-11-16", 2, 3, 2)
    assert figures["emails_by_kind"] == {"team": 2, "digest": 1}
    written = {path.stem: path.stat().st_size for path in (tmp_path / "emails").glob("*.eml")}
    assert set(written) == {"team-checkout", "team-payments", "digest"}
    assert figures["largest_bytes"] == max(written.values()) == written[figures["largest"]]
    assert figures["task_s"] >= figures["load_s"] and figures["peak_memory_mb"] > 0
    assert figures["eml_dir"] == str(tmp_path / "emails")
