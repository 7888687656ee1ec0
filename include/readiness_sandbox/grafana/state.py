"""The Grafana emulator's state: the instance it serves, read from YAML and validated.

Every section is optional (a list)::

    folders:     [{uid, title}]
    dashboards:  [{uid, title, folder: <folder uid> (absent: the General folder), tags: [...],
                   panels: [{type, title, panels: [...] (a row's own panels)}],
                   version: 1, created, updated, updated_by: admin}]
    teams:       [{id, name, email?, members: [emails]}]
    alert_rules: [{uid, title, folder: <folder uid>, rule_group, for: 5m,
                   labels: {name: value}, annotations: {name: value},
                   is_paused: false, updated}]
    slos:        [{uuid, name, description, query: <PromQL>, objectives: [{value: 0.999, window: 28d}],
                   labels: {key: value}, fast_burn: true, slow_burn: true, created}]
    slo_plugin:  true (false: Grafana without the SLO plugin; its API answers 404)
    slo_access:  true (false: the service account may not view SLOs; the SLO API answers 403)

SLOs are Grafana SLO's (Grafana Cloud): their burn-rate rules are ``alert_rules`` labelled
``grafana_slo_uuid`` and ``grafana_slo_severity`` (``critical`` fast burn, ``warning`` slow), as
Grafana SLO creates them; the state lists them, so a paused or missing one can be shown.

Users are the team members, by email: the emulator gives each a numeric id (in order of
first appearance), a login (the email's local part) and a name ("ada.lovelace" → "Ada
Lovelace"). Dashboard ids are their position in the list, team ids are given. Uids,
team ids and team names are unique; every folder a dashboard or rule names exists.
Unknown fields are errors, so typos do not pass silently. A bad value stops the load
with a StateError naming the file, the section, the item and the field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..state_text import parse_document

SECTIONS = ("folders", "dashboards", "teams", "alert_rules", "slos")
SETTINGS = ("slo_plugin", "slo_access")
DEFAULT_TIME = datetime.fromisoformat("2026-01-05T09:00:00+00:00")
_UID_RE = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
_DURATION_RE = re.compile(r"^(\d+[smhdw])+$")


class StateError(ValueError):
    """Invalid emulator state; the message names the section, the item and the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Folder(_Strict):
    uid: str
    title: str

    @field_validator("uid")
    @classmethod
    def _uid(cls, value: str) -> str:
        return _valid_uid(value)


class Panel(_Strict):
    type: str
    title: str = ""
    panels: tuple[Panel, ...] = ()


class Dashboard(_Strict):
    uid: str
    title: str
    folder: str | None = None
    tags: tuple[str, ...] = ()
    panels: tuple[Panel, ...] = ()
    version: int = Field(default=1, ge=1)
    created: datetime = DEFAULT_TIME
    updated: datetime = DEFAULT_TIME
    updated_by: str = "admin"

    @field_validator("uid")
    @classmethod
    def _uid(cls, value: str) -> str:
        return _valid_uid(value)


class Team(_Strict):
    id: int = Field(ge=1)
    name: str
    email: str = ""
    members: tuple[str, ...] = ()

    @field_validator("members")
    @classmethod
    def _emails(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        for value in values:
            if "@" not in value or any(c.isspace() for c in value):
                raise ValueError(f"not an email {value!r}")
        if len({v.lower() for v in values}) != len(values):
            raise ValueError("a member is listed twice")
        return values


class AlertRule(_Strict):
    uid: str
    title: str
    folder: str
    rule_group: str
    for_: str = Field(default="5m", alias="for")
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    is_paused: bool = False
    updated: datetime = DEFAULT_TIME

    @field_validator("uid")
    @classmethod
    def _uid(cls, value: str) -> str:
        return _valid_uid(value)

    @field_validator("for_")
    @classmethod
    def _duration(cls, value: str) -> str:
        if not _DURATION_RE.match(value):
            raise ValueError(f"not a duration {value!r} (e.g. 5m, 1h30m)")
        return value


class SloObjective(_Strict):
    value: float = Field(gt=0, le=1)  # a ratio, as Grafana SLO's API takes it
    window: str

    @field_validator("window")
    @classmethod
    def _window(cls, value: str) -> str:
        if not _DURATION_RE.match(value):
            raise ValueError(f"not a duration {value!r} (e.g. 28d)")
        return value


class Slo(_Strict):
    uuid: str
    name: str
    description: str = ""
    query: str = 'sum(rate(http_requests_total{code!~"5.."}[5m])) / sum(rate(http_requests_total[5m]))'
    objectives: tuple[SloObjective, ...] = Field(min_length=1)
    labels: dict[str, str] = Field(default_factory=dict)
    fast_burn: bool = True
    slow_burn: bool = True
    created: datetime = DEFAULT_TIME

    @field_validator("uuid")
    @classmethod
    def _uuid(cls, value: str) -> str:
        return _valid_uid(value)


@dataclass(frozen=True)
class User:
    id: int
    email: str
    login: str
    name: str


@dataclass(frozen=True)
class GrafanaState:
    folders: tuple[Folder, ...] = ()
    dashboards: tuple[Dashboard, ...] = ()
    teams: tuple[Team, ...] = ()
    alert_rules: tuple[AlertRule, ...] = ()
    slos: tuple[Slo, ...] = ()
    slo_plugin: bool = True  # False: a Grafana without the SLO plugin (its API answers 404)
    slo_access: bool = True  # False: a token whose account may not view SLOs (403)
    users: dict[str, User] = field(default_factory=dict)  # by lower-cased email

    def folder(self, uid: str | None) -> Folder | None:
        return next((f for f in self.folders if f.uid == uid), None)


def _valid_uid(value: str) -> str:
    if not _UID_RE.match(value):
        raise ValueError(f"invalid uid {value!r} (letters, digits, - and _, at most 40)")
    return value


def load_grafana_state(path: str | Path) -> dict:
    """The raw state mapping of a YAML file (validated by :func:`parse_state`)."""
    path = Path(path)
    try:
        data = parse_document(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise StateError(f"{path}: YAML does not parse: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise StateError(f"{path}: the Grafana state must be a mapping of sections")
    return data


def parse_state(raw: Mapping[str, Any], *, source: str = "grafana state") -> GrafanaState:
    """Validate a state mapping; raise StateError naming the section, item and field."""
    unknown = set(raw) - set(SECTIONS) - set(SETTINGS)
    if unknown:
        known = ", ".join((*SECTIONS, *SETTINGS))
        raise StateError(f"{source}: unknown section(s) {', '.join(sorted(unknown))} (known: {known})")
    slo_plugin, slo_access = raw.get("slo_plugin", True), raw.get("slo_access", True)
    for name, value in (("slo_plugin", slo_plugin), ("slo_access", slo_access)):
        if not isinstance(value, bool):
            raise StateError(f"{source}: {name}: must be true or false")
    models = {"folders": Folder, "dashboards": Dashboard, "teams": Team, "alert_rules": AlertRule, "slos": Slo}
    parsed: dict[str, tuple] = {}
    for section, model in models.items():
        items = raw.get(section) or []
        if not isinstance(items, list):
            raise StateError(f"{source}: {section}: must be a list")
        parsed[section] = tuple(_item(model, item, source, section, index) for index, item in enumerate(items))
    _unique(parsed["folders"], "uid", source, "folders")
    _unique(parsed["dashboards"], "uid", source, "dashboards")
    _unique(parsed["alert_rules"], "uid", source, "alert_rules")
    _unique(parsed["slos"], "uuid", source, "slos")
    _unique(parsed["teams"], "id", source, "teams")
    _unique(parsed["teams"], "name", source, "teams", key=str.casefold)
    folders = {f.uid for f in parsed["folders"]}
    for section in ("dashboards", "alert_rules"):
        for item in parsed[section]:
            if item.folder is not None and item.folder not in folders:
                raise StateError(f"{source}: {section} {item.uid!r} folder: unknown folder {item.folder!r}")
    users: dict[str, User] = {}
    for team in parsed["teams"]:
        for email in team.members:
            key = email.lower()
            if key not in users:
                local = key.split("@", 1)[0]
                name = " ".join(part.capitalize() for part in re.split(r"[._-]+", local) if part)
                users[key] = User(id=len(users) + 2, email=key, login=local, name=name)  # id 1 is the admin
    return GrafanaState(users=users, slo_plugin=slo_plugin, slo_access=slo_access, **parsed)


def _item(model: type[BaseModel], data: Any, source: str, section: str, index: int) -> Any:
    label = (
        next((data.get(key) for key in ("uid", "uuid", "name", "id") if data.get(key)), None)
        if isinstance(data, dict)
        else None
    )
    where = f"{source}: {section}[{index}]" + (f" {label!r}" if label is not None else "")
    if not isinstance(data, dict):
        raise StateError(f"{where}: must be a mapping")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or '(item)'}: {error['msg']}" for error in exc.errors()
        )
        raise StateError(f"{where}: {problems}") from None


def _unique(items: tuple, attribute: str, source: str, section: str, key=lambda value: value) -> None:
    seen = set()
    for item in items:
        value = key(getattr(item, attribute))
        if value in seen:
            raise StateError(f"{source}: {section}: duplicate {attribute} {getattr(item, attribute)!r}")
        seen.add(value)
