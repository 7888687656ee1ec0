"""Reading and validating waivers: the waivers file and the Groups' ``readiness/waivers`` annotations.

Every problem is collected and :class:`WaiverError` raised once, one line per problem,
each naming the file, the line and the field, for example::

    include/sample_org/catalog/readiness-waivers.yaml:9: waivers[1].approver: missing
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from oncall_readiness import config, schema, yaml_files
from oncall_readiness.checks.catalogue import Catalogue
from oncall_readiness.config_files import beside_catalog, display_path
from oncall_readiness.errors import WaiverError
from oncall_readiness.registry import Registry
from oncall_readiness.registry.groups import ancestors

WAIVERS_ENV_VAR = config.WAIVERS.name
WAIVERS_FILE = "readiness-waivers.yaml"
# The waivers table (and the warehouse's `waivers`, with audit_date in front).
WAIVER_COLUMNS = list(schema.WAIVER_COLUMNS)
FIELDS = ("check", "team", "subject", "reason", "approver", "approved", "expires")
REQUIRED = ("check", "team", "reason", "approver", "approved", "expires")
TEXT_FIELDS = ("check", "team", "reason", "approver")
# What a subject may be, and the registry table and column that say the team has it.
SUBJECT_KINDS = ("service", "person", "schedule")


@dataclass(frozen=True)
class RawWaiver:
    """One entry as written, and how to say where each of its fields is."""

    values: dict[str, Any]
    where: Callable[[str], str]
    origin: str  # file:line, kept in the waivers table so a reader finds the entry


def waivers_path(catalog: str | os.PathLike[str] | None) -> Path | None:
    """``$READINESS_WAIVERS``, else ``readiness-waivers.yaml`` beside the catalog when there is one.

    A configured path that does not exist is an error (a typo must not silently drop every waiver).
    """
    return beside_catalog(config.WAIVERS, catalog, WAIVERS_FILE, WaiverError)


def load_waivers(registry: Registry, catalogue: Catalogue, path: Path | None) -> pd.DataFrame:
    """Every waiver of the file and the annotations, validated; ``active`` is left to :func:`waiver_table`."""
    problems: list[str] = []
    raw = _file_entries(path, problems) if path is not None else []
    for team, file, line, text in registry.waiver_annotations:
        raw.extend(_annotation_entries(team, file, line, text, problems))
    rows = [row for entry in raw if (row := _validated(entry, registry, catalogue, problems)) is not None]
    if problems:
        raise WaiverError(problems)
    frame = pd.DataFrame(rows, columns=[c for c in WAIVER_COLUMNS if c != "active"], dtype=object)
    return frame.sort_values(["team", "check_id", "expires"], ignore_index=True, key=_sort_key)


def waiver_table(waivers: pd.DataFrame, instant: pd.Timestamp) -> pd.DataFrame:
    """The waivers as of the audit instant: ``active`` from the day approved to the day it expires."""
    day = instant.date()
    active = [
        approved <= day <= expires for approved, expires in zip(waivers["approved"], waivers["expires"], strict=True)
    ]
    return waivers.assign(active=pd.Series(active, index=waivers.index, dtype=bool))[WAIVER_COLUMNS]


def _sort_key(column: pd.Series) -> pd.Series:
    return column.astype(str)


def _file_entries(path: Path, problems: list[str]) -> list[RawWaiver]:
    shown = display_path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        problems.append(f"{shown}: cannot read the file: {error}")
        return []
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return []
        yaml_files.check(root)  # a key written twice, an explicit tag, an alias bomb
        waivers = _mapping_value(root, "waivers")
        if not isinstance(root, yaml.MappingNode) or waivers is None:
            problems.append(f"{shown}:{root.start_mark.line + 1}: expected a mapping with a `waivers:` list")
            return []
        if not isinstance(waivers, yaml.SequenceNode):
            problems.append(f"{shown}:{waivers.start_mark.line + 1}: waivers: not a list")
            return []
        return [_node_entry(node, index, shown, "", loader, problems) for index, node in enumerate(waivers.value)]
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{shown}:{mark.line + 1}" if mark is not None else shown
        problems.append(f"{where}: YAML does not parse: {getattr(error, 'problem', None) or error}")
        return []
    except yaml_files.YamlError as error:
        problems.append(error.at(shown))
        return []
    finally:
        loader.dispose()


def _annotation_entries(team: str, file: str, line: int, text: str, problems: list[str]) -> list[RawWaiver]:
    """A Group's ``readiness/waivers`` annotation: the same entries as the file, ``team`` being the Group."""
    prefix = f"Group '{team}' metadata.annotations.readiness/waivers"
    try:
        _, document = yaml_files.document(text)
    except yaml_files.YamlError as error:
        problems.append(f"{file}:{line}: {prefix}: {error}")
        return []
    entries = [document] if isinstance(document, dict) else document
    if not isinstance(entries, list):
        problems.append(f"{file}:{line}: {prefix}: expected a YAML list of waivers")
        return []
    raw = []
    for index, values in enumerate(entries):
        where = _where(file, line, f"{prefix}[{index}]")
        if not isinstance(values, dict):
            problems.append(where("") + ": not a mapping")
            continue
        if "team" in values and str(values["team"]).strip() != team:
            problems.append(where("team") + f": {values['team']!r} is not this Group ('{team}')")
        raw.append(RawWaiver({**values, "team": team}, where, f"{file}:{line}"))
    return raw


def _node_entry(
    node: yaml.Node, index: int, shown: str, prefix: str, loader: yaml.SafeLoader, problems: list[str]
) -> RawWaiver:
    line = node.start_mark.line + 1
    lines: dict[str, int] = {}
    values: dict[str, Any] = {}
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            lines[str(key.value)] = key.start_mark.line + 1
            values[str(key.value)] = loader.construct_object(value, deep=True)
    else:
        problems.append(f"{shown}:{line}: waivers[{index}]: not a mapping")

    def where(field: str) -> str:
        return f"{shown}:{lines.get(field, line)}: waivers[{index}]" + (f".{field}" if field else "")

    return RawWaiver(values, where, f"{shown}:{line}")


def _where(file: str, line: int, label: str) -> Callable[[str], str]:
    return lambda field: f"{file}:{line}: {label}" + (f".{field}" if field else "")


def _mapping_value(node: yaml.Node, key: str) -> yaml.Node | None:
    if not isinstance(node, yaml.MappingNode):
        return None
    return next((value for k, value in node.value if k.value == key), None)


def _validated(
    entry: RawWaiver, registry: Registry, catalogue: Catalogue, problems: list[str]
) -> dict[str, Any] | None:
    """The entry as a row of the waivers table, or None after adding its problems."""
    before = len(problems)
    values, where = entry.values, entry.where
    for field in values:
        if field not in FIELDS:
            problems.append(where(field) + f": unknown field (fields: {', '.join(FIELDS)})")
    for field in REQUIRED:
        if field not in values or values[field] is None or str(values[field]).strip() == "":
            problems.append(where(field) + ": missing")
    if len(problems) > before:
        return None
    text = {field: str(values[field]).strip() for field in TEXT_FIELDS}
    check = catalogue.checks.get(text["check"])
    if check is None:
        problems.append(where("check") + f": unknown check {text['check']!r}")
    elif not check.implemented:
        problems.append(where("check") + f": {text['check']!r} is not implemented yet, so there is nothing to waive")
    teams = set(registry.teams["team"])
    if text["team"] not in teams:
        problems.append(where("team") + f": unknown team {text['team']!r}")
    subject = _subject(values.get("subject"), text["team"], registry, where, problems)
    approver = _approver(text["approver"], text["team"], registry, where("approver"), problems)
    approved = _date(values["approved"], where("approved"), problems)
    expires = _date(values["expires"], where("expires"), problems)
    if approved and expires:
        if expires < approved:
            problems.append(where("expires") + f": {expires} is before the waiver was approved ({approved})")
        elif (expires - approved).days > catalogue.max_waiver_days:
            longest = dt.timedelta(days=catalogue.max_waiver_days)
            problems.append(
                where("expires")
                + f": the waiver runs {(expires - approved).days} days from {approved}, longer than max_waiver_days"
                f" ({catalogue.max_waiver_days}, checks.yaml); expire it by {approved + longest}"
            )
    if len(problems) > before:
        return None
    return {
        "team": text["team"],
        "check_id": text["check"],
        "subject": subject,
        "reason": " ".join(text["reason"].split()),
        "approver": approver,
        "approved": approved,
        "expires": expires,
        "source": entry.origin,
    }


def _approver(value: str, team: str, registry: Registry, where: str, problems: list[str]) -> str:
    """The approver's email, lower-cased: a person of the catalog outside the waived team, and one of the
    ``readiness/waiver-approvers`` of the team's Group or its nearest ancestor that names any."""
    email = value.strip().lower()
    people = registry.people
    if email not in set(people["email"].dropna()):
        problems.append(where + f": {value!r} is no one in the catalog (the email of a User who approves it)")
        return email
    if email in set(people.loc[people["team"] == team, "email"].dropna()):
        problems.append(where + f": {value!r} is a member of team {team!r}: a waiver is approved outside the team")
        return email
    for group in [team, *ancestors(team, registry.teams)]:
        approvers = registry.waiver_approvers.get(group)
        if approvers:
            if email not in approvers:
                problems.append(
                    where + f": {value!r} is not one of the waiver approvers of {group!r} "
                    f"(readiness/waiver-approvers: {', '.join(approvers)})"
                )
            break
    return email


def _subject(value: Any, team: str, registry: Registry, where: Callable[[str], str], problems: list[str]) -> str | None:
    """``service:<name>``, ``person:<name>`` or ``schedule:<id>`` that belongs to the team; None for the whole check."""
    if value is None or str(value).strip() == "":
        return None
    subject = str(value).strip()
    kind, _, name = subject.partition(":")
    if kind not in SUBJECT_KINDS or not name:
        problems.append(
            where("subject") + f": {subject!r} must be one of {', '.join(k + ':<name>' for k in SUBJECT_KINDS)}"
        )
        return None
    owned = {
        "service": registry.services.loc[registry.services["team"] == team, "service"],
        "person": registry.people.loc[registry.people["team"] == team, "person"],
        "schedule": registry.team_schedules.loc[registry.team_schedules["team"] == team, "schedule_id"],
    }[kind]
    if name not in set(owned):
        problems.append(where("subject") + f": team {team!r} has no {kind} {name!r}")
        return None
    return subject


def _date(value: Any, where: str, problems: list[str]) -> dt.date | None:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        problems.append(where + f": bad date {value!r} (expected YYYY-MM-DD)")
        return None
