"""Campaigns: a deadline every team can see, and who is behind on it.

A campaign asks teams to reach something by a date: a set of checks to pass, a level to
hold, or both. Campaigns live in the repository beside the catalog, reviewed in a pull
request like the catalog itself, in ``readiness-campaigns.yaml``::

    campaigns:
      - id: sustainable-rotations          # stable, lower-case words joined by hyphens
        title: Sustainable rotations before the holiday freeze
        description: Three people per rotation, weekly turns.   # optional
        checks: [rotation-sustainability]  # implemented check ids; and/or
        level: silver                      # the least level to hold (gold, silver, bronze)
        teams: all                         # or a list of teams and parent groups
        start: 2026-11-02
        due: 2026-12-14

Where the file is
-----------------
``READINESS_CAMPAIGNS`` names it (it must then exist); else ``readiness-campaigns.yaml``
beside the catalog (``READINESS_CATALOG``): in the catalog folder, or in the folder of the
catalog file, so both find the same file. No file there: no campaigns. The catalog reader
skips files named ``readiness-*.yaml``: they are the audit's own, not Backstage entities.

Meeting a campaign
------------------
A team meets a campaign on an audit date when each of the campaign's checks is ``pass`` or
``waived`` for it (a waiver is an approved exception, so it counts as done) and its level
is at least the campaign's level. ``warn``, ``fail`` and ``unknown`` do not meet it: an
audit that could not see a check cannot say the work is done. ``teams: all`` means every
audited team; a parent group (a department) stands for every team below it
(:mod:`oncall_readiness.rollup`). From its start date on, each audit writes one row per
campaign and team to ``campaign_progress``: ``meets``, the reason in one sentence, and the
campaign's dates; the page draws the burn-up of teams meeting it from these rows, the
team emails name the campaigns a team is behind on.

A bad file stops the audit at ``load_registry``, like a bad catalog, naming the file, the
line and the field: a missing or unknown field, a duplicate or malformed id, an unknown
check (or one not implemented), level or team, a bad date, a due date before the start.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from oncall_readiness import config, schema, yaml_files
from oncall_readiness.checks.catalogue import load_catalogue
from oncall_readiness.config_files import beside_catalog, display_path
from oncall_readiness.errors import CampaignError
from oncall_readiness.registry.groups import audited_teams, teams_under

log = logging.getLogger(__name__)

CAMPAIGNS_ENV_VAR = config.CAMPAIGNS.name
CAMPAIGNS_FILE = "readiness-campaigns.yaml"
ALL_TEAMS = "all"
MET_STATUSES = ("pass", "waived")
CAMPAIGN_LEVELS = tuple(level for level in schema.LEVELS if level != schema.NO_LEVEL)
FIELDS = ("id", "title", "description", "checks", "level", "teams", "start", "due")
REQUIRED = ("id", "title", "teams", "start", "due")
PROGRESS_COLUMNS = list(schema.RESULT_TABLES["campaign_progress"])
_ID_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


@dataclass(frozen=True)
class Campaign:
    """One campaign, its teams already expanded to the audited teams it concerns."""

    id: str
    title: str
    description: str
    checks: tuple[str, ...]
    level: str | None
    teams: tuple[str, ...]
    start: dt.date
    due: dt.date

    def asks(self) -> str:
        """What the campaign asks, for a sentence: ``rotation-sustainability passing and level silver``."""
        parts = [f"{', '.join(self.checks)} passing"] if self.checks else []
        return " and ".join([*parts, *([f"level {self.level}"] if self.level else [])])


def campaigns_path(catalog: str | os.PathLike[str] | None) -> Path | None:
    """``$READINESS_CAMPAIGNS``, else the campaigns file next to the catalog when there is one, else None."""
    return beside_catalog(config.CAMPAIGNS, catalog, CAMPAIGNS_FILE, CampaignError)


def load_campaigns(
    path: str | os.PathLike[str] | None, teams: pd.DataFrame, services: pd.DataFrame, check_ids: Iterable[str]
) -> list[Campaign]:
    """The campaigns of ``path`` (none when None), validated against the registry and the implemented checks.

    ``teams``, ``services``: the registry's tables (for team names and the group tree).
    Raises :class:`CampaignError` listing every problem.
    """
    if path is None:
        return []
    shown = display_path(Path(path))  # relative to the working directory when below it, as the catalog's problems
    try:
        _, document = yaml_files.document(Path(path).read_text(encoding="utf-8"), _LineLoader)
    except (OSError, UnicodeDecodeError) as error:
        raise CampaignError([f"{shown}: cannot read the file: {error}"]) from None
    except yaml_files.YamlError as error:  # a key twice, an explicit tag, an alias bomb, or not YAML at all
        raise CampaignError([error.at(shown)]) from None
    if document is None:
        return []
    if not isinstance(document, dict) or set(document) != {"campaigns"} or not isinstance(document["campaigns"], list):
        raise CampaignError([f"{shown}:1: expected one key, campaigns, holding a list of campaigns"])
    known_groups = set(teams["team"])
    audited = set(audited_teams(teams, services)["team"])
    problems: list[str] = []
    campaigns: list[Campaign] = []
    seen: dict[str, int] = {}
    for index, entry in enumerate(document["campaigns"]):
        if not isinstance(entry, _LinedDict):
            problems.append(f"{shown}:{_line(document['campaigns'], index)}: campaigns[{index}]: not a mapping")
            continue
        label = f"campaign {entry.get('id')!r}" if isinstance(entry.get("id"), str) else f"campaigns[{index}]"

        def problem(field: str, what: str, entry: _LinedDict = entry, label: str = label) -> None:
            problems.append(f"{shown}:{entry.lines.get(field, entry.line)}: {label} {field}: {what}")

        for field in entry:
            if field not in FIELDS:
                problem(str(field), f"unknown field (expected {', '.join(FIELDS)})")
        for field in REQUIRED:
            if entry.get(field) in (None, "", []):
                problem(field, "missing")
        campaign_id: Any = entry.get("id")  # any YAML value until checked
        if isinstance(campaign_id, str) and campaign_id:
            if not _ID_RE.match(campaign_id):
                problem("id", f"{campaign_id!r} is not lower-case words joined by hyphens")
            elif campaign_id in seen:
                problem("id", f"duplicate of the campaign on line {seen[campaign_id]}")
            seen.setdefault(campaign_id, entry.line)
        checks = _names(entry.get("checks"), "checks", problem)
        implemented = set(check_ids)
        for check in checks:
            if check not in implemented:
                problem("checks", f"unknown or not implemented check {check!r}")
        level = entry.get("level")
        if level is not None and level not in CAMPAIGN_LEVELS:
            problem("level", f"{level!r} is not a level to reach (one of {', '.join(CAMPAIGN_LEVELS)})")
        if not checks and level is None:
            problem("checks", "a campaign asks for checks, a level, or both: neither is given")
        members = _campaign_teams(entry.get("teams"), known_groups, audited, teams, problem)
        start, due = _date(entry.get("start"), "start", problem), _date(entry.get("due"), "due", problem)
        if start and due and due < start:
            problem("due", f"{due} is before the start {start}")
        if problems or start is None or due is None:  # both required: a missing one is a problem
            continue
        campaigns.append(
            Campaign(
                id=campaign_id,
                title=str(entry["title"]).strip(),
                description=str(entry.get("description") or "").strip(),
                checks=tuple(checks),
                level=level,
                teams=tuple(members),
                start=start,
                due=due,
            )
        )
    if problems:
        raise CampaignError(problems)
    return campaigns


def campaigns_frame(campaigns: list[Campaign]) -> pd.DataFrame:
    """The campaigns as one table (lists joined with commas), for the audit's staging."""
    rows = [
        {
            "campaign_id": c.id,
            "title": c.title,
            "description": c.description,
            "checks": ",".join(c.checks),
            "level": c.level,
            "teams": ",".join(c.teams),
            "start": c.start,
            "due": c.due,
        }
        for c in campaigns
    ]
    return pd.DataFrame(
        rows, columns=["campaign_id", "title", "description", "checks", "level", "teams", "start", "due"]
    )


def campaigns_from_frame(frame: pd.DataFrame) -> list[Campaign]:
    """The campaigns staged by :func:`campaigns_frame`."""
    return [
        Campaign(
            id=row["campaign_id"],
            title=row["title"],
            description=row["description"] or "",
            checks=tuple(filter(None, (row["checks"] or "").split(","))),
            level=row["level"] if isinstance(row["level"], str) and row["level"] else None,
            teams=tuple(filter(None, (row["teams"] or "").split(","))),
            start=pd.Timestamp(row["start"]).date(),
            due=pd.Timestamp(row["due"]).date(),
        )
        for row in frame.to_dict("records")
    ]


def campaign_progress(
    campaigns: list[Campaign], audit_date: dt.date, scorecard: pd.DataFrame, results: pd.DataFrame
) -> pd.DataFrame:
    """One ``campaign_progress`` row per started campaign and team: does the team meet it today, and why not.

    A team of the campaign without a scorecard row today (gone from the registry) does not meet it.
    """
    levels = scorecard.set_index("team")["level"].to_dict()
    statuses = results.set_index(["team", "check_id"])["status"].to_dict()
    rows = []
    for campaign in campaigns:
        if campaign.start > audit_date:
            continue
        for team in campaign.teams:
            missing = [
                f"{check} is {statuses.get((team, check), 'not assessed')}"
                for check in campaign.checks
                if statuses.get((team, check)) not in MET_STATUSES
            ]
            level = levels.get(team)
            if campaign.level and schema.level_rank(level) < schema.level_rank(campaign.level):
                missing.append(f"level is {level or 'not assessed'}, {campaign.level} asked")
            reason = (
                f"Meets {campaign.asks()}."
                if not missing
                else f"Behind: {'; '.join(missing)} (due {campaign.due.isoformat()})."
            )
            rows.append(
                {
                    "campaign_id": campaign.id,
                    "title": campaign.title,
                    "team": team,
                    "meets": not missing,
                    "reason": reason,
                    "start": campaign.start,
                    "due": campaign.due,
                }
            )
    return pd.DataFrame(rows, columns=PROGRESS_COLUMNS)


# Reading the file ---------------------------------------------------------------------------------

# Records a problem of one campaign: (field, what is wrong)
Problem = Callable[[str, str], None]


class _LinedDict(dict[Hashable, Any]):
    """A YAML mapping that remembers its line and the line of each key (1-based)."""

    line: int = 1
    lines: dict[str, int]


class _LinedList(list[Any]):
    lines: list[int]


class _LineLoader(yaml.SafeLoader):
    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> _LinedDict:
        mapping = _LinedDict(super().construct_mapping(node, deep=True))
        mapping.line = node.start_mark.line + 1
        mapping.lines = {str(key.value): key.start_mark.line + 1 for key, _ in node.value}
        return mapping

    def construct_sequence(self, node: yaml.SequenceNode, deep: bool = False) -> _LinedList:
        items = _LinedList(super().construct_sequence(node, deep=True))
        items.lines = [item.start_mark.line + 1 for item in node.value]
        return items


_LineLoader.add_constructor("tag:yaml.org,2002:map", _LineLoader.construct_mapping)
_LineLoader.add_constructor("tag:yaml.org,2002:seq", _LineLoader.construct_sequence)
# Dates stay text until _date reads them, so a bad one (2026-13-02) is a problem with its line, not a crash.
# types-PyYAML bind add_constructor's callable to a Loader; SafeConstructor's own methods are one at run time
_LineLoader.add_constructor("tag:yaml.org,2002:timestamp", yaml.SafeLoader.construct_scalar)  # type: ignore[type-var]


def _line(items: Any, index: int) -> int:
    lines = getattr(items, "lines", None)
    return lines[index] if lines and index < len(lines) else 1


def _names(value: Any, field: str, problem: Problem) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(item, str) and item.strip() for item in value):
        problem(field, "expected a list of names")
        return []
    return list(dict.fromkeys(item.strip() for item in value))


def _campaign_teams(value: Any, known: set[str], audited: set[str], teams: pd.DataFrame, problem: Problem) -> list[str]:
    if value == ALL_TEAMS:
        return sorted(audited, key=str.casefold)
    if isinstance(value, str):
        value = [value]
    names = _names(value, "teams", problem) if value not in (None, "", []) else []
    members: dict[str, None] = {}
    for name in names:
        if name == ALL_TEAMS:
            problem("teams", "write teams: all on its own, not inside a list")
        elif name not in known:
            problem("teams", f"unknown team or group {name!r}")
        else:
            members.update(dict.fromkeys(teams_under(name, teams, audited)))
    if names and not members and all(name in known for name in names):
        problem("teams", "names no audited team (a parent group without teams below it?)")
    return sorted(members, key=str.casefold)


def _date(value: Any, field: str, problem: Problem) -> dt.date | None:
    if value in (None, ""):
        return None
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        problem(field, f"bad date {value!r} (expected YYYY-MM-DD)")
        return None


def load_for_audit(catalog: str | os.PathLike[str] | None, teams: pd.DataFrame, services: pd.DataFrame) -> pd.DataFrame:
    """The campaigns beside ``catalog`` (or of ``READINESS_CAMPAIGNS``), validated, as the table the audit stages."""
    path = campaigns_path(catalog)
    implemented = [check.id for check in load_catalogue().implemented()]
    campaigns = load_campaigns(path, teams, services, implemented)
    if path is not None:
        log.info("Campaigns from %s: %s", path, ", ".join(c.id for c in campaigns) or "none")
    return campaigns_frame(campaigns)
