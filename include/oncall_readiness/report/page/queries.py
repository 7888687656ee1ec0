"""The Readiness page's reads of the warehouse: the latest audit, the organisation's scorecard, a team's report.

Every query names its columns (from :mod:`oncall_readiness.schema`), so a warehouse written by an
older or newer version still reads. An embedded DuckDB file is opened read-only: the page never
creates or locks it for writing.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from oncall_readiness import schema
from oncall_readiness.report.page.views import (
    SORT_KEYS,
    TREND_POINTS,
    OrgScorecard,
    TeamReport,
    check_rows,
    date_of,
    finding_rows,
    headlines,
    history_row,
    level_counts,
    sort_teams,
    sparkline,
    team_row,
    trends,
)
from oncall_readiness.report.scope import PREFIX as SCOPE_PREFIX
from oncall_readiness.report.scope import not_judged
from oncall_readiness.warehouse import Warehouse

HISTORY_LIMIT = 90
NO_ACTION_OUTCOMES = schema.NO_ACTION_OUTCOMES
# The columns the page reads. Not fully_assessed: the page does not show it, and a warehouse
# written before that column existed still reads.
SCORECARD_COLUMNS = (schema.AUDIT_DATE, *(c for c in schema.SCORECARD_COLUMNS if c != "fully_assessed"))
CHECK_COLUMNS = (schema.AUDIT_DATE, *schema.CHECK_RESULT_COLUMNS)
FINDING_COLUMNS = (schema.AUDIT_DATE, *schema.FINDING_COLUMNS)


def read_only_url(url: str) -> str:
    """The warehouse URL for reading: DuckDB opened read-only, so the page never creates or locks it for writing."""
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() != "duckdb" or not parsed.database or parsed.database == ":memory:":
        return url
    return parsed.update_query_dict({"access_mode": "read_only"}).render_as_string(hide_password=False)


def warehouse_exists(url: str) -> bool:
    """False only for an embedded DuckDB file that has not been written yet."""
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() != "duckdb" or not parsed.database or parsed.database == ":memory:":
        return True
    return Path(parsed.database).exists()


def describe_url(url: str) -> str:
    """The warehouse URL for people: the password hidden."""
    return sa.engine.make_url(url).render_as_string(hide_password=True)


def latest_audit_date(warehouse: Warehouse) -> dt.date | None:
    """The latest audit date of the scorecard not after today; None when nothing was published yet."""
    return warehouse.latest_audit_date()


def organisation_scorecard(
    warehouse: Warehouse, *, sort: str = "score", descending: bool = True, trend_points: int = TREND_POINTS
) -> OrgScorecard | None:
    """Every team of the latest audit with its counts, change over 7 days, headline reason and trend."""
    day = latest_audit_date(warehouse)
    if day is None:
        return None
    card, results = warehouse.table("scorecard"), warehouse.table("check_results")
    with warehouse.engine.connect() as conn:
        latest = _rows(conn, _select(card, SCORECARD_COLUMNS).where(card.c.audit_date == day))
        checks = _rows(conn, _select(results, CHECK_COLUMNS).where(results.c.audit_date == day))
        trend_dates = _recent_dates(conn, card, day, trend_points)
        scores = _rows(
            conn,
            sa.select(card.c.team, card.c.audit_date, card.c.score).where(card.c.audit_date.in_(trend_dates)),
        )
    team_trends = trends(scores, sorted(trend_dates))
    team_headlines = headlines(checks)
    teams = [team_row(row, team_headlines.get(row["team"]), team_trends.get(row["team"], [])) for row in latest]
    sort = sort if sort in SORT_KEYS else "score"
    return OrgScorecard(
        audit_date=day,
        teams=sort_teams(teams, sort, descending=descending),
        levels=level_counts(teams),
        sort=sort,
        descending=descending,
        learned=learned_on(warehouse, day),
    )


def learned_on(warehouse: Warehouse, day: dt.date) -> list[dict[str, Any]]:
    """What we learned in the week before ``day``'s audit: its reviews open to everyone (report.reviews)."""
    import pandas as pd  # on use: the page's other queries need no pandas

    from oncall_readiness.report.reviews import learned_last_week

    frames: dict[str, pd.DataFrame] = {}
    with warehouse.engine.connect() as conn:
        for name in ("incident_reviews", "incidents"):
            if not sa.inspect(conn).has_table(name, schema=warehouse.schema):
                return []
            table = warehouse.table(name)
            frames[name] = pd.DataFrame(_rows(conn, sa.select(table).where(table.c.audit_date == day)))
    return learned_last_week(frames["incident_reviews"], frames["incidents"], day, {})


def team_report(warehouse: Warehouse, team: str, *, history_limit: int = HISTORY_LIMIT) -> TeamReport | None:
    """One team's latest checks, the findings that need action, and its score per audit date."""
    if not _has_scorecard(warehouse):
        return None
    card, results, findings = (warehouse.table(name) for name in ("scorecard", "check_results", "findings"))
    with warehouse.engine.connect() as conn:
        history = _rows(
            conn,
            _select(card, SCORECARD_COLUMNS)
            .where(card.c.team == team)
            .order_by(card.c.audit_date.desc())
            .limit(history_limit),
        )
        if not history:
            return None
        day = date_of(history[0]["audit_date"])
        checks = _rows(conn, _select(results, CHECK_COLUMNS).where(results.c.audit_date == day, results.c.team == team))
        open_findings = _rows(
            conn,
            _select(findings, FINDING_COLUMNS).where(
                findings.c.audit_date == day,
                findings.c.team == team,
                findings.c.outcome.not_in(NO_ACTION_OUTCOMES),
            ),
        )
        out_of_scope = _rows(
            conn,
            _select(findings, FINDING_COLUMNS).where(
                findings.c.audit_date == day,
                findings.c.team == team,
                findings.c.outcome == "pass",
                findings.c.message.startswith(SCOPE_PREFIX),
            ),
        )
        waivers = _team_waivers(warehouse, conn, team, day)
    rows = [history_row(row) for row in history]
    return TeamReport(
        team=team,
        audit_date=day,
        latest=rows[0],
        checks=check_rows(checks),
        findings=finding_rows(open_findings),
        history=rows,
        sparkline=sparkline([(row.audit_date, row.score) for row in reversed(rows[:TREND_POINTS])]),
        in_latest_audit=warehouse.latest_audit_date() == day,
        waivers=waivers,
        not_judged=not_judged(out_of_scope),
    )


def _team_waivers(warehouse: Warehouse, conn: sa.Connection, team: str, day: dt.date) -> list[dict[str, Any]]:
    """The team's waivers of the audit date, in force first, then by expiry; none from an older warehouse."""
    if not sa.inspect(conn).has_table("waivers", schema=warehouse.schema):
        return []
    table = warehouse.table("waivers")
    rows = _rows(conn, sa.select(table).where(table.c.audit_date == day, table.c.team == team))
    return sorted(rows, key=lambda row: (not row["active"], str(row["expires"]), row["check_id"]))


def _has_scorecard(warehouse: Warehouse) -> bool:
    with warehouse.engine.connect() as conn:
        return sa.inspect(conn).has_table("scorecard", schema=warehouse.schema)


def _select(table: sa.Table, columns: tuple[str, ...]) -> sa.Select[Any]:
    return sa.select(*(table.c[name] for name in columns))


def _rows(conn: sa.Connection, query: sa.Select[Any]) -> list[dict[str, Any]]:
    return [dict(row) for row in conn.execute(query).mappings()]


def _recent_dates(conn: sa.Connection, card: sa.Table, day: dt.date, count: int) -> list[dt.date]:
    query = (
        sa.select(card.c.audit_date)
        .where(card.c.audit_date <= day)
        .distinct()
        .order_by(card.c.audit_date.desc())
        .limit(count)
    )
    return [date_of(value) for value in conn.execute(query).scalars()]
