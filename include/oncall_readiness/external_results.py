"""Results computed elsewhere (a security scanner, a load test), pushed in and joined to the audit.

A result is one verdict of one external check (declared in ``checks.yaml`` with ``kind: external``)
for one team, optionally about one subject (a service, a person, a schedule): status, a reason,
and the moment it was observed. The readiness API's ``POST /readiness/api/v1/external-results``
stores it here; the sandbox seeds the sample organisation's results with the same code.

Table ``external_results`` (a ledger: not partitioned by audit date, rows are never rewritten):
check_id, team, subject (NULL: the whole team), status, reason, observed_at (UTC), received_at
(UTC) and received_by (the Airflow user who pushed it; never a token). A result is unique by
(check_id, team, subject, observed_at): pushing the same one again (a retried pipeline step)
stores nothing new.

The audit reads, per check, team and subject, the latest result observed at or before its
instant (:func:`results_as_of`), so re-running or backfilling a date reads the same results
(apart from ones pushed later with an earlier observed_at: late data, on purpose).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd
import sqlalchemy as sa

from oncall_readiness.errors import ReadinessError
from oncall_readiness.ledger import Ledger, naive_utc
from oncall_readiness.warehouse import Warehouse

if TYPE_CHECKING:  # the audit reads results without loading the API (FastAPI) package
    from oncall_readiness.api.models import ExternalResult

# How far ahead of the receiving clock an observation may be dated (clock skew between systems).
FUTURE_TOLERANCE = dt.timedelta(minutes=5)
COLUMNS = ["check_id", "team", "subject", "status", "reason", "observed_at", "received_at", "received_by"]


class ExternalResultError(ReadinessError, ValueError):
    """A pushed result is not acceptable; ``field`` names the offending field (the API's 422 says it)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


SUBJECT_KINDS = {"service": "registry_services", "person": "registry_people", "schedule": "registry_team_schedules"}
SUBJECT_COLUMNS = {"service": "service", "person": "person", "schedule": "schedule_id"}


@dataclass(frozen=True)
class Registered:
    """What the latest audit's registry lets a push name: its teams, and each team's subjects.

    ``subjects``: team -> a subject lower-cased (``service:checkout-api``) -> as the registry spells it.
    """

    teams: frozenset[str]
    subjects: Mapping[str, Mapping[str, str]]


def registered(warehouse: Warehouse) -> Registered | None:
    """The teams, services, people and schedules of the latest audit's registry; None before any audit."""
    day = warehouse.latest_audit_date()
    if day is None:
        return None
    teams = {team for (team,) in _registry_rows(warehouse, "registry_teams", ("team",), day)}
    subjects: dict[str, dict[str, str]] = {}
    for kind, table in SUBJECT_KINDS.items():
        for team, name in _registry_rows(warehouse, table, ("team", SUBJECT_COLUMNS[kind]), day):
            if isinstance(team, str) and isinstance(name, str):
                subjects.setdefault(team, {})[f"{kind}:{name}".lower()] = f"{kind}:{name}"
    return Registered(frozenset(teams), subjects)


def _registry_rows(warehouse: Warehouse, table: str, columns: tuple[str, ...], day: dt.date) -> list[tuple[Any, ...]]:
    facts = warehouse.table(f"facts_{table}")
    query = sa.select(*(facts.c[column] for column in columns)).where(facts.c.audit_date == day)
    with warehouse.engine.connect() as conn:
        return [tuple(row) for row in conn.execute(query)]


def accepted(
    result: ExternalResult, *, external_checks: Iterable[str], registry: Registered | None, now: dt.datetime
) -> ExternalResult:
    """The result as stored, after the checks a model cannot make: a declared external check, a team and a
    subject of the latest audit's registry (the subject in its registry spelling), not dated in the future.

    ``registry`` None: nothing was audited yet, so any team and subject of a known kind is accepted (the
    audit reports results of unknown teams nowhere).
    """
    checks = sorted(external_checks)
    if result.check_id not in checks:
        declared = ", ".join(checks) or "none are declared"
        not_declared = f"{result.check_id!r} is not an external check the organisation declares"
        raise ExternalResultError("check_id", f"{not_declared} (readiness-checks.yaml): {declared}")
    if registry is not None and result.team not in registry.teams:
        raise ExternalResultError("team", f"{result.team!r} is not a team of the latest audit's registry")
    if result.observed_at > now + FUTURE_TOLERANCE:
        raise ExternalResultError("observed_at", f"{result.observed_at.isoformat()} is in the future")
    if result.subject is None:
        return result
    kind, _, name = result.subject.partition(":")
    if kind.lower() not in SUBJECT_KINDS or not name.strip():
        raise ExternalResultError("subject", "must be service:<name>, person:<name> or schedule:<id> of the team")
    if registry is None:
        return result
    spelled = registry.subjects.get(result.team, {}).get(result.subject.lower())
    if spelled is None:
        raise ExternalResultError(
            "subject", f"team {result.team!r} has no {kind.lower()} {name!r} in the latest audit's registry"
        )
    return result.model_copy(update={"subject": spelled})


class ExternalResults(Ledger):
    """The pushed results: each stored once, read as of an audit instant."""

    TABLE = "external_results"
    UNIQUE_INDEX = "ux_external_results_result"

    @classmethod
    def define(cls, metadata: sa.MetaData) -> sa.Table:
        table = sa.Table(
            cls.TABLE,
            metadata,
            sa.Column("check_id", sa.Text, nullable=False),
            sa.Column("team", sa.Text, nullable=False),
            sa.Column("subject", sa.Text),
            sa.Column("status", sa.Text, nullable=False),
            sa.Column("reason", sa.Text, nullable=False),
            sa.Column("observed_at", sa.DateTime, nullable=False, index=True),
            sa.Column("received_at", sa.DateTime, nullable=False),
            sa.Column("received_by", sa.Text),
        )
        key = (table.c.check_id, table.c.team, sa.func.coalesce(table.c.subject, ""), table.c.observed_at)
        sa.Index(cls.UNIQUE_INDEX, *key, unique=True)
        return table

    def record(self, result: ExternalResult, *, received_at: dt.datetime, received_by: str | None) -> bool:
        """Store one result, committed at once; False when the same (check, team, subject, observed_at) is held."""
        self.create()
        row = {
            **result.model_dump(),
            "observed_at": naive_utc(result.observed_at),
            "received_at": naive_utc(received_at),
            "received_by": received_by,
        }
        return self.insert_once([row], unless=sa.select(sa.literal(1)).where(*self._same(result)))

    def held(self, result: ExternalResult) -> dict[str, Any] | None:
        """The stored result with the key of ``result`` (check, team, subject, observed_at): the one that stands."""
        with self.warehouse.engine.connect() as conn:
            row = (
                conn.execute(sa.select(*(self.table.c[c] for c in COLUMNS)).where(*self._same(result)))
                .mappings()
                .first()
            )
        if row is None:
            return None
        return {
            **row,
            "observed_at": row["observed_at"].replace(tzinfo=dt.UTC),
            "received_at": row["received_at"].replace(tzinfo=dt.UTC),
        }

    def _same(self, result: ExternalResult) -> tuple[sa.ColumnElement[bool], ...]:
        """What makes two pushes the same result (the unique index's key)."""
        table = self.table
        return (
            table.c.check_id == result.check_id,
            table.c.team == result.team,
            sa.func.coalesce(table.c.subject, "") == (result.subject or ""),
            table.c.observed_at == naive_utc(result.observed_at),
        )

    def as_of(self, instant: pd.Timestamp) -> pd.DataFrame:
        """Per check, team and subject, the latest result observed at or before ``instant`` (COLUMNS; UTC)."""
        table = self.table
        cutoff = naive_utc(instant.to_pydatetime())
        with self.warehouse.engine.connect() as conn:
            if not self.exists(conn):
                return pd.DataFrame(columns=COLUMNS)
            rows = conn.execute(sa.select(*(table.c[c] for c in COLUMNS)).where(table.c.observed_at <= cutoff))
            frame = pd.DataFrame(rows.fetchall(), columns=COLUMNS)
        return latest_per_subject(frame)


def record(warehouse: Warehouse, result: ExternalResult, *, received_at: dt.datetime, received_by: str | None) -> bool:
    """Store one pushed result (:meth:`ExternalResults.record`)."""
    return ExternalResults(warehouse).record(result, received_at=received_at, received_by=received_by)


def results_as_of(warehouse: Warehouse, instant: pd.Timestamp) -> pd.DataFrame:
    """The results the audit of ``instant`` reads (:meth:`ExternalResults.as_of`)."""
    return ExternalResults(warehouse).as_of(instant)


def latest_per_subject(frame: pd.DataFrame) -> pd.DataFrame:
    """The newest observation of each (check, team, subject); ties broken by the later receipt."""
    if frame.empty:
        return frame.reindex(columns=COLUMNS)
    frame = frame.assign(
        observed_at=pd.to_datetime(frame["observed_at"], utc=True),
        received_at=pd.to_datetime(frame["received_at"], utc=True),
    )
    ordered = frame.assign(_subject=frame["subject"].fillna("")).sort_values(["observed_at", "received_at"])
    latest = ordered.groupby(["check_id", "team", "_subject"], sort=False).tail(1)
    return latest[COLUMNS].sort_values(["check_id", "team", "observed_at"], ignore_index=True)
