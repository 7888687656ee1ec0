"""The Readiness page of the Airflow UI, as plain data: the organisation's scorecard and one page per team.

Pure functions over a :class:`~oncall_readiness.warehouse.Warehouse` (and over the DAG runs the
plugin reads from Airflow's metadata DB); the plugin in ``plugins/readiness_page.py`` only wires
routes, authentication and these functions to the templates ``page_*.html.j2``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import quote

import sqlalchemy as sa

from oncall_readiness.warehouse import Warehouse

DAG_ID = "readiness_audit"
TREND_POINTS = 8
HISTORY_LIMIT = 90
LEVEL_RANK = {"gold": 3, "silver": 2, "bronze": 1, "none": 0}
STATUS_SEVERITY = {"fail": 0, "unknown": 1, "warn": 2, "waived": 3, "pass": 4}
SORT_KEYS = ("team", "score", "level", "passed", "warned", "failed", "unknown", "change")
NO_ACTION_OUTCOMES = ("pass", "waived")
# The columns the page reads: named, so a warehouse written by an older or newer version still reads.
SCORECARD_COLUMNS = ("audit_date", "team", "score", "level", "passed", "warned", "failed", "unknown", "score_change_7d")
CHECK_COLUMNS = ("audit_date", "team", "check_id", "status", "score", "reason", "remediation")
FINDING_COLUMNS = ("audit_date", "team", "check_id", "subject", "outcome", "message")


@dataclass(frozen=True)
class Sparkline:
    """An SVG polyline of scores (0 to 100, oldest first) in a ``width`` × ``height`` box."""

    points: str
    last_x: float | None
    last_y: float | None
    width: int
    height: int
    title: str


@dataclass(frozen=True)
class TeamRow:
    team: str
    href: str
    score: float | None
    level: str
    passed: int
    warned: int
    failed: int
    unknown: int
    change: float | None
    headline: str | None
    trend: list[tuple[dt.date, float | None]]
    sparkline: Sparkline


@dataclass(frozen=True)
class OrgScorecard:
    audit_date: dt.date
    teams: list[TeamRow]
    levels: dict[str, int]
    sort: str
    descending: bool

    @property
    def needing_action(self) -> int:
        """Teams with at least one failed or inconclusive check."""
        return sum(1 for team in self.teams if team.failed or team.unknown)


@dataclass(frozen=True)
class CheckRow:
    check_id: str
    title: str
    status: str
    score: float | None
    reason: str | None
    remediation: str | None


@dataclass(frozen=True)
class FindingRow:
    check_id: str
    subject: str
    outcome: str
    message: str | None


@dataclass(frozen=True)
class DagRunRecord:
    """A run of the audit DAG as Airflow's metadata DB holds it."""

    run_id: str
    data_interval_end: dt.datetime | None
    state: str | None
    run_after: dt.datetime | None = None


@dataclass(frozen=True)
class AuditRun:
    run_id: str
    state: str
    url: str


@dataclass(frozen=True)
class HistoryRow:
    audit_date: dt.date
    score: float | None
    level: str
    passed: int
    warned: int
    failed: int
    unknown: int
    change: float | None
    runs: list[AuditRun] = field(default_factory=list)


@dataclass(frozen=True)
class TeamReport:
    team: str
    audit_date: dt.date
    latest: HistoryRow
    checks: list[CheckRow]
    findings: list[FindingRow]
    history: list[HistoryRow]  # newest first
    sparkline: Sparkline
    in_latest_audit: bool


# Reading the warehouse ---------------------------------------------------------------------------


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
    """The newest audit date of the scorecard; None when nothing was published yet."""
    if not _has_scorecard(warehouse):
        return None
    table = warehouse.table("scorecard")
    with warehouse.engine.connect() as conn:
        return _as_date(conn.execute(sa.select(sa.func.max(table.c.audit_date))).scalar())


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
    trends = _trends(scores, sorted(trend_dates))
    headlines = _headlines(checks)
    teams = [_team_row(row, headlines.get(row["team"]), trends.get(row["team"], [])) for row in latest]
    sort = sort if sort in SORT_KEYS else "score"
    return OrgScorecard(
        audit_date=day,
        teams=sort_teams(teams, sort, descending=descending),
        levels=level_counts(teams),
        sort=sort,
        descending=descending,
    )


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
        day = _as_date(history[0]["audit_date"])
        checks = _rows(conn, _select(results, CHECK_COLUMNS).where(results.c.audit_date == day, results.c.team == team))
        open_findings = _rows(
            conn,
            _select(findings, FINDING_COLUMNS).where(
                findings.c.audit_date == day,
                findings.c.team == team,
                findings.c.outcome.not_in(NO_ACTION_OUTCOMES),
            ),
        )
        newest = conn.execute(sa.select(sa.func.max(card.c.audit_date))).scalar()
    rows = [_history_row(row) for row in history]
    return TeamReport(
        team=team,
        audit_date=day,
        latest=rows[0],
        checks=_check_rows(checks),
        findings=_finding_rows(open_findings),
        history=rows,
        sparkline=sparkline([(row.audit_date, row.score) for row in reversed(rows[:TREND_POINTS])]),
        in_latest_audit=_as_date(newest) == day,
    )


def attach_runs(report: TeamReport, runs: Mapping[dt.date, list[AuditRun]]) -> TeamReport:
    """The report with, on each audit date of its history, the DAG runs that produced it."""
    history = [replace(row, runs=list(runs.get(row.audit_date, []))) for row in report.history]
    return replace(report, history=history, latest=history[0])


# Shaping -----------------------------------------------------------------------------------------


def sort_teams(teams: list[TeamRow], key: str, *, descending: bool) -> list[TeamRow]:
    """Teams ordered by ``key`` (one of SORT_KEYS); teams without a value last either way, ties by name."""
    if key == "team":
        return sorted(teams, key=lambda row: row.team.casefold(), reverse=descending)
    known = [row for row in teams if _sort_value(row, key) is not None]
    missing = [row for row in teams if _sort_value(row, key) is None]
    known.sort(key=lambda row: row.team.casefold())
    known.sort(key=lambda row: _sort_value(row, key), reverse=descending)
    return known + sorted(missing, key=lambda row: row.team.casefold())


def level_counts(teams: Iterable[TeamRow]) -> dict[str, int]:
    """How many teams hold each level, best first (every level present, zero included)."""
    counts = dict.fromkeys(LEVEL_RANK, 0)
    for team in teams:
        counts[team.level] = counts.get(team.level, 0) + 1
    return counts


def sparkline(trend: list[tuple[dt.date, float | None]], *, width: int = 120, height: int = 28) -> Sparkline:
    """A polyline over fixed 0 to 100 scores, so a flat line at the top always means 100; gaps skipped."""
    pad = 3.0
    step = (width - 2 * pad) / max(len(trend) - 1, 1)
    coordinates = [
        (round(pad + index * step, 1), round(pad + (100.0 - score) / 100.0 * (height - 2 * pad), 1))
        for index, (_, score) in enumerate(trend)
        if score is not None
    ]
    title = "; ".join(f"{day.isoformat()}: {_format_score(score)}" for day, score in trend)
    last = coordinates[-1] if coordinates else (None, None)
    return Sparkline(
        points=" ".join(f"{x},{y}" for x, y in coordinates),
        last_x=last[0],
        last_y=last[1],
        width=width,
        height=height,
        title=title,
    )


def sort_links(sort: str, *, descending: bool) -> dict[str, str]:
    """The query string of each column header: the sorted column flips its order, others start at their natural one."""
    links = {}
    for key in SORT_KEYS:
        order = ("asc" if descending else "desc") if key == sort else ("asc" if key == "team" else "desc")
        links[key] = f"?sort={key}&order={order}"
    return links


def team_href(team: str) -> str:
    """The team page, relative to the scorecard page (every character of the name escaped)."""
    return "teams/" + quote(team, safe="")


def run_url(run_id: str, *, ui_root: str = "/", dag_id: str = DAG_ID) -> str:
    """The Airflow UI page of one DAG run."""
    return f"{ui_root.rstrip('/')}/dags/{quote(dag_id, safe='')}/runs/{quote(run_id, safe='')}"


def dag_url(*, ui_root: str = "/", dag_id: str = DAG_ID) -> str:
    """The Airflow UI page of the DAG (its grid of runs): the fallback when no run is known."""
    return f"{ui_root.rstrip('/')}/dags/{quote(dag_id, safe='')}"


def runs_by_audit_date(runs: Iterable[DagRunRecord], *, ui_root: str = "/") -> dict[dt.date, list[AuditRun]]:
    """DAG runs grouped by audit date: successful runs first, then the newest.

    The audit date of a run is the UTC date of its data interval end, as the DAG computes it.
    """
    grouped: dict[dt.date, list[DagRunRecord]] = {}
    for run in runs:
        if run.data_interval_end is not None:
            grouped.setdefault(_utc(run.data_interval_end).date(), []).append(run)
    return {
        day: [
            AuditRun(run_id=run.run_id, state=run.state or "unknown", url=run_url(run.run_id, ui_root=ui_root))
            for run in sorted(entries, key=_run_order)
        ]
        for day, entries in grouped.items()
    }


# Rendering (Jinja2 with autoescape: every value from the warehouse arrives as text) -----------


def render_scorecard_page(card: OrgScorecard, *, latest_runs: list[AuditRun], ui_root: str = "/") -> str:
    return _template("page_scorecard.html.j2").render(
        card=card,
        latest_runs=latest_runs,
        sort_links=sort_links(card.sort, descending=card.descending),
        trend_points=TREND_POINTS,
        dag_id=DAG_ID,
        dag_url=dag_url(ui_root=ui_root),
    )


def render_team_page(report: TeamReport, *, scorecard_href: str, ui_root: str = "/") -> str:
    return _template("page_team.html.j2").render(
        report=report, scorecard_href=scorecard_href, dag_url=dag_url(ui_root=ui_root)
    )


def render_message(headline: str, detail: str, *, scorecard_href: str | None = None, ui_root: str = "/") -> str:
    """A page that explains why there is nothing to show (empty warehouse, unknown team, unreachable warehouse)."""
    return _template("page_message.html.j2").render(
        headline=headline,
        detail=detail,
        scorecard_href=scorecard_href,
        dag_id=DAG_ID,
        dag_url=dag_url(ui_root=ui_root),
    )


EMPTY_HEADLINE = "No audit in the warehouse yet"
EMPTY_DETAIL = (
    f"The warehouse holds no scorecard yet: run the {DAG_ID} DAG first (trigger it in Airflow, or run "
    "`make demo` for the sample organisation), then reload this page."
)


def _template(name: str):
    from oncall_readiness.report.html import TEMPLATES

    return TEMPLATES.get_template(name)


# Helpers -----------------------------------------------------------------------------------------


def _has_scorecard(warehouse: Warehouse) -> bool:
    with warehouse.engine.connect() as conn:
        return sa.inspect(conn).has_table("scorecard", schema=warehouse.schema)


def _select(table: sa.Table, columns: tuple[str, ...]) -> sa.Select:
    return sa.select(*(table.c[name] for name in columns))


def _rows(conn: sa.Connection, query: sa.Select) -> list[dict]:
    return [dict(row) for row in conn.execute(query).mappings()]


def _recent_dates(conn: sa.Connection, card: sa.Table, day: dt.date, count: int) -> list[dt.date]:
    query = (
        sa.select(card.c.audit_date)
        .where(card.c.audit_date <= day)
        .distinct()
        .order_by(card.c.audit_date.desc())
        .limit(count)
    )
    return [_as_date(value) for value in conn.execute(query).scalars()]


def _trends(scores: list[dict], dates: list[dt.date]) -> dict[str, list[tuple[dt.date, float | None]]]:
    by_team: dict[str, dict[dt.date, float | None]] = {}
    for row in scores:
        by_team.setdefault(row["team"], {})[_as_date(row["audit_date"])] = _number(row["score"])
    return {team: [(day, scores_of.get(day)) for day in dates] for team, scores_of in by_team.items()}


def _headlines(checks: list[dict]) -> dict[str, str]:
    """Per team, the reason of its most severe check that is not a pass."""
    worst: dict[str, dict] = {}
    for row in checks:
        if row["status"] == "pass":
            continue
        current = worst.get(row["team"])
        if current is None or _check_order(row) < _check_order(current):
            worst[row["team"]] = row
    return {team: row["reason"] for team, row in worst.items() if row["reason"]}


def _team_row(row: dict, headline: str | None, trend: list[tuple[dt.date, float | None]]) -> TeamRow:
    return TeamRow(
        team=row["team"],
        href=team_href(row["team"]),
        score=_number(row["score"]),
        level=row["level"] or "none",
        passed=int(row["passed"] or 0),
        warned=int(row["warned"] or 0),
        failed=int(row["failed"] or 0),
        unknown=int(row["unknown"] or 0),
        change=_number(row["score_change_7d"]),
        headline=headline,
        trend=trend,
        sparkline=sparkline(trend),
    )


def _history_row(row: dict) -> HistoryRow:
    return HistoryRow(
        audit_date=_as_date(row["audit_date"]),
        score=_number(row["score"]),
        level=row["level"] or "none",
        passed=int(row["passed"] or 0),
        warned=int(row["warned"] or 0),
        failed=int(row["failed"] or 0),
        unknown=int(row["unknown"] or 0),
        change=_number(row["score_change_7d"]),
    )


def _check_rows(rows: list[dict]) -> list[CheckRow]:
    titles = _check_titles()
    return [
        CheckRow(
            check_id=row["check_id"],
            title=titles.get(row["check_id"], row["check_id"]),
            status=row["status"],
            score=_number(row["score"]),
            reason=row["reason"],
            remediation=row["remediation"],
        )
        for row in sorted(rows, key=_check_order)
    ]


def _finding_rows(rows: list[dict]) -> list[FindingRow]:
    ordered = sorted(rows, key=lambda row: (STATUS_SEVERITY.get(row["outcome"], 9), row["check_id"], row["subject"]))
    return [
        FindingRow(check_id=row["check_id"], subject=row["subject"], outcome=row["outcome"], message=row["message"])
        for row in ordered
    ]


def _check_titles() -> dict[str, str]:
    from oncall_readiness.checks.catalogue import load_catalogue

    return {check_id: check.title for check_id, check in load_catalogue().checks.items()}


def _check_order(row: dict) -> tuple[int, str]:
    return STATUS_SEVERITY.get(row["status"], 9), row["check_id"]


def _sort_value(row: TeamRow, key: str) -> float | None:
    if key == "level":
        return LEVEL_RANK.get(row.level, -1)
    if key == "change":
        return row.change
    return getattr(row, key)


def _run_order(run: DagRunRecord) -> tuple[bool, float]:
    newest_first = -_utc(run.run_after).replace(tzinfo=dt.UTC).timestamp() if run.run_after else 0.0
    return run.state != "success", newest_first


def _utc(moment: dt.datetime) -> dt.datetime:
    """A naive UTC datetime (Airflow stores UTC; aware values are converted)."""
    return moment if moment.tzinfo is None else moment.astimezone(dt.UTC).replace(tzinfo=None)


def _number(value: object) -> float | None:
    if value is None:
        return None
    number = float(value)
    return None if number != number else number  # NaN is "no value"


def _as_date(value: object) -> dt.date | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def _format_score(score: float | None) -> str:
    return "no score" if score is None else f"{score:.0f}"
