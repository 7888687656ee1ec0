"""The Readiness page's reads of the warehouse: the latest audit, the organisation's scorecard, a team's report.

Every query names its columns (from :mod:`oncall_readiness.schema`), so a warehouse written by an
older or newer version still reads. An embedded DuckDB file is opened read-only: the page never
creates or locks it for writing.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa

from oncall_readiness import schema
from oncall_readiness.checks.catalogue import load_catalogue
from oncall_readiness.report.page.across import (
    check_columns,
    check_summaries,
    check_timeline,
    comparisons,
    heat_cells,
    next_level,
    team_groups,
    unknown_by_date,
)
from oncall_readiness.report.page.views import (
    SORT_KEYS,
    TREND_POINTS,
    OrgScorecard,
    TeamReport,
    check_rows,
    date_of,
    finding_rows,
    headlines,
    history_rows,
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
TIMELINE_POINTS = 12  # audit dates on a team's per-check timeline
# How far back the comparison with "about a week before" may look (scorecard.week_before's window).
COMPARISON_DAYS = 10
NO_ACTION_OUTCOMES = schema.NO_ACTION_OUTCOMES
# The columns the page reads, where the table has them (``_present``): a warehouse written before a
# column existed (the scorecard's waived, a finding's url and subject_name) still reads.
SCORECARD_COLUMNS = (schema.AUDIT_DATE, *(c for c in schema.SCORECARD_COLUMNS if c != "fully_assessed"))
CHECK_COLUMNS = (schema.AUDIT_DATE, *schema.CHECK_RESULT_COLUMNS)
FINDING_COLUMNS = tuple(dict.fromkeys((schema.AUDIT_DATE, *schema.FINDING_COLUMNS, "url", "subject_name")))


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
    """Every team of the latest audit: counts, change, headline, trend, heatmap row, groups and next level."""
    day = latest_audit_date(warehouse)
    if day is None:
        return None
    card, results = warehouse.table("scorecard"), warehouse.table("check_results")
    with warehouse.engine.connect() as conn:
        card_columns = _present(conn, card, SCORECARD_COLUMNS)
        latest = _rows(conn, _select(card, card_columns).where(card.c.audit_date == day))
        checks = _rows(conn, _select(results, CHECK_COLUMNS).where(results.c.audit_date == day))
        trend_dates = _recent_dates(conn, card, day, trend_points)
        earliest = min([*trend_dates, day - dt.timedelta(days=COMPARISON_DAYS)])
        history = _rows(
            conn,
            sa.select(card.c.team, card.c.audit_date, card.c.score, card.c.level, card.c.unknown).where(
                card.c.audit_date >= earliest, card.c.audit_date <= day
            ),
        )
        parents = _read_day(warehouse, conn, "facts_registry_teams", day, ("team", "parent"))
        rollup = _read_day(warehouse, conn, "scorecard_rollup", day, ("group_name", "group_type", "parent"))
        services = _read_day(warehouse, conn, "facts_registry_services", day, None)
    catalogue = load_catalogue()
    in_trend = set(trend_dates)
    team_trends = trends([row for row in history if date_of(row["audit_date"]) in in_trend], sorted(trend_dates))
    team_headlines = headlines(checks)
    columns = check_columns(checks, catalogue)
    cells = heat_cells(checks, columns)
    compared = comparisons(day, history)
    unknown = unknown_by_date(history)
    groups = team_groups(
        {row["team"]: row["parent"] for row in parents}, {row["group_name"]: row["parent"] for row in rollup}
    )
    owned = pd.DataFrame(services) if services else None
    teams = []
    for row in latest:
        team = row["team"]
        team_cells = cells.get(team, [])
        statuses = {cell.check_id: cell.status for cell in team_cells if cell.status}
        team_owned = owned[owned["team"] == team] if owned is not None and "team" in owned else None
        teams.append(
            team_row(
                row,
                team_headlines.get(team),
                team_trends.get(team, []),
                unknown=unknown.get(team),
                waived=sum(1 for status in statuses.values() if status == "waived"),
                compared=compared.get(team),
                groups=groups.get(team, ()),
                cells=team_cells,
                next_level=next_level(row["level"] or schema.NO_LEVEL, row["score"], statuses, catalogue, team_owned),
            )
        )
    sort = sort if sort in SORT_KEYS else "score"
    return OrgScorecard(
        audit_date=day,
        teams=sort_teams(teams, sort, descending=descending),
        levels=level_counts(teams),
        sort=sort,
        descending=descending,
        checks=columns,
        summaries=check_summaries(checks, columns),
        groups=sorted((row["group_name"], row["group_type"] or "group") for row in rollup),
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
            _select(card, _present(conn, card, SCORECARD_COLUMNS))
            .where(card.c.team == team)
            .order_by(card.c.audit_date.desc())
            .limit(history_limit),
        )
        if not history:
            return None
        day = date_of(history[0]["audit_date"])
        timeline_dates = sorted(date_of(row["audit_date"]) for row in history[:TIMELINE_POINTS])
        timeline_results = _rows(
            conn,
            _select(results, CHECK_COLUMNS).where(results.c.audit_date.in_(timeline_dates), results.c.team == team),
        )
        checks = [row for row in timeline_results if date_of(row["audit_date"]) == day]
        finding_columns = _present(conn, findings, FINDING_COLUMNS)
        open_findings = _rows(
            conn,
            _select(findings, finding_columns).where(
                findings.c.audit_date == day,
                findings.c.team == team,
                findings.c.outcome.not_in(NO_ACTION_OUTCOMES),
            ),
        )
        out_of_scope = _rows(
            conn,
            _select(findings, finding_columns).where(
                findings.c.audit_date == day,
                findings.c.team == team,
                findings.c.outcome == "pass",
                findings.c.message.startswith(SCOPE_PREFIX),
            ),
        )
        waivers = _team_waivers(warehouse, conn, team, day)
        services = _read_day(warehouse, conn, "facts_registry_services", day, None)
    rows = history_rows(history)
    catalogue = load_catalogue()
    unknown_dates = {row.audit_date for row in rows if row.unknown}
    owned = pd.DataFrame(services) if services else None
    team_owned = owned[owned["team"] == team] if owned is not None and "team" in owned else None
    statuses = {row["check_id"]: row["status"] for row in checks}
    return TeamReport(
        team=team,
        audit_date=day,
        latest=rows[0],
        checks=check_rows(checks),
        findings=finding_rows(open_findings),
        history=rows,
        sparkline=sparkline(
            [(row.audit_date, row.score) for row in reversed(rows[:TREND_POINTS])],
            unknown={row.audit_date: row.unknown for row in rows},
        ),
        in_latest_audit=warehouse.latest_audit_date() == day,
        waivers=waivers,
        not_judged=not_judged(out_of_scope),
        timeline=check_timeline(timeline_results, timeline_dates, unknown_dates, catalogue),
        next_level=next_level(rows[0].level, rows[0].score, statuses, catalogue, team_owned),
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


def _present(conn: sa.Connection, table: sa.Table, columns: tuple[str, ...]) -> tuple[str, ...]:
    """The ``columns`` the stored table has: a warehouse written by an older version lacks newer ones.

    Asked with ``SELECT * ... LIMIT 0`` (DuckDB's reflection takes ~0.4 s a table; this, a few ms).
    """
    stored = set(conn.execute(sa.select(sa.text("*")).select_from(table).limit(0)).keys())
    return tuple(column for column in columns if column in stored)


def _read_day(
    warehouse: Warehouse, conn: sa.Connection, name: str, day: dt.date, columns: tuple[str, ...] | None
) -> list[dict[str, Any]]:
    """A table's rows of ``day``: ``columns`` (None: all it has); none when it lacks the table or one of them."""
    try:
        table = warehouse.table(name)
    except KeyError:  # not a table this version writes
        return []
    if not sa.inspect(conn).has_table(name, schema=warehouse.schema):
        return []
    wanted = _present(conn, table, columns or tuple(table.c.keys()))
    if columns and len(wanted) < len(columns):
        return []
    return _rows(conn, _select(table, wanted).where(table.c.audit_date == day))


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
