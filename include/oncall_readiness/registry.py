"""The registry: who the teams are, who is in them and which services they own.

The registry is read from Backstage entity descriptors (``apiVersion:
backstage.io/v1alpha1``) in YAML files: :func:`load_registry` takes a file or a
folder. A folder is walked recursively for ``*.yaml`` / ``*.yml`` files (hidden
folders are skipped); files may hold several documents (``---``). ``kind: Location``
entities are followed when their ``spec.target`` / ``spec.targets`` are local paths
(relative to the Location's file, absolute, or a glob such as ``./teams/*.yaml``);
URL targets (``https://...``) are skipped. Every real file (after resolving symlinks)
is read once, however many times it is reached. A missing target is a problem unless
the Location says ``spec.presence: optional``.

Only the kinds ``Group`` (a team), ``User`` (a person) and ``Component`` (a service)
are used; every other kind (System, API, Domain, Resource, Template, Location...) is
ignored, but every document must still be an entity with a ``kind`` and a
``metadata.name``.

Entity references and names
---------------------------
References follow Backstage: ``[kind:][namespace/]name``. The default namespace is
the referring entity's own (usually ``default``); the default kind depends on the
field: ``Group`` for ``User.spec.memberOf`` and ``Group.spec.parent``, ``User`` for
``Group.spec.members``. Names, kinds and namespaces are compared case-insensitively
(Backstage's uniqueness rule is case-insensitive); the registry reports every entity
with the spelling of its own ``metadata.name``. In the DataFrames a team or person is
identified by its name when it lives in the ``default`` namespace, else by
``namespace/name`` (for example ``development/guest``).

Service ownership (``Component.spec.owner``)
--------------------------------------------
* ``group:x`` must name a Group and ``user:x`` a User.
* A reference without a kind (``owner: guest``) means the Group of that name when one
  exists, else the User of that name (strict Backstage would default to Group only and
  leave a dangling owner; the Backstage example catalog itself relies on this fallback
  for ``playback-order``).
* A service owned by a User belongs to that user's team when the user is a member of
  exactly one team; otherwise its ``team`` is None: an *unowned* service (no team to
  score it against; consumers should report it rather than drop it). Not an error.
* An owner that resolves to nothing is an error (``unknown owner``).

Membership
----------
A person is a member of a team when the Group lists them in ``spec.members`` or the
User lists the Group in ``spec.memberOf`` (the union; either side is enough). Every
Group is a team, whatever its ``spec.type`` (parent groups included). A User with no
team at all still gets one row in ``people`` with ``team`` None, so that their email
can be matched against other systems.

Annotations (``metadata.annotations``)
--------------------------------------
=============================== ========= ==========================================
annotation                      on        becomes
=============================== ========= ==========================================
``pagerduty.com/service-id``    Component ``services.pagerduty_service_id``
``pagerduty.com/schedule-ids``  Group     rows of ``team_schedules`` (comma-separated)
``opsgenie.com/team``           Group     ``teams.opsgenie_team``
``grafana/dashboard-selector``  Component ``services.dashboard_selector``
``grafana/team``                Group     ``teams.grafana_team``
``readiness/alert-selector``    Component ``services.alert_selector``
``readiness/start-date``        User      ``people.start_date`` (YYYY-MM-DD)
``readiness/oncall-exempt``     User      ``people.oncall_exempt`` (the reason)
``readiness/last-chaos-day``    Group     ``teams.last_chaos_day`` (YYYY-MM-DD)
``readiness/cost-per-minute``   Component ``services.cost_per_minute`` (number >= 0)
``readiness/<check-id>.<key>``  Group     rows of ``thresholds`` (a per-team override)
=============================== ========= ==========================================

Columns
-------
Every column has dtype ``object``; a missing value is ``None`` (never NaN). Text is
``str``, dates are ``datetime.date``, ``cost_per_minute`` is a ``float``. This writes
to SQL as TEXT, DATE and FLOAT columns. ``FACT_COLUMNS`` states each facts table's column
kinds (``string``, ``date``, ``float``).

* ``teams``: team, display_name, email, parent, type, opsgenie_team, grafana_team,
  last_chaos_day, source_file. One row per Group.
* ``people``: person, display_name, email, team, start_date, oncall_exempt,
  source_file. One row per (person, team) membership.
* ``services``: service, team, owner, runbook_url, pagerduty_service_id,
  dashboard_selector, alert_selector, cost_per_minute, lifecycle, type, source_file.
  One row per Component.
* ``team_schedules``: team, schedule_id, source (``"pagerduty"``).
* ``thresholds``: team, check_id, key, value (the annotation's text).

``display_name`` is ``spec.profile.displayName``, else ``metadata.title``, else the
name. Emails are stripped and lower-cased: the email is the join key with every other
system. ``owner`` is the resolved owner reference (``group:payments``,
``user:guest``, ``user:development/guest``). ``source_file`` is the POSIX path of the
entity's file relative to the catalog folder (the folder given, or the folder of the
file given), or absolute when a Location led outside it; it is kept in
:meth:`Registry.to_facts` so analysts can find the file behind a row.

Validation
----------
Every problem is collected and :class:`RegistryError` is raised once, one line per
problem (grouped by file), each naming the file (relative to the working directory
when below it), the entity (``Kind 'name'``) and the field, for example::

    include/sample_org/catalog/teams.yaml: User 'ada' spec.profile.email: missing

Problems: YAML that does not parse (file and line), a document that is not an entity
(no ``kind`` or no ``metadata.name``), a used kind without a ``backstage.io/``
apiVersion, an invalid name, duplicate entities (same kind, namespace and name; both
files named), an unknown owner, parent or member, a bad date, a User without a valid
email, a non-numeric or negative cost per minute, a malformed threshold annotation or a
missing Location target. Duplicate emails are allowed (the Backstage example has one).
"""

from __future__ import annotations

import datetime as dt
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

__all__ = [
    "Registry",
    "RegistryError",
    "default_catalog_path",
    "load_registry",
    "TEAM_COLUMNS",
    "PEOPLE_COLUMNS",
    "SERVICE_COLUMNS",
    "TEAM_SCHEDULE_COLUMNS",
    "THRESHOLD_COLUMNS",
    "FACT_COLUMNS",
]

CATALOG_ENV_VAR = "READINESS_CATALOG"

TEAM_COLUMNS = [
    "team",
    "display_name",
    "email",
    "parent",
    "type",
    "opsgenie_team",
    "grafana_team",
    "last_chaos_day",
    "source_file",
]
PEOPLE_COLUMNS = [
    "person",
    "display_name",
    "email",
    "team",
    "start_date",
    "oncall_exempt",
    "source_file",
]
SERVICE_COLUMNS = [
    "service",
    "team",
    "owner",
    "runbook_url",
    "pagerduty_service_id",
    "dashboard_selector",
    "alert_selector",
    "cost_per_minute",
    "lifecycle",
    "type",
    "source_file",
]
TEAM_SCHEDULE_COLUMNS = ["team", "schedule_id", "source"]
THRESHOLD_COLUMNS = ["team", "check_id", "key", "value"]

_KINDS = {"last_chaos_day": "date", "start_date": "date", "cost_per_minute": "float"}
# The facts tables of :meth:`Registry.to_facts` and their column kinds (string, date, float),
# gathered with every source's tables by ``oncall_readiness.facts``.
FACT_COLUMNS: dict[str, dict[str, str]] = {
    table: {column: _KINDS.get(column, "string") for column in columns}
    for table, columns in {
        "registry_teams": TEAM_COLUMNS,
        "registry_people": PEOPLE_COLUMNS,
        "registry_services": SERVICE_COLUMNS,
        "registry_team_schedules": TEAM_SCHEDULE_COLUMNS,
        "registry_thresholds": THRESHOLD_COLUMNS,
    }.items()
}

USED_KINDS = {"group": "Group", "user": "User", "component": "Component"}

ANN_SERVICE_ID = "pagerduty.com/service-id"
ANN_SCHEDULE_IDS = "pagerduty.com/schedule-ids"
ANN_OPSGENIE_TEAM = "opsgenie.com/team"
ANN_DASHBOARD_SELECTOR = "grafana/dashboard-selector"
ANN_GRAFANA_TEAM = "grafana/team"
ANN_ALERT_SELECTOR = "readiness/alert-selector"
ANN_START_DATE = "readiness/start-date"
ANN_ONCALL_EXEMPT = "readiness/oncall-exempt"
ANN_LAST_CHAOS_DAY = "readiness/last-chaos-day"
ANN_COST_PER_MINUTE = "readiness/cost-per-minute"
THRESHOLD_PREFIX = "readiness/"

_NAME_RE = re.compile(r"^[A-Za-z0-9]+(?:[-_.][A-Za-z0-9]+)*$")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_CHECK_ID_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_THRESHOLD_KEY_RE = re.compile(r"^[A-Za-z0-9_]+$")
_GLOB_CHARS = set("*?[")


class RegistryError(ValueError):
    """The catalog has problems; ``problems`` holds one line per problem."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        count = len(self.problems)
        header = f"{count} problem{'s' if count != 1 else ''} in the registry catalog:"
        super().__init__("\n".join([header, *self.problems]))


@dataclass(frozen=True, eq=False)
class Registry:
    """The teams, people, services, schedules and threshold overrides of a catalog.

    See the module docstring for the columns.
    """

    teams: pd.DataFrame
    people: pd.DataFrame
    services: pd.DataFrame
    team_schedules: pd.DataFrame
    thresholds: pd.DataFrame

    def to_facts(self) -> dict[str, pd.DataFrame]:
        """The registry as facts tables (copies, ``source_file`` kept)."""
        return {
            "registry_teams": self.teams.copy(),
            "registry_people": self.people.copy(),
            "registry_services": self.services.copy(),
            "registry_team_schedules": self.team_schedules.copy(),
            "registry_thresholds": self.thresholds.copy(),
        }


def default_catalog_path() -> Path:
    """``$READINESS_CATALOG`` when set, else the built-in sample organisation."""
    override = os.environ.get(CATALOG_ENV_VAR, "").strip()
    if override:
        return Path(override)
    return Path(__file__).resolve().parents[1] / "sample_org" / "catalog"


# --------------------------------------------------------------------------- loading


@dataclass(eq=False)
class _Entity:
    kind: str  # canonical spelling: Group, User, Component
    namespace: str
    name: str
    data: dict[str, Any]
    file: str  # for messages
    source_file: str  # for the DataFrames

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.kind.lower(), self.namespace.lower(), self.name.lower())

    @property
    def ident(self) -> str:
        """The team / person id used in the DataFrames."""
        if self.namespace.lower() == "default":
            return self.name
        return f"{self.namespace}/{self.name}"

    @property
    def label(self) -> str:
        return f"{self.kind} '{self.ident}'"

    @property
    def ref(self) -> str:
        return f"{self.kind.lower()}:{self.ident}"

    def where(self, field: str) -> str:
        return f"{self.file}: {self.label} {field}"


class _Loader:
    def __init__(self, root: Path):
        self.root_dir = root if root.is_dir() else root.parent
        self.problems: list[str] = []
        self.entities: list[_Entity] = []
        self._seen: set[Path] = set()
        self._queue: list[Path] = []

    # -- paths
    @staticmethod
    def display(path: Path) -> str:
        rel = os.path.relpath(path, Path.cwd())
        if rel.startswith(".."):
            return path.as_posix()
        return Path(rel).as_posix()

    def source_name(self, path: Path) -> str:
        try:
            return path.resolve().relative_to(self.root_dir.resolve()).as_posix()
        except ValueError:
            return path.resolve().as_posix()

    def enqueue(self, path: Path) -> None:
        real = path.resolve()
        if real not in self._seen:
            self._seen.add(real)
            self._queue.append(path)

    def enqueue_folder(self, folder: Path) -> None:
        for dirpath, dirnames, filenames in os.walk(folder):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for filename in sorted(filenames):
                if filename.endswith((".yaml", ".yml")):
                    self.enqueue(Path(dirpath) / filename)

    def run(self, root: Path) -> None:
        if root.is_dir():
            self.enqueue_folder(root)
        else:
            self.enqueue(root)
        while self._queue:
            self.read_file(self._queue.pop(0))

    # -- files and documents
    def read_file(self, path: Path) -> None:
        shown = self.display(path)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            self.problems.append(f"{shown}: cannot read the file: {exc}")
            return
        loader_cls = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        loader = loader_cls(text)
        try:
            while loader.check_node():
                node = loader.get_node()
                if node is None:
                    continue
                line = node.start_mark.line + 1
                doc = loader.construct_document(node)
                self.read_document(doc, path, shown, line)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
            where = f"{shown}:{mark.line + 1}" if mark is not None else shown
            problem = getattr(exc, "problem", None) or str(exc)
            self.problems.append(f"{where}: YAML does not parse: {problem}")
        finally:
            loader.dispose()

    def read_document(self, doc: Any, path: Path, shown: str, line: int) -> None:
        if doc is None:
            return
        at = f"{shown}:{line}"
        if not isinstance(doc, dict):
            self.problems.append(f"{at}: document is not an entity (not a mapping)")
            return
        kind = doc.get("kind")
        metadata = doc.get("metadata")
        name = metadata.get("name") if isinstance(metadata, dict) else None
        has_name = isinstance(name, str) and bool(name.strip())
        if not isinstance(kind, str) or not kind.strip():
            entity = f"entity '{name.strip()}'" if has_name else "entity"
            self.problems.append(f"{at}: {entity} kind: missing")
            return
        kind = kind.strip()
        if not has_name:
            self.problems.append(f"{at}: {kind} (no name) metadata.name: missing")
            return
        name = name.strip()
        namespace = metadata.get("namespace") or "default"
        namespace = str(namespace).strip() or "default"
        if kind.lower() == "location":
            self.follow_location(doc, path, shown, name)
            return
        canonical = USED_KINDS.get(kind.lower())
        if canonical is None:
            return
        entity = _Entity(
            kind=canonical,
            namespace=namespace,
            name=name,
            data=doc,
            file=shown,
            source_file=self.source_name(path),
        )
        api_version = doc.get("apiVersion")
        if not isinstance(api_version, str) or not api_version.startswith("backstage.io/"):
            self.problems.append(
                entity.where("apiVersion") + f": unsupported {api_version!r} (expected backstage.io/v1alpha1)"
            )
        if len(name) > 63 or not _NAME_RE.match(name):
            self.problems.append(
                entity.where("metadata.name") + ": invalid name (1 to 63 of [A-Za-z0-9] separated by - _ or .)"
            )
        self.entities.append(entity)

    def follow_location(self, doc: dict, path: Path, shown: str, name: str) -> None:
        spec = doc.get("spec") or {}
        if not isinstance(spec, dict):
            self.problems.append(f"{shown}: Location '{name}' spec: not a mapping")
            return
        targets: list[Any] = []
        if spec.get("target") is not None:
            targets.append(spec["target"])
        raw_targets = spec.get("targets") or []
        if not isinstance(raw_targets, list):
            self.problems.append(f"{shown}: Location '{name}' spec.targets: not a list")
            raw_targets = []
        targets.extend(raw_targets)
        optional = str(spec.get("presence", "required")).lower() == "optional"
        for target in targets:
            if not isinstance(target, str) or not target.strip():
                self.problems.append(f"{shown}: Location '{name}' spec.targets: invalid target {target!r}")
                continue
            target = target.strip()
            if "://" in target:
                continue  # a URL: not a local file, not followed
            base = Path(target)
            if not base.is_absolute():
                base = path.parent / base
            if _GLOB_CHARS & set(target):
                anchor = Path(base.anchor)
                matches = sorted(anchor.glob(str(base.relative_to(anchor))))
                if not matches and not optional:
                    self.problems.append(f"{shown}: Location '{name}' spec.targets: no file matches {target}")
                for match in matches:
                    if match.is_file():
                        self.enqueue(match)
                continue
            if base.is_dir():
                self.enqueue_folder(base)
            elif base.is_file():
                self.enqueue(base)
            elif not optional:
                self.problems.append(f"{shown}: Location '{name}' spec.targets: {target} does not exist")


# --------------------------------------------------------------------------- helpers


def _parse_ref(ref: Any, default_namespace: str):
    """``[kind:][namespace/]name`` -> (kind or None if implicit, namespace, name)."""
    if not isinstance(ref, str) or not ref.strip():
        return None
    text = ref.strip()
    kind = None
    if ":" in text:
        kind, text = text.split(":", 1)
        kind = kind.strip()
        if not kind:
            return None
    namespace = default_namespace
    if "/" in text:
        namespace, text = text.split("/", 1)
        namespace = namespace.strip()
        if not namespace:
            return None
    name = text.strip()
    if not name or "/" in name or ":" in name:
        return None
    return kind, namespace, name


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    text = str(value).strip()
    return text or None


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _display_name(entity: _Entity) -> str:
    profile = _dict(_dict(entity.data.get("spec")).get("profile"))
    metadata = _dict(entity.data.get("metadata"))
    return _text(profile.get("displayName")) or _text(metadata.get("title")) or entity.name


def _frame(rows: list[dict], columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame([[row.get(c) for c in columns] for row in rows], columns=columns, dtype=object)


# --------------------------------------------------------------------------- building


class _Builder:
    def __init__(self, entities: list[_Entity], problems: list[str]):
        self.problems = problems
        self.by_key: dict[tuple[str, str, str], _Entity] = {}
        self.entities: list[_Entity] = []
        for entity in entities:
            first = self.by_key.get(entity.key)
            if first is not None:
                problems.append(entity.where("metadata.name") + f": duplicate of {first.label} in {first.file}")
                continue
            self.by_key[entity.key] = entity
            self.entities.append(entity)

    def of_kind(self, kind: str) -> list[_Entity]:
        return [e for e in self.entities if e.kind == kind]

    def resolve(self, entity: _Entity, ref: Any, default_kind: str, field: str, what: str) -> _Entity | None:
        parsed = _parse_ref(ref, entity.namespace)
        if parsed is None:
            self.problems.append(entity.where(field) + f": invalid reference {ref!r}")
            return None
        kind, namespace, name = parsed
        kind = (kind or default_kind).lower()
        target = self.by_key.get((kind, namespace.lower(), name.lower()))
        if target is None:
            self.problems.append(entity.where(field) + f": unknown {what} {ref!r}")
        return target

    def annotations(self, entity: _Entity) -> dict[str, Any]:
        metadata = _dict(entity.data.get("metadata"))
        raw = metadata.get("annotations")
        if raw is None:
            return {}
        if not isinstance(raw, dict):
            self.problems.append(entity.where("metadata.annotations") + ": not a map")
            return {}
        return raw

    def date(self, entity: _Entity, annotations: dict, key: str) -> dt.date | None:
        value = annotations.get(key)
        if value is None or value == "":
            return None
        if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            return value
        text = str(value).strip()
        if _DATE_RE.match(text):
            try:
                return dt.date.fromisoformat(text)
            except ValueError:
                pass
        self.problems.append(entity.where(f"metadata.annotations.{key}") + f": bad date {text!r} (expected YYYY-MM-DD)")
        return None

    def ref_list(self, entity: _Entity, field: str) -> list[Any]:
        spec = _dict(entity.data.get("spec"))
        value = spec.get(field)
        if value is None:
            return []
        if not isinstance(value, list):
            self.problems.append(entity.where(f"spec.{field}") + ": not a list")
            return []
        return value

    # -- kinds
    def build(self) -> Registry:
        teams, schedules, thresholds = self.build_groups()
        memberships = self.build_memberships()
        people = self.build_people(memberships)
        services = self.build_services(memberships)
        return Registry(
            teams=_frame(sorted(teams, key=lambda r: r["team"].lower()), TEAM_COLUMNS),
            people=_frame(
                sorted(
                    people,
                    key=lambda r: (
                        r["team"] is None,
                        (r["team"] or "").lower(),
                        r["person"].lower(),
                    ),
                ),
                PEOPLE_COLUMNS,
            ),
            services=_frame(sorted(services, key=lambda r: r["service"].lower()), SERVICE_COLUMNS),
            # stable: a team's schedules keep the annotation's order
            team_schedules=_frame(sorted(schedules, key=lambda r: r["team"].lower()), TEAM_SCHEDULE_COLUMNS),
            thresholds=_frame(
                sorted(thresholds, key=lambda r: (r["team"].lower(), r["check_id"], r["key"])), THRESHOLD_COLUMNS
            ),
        )

    def build_groups(self):
        teams, schedules, thresholds = [], [], []
        for group in self.of_kind("Group"):
            spec = _dict(group.data.get("spec"))
            profile = _dict(spec.get("profile"))
            annotations = self.annotations(group)
            parent = None
            if spec.get("parent") is not None:
                target = self.resolve(group, spec["parent"], "group", "spec.parent", "parent group")
                parent = target.ident if target is not None else None
            email = _text(profile.get("email"))
            teams.append(
                {
                    "team": group.ident,
                    "display_name": _display_name(group),
                    "email": email.lower() if email else None,
                    "parent": parent,
                    "type": _text(spec.get("type")),
                    "opsgenie_team": _text(annotations.get(ANN_OPSGENIE_TEAM)),
                    "grafana_team": _text(annotations.get(ANN_GRAFANA_TEAM)),
                    "last_chaos_day": self.date(group, annotations, ANN_LAST_CHAOS_DAY),
                    "source_file": group.source_file,
                }
            )
            seen: set[str] = set()
            for schedule_id in (_text(annotations.get(ANN_SCHEDULE_IDS)) or "").split(","):
                schedule_id = schedule_id.strip()
                if schedule_id and schedule_id not in seen:
                    seen.add(schedule_id)
                    schedules.append(
                        {
                            "team": group.ident,
                            "schedule_id": schedule_id,
                            "source": "pagerduty",
                        }
                    )
            for key, value in annotations.items():
                key = str(key)
                if not key.startswith(THRESHOLD_PREFIX):
                    continue
                rest = key[len(THRESHOLD_PREFIX) :]
                if "." not in rest:
                    continue
                check_id, setting = rest.split(".", 1)
                text = _text(value)
                if not _CHECK_ID_RE.match(check_id) or not _THRESHOLD_KEY_RE.match(setting) or text is None:
                    self.problems.append(
                        group.where(f"metadata.annotations.{key}") + ": malformed threshold (expected"
                        ' readiness/<check-id>.<key>: "<value>")'
                    )
                    continue
                thresholds.append(
                    {
                        "team": group.ident,
                        "check_id": check_id,
                        "key": setting,
                        "value": text,
                    }
                )
        return teams, schedules, thresholds

    def build_memberships(self) -> dict[tuple[str, str, str], list[_Entity]]:
        """User key -> the Groups they belong to (union of both sides)."""
        members: dict[tuple[str, str, str], list[_Entity]] = {user.key: [] for user in self.of_kind("User")}

        def add(user: _Entity, group: _Entity) -> None:
            if all(g.key != group.key for g in members[user.key]):
                members[user.key].append(group)

        for group in self.of_kind("Group"):
            for ref in self.ref_list(group, "members"):
                user = self.resolve(group, ref, "user", "spec.members", "member")
                if user is None:
                    continue
                if user.kind != "User":
                    self.problems.append(group.where("spec.members") + f": {ref!r} is not a User")
                    continue
                add(user, group)
        for user in self.of_kind("User"):
            for ref in self.ref_list(user, "memberOf"):
                group = self.resolve(user, ref, "group", "spec.memberOf", "group")
                if group is None:
                    continue
                if group.kind != "Group":
                    self.problems.append(user.where("spec.memberOf") + f": {ref!r} is not a Group")
                    continue
                add(user, group)
        return members

    def build_people(self, memberships) -> list[dict]:
        rows = []
        for user in self.of_kind("User"):
            profile = _dict(_dict(user.data.get("spec")).get("profile"))
            annotations = self.annotations(user)
            email = _text(profile.get("email"))
            if email is None:
                self.problems.append(user.where("spec.profile.email") + ": missing")
            elif "@" not in email or any(c.isspace() for c in email):
                self.problems.append(user.where("spec.profile.email") + f": not an email {email!r}")
            exempt = annotations.get(ANN_ONCALL_EXEMPT)
            reason = _text(exempt)
            if exempt is not None and reason is None:
                self.problems.append(
                    user.where(f"metadata.annotations.{ANN_ONCALL_EXEMPT}") + ": empty (give the reason)"
                )
            base = {
                "person": user.ident,
                "display_name": _display_name(user),
                "email": email.lower() if email else None,
                "start_date": self.date(user, annotations, ANN_START_DATE),
                "oncall_exempt": reason,
                "source_file": user.source_file,
            }
            groups = memberships[user.key] or [None]
            for group in groups:
                rows.append({**base, "team": group.ident if group else None})
        return rows

    def build_services(self, memberships) -> list[dict]:
        rows = []
        for component in self.of_kind("Component"):
            spec = _dict(component.data.get("spec"))
            metadata = _dict(component.data.get("metadata"))
            annotations = self.annotations(component)
            owner, team = None, None
            raw_owner = spec.get("owner")
            if _text(raw_owner) is None:
                self.problems.append(component.where("spec.owner") + ": missing")
            else:
                target = self.resolve_owner(component, raw_owner)
                if target is not None:
                    owner = target.ref
                    if target.kind == "Group":
                        team = target.ident
                    else:
                        groups = memberships.get(target.key, [])
                        team = groups[0].ident if len(groups) == 1 else None
            runbook_url = None
            links = metadata.get("links") or []
            if not isinstance(links, list):
                self.problems.append(component.where("metadata.links") + ": not a list")
                links = []
            for link in links:
                link = _dict(link)
                if str(link.get("type", "")).strip().lower() == "runbook":
                    runbook_url = _text(link.get("url"))
                    if runbook_url:
                        break
            rows.append(
                {
                    "service": component.ident,
                    "team": team,
                    "owner": owner,
                    "runbook_url": runbook_url,
                    "pagerduty_service_id": _text(annotations.get(ANN_SERVICE_ID)),
                    "dashboard_selector": _text(annotations.get(ANN_DASHBOARD_SELECTOR)),
                    "alert_selector": _text(annotations.get(ANN_ALERT_SELECTOR)),
                    "cost_per_minute": self.cost(component, annotations),
                    "lifecycle": _text(spec.get("lifecycle")),
                    "type": _text(spec.get("type")),
                    "source_file": component.source_file,
                }
            )
        return rows

    def resolve_owner(self, component: _Entity, ref: Any) -> _Entity | None:
        parsed = _parse_ref(ref, component.namespace)
        if parsed is None:
            self.problems.append(component.where("spec.owner") + f": invalid reference {ref!r}")
            return None
        kind, namespace, name = parsed
        kinds = [kind.lower()] if kind else ["group", "user"]
        if kinds[0] not in ("group", "user"):
            self.problems.append(component.where("spec.owner") + f": owner {ref!r} must be a Group or a User")
            return None
        for candidate in kinds:
            target = self.by_key.get((candidate, namespace.lower(), name.lower()))
            if target is not None:
                return target
        self.problems.append(component.where("spec.owner") + f": unknown owner {ref!r}")
        return None

    def cost(self, component: _Entity, annotations: dict) -> float | None:
        value = annotations.get(ANN_COST_PER_MINUTE)
        if value is None or value == "":
            return None
        try:
            number = float(value) if not isinstance(value, bool) else math.nan
        except (TypeError, ValueError):
            number = math.nan
        if not math.isfinite(number) or number < 0:
            self.problems.append(
                component.where(f"metadata.annotations.{ANN_COST_PER_MINUTE}") + f": not a number >= 0 {str(value)!r}"
            )
            return None
        return number


def load_registry(path: str | os.PathLike) -> Registry:
    """Read a Backstage catalog (a file or a folder) into a :class:`Registry`.

    Raises :class:`RegistryError` listing every problem found, one per line.
    """
    root = Path(path)
    if not root.exists():
        raise RegistryError([f"{_Loader.display(root)}: catalog path does not exist"])
    loader = _Loader(root)
    loader.run(root)
    builder = _Builder(loader.entities, loader.problems)
    registry = builder.build()
    if loader.problems:
        # Grouped by file (stable: within a file, in the order found).
        raise RegistryError(sorted(loader.problems, key=lambda p: p.split(":", 1)[0]))
    return registry
