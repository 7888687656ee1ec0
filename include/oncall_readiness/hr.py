"""The HR export of joiners: who started when, from the people system rather than the catalog.

A CSV file (UTF-8, a BOM is fine, comma-separated, a header row) named by
``READINESS_HR_CSV``. Columns, in any order (header names without case; other columns
are ignored, so a raw export works):

=============== ======== ==========================================================
column          required meaning
=============== ======== ==========================================================
``email``       yes      the person's email: lower-cased, the join key everywhere
``team``        yes      the registry team (a Backstage Group name) they joined
``start_date``  yes      the day they started in that team, ``YYYY-MM-DD``
``status``      yes      ``active`` is audited; any other status (``leaver``,
                         ``pending``, ``on-leave``...) is not, and also withdraws the
                         catalog's start date of that person in that team
``name``        no       the display name, for someone the catalog does not know yet
=============== ======== ==========================================================

How it combines with the catalog (``readiness/start-date`` on Users), for the
``joiner-permissions`` check: an active row's start date replaces the catalog's for the
same email in the same team; an active row for someone the catalog does not list in that
team adds a joiner (a new hire HR knows before Backstage does); a row with another status
removes that person from the team's joiners. Without the file, the catalog alone counts.

Without ``READINESS_HR_CSV`` (or with it empty) no export is read: there is no default, the
sample organisation's export is used only where the demo configures it.

The rows become the registry's facts table ``registry_hr_joiners``: email, name, team,
start_date (a date), status (lower-cased), source (``<file>:<line>``). A bad row stops the
run like a bad catalog: :class:`HRExportError` lists every problem, each naming the file,
the line and the column (a missing email, an unknown team, a bad date, a missing status,
the same email and team twice).
"""

from __future__ import annotations

import csv
import datetime as dt
import logging
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from oncall_readiness import config
from oncall_readiness.errors import HRExportError

log = logging.getLogger(__name__)

HR_CSV_ENV = config.HR_CSV.name
REQUIRED_COLUMNS = ("email", "team", "start_date", "status")
OPTIONAL_COLUMNS = ("name",)
ACTIVE = "active"
TABLE = "registry_hr_joiners"
COLUMNS = ["email", "name", "team", "start_date", "status", "source"]
# Staged with the registry (source_catalogue).
FACT_COLUMNS: dict[str, dict[str, str]] = {
    TABLE: {column: "date" if column == "start_date" else "string" for column in COLUMNS}
}
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def configured_hr_path() -> Path | None:
    """``$READINESS_HR_CSV``, or None when it is unset or empty."""
    return config.HR_CSV.get()


def empty_joiners() -> pd.DataFrame:
    return pd.DataFrame(columns=COLUMNS, dtype=object)


def joiner_facts(teams: Iterable[str], *, path: str | os.PathLike[str] | None = None) -> dict[str, pd.DataFrame]:
    """``{"registry_hr_joiners": rows}`` of the export (``path``, else ``$READINESS_HR_CSV``); empty without one."""
    path = Path(path) if path is not None else configured_hr_path()
    if path is None:
        return {TABLE: empty_joiners()}
    joiners = load_hr_joiners(path, teams=teams)
    log.info("HR export %s: %d rows, %d active", path, len(joiners), int((joiners["status"] == ACTIVE).sum()))
    return {TABLE: joiners}


def load_hr_joiners(path: str | os.PathLike[str], *, teams: Iterable[str]) -> pd.DataFrame:
    """Read and validate the export; ``teams`` are the registry's team names (compared without case).

    Raises :class:`HRExportError` listing every problem, one per line.
    """
    path = Path(path)
    shown = _display(path)
    known = {team.casefold(): team for team in teams}
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise HRExportError([f"{shown}: cannot read the HR export: {exc}"]) from None
    reader = csv.reader(text.splitlines())
    header = next(reader, None)
    if not header:
        raise HRExportError([f"{shown}:1: no header row (expected the columns {', '.join(REQUIRED_COLUMNS)})"])
    index = {name.strip().lower(): i for i, name in enumerate(header)}
    missing = [column for column in REQUIRED_COLUMNS if column not in index]
    if missing:
        expected = ", ".join(REQUIRED_COLUMNS)
        raise HRExportError(
            [f"{shown}:1: missing column {column!r} (the header must name {expected})" for column in missing]
        )
    problems: list[str] = []
    rows: list[dict[str, Any]] = []
    first_line: dict[tuple[str, str], int] = {}
    for line, fields in enumerate(reader, start=2):
        if not any(field.strip() for field in fields):
            continue  # blank line

        def value(column: str, fields: list[str] = fields) -> str:
            position = index.get(column)
            return fields[position].strip() if position is not None and position < len(fields) else ""

        where = f"{shown}:{line}"
        row_problems = []
        email = value("email").lower()
        if not email:
            row_problems.append(f"{where}: column email: missing")
        elif "@" not in email or any(c.isspace() for c in email):
            row_problems.append(f"{where}: column email: not an email {value('email')!r}")
        team_text = value("team")
        team = known.get(team_text.casefold())
        if not team_text:
            row_problems.append(f"{where}: column team: missing")
        elif team is None:
            row_problems.append(f"{where}: column team: unknown team {team_text!r} (not a Group in the registry)")
        start_text = value("start_date")
        start = _date(start_text)
        if start is None:
            problem = "missing" if not start_text else f"bad date {start_text!r} (expected YYYY-MM-DD)"
            row_problems.append(f"{where}: column start_date: {problem}")
        status = value("status").lower()
        if not status:
            row_problems.append(f"{where}: column status: missing (active, leaver, ...)")
        if not row_problems and team is not None:
            key = (email, team)
            if key in first_line:
                row_problems.append(f"{where}: duplicate of line {first_line[key]} (same email and team)")
            first_line.setdefault(key, line)
        if row_problems:
            problems += row_problems
            continue
        rows.append(
            {
                "email": email,
                "name": value("name") or None,
                "team": team,
                "start_date": start,
                "status": status,
                "source": f"{path.name}:{line}",
            }
        )
    if problems:
        raise HRExportError(problems)
    return pd.DataFrame([[row[c] for c in COLUMNS] for row in rows], columns=COLUMNS, dtype=object)


def _date(text: str) -> dt.date | None:
    if not _DATE_RE.match(text):
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return None


def _display(path: Path) -> str:
    rel = os.path.relpath(path, Path.cwd())
    return path.as_posix() if rel.startswith("..") else Path(rel).as_posix()
