"""The scorecard in Backstage: one JSON file per Group and per Component, in the format of Oriflame's
``score-card`` plugin (``tests/reference/score_card/``), written after each publish.

The plugin fetches ``${scorecards.jsonDataUrl}${namespace}/${kind}/${name}.json``, the whole
URL lower-cased, and shows it on the entity's page; ``all.json`` beside them feeds its score
board. So the files are written to ``READINESS_BACKSTAGE_EXPORT`` (a local folder, or an object
store URL such as ``s3://bucket/scorecards`` through Airflow's ``ObjectStoragePath`` with the
staging's connection, ``READINESS_STAGING_CONN_ID`` or the scheme's default), at lower-cased
paths: ``default/group/payments.json``, ``default/component/payments-api.json``.

What each file says (``EntityScore``; docs/backstage.md shows it):

- a team (a Group the checks audit): ``scorePercent`` its score, ``scoreLabel`` its level
  (``Gold``, ``Silver``, ``Bronze``, ``No level``), ``scoreSuccess`` from the level (gold
  ``success``, silver ``almost-success``, bronze ``partial``, none ``failure``); one area per
  check (its score x 10, its status as label), whose entries are the check's findings for the
  team (the subject, its outcome, the finding's sentence as ``scoreHints``, the check's
  remediation as ``details`` where it did not pass), or the check's own reason when it has none;
- a parent group: its roll-up's score and level, one area per team below it;
- a Component: the checks that judged it (its findings ``service:<name>``), each area scored
  by its worst finding, the component's ``scorePercent`` the mean of their status scores
  (pass 100, warn 50, fail 0) over the judged ones, and the team's checks that are ``unknown``
  or ``waived`` listed as such, never folded into a pass. A service out of a check's scope is
  not judged by it.

``unknown`` is the plugin's own word for an entry without a score (its sample data uses it);
``waived`` entries show ``almost-success`` labelled ``waived``, without a score, as the team's
score leaves them out. A Group that was not scored (no team, no roll-up) gets no file.

The export is the latest audit's: ``_export.json`` records the audit date written, and an audit
of an earlier date (a backfill) leaves a later export as it is.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from oncall_readiness import config
from oncall_readiness.checks.catalogue import load_catalogue
from oncall_readiness.frames import records
from oncall_readiness.schema import OUT_OF_SCOPE, STATUSES
from oncall_readiness.staging import StagingPath, staging_path

log = logging.getLogger(__name__)

MANIFEST = "_export.json"
BOARD = "all.json"
LEVEL_LABELS = {"gold": "Gold", "silver": "Silver", "bronze": "Bronze", "none": "No level"}
LEVEL_SUCCESS = {"gold": "success", "silver": "almost-success", "bronze": "partial", "none": "failure"}
STATUS_SUCCESS = {
    "pass": "success",
    "warn": "partial",
    "fail": "failure",
    "unknown": "unknown",
    "waived": "almost-success",
}
STATUS_PERCENT = {"pass": 100, "warn": 50, "fail": 0}
WORST_FIRST = STATUSES  # fail, warn, unknown, waived, pass: the worst outcome first


def export_location() -> str | None:
    """``READINESS_BACKSTAGE_EXPORT``, or None when the export is not configured."""
    return config.BACKSTAGE_EXPORT.get()


def scorecard_files(
    *,
    generated: pd.Timestamp,
    registry: Mapping[str, pd.DataFrame],
    check_results: pd.DataFrame,
    findings: pd.DataFrame,
    scorecard: pd.DataFrame,
    rollup: pd.DataFrame | None,
) -> dict[str, dict[str, Any]]:
    """Relative path -> the ``EntityScore`` of every scored Group and every Component, and ``all.json``'s rows."""
    titles = _check_titles()
    stamp = generated.tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ")
    teams = registry["registry_teams"]
    services = registry["registry_services"]
    results: dict[str, pd.DataFrame] = {str(team): frame for team, frame in check_results.groupby("team", sort=False)}
    found: dict[str, pd.DataFrame] = {str(team): frame for team, frame in findings.groupby("team", sort=False)}
    files: dict[str, dict[str, Any]] = {}
    for row in records(scorecard):
        areas = _team_areas(results.get(row.team), found.get(row.team), titles)
        files[_path("group", row.team)] = _score(
            "group", row.team, stamp, row.score, LEVEL_LABELS[row.level], LEVEL_SUCCESS[row.level], areas
        )
    card = {row.team: row for row in records(scorecard)}
    for row in records(rollup if rollup is not None else pd.DataFrame(columns=["group_name"])):
        below = [team for team in _teams_below(row.group_name, teams) if team in card]
        areas = [
            _area(
                number,
                _display_name(teams, team),
                card[team].score,
                LEVEL_LABELS[card[team].level],
                LEVEL_SUCCESS[card[team].level],
                _team_entries(results.get(team), titles),
            )
            for number, team in enumerate(below, start=1)
        ]
        files[_path("group", row.group_name)] = _score(
            "group", row.group_name, stamp, row.score, LEVEL_LABELS[row.level], LEVEL_SUCCESS[row.level], areas
        )
    for service in records(services):
        files[_path("component", service.service)] = _component(service, stamp, results, found, titles)
    files[BOARD] = {"entities": [_board_row(score) for score in files.values()]}  # replaced by a list on write
    return files


def write_export(files: Mapping[str, dict[str, Any]], audit_date: str, location: str) -> int:
    """Write the files under ``location`` (unless it holds a later audit's export); the number written."""
    root = staging_path(location)
    previous = _manifest_date(root)
    if previous is not None and previous > audit_date:
        log.warning("The Backstage export at %s holds %s, later than %s: left as it is", location, previous, audit_date)
        return 0
    written = 0
    for relative, body in files.items():
        content = body["entities"] if relative == BOARD else body
        _write(root, relative, json.dumps(content, indent=2, ensure_ascii=False).encode("utf-8") + b"\n")
        written += 1
    manifest = {"audit_date": audit_date, "files": written}
    _write(root, MANIFEST, json.dumps(manifest).encode("utf-8"))
    log.info("Backstage score-card export: %d files to %s for %s", written, location, audit_date)
    return written


# --- one file -----------------------------------------------------------------------------------------


def _path(kind: str, ident: str) -> str:
    namespace, _, name = ident.rpartition("/")
    return f"{(namespace or 'default').lower()}/{kind}/{name.lower()}.json"


def _entity_ref(kind: str, ident: str) -> dict[str, str]:
    namespace, _, name = ident.rpartition("/")
    return {"kind": kind, "namespace": namespace or "default", "name": name}


def _score(
    kind: str,
    ident: str,
    stamp: str,
    score: float | None,
    label: str,
    success: str,
    areas: list[dict[str, Any]],
) -> dict[str, Any]:
    entity: dict[str, Any] = {"entityRef": _entity_ref(kind, ident), "generatedDateTimeUtc": stamp}
    if score is not None and not pd.isna(score):
        entity["scorePercent"] = round(float(score))
    entity.update({"scoreLabel": label, "scoreSuccess": success, "areaScores": areas})
    return entity


def _area(
    number: int, title: str, percent: float | None, label: str, success: str, entries: list[dict[str, Any]]
) -> dict[str, Any]:
    area: dict[str, Any] = {"id": number, "title": title}
    if percent is not None and not pd.isna(percent):
        area["scorePercent"] = round(float(percent))
    area.update({"scoreLabel": label, "scoreSuccess": success, "scoreEntries": entries})
    return area


def _entry(number: int, title: str, status: str, hints: str, details: str) -> dict[str, Any]:
    entry: dict[str, Any] = {"id": number, "title": title, "isOptional": False}
    if status in STATUS_PERCENT:
        entry["scorePercent"] = STATUS_PERCENT[status]
    entry.update(
        {"scoreLabel": status, "scoreSuccess": STATUS_SUCCESS[status], "scoreHints": hints, "details": details}
    )
    return entry


def _team_areas(
    results: pd.DataFrame | None, findings: pd.DataFrame | None, titles: Mapping[str, str]
) -> list[dict[str, Any]]:
    """One area per check of the team: its findings as entries (or its own reason when it has none)."""
    if results is None:
        return []
    by_check = (
        {check: frame for check, frame in findings.groupby("check_id", sort=False)} if findings is not None else {}
    )
    areas = []
    for number, result in enumerate(records(results), start=1):
        rows = by_check.get(result.check_id)
        details = "" if result.status == "pass" else str(result.remediation or "")
        if rows is None or rows.empty:
            entries = [_entry(1, titles.get(result.check_id, result.check_id), result.status, result.reason, details)]
        else:
            entries = [
                _entry(n, _subject(f.subject), f.outcome, f.message, "" if f.outcome == "pass" else details)
                for n, f in enumerate(records(rows), start=1)
            ]
        percent = None if pd.isna(result.score) else float(result.score) * 10
        areas.append(
            _area(
                number,
                titles.get(result.check_id, result.check_id),
                percent,
                result.status,
                STATUS_SUCCESS[result.status],
                entries,
            )
        )
    return areas


def _team_entries(results: pd.DataFrame | None, titles: Mapping[str, str]) -> list[dict[str, Any]]:
    """A team's checks as entries (a parent group's area of one team)."""
    if results is None:
        return []
    return [
        _entry(n, titles.get(r.check_id, r.check_id), r.status, r.reason, "")
        for n, r in enumerate(records(results), start=1)
    ]


def _component(
    service: Any,
    stamp: str,
    results: Mapping[str, pd.DataFrame],
    found: Mapping[str, pd.DataFrame],
    titles: Mapping[str, str],
) -> dict[str, Any]:
    team_results = results.get(service.team) if service.team is not None else None
    team_findings = found.get(service.team) if service.team is not None else None
    subject = f"service:{service.service}"
    areas: list[dict[str, Any]] = []
    judged: list[str] = []
    mine = (
        team_findings[team_findings["subject"] == subject]
        if team_findings is not None
        else pd.DataFrame(columns=["check_id", "subject", "outcome", "message"])
    )
    for check, rows in mine.groupby("check_id", sort=False):
        judging = rows[~rows["message"].astype(str).str.startswith(OUT_OF_SCOPE)]
        if judging.empty:
            continue  # out of the check's scope: not judged by it
        worst = min(judging["outcome"], key=WORST_FIRST.index)
        if worst in STATUS_PERCENT:
            judged.append(worst)
        remediation = _remediation(team_results, str(check))
        entries = [
            _entry(
                n, titles.get(str(check), str(check)), f.outcome, f.message, "" if f.outcome == "pass" else remediation
            )
            for n, f in enumerate(records(judging), start=1)
        ]
        areas.append(
            _area(
                len(areas) + 1,
                titles.get(str(check), str(check)),
                STATUS_PERCENT.get(worst),
                worst,
                STATUS_SUCCESS[worst],
                entries,
            )
        )
    for result in () if team_results is None else records(team_results):
        if result.status in ("unknown", "waived") and result.check_id not in set(mine["check_id"]):
            title = titles.get(result.check_id, result.check_id)
            entry = _entry(1, title, result.status, f"The team's result: {result.reason}", "")
            areas.append(_area(len(areas) + 1, title, None, result.status, STATUS_SUCCESS[result.status], [entry]))
    if not judged:
        percent, label, success = None, "not judged", "unknown"
    else:
        percent = sum(STATUS_PERCENT[s] for s in judged) / len(judged)
        worst = min(judged, key=WORST_FIRST.index)
        label, success = worst, STATUS_SUCCESS[worst]
    if service.team is None:
        label, success = "unowned", "unknown"  # no team to score it against (registry/tables.py)
    return _score("component", service.service, stamp, percent, label, success, areas)


def _remediation(results: pd.DataFrame | None, check: str) -> str:
    if results is None:
        return ""
    rows = results[results["check_id"] == check]
    return "" if rows.empty else str(rows.iloc[0]["remediation"] or "")


def _board_row(score: Mapping[str, Any]) -> dict[str, Any]:
    """``all.json``'s row: the entity's score without its entries (the score board lists areas only)."""
    row = {key: value for key, value in score.items() if key != "areaScores"}
    row["areaScores"] = [
        {key: value for key, value in area.items() if key != "scoreEntries"} for area in score.get("areaScores", [])
    ]
    return row


def _subject(subject: str) -> str:
    """``service:payments-api`` -> ``payments-api (service)``: what a finding is about, readable."""
    kind, sep, name = str(subject).partition(":")
    return f"{name} ({kind.replace('_', ' ')})" if sep else str(subject)


def _display_name(teams: pd.DataFrame, team: str) -> str:
    names = teams.loc[teams["team"] == team, "display_name"]
    return str(names.iloc[0]) if len(names) else team


def _teams_below(group: str, teams: pd.DataFrame) -> list[str]:
    """The teams under ``group``, at any depth, in name order (walked iteratively)."""
    children: dict[str, list[str]] = {}
    for team, parent in zip(teams["team"], teams["parent"], strict=True):
        if parent is not None:
            children.setdefault(parent, []).append(team)
    below: list[str] = []
    stack = list(children.get(group, []))
    while stack:
        team = stack.pop()
        below.append(team)
        stack.extend(children.get(team, []))
    return sorted(below)


def _check_titles() -> dict[str, str]:
    return {check.id: check.title for check in load_catalogue().checks.values()}


# --- files ----------------------------------------------------------------------------------------


def _manifest_date(root: StagingPath) -> str | None:
    path = root / MANIFEST
    try:
        return str(json.loads(path.read_bytes())["audit_date"])
    except (FileNotFoundError, KeyError, ValueError, TypeError):
        return None


def _write(root: StagingPath, relative: str, content: bytes) -> None:
    """One file; on a local disk through a temporary file renamed, so Backstage never reads half of one."""
    target = root / relative
    if isinstance(root, Path):
        target.parent.mkdir(parents=True, exist_ok=True)
        local = Path(str(target))
        temporary = local.with_name(f".{local.name}.{os.getpid()}.tmp")
        temporary.write_bytes(content)
        os.replace(temporary, local)
        return
    target.parent.mkdir(parents=True, exist_ok=True)  # a no-op on object stores
    target.write_bytes(content)  # one PUT: an object is replaced whole


def names(files: Iterable[str]) -> list[str]:
    """The entity files of an export (not the board), sorted: for logs and tests."""
    return sorted(name for name in files if name not in (BOARD, MANIFEST))
