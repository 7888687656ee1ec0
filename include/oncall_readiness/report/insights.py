"""Weekly incident insights: what last week's incidents cost each team, and how it compares.

For the audit a weekly email reports (its ``audit_date``), from the tables that audit published:
``incidents`` (one row per incident, with its registry team and loss estimate),
``facts_pagerduty_incidents`` (times to acknowledge and resolve, interruptions per incident),
``facts_pagerduty_responder_weeks`` (interruptions per responder and week), and, to name the
responders, ``facts_pagerduty_users`` and ``facts_registry_people``.

The week is the 7 days ending at the audit instant (the end of the last responder week, else
midnight UTC of the audit date); it is compared with the weekly average of the four weeks before.
An incident belongs to the week it was created in. Losses add up priced incidents only: an
unpriced incident (its service has no ``cost_per_minute``) is counted as such, never as zero.

Per-person figures (:attr:`TeamInsights.responders`) are for the team's own email and page; the
organisation digest reads :meth:`WeekInsights.digest_rows`, which holds teams only.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import sqlalchemy as sa

from oncall_readiness.frames import records
from oncall_readiness.warehouse import Warehouse

log = logging.getLogger(__name__)

WEEK = pd.Timedelta(days=7)
BASELINE_WEEKS = 4
TOP_RESPONDERS = 5
TOP_SERVICES = 3
KINDS = ("sleep", "off", "business")  # interruption kinds, as PagerDuty classifies them
KIND_COLUMNS = {kind: f"{kind}_hour_interruptions" for kind in KINDS}
NO_TEAM = "(no team)"  # incidents on services the registry does not know
UNAVAILABLE_TABLES = "the warehouse holds no incident data for this audit (the incidents tables are missing)"
UNAVAILABLE_PAGERDUTY = "PagerDuty's incident data was not collected in this audit"

INCIDENT_COLUMNS = (
    "incident_id",
    "title",
    "team",
    "service",
    "urgency",
    "status",
    "created_at",
    "acknowledged_at",
    "resolved_at",
    "minutes",
    "currency",
    "estimated_loss",
    "priced",
)
FACT_COLUMNS = (
    "incident_id",
    "seconds_to_first_ack",
    "seconds_to_resolve",
    "total_interruptions",
    *KIND_COLUMNS.values(),
)
RESPONDER_COLUMNS = ("responder_id", "week_start", "week_end", "total_interruptions", *KIND_COLUMNS.values())


@dataclass(frozen=True)
class Figures:
    """One team's (or the organisation's) incidents of one week, or the weekly average of several."""

    incidents: float = 0
    high_urgency: float = 0
    still_open: int = 0
    mtta_median: float | None = None  # seconds
    mtta_p90: float | None = None
    mttr_median: float | None = None
    mttr_p90: float | None = None
    interruptions: dict[str, float] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    interruptions_unknown: int = 0  # incidents analytics does not report yet (the last day)
    losses: dict[str, float] = field(default_factory=dict)  # currency -> sum over priced incidents
    unpriced: float = 0

    @property
    def total_interruptions(self) -> float:
        return sum(self.interruptions.values())


@dataclass(frozen=True)
class Responder:
    name: str
    sleep: int
    off: int
    business: int

    @property
    def total(self) -> int:
        return self.sleep + self.off + self.business


@dataclass(frozen=True)
class NoisyService:
    service: str
    incidents: int
    high_urgency: int
    interruptions: int


@dataclass(frozen=True)
class TeamInsights:
    team: str
    week: Figures
    baseline: Figures  # weekly average of the previous four weeks
    services: list[NoisyService]
    responders: list[Responder]  # the team's people, most interrupted first: team and leads only
    weekly: list[tuple[dt.date, Figures]]  # the previous four weeks and this one, oldest first

    def change(self, name: str) -> float | None:
        """This week minus the previous four weeks' average (None when either is unknown)."""
        now, before = _figure(self.week, name), _figure(self.baseline, name)
        return None if now is None or before is None else now - before


@dataclass(frozen=True)
class WeekInsights:
    audit_date: dt.date
    start: dt.datetime | None  # the week: [start, end), UTC
    end: dt.datetime | None
    unavailable: str | None = None  # why there is nothing to report, in one sentence
    teams: dict[str, TeamInsights] = field(default_factory=dict)
    organisation: TeamInsights | None = None

    @property
    def available(self) -> bool:
        return self.unavailable is None

    def team(self, team: str) -> TeamInsights | None:
        return self.teams.get(team)

    def digest_rows(self) -> list[TeamInsights]:
        """Every team with incidents this week or the four before, responders left out (teams, not people)."""
        rows = [_without_people(insights) for _, insights in sorted(self.teams.items())]
        return sorted(
            rows, key=lambda row: (row.team == NO_TEAM, -row.week.incidents, -row.week.total_interruptions, row.team)
        )


def load_insights(warehouse: Warehouse, audit_date: dt.date) -> WeekInsights:
    """The insights of the week ending at the instant of the audit of ``audit_date``."""
    with warehouse.engine.connect() as conn:
        incidents = _read(conn, warehouse, "incidents", INCIDENT_COLUMNS, audit_date)
        facts = _read(conn, warehouse, "facts_pagerduty_incidents", FACT_COLUMNS, audit_date)
        responders = _read(conn, warehouse, "facts_pagerduty_responder_weeks", RESPONDER_COLUMNS, audit_date)
        users = _read(conn, warehouse, "facts_pagerduty_users", ("user_id", "name", "email"), audit_date)
        people = _read(conn, warehouse, "facts_registry_people", ("display_name", "email", "team"), audit_date)
    if incidents is None:
        return WeekInsights(audit_date, None, None, unavailable=UNAVAILABLE_TABLES)
    collected = any(frame is not None and not frame.empty for frame in (incidents, facts, responders, users))
    if not collected:
        return WeekInsights(audit_date, None, None, unavailable=UNAVAILABLE_PAGERDUTY)
    return compute_insights(
        audit_date,
        incidents=incidents,
        facts=facts,
        responders=responders,
        users=users,
        people=people,
    )


def compute_insights(
    audit_date: dt.date,
    *,
    incidents: pd.DataFrame,
    facts: pd.DataFrame | None = None,
    responders: pd.DataFrame | None = None,
    users: pd.DataFrame | None = None,
    people: pd.DataFrame | None = None,
) -> WeekInsights:
    """Pure: the frames of one audit (as :func:`load_insights` reads them) to every team's insights.

    Every team at once: the incidents are grouped by team and week once (a team's figures are
    rows of those groups), never filtered team by team, so 2,000 teams cost about what 20 do.
    """
    end = _instant(audit_date, responders)
    first = end - WEEK * (BASELINE_WEEKS + 1)
    frame = _incident_frame(incidents, facts)
    frame = frame[(frame["created_at"] >= first) & (frame["created_at"] < end)]
    frame = frame.assign(
        team=frame["team"].fillna(NO_TEAM),
        week_index=((frame["created_at"] - first) // WEEK).astype(int),  # 0 the oldest, BASELINE_WEEKS last week
    )
    starts = [end - WEEK * back for back in range(BASELINE_WEEKS + 1, 0, -1)]  # oldest first, this week last
    people_of = _responders(responders, users, people, end)
    teams = _insights_by(frame, "team", starts, people_of)
    everyone = _insights_by(frame.assign(team="organisation"), "team", starts, {}, always=("organisation",))
    return WeekInsights(
        audit_date=audit_date,
        start=(end - WEEK).to_pydatetime(),
        end=end.to_pydatetime(),
        teams=teams,
        organisation=everyone["organisation"],
    )


def figures(rows: pd.DataFrame) -> Figures:
    """The figures of a set of incidents (``_incident_frame`` rows)."""
    return _figures_by(rows.assign(everything=0), ["everything"]).get(0, Figures())


def _insights_by(
    frame: pd.DataFrame,
    key: str,
    starts: list[pd.Timestamp],
    people_of: dict[str, list[Responder]],
    *,
    always: tuple[str, ...] = (),
) -> dict[str, TeamInsights]:
    """The insights of every value of ``key`` (a team) in ``frame``, of ``people_of``'s teams, and of ``always``."""
    last_week = len(starts) - 1
    weekly = _figures_by(frame, [key, "week_index"])
    pooled = _figures_by(frame[frame["week_index"] < last_week], [key])
    services = _noisiest_by(frame[frame["week_index"] == last_week], key)
    names = sorted({*frame[key].tolist(), *people_of, *always})  # people interrupted without incidents: a team too
    out = {}
    for name in names:
        weeks = [weekly.get((name, index), Figures()) for index in range(len(starts))]
        out[name] = TeamInsights(
            team=name,
            week=weeks[-1],
            baseline=_average(weeks[:-1], pooled=pooled.get(name, Figures())),
            services=services.get(name, []),
            responders=people_of.get(name, []),
            weekly=[(start.date(), week) for start, week in zip(starts, weeks, strict=True)],
        )
    return out


def _figures_by(rows: pd.DataFrame, keys: list[str]) -> dict[Any, Figures]:
    """The figures of each group of ``rows`` by ``keys`` (a key's value, or a tuple of them for several keys)."""
    if rows.empty:
        return {}
    known = rows["total_interruptions"].notna()
    flags = rows.assign(
        high=rows["urgency"].eq("high").fillna(False).astype(bool),
        open=rows["status"].fillna("").ne("resolved").astype(bool),
        known=known,
        priced_loss=rows["priced"].fillna(False).astype(bool) & rows["estimated_loss"].notna(),
        **{kind: rows[column].where(known, 0).fillna(0) for kind, column in KIND_COLUMNS.items()},
    )
    grouped = flags.groupby(keys, sort=False)
    counts = grouped.agg(
        incidents=("incident_id", "size"),
        high=("high", "sum"),
        open=("open", "sum"),
        known=("known", "sum"),
        priced=("priced_loss", "sum"),
        **{kind: (kind, "sum") for kind in KINDS},
    )
    times = {
        name: _by_group(grouped[column].quantile(q))
        for name, column, q in (
            ("mtta_median", "tta", 0.5),
            ("mtta_p90", "tta", 0.9),
            ("mttr_median", "ttr", 0.5),
            ("mttr_p90", "ttr", 0.9),
        )
    }
    losses = _losses_by(flags[flags["priced_loss"]], keys)
    out = {}
    row: Any  # a row of counts (a named tuple of its columns)
    for group, row in zip(counts.index, counts.itertuples(index=False), strict=True):
        out[group] = Figures(
            incidents=int(row.incidents),
            high_urgency=int(row.high),
            still_open=int(row.open),
            **{name: _seconds(by_group.get(group)) for name, by_group in times.items()},
            interruptions={kind: int(getattr(row, kind)) for kind in KINDS},
            interruptions_unknown=int(row.incidents) - int(row.known),
            losses=losses.get(group, {}),
            unpriced=int(row.incidents) - int(row.priced),
        )
    return out


def _losses_by(priced: pd.DataFrame, keys: list[str]) -> dict[Any, dict[str, float]]:
    """Per group, currency → the sum of its priced incidents' estimated losses."""
    sums = priced.assign(currency=priced["currency"].fillna("?")).groupby([*keys, "currency"])["estimated_loss"].sum()
    out: dict[Any, dict[str, float]] = {}
    for index, total in zip(sums.index, sums.tolist(), strict=True):
        *group, currency = index
        out.setdefault(group[0] if len(group) == 1 else tuple(group), {})[str(currency)] = float(total)
    return out


def _by_group(values: pd.Series) -> dict[Any, Any]:
    """A grouped result as a dict: one lookup per group, not a pandas index lookup each time."""
    return dict(zip(values.index, values.tolist(), strict=True))


def _seconds(value: Any) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def _average(weeks: list[Figures], *, pooled: Figures) -> Figures:
    """Counts averaged per week; times to acknowledge and resolve over the pooled incidents."""
    count = len(weeks) or 1
    currencies = sorted({currency for week in weeks for currency in week.losses})
    return Figures(
        incidents=sum(week.incidents for week in weeks) / count,
        high_urgency=sum(week.high_urgency for week in weeks) / count,
        mtta_median=pooled.mtta_median,
        mtta_p90=pooled.mtta_p90,
        mttr_median=pooled.mttr_median,
        mttr_p90=pooled.mttr_p90,
        interruptions={kind: sum(week.interruptions[kind] for week in weeks) / count for kind in KINDS},
        losses={currency: sum(week.losses.get(currency, 0.0) for week in weeks) / count for currency in currencies},
        unpriced=sum(week.unpriced for week in weeks) / count,
    )


def _noisiest_by(rows: pd.DataFrame, key: str) -> dict[str, list[NoisyService]]:
    """Per team, its ``TOP_SERVICES`` services with most incidents, then interruptions, then by name."""
    if rows.empty:
        return {}
    table = (
        rows.assign(
            service=rows["service"].fillna("(unknown service)"),
            high=rows["urgency"].eq("high").fillna(False).astype(int),
            noise=rows["total_interruptions"].fillna(0),
        )
        .groupby([key, "service"], sort=False)
        .agg(incidents=("incident_id", "size"), high=("high", "sum"), noise=("noise", "sum"))
        .reset_index()
        .sort_values([key, "incidents", "noise", "service"], ascending=[True, False, False, True])
    )
    noisiest: dict[str, list[NoisyService]] = {}
    for row in records(table.groupby(key, sort=False).head(TOP_SERVICES)):
        service = NoisyService(row.service, int(row.incidents), int(row.high), int(row.noise))
        noisiest.setdefault(getattr(row, key), []).append(service)
    return noisiest


def _responders(
    responders: pd.DataFrame | None, users: pd.DataFrame | None, people: pd.DataFrame | None, end: pd.Timestamp
) -> dict[str, list[Responder]]:
    """Per registry team, its people interrupted in the week ending at ``end``: most interruptions first, then sleep."""
    if responders is None or responders.empty or users is None or people is None:
        return {}
    week = responders[_utc(responders["week_end"]) == end]
    named = week.merge(users.rename(columns={"user_id": "responder_id"}), on="responder_id", how="left")
    named["key"] = named["email"].astype("string").str.strip().str.lower()
    registry = people.assign(key=people["email"].astype("string").str.strip().str.lower()).dropna(subset=["key"])
    registry = registry.drop_duplicates("key").rename(columns={"email": "registry_email"})
    named = named.merge(registry[["key", "team", "display_name"]], on="key", how="inner")
    counts = {kind: named[column].fillna(0).astype(int) for kind, column in KIND_COLUMNS.items()}
    named = named.assign(**counts, total=sum(counts.values()))
    named = named[named["total"] > 0].sort_values(["total", "sleep", "display_name"], ascending=[False, False, True])
    out: dict[str, list[Responder]] = {}
    row: Any  # a row of named (a named tuple of its columns)
    for row in named.itertuples():
        listed = out.setdefault(str(row.team), [])
        if len(listed) < TOP_RESPONDERS:
            name = row.display_name if isinstance(row.display_name, str) and row.display_name else row.name
            listed.append(Responder(str(name), int(row.sleep), int(row.off), int(row.business)))
    return out


def _incident_frame(incidents: pd.DataFrame, facts: pd.DataFrame | None) -> pd.DataFrame:
    """``incidents`` with, from the facts, times to acknowledge and resolve and interruptions per incident."""
    frame = incidents.copy()
    for column in ("created_at", "acknowledged_at", "resolved_at"):
        frame[column] = _utc(frame[column])
    if facts is not None and not facts.empty:
        extra = facts.drop_duplicates("incident_id")
        frame = frame.merge(extra, on="incident_id", how="left", suffixes=("", "_facts"))
    for column in FACT_COLUMNS[1:]:
        if column not in frame:
            frame[column] = pd.NA
        frame[column] = pd.to_numeric(frame[column], errors="coerce")
    measured_ack = (frame["acknowledged_at"] - frame["created_at"]).dt.total_seconds()
    measured_resolve = (frame["resolved_at"] - frame["created_at"]).dt.total_seconds()
    frame["tta"] = frame["seconds_to_first_ack"].fillna(measured_ack)
    frame["ttr"] = frame["seconds_to_resolve"].fillna(measured_resolve)
    frame["estimated_loss"] = pd.to_numeric(frame["estimated_loss"], errors="coerce")
    return frame


def _instant(audit_date: dt.date, responders: pd.DataFrame | None) -> pd.Timestamp:
    """The audit instant: the end of the last responder week, else midnight UTC of the audit date."""
    if responders is not None and not responders.empty:
        latest: pd.Timestamp = _utc(responders["week_end"]).max()
        if pd.notna(latest):
            return latest
    return pd.Timestamp(audit_date, tz="UTC")


def _read(
    conn: sa.Connection, warehouse: Warehouse, name: str, columns: tuple[str, ...], audit_date: dt.date
) -> pd.DataFrame | None:
    """The audit date's rows of a table (reflected: it may be newer than this code); None when it does not exist."""
    table = reflect(conn, name, warehouse.schema)
    if table is None:
        return None
    present = [column for column in columns if column in table.c]
    query = sa.select(*(table.c[column] for column in present)).where(table.c.audit_date == audit_date)
    frame = pd.DataFrame(conn.execute(query).fetchall(), columns=present)
    for column in columns:
        if column not in frame:
            log.warning("%s has no column %s: it is read as empty", name, column)
            frame[column] = pd.NA
    return frame[list(columns)]


def reflect(conn: sa.Connection, name: str, schema: str | None) -> sa.TableClause | None:
    """The table as it exists (its columns from the inspector; DuckDB cannot reflect constraints); None if absent."""
    inspector = sa.inspect(conn)
    if not inspector.has_table(name, schema=schema):
        return None
    return sa.table(name, *(sa.column(c["name"]) for c in inspector.get_columns(name, schema=schema)), schema=schema)


def _utc(values: pd.Series) -> pd.Series:
    """Timestamps as UTC (the warehouse stores them naive, in UTC)."""
    stamps = pd.to_datetime(values, errors="coerce")
    if stamps.dt.tz is None:
        return stamps.dt.tz_localize("UTC")
    return stamps.dt.tz_convert("UTC")


def _figure(figures_: Figures, name: str) -> float | None:
    if name == "interruptions":
        return figures_.total_interruptions
    if name.startswith("interruptions_"):
        return figures_.interruptions[name.removeprefix("interruptions_")]
    if name == "losses":
        return sum(figures_.losses.values()) if len(figures_.losses) <= 1 else None
    value: float | None = getattr(figures_, name)
    return value


def _without_people(insights: TeamInsights) -> TeamInsights:
    return TeamInsights(insights.team, insights.week, insights.baseline, insights.services, [], insights.weekly)
