"""The Readiness page's view models: what the templates show, shaped from warehouse rows and DAG runs.

Pure: no database, no Airflow. Rows arrive as dicts (column name to value) from
:mod:`~oncall_readiness.report.page.queries`, or as :class:`DagRunRecord` from the plugin.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, SupportsFloat
from urllib.parse import quote

from oncall_readiness import schema

DAG_ID = "readiness_audit"
TREND_POINTS = 8
SORT_KEYS = ("team", "score", "level", "passed", "warned", "failed", "unknown", "waived", "change")


@dataclass(frozen=True)
class Site:
    """How a page links to the others: served (``teams/x``) or as static files beside each other (``teams/x.html``).

    ``root``: the way back to the scorecard page from the page's own URL (``""`` or ``"../"``).
    """

    root: str = ""
    static: bool = False

    def href(self, path: str = "") -> str:
        """The link to ``path`` (``""`` the scorecard, ``teams/<quoted name>``, ``campaigns``, ``groups/<quoted>``)."""
        if not self.static:
            return self.root + path
        # A static file's name is the quoted name, so its link quotes it once more (a browser unquotes once).
        return self.root + quote(path or "index", safe="/") + ".html"


@dataclass(frozen=True)
class Sparkline:
    """An SVG polyline of scores (0 to 100, oldest first) in a ``width`` × ``height`` box."""

    points: str
    last_x: float | None
    last_y: float | None
    width: int
    height: int
    title: str
    # Audits with unknown checks (x, y, what to say): drawn hollow, so a data gap never reads as a change.
    marks: list[tuple[float, float, str]] = field(default_factory=list)


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
    waived: int = 0
    # What the page compares with: the audit about a week before, else the team's previous audit.
    compared: Comparison | None = None
    groups: tuple[str, ...] = ()  # the team's parent groups, nearest first (the department filter)
    cells: list[HeatCell] = field(default_factory=list)  # the heatmap's row: one cell per check column
    next_level: NextLevel | None = None


@dataclass(frozen=True)
class Comparison:
    """A team's latest audit against an earlier one: the score change, and the level it held then."""

    since: dt.date
    change: float | None
    level_before: str
    level_now: str
    # The compared audits with unknown checks: the change may be a data gap, not the team.
    unknown_on: tuple[dt.date, ...] = ()

    @property
    def level_dropped(self) -> bool:
        return schema.level_rank(self.level_now) < schema.level_rank(self.level_before)


@dataclass(frozen=True)
class HeatCell:
    """One check of one team on the heatmap; ``status`` None: the check gave this team no result."""

    check_id: str
    status: str | None
    reason: str | None


@dataclass(frozen=True)
class NextLevel:
    """What a team needs for the level above its own, rule by rule (as the level definitions say)."""

    level: str
    needs: list[str]


@dataclass(frozen=True)
class CheckSummary:
    """One check across the teams of the audit: how many teams hold each status, and which are not passing."""

    check_id: str
    title: str
    counts: dict[str, int]
    teams: list[tuple[str, str]]  # (team, status), worst first, the teams not passing


@dataclass(frozen=True)
class OrgScorecard:
    audit_date: dt.date
    teams: list[TeamRow]
    levels: dict[str, int]
    sort: str
    descending: bool
    checks: list[tuple[str, str]] = field(default_factory=list)  # the heatmap's columns: (check_id, title)
    summaries: list[CheckSummary] = field(default_factory=list)
    groups: list[tuple[str, str]] = field(default_factory=list)  # the department filter: (group, its type)

    @property
    def level_drops(self) -> list[TeamRow]:
        """Teams whose level is below the one they held at the audit compared with."""
        return [team for team in self.teams if team.compared and team.compared.level_dropped]

    learned: list[dict[str, Any]] = field(default_factory=list)  # What we learned last week (report.reviews)

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
    url: str | None = None  # the web page of what the finding is about (a source's ``*_links``)
    subject_name: str | None = None  # its display name

    @property
    def label(self) -> str:
        return self.subject_name or self.subject


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
    waived: int | None = None  # None: written before the scorecard counted waived checks
    change_previous: float | None = None  # against the team's previous audit in the history
    level_before: str | None = None  # the level at the team's previous audit

    @property
    def level_dropped(self) -> bool:
        return self.level_before is not None and schema.level_rank(self.level) < schema.level_rank(self.level_before)


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
    # The team's waivers on that audit date, in force first (warehouse ``waivers``; empty before it existed).
    waivers: list[dict[str, Any]] = field(default_factory=list)
    # The services its checks did not judge, and why (oncall_readiness.report.scope).
    not_judged: list[dict[str, Any]] = field(default_factory=list)
    timeline: CheckTimeline | None = None
    next_level: NextLevel | None = None


@dataclass(frozen=True)
class CheckTimeline:
    """A team's checks over its recent audits: rows of (check_id, title, cells), a cell per date (oldest first)."""

    dates: list[dt.date]
    unknown_dates: set[dt.date]  # audits with at least one unknown check
    rows: list[tuple[str, str, list[HeatCell]]]


# Rows of the warehouse -> view models ------------------------------------------------------------


def scorecard_figures(row: Mapping[str, Any]) -> dict[str, Any]:
    """A scorecard row's score, level, counts and 7-day change, as both the org table and a team's history show them."""
    return {
        "score": optional_float(row["score"]),
        "level": row["level"] or "none",
        "passed": int(row["passed"] or 0),
        "warned": int(row["warned"] or 0),
        "failed": int(row["failed"] or 0),
        "unknown": int(row["unknown"] or 0),
        "change": optional_float(row["score_change_7d"]),
    }


def waived_count(row: Mapping[str, Any]) -> int | None:
    """The scorecard's waived count; None in rows written before it had one."""
    value = row.get("waived")
    return None if value is None or value != value else int(value)


def team_row(
    row: Mapping[str, Any],
    headline: str | None,
    trend: list[tuple[dt.date, float | None]],
    *,
    unknown: Mapping[dt.date, int] | None = None,
    **views: Any,
) -> TeamRow:
    """A team's line of the organisation's scorecard; ``views``: its heatmap cells, comparison, groups, next level."""
    return TeamRow(
        team=row["team"],
        href=team_href(row["team"]),
        **scorecard_figures(row),
        headline=headline,
        trend=trend,
        sparkline=sparkline(trend, unknown=unknown),
        **views,
    )


def history_rows(rows: Sequence[Mapping[str, Any]]) -> list[HistoryRow]:
    """A team's audits, newest first, each compared with the one before it (score change, level held)."""
    history = []
    for index, row in enumerate(rows):
        before = rows[index + 1] if index + 1 < len(rows) else None
        figures = scorecard_figures(row)
        previous = scorecard_figures(before) if before is not None else None
        change = (
            round(figures["score"] - previous["score"], schema.SCORE_DECIMALS)
            if previous and figures["score"] is not None and previous["score"] is not None
            else None
        )
        history.append(
            HistoryRow(
                audit_date=date_of(row["audit_date"]),
                **figures,
                waived=waived_count(row),
                change_previous=change,
                level_before=previous["level"] if previous else None,
            )
        )
    return history


def check_rows(rows: list[dict[str, Any]]) -> list[CheckRow]:
    """A team's checks, worst status first, with the catalogue's titles."""
    titles = _check_titles()
    return [
        CheckRow(
            check_id=row["check_id"],
            title=titles.get(row["check_id"], row["check_id"]),
            status=row["status"],
            score=optional_float(row["score"]),
            reason=row["reason"],
            remediation=row["remediation"],
        )
        for row in sorted(rows, key=_check_order)
    ]


def finding_rows(rows: list[dict[str, Any]]) -> list[FindingRow]:
    """Findings, worst outcome first, then by check and subject."""
    ordered = sorted(rows, key=lambda row: (schema.severity(row["outcome"]), row["check_id"], row["subject"]))
    return [
        FindingRow(
            check_id=row["check_id"],
            subject=row["subject"],
            outcome=row["outcome"],
            message=row["message"],
            url=safe_url(row.get("url")),
            subject_name=row.get("subject_name") or None,
        )
        for row in ordered
    ]


def headlines(checks: list[dict[str, Any]]) -> dict[str, str]:
    """Per team, the reason of its most severe check that is not a pass."""
    worst: dict[str, dict[str, Any]] = {}
    for row in checks:
        if row["status"] == "pass":
            continue
        current = worst.get(row["team"])
        if current is None or _check_order(row) < _check_order(current):
            worst[row["team"]] = row
    return {team: row["reason"] for team, row in worst.items() if row["reason"]}


def trends(scores: list[dict[str, Any]], dates: list[dt.date]) -> dict[str, list[tuple[dt.date, float | None]]]:
    """Per team, its score on each of ``dates`` (None where it has none)."""
    by_team: dict[str, dict[dt.date, float | None]] = {}
    for row in scores:
        by_team.setdefault(row["team"], {})[date_of(row["audit_date"])] = optional_float(row["score"])
    return {team: [(day, scores_of.get(day)) for day in dates] for team, scores_of in by_team.items()}


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
    known.sort(key=lambda row: _known(_sort_value(row, key)), reverse=descending)
    return known + sorted(missing, key=lambda row: row.team.casefold())


def level_counts(teams: Iterable[TeamRow]) -> dict[str, int]:
    """How many teams hold each level, best first (every level present, zero included)."""
    counts = dict.fromkeys(schema.LEVELS, 0)
    for team in teams:
        counts[team.level] = counts.get(team.level, 0) + 1
    return counts


def sparkline(
    trend: list[tuple[dt.date, float | None]],
    *,
    width: int = 120,
    height: int = 28,
    unknown: Mapping[dt.date, int] | None = None,
) -> Sparkline:
    """A polyline over fixed 0 to 100 scores, so a flat line at the top always means 100; gaps skipped.

    ``unknown``: the unknown checks per audit date; those points are marked (hollow) and said so.
    """
    pad = 3.0
    unknown = unknown or {}
    step = (width - 2 * pad) / max(len(trend) - 1, 1)
    placed = [
        (day, round(pad + index * step, 1), round(pad + (100.0 - score) / 100.0 * (height - 2 * pad), 1))
        for index, (day, score) in enumerate(trend)
        if score is not None
    ]
    coordinates = [(x, y) for _, x, y in placed]
    marks = [
        (x, y, f"{day.isoformat()}: {unknown[day]} unknown checks, part of any change may be a data gap")
        for day, x, y in placed
        if unknown.get(day)
    ]
    title = "; ".join(
        f"{day.isoformat()}: {_format_score(score)}{' (unknown checks)' if unknown.get(day) else ''}"
        for day, score in trend
    )
    last = coordinates[-1] if coordinates else (None, None)
    return Sparkline(
        points=" ".join(f"{x},{y}" for x, y in coordinates),
        last_x=last[0],
        last_y=last[1],
        width=width,
        height=height,
        title=title,
        marks=marks,
    )


def sort_links(sort: str, *, descending: bool) -> dict[str, str]:
    """The query string of each column header: the sorted column flips its order, others start at their natural one."""
    links = {}
    for key in SORT_KEYS:
        order = ("asc" if descending else "desc") if key == sort else ("asc" if key == "team" else "desc")
        links[key] = f"?sort={key}&order={order}"
    return links


def safe_url(value: object) -> str | None:
    """A link a page may follow: http(s) only (a ``javascript:`` URL from a source never becomes a link)."""
    if not isinstance(value, str) or not value.strip():
        return None
    url = value.strip()
    return url if url.lower().startswith(("https://", "http://")) else None


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


# Values ------------------------------------------------------------------------------------------


def optional_float(value: SupportsFloat | str | None) -> float | None:
    """A number from the warehouse; None and NaN are "no value"."""
    if value is None:
        return None
    number = float(value)
    return None if number != number else number  # NaN is "no value"


def as_date(value: object) -> dt.date | None:
    """A date from the warehouse (a date, a datetime or ISO text, depending on the dialect)."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def date_of(value: object) -> dt.date:
    """``as_date`` of a column that is never NULL (``audit_date``, a campaign's start and due)."""
    day = as_date(value)
    if day is None:
        raise ValueError("a NULL where the warehouse always keeps a date")
    return day


def _check_titles() -> dict[str, str]:
    from oncall_readiness.checks.catalogue import load_catalogue

    return {check_id: check.title for check_id, check in load_catalogue().checks.items()}


def _check_order(row: dict[str, Any]) -> tuple[int, str]:
    return schema.severity(row["status"]), row["check_id"]


def _sort_value(row: TeamRow, key: str) -> float | None:
    if key == "level":
        return schema.level_rank(row.level)
    if key == "change":
        return row.compared.change if row.compared else None
    value: float | None = getattr(row, key)
    return value


def _known(value: float | None) -> float:
    """A sort value of a team that has one (``sort_teams`` sorts the others apart)."""
    if value is None:
        raise ValueError("a team without a value among those that have one")
    return value


def _run_order(run: DagRunRecord) -> tuple[bool, float]:
    newest_first = -_utc(run.run_after).replace(tzinfo=dt.UTC).timestamp() if run.run_after else 0.0
    return run.state != "success", newest_first


def _utc(moment: dt.datetime) -> dt.datetime:
    """A naive UTC datetime (Airflow stores UTC; aware values are converted)."""
    return moment if moment.tzinfo is None else moment.astimezone(dt.UTC).replace(tzinfo=None)


def _format_score(score: float | None) -> str:
    return "no score" if score is None else f"{score:.0f}"
