"""Building the registry's tables from the catalog's entities, resolving references and validating fields.

The rules (references, ownership, membership, annotations, columns) are documented in
:mod:`oncall_readiness.registry.tables`; every problem found is added to the list of
problems, which :func:`oncall_readiness.registry.load_registry` raises at once.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Sequence
from typing import Any

import pandas as pd

from oncall_readiness.oncall_facts import DEFAULT_PLATFORM, PLATFORMS
from oncall_readiness.registry.backstage import Entity
from oncall_readiness.registry.tables import (
    PEOPLE_COLUMNS,
    SERVICE_COLUMNS,
    TEAM_COLUMNS,
    TEAM_SCHEDULE_COLUMNS,
    THRESHOLD_COLUMNS,
    Registry,
)

ANN_SERVICE_ID = "pagerduty.com/service-id"
ANN_SCHEDULE_IDS = "pagerduty.com/schedule-ids"
ANN_OPSGENIE_TEAM = "opsgenie.com/team"
ANN_JSM_OPS_TEAM = "atlassian.com/jsm-ops-team"  # oncall_facts.JSM_OPS.team_annotation
ANN_DASHBOARD_SELECTOR = "grafana/dashboard-selector"
ANN_GRAFANA_TEAM = "grafana/team"
ANN_ALERT_SELECTOR = "readiness/alert-selector"
ANN_START_DATE = "readiness/start-date"
ANN_ONCALL_EXEMPT = "readiness/oncall-exempt"
ANN_LAST_CHAOS_DAY = "readiness/last-chaos-day"
ANN_COST_PER_MINUTE = "readiness/cost-per-minute"
ANN_TIER = "readiness/tier"
ANN_AVAILABILITY_TARGET = "readiness/availability-target"
ANN_SLO_SELECTOR = "readiness/slo-selector"
ANN_WAIVERS = "readiness/waivers"
ANN_WAIVER_APPROVERS = "readiness/waiver-approvers"
ANN_INCIDENT_COMMANDERS = "readiness/incident-commander-schedule"
ANN_REVIEW_SPACE = "readiness/review-space"
THRESHOLD_PREFIX = "readiness/"

_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_CHECK_ID_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_THRESHOLD_KEY_RE = re.compile(r"^[A-Za-z0-9_]+$")


class RegistryBuilder:
    """The entities of a catalog (duplicates reported and dropped) and the tables built from them."""

    def __init__(self, entities: list[Entity], problems: list[str]):
        self.problems = problems
        self.threshold_places: dict[tuple[str, str, str], str] = {}
        self.by_key: dict[tuple[str, str, str], Entity] = {}
        self.entities: list[Entity] = []
        for entity in entities:
            first = self.by_key.get(entity.key)
            if first is not None:
                problems.append(entity.where("metadata.name") + f": duplicate of {first.label} in {first.file}")
                continue
            self.by_key[entity.key] = entity
            self.entities.append(entity)

    def of_kind(self, kind: str) -> list[Entity]:
        return [e for e in self.entities if e.kind == kind]

    def resolve(self, entity: Entity, ref: Any, default_kind: str, field: str, what: str) -> Entity | None:
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

    def annotations(self, entity: Entity) -> dict[str, Any]:
        metadata = _dict(entity.data.get("metadata"))
        raw = metadata.get("annotations")
        if raw is None:
            return {}
        if not isinstance(raw, dict):
            self.problems.append(entity.where("metadata.annotations") + ": not a map")
            return {}
        return raw

    def date(self, entity: Entity, annotations: dict[str, Any], key: str) -> dt.date | None:
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

    def ref_list(self, entity: Entity, field: str) -> list[Any]:
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
        self.parent_cycles(teams)
        waivers = tuple(
            (group.ident, group.file, group.line, str(self.annotations(group)[ANN_WAIVERS]))
            for group in self.of_kind("Group")
            if self.annotations(group).get(ANN_WAIVERS) is not None
        )
        memberships = self.build_memberships()
        people = self.build_people(memberships)
        services = self.build_services(memberships)
        self.platform_conflicts(teams, services)
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
            waiver_annotations=waivers,
            waiver_approvers={
                group.ident: tuple(
                    email.strip().lower()
                    for email in str(self.annotations(group)[ANN_WAIVER_APPROVERS]).split(",")
                    if email.strip()
                )
                for group in self.of_kind("Group")
                if self.annotations(group).get(ANN_WAIVER_APPROVERS) is not None
            },
            threshold_places=dict(self.threshold_places),
        )

    def parent_cycles(self, teams: list[dict[str, Any]]) -> None:
        """A problem for each cycle of ``spec.parent`` (a group its own ancestor), named once, on its first group."""
        parent = {row["team"]: row["parent"] for row in teams}
        groups = {group.ident: group for group in self.of_kind("Group")}
        settled: set[str] = set()
        for start in sorted(parent):
            path: list[str] = []
            current: str | None = start
            while current is not None and current not in settled and current not in path:
                path.append(current)
                current = parent.get(current)
            if current is not None and current in path:  # walked back into this walk: a cycle
                cycle = path[path.index(current) :]
                first = min(cycle)
                names = [*cycle[cycle.index(first) :], *cycle[: cycle.index(first)], first]
                self.problems.append(
                    groups[first].where("spec.parent") + f": a cycle of parent groups: {' -> '.join(names)}"
                )
            settled.update(path)

    def platform(self, group: Entity, annotations: dict[str, Any]) -> str:
        """The on-call platform an annotation puts the Group on (the default without one); two is an error."""
        chosen = [p for p in PLATFORMS.values() if p.team_annotation and _text(annotations.get(p.team_annotation))]
        default = PLATFORMS[DEFAULT_PLATFORM]
        if len(chosen) > 1:
            named = " and ".join(str(p.team_annotation) for p in chosen)
            self.problems.append(
                group.where("metadata.annotations") + f": {named}: a team is on call on one platform; keep one"
            )
        platform = chosen[0].name if chosen else DEFAULT_PLATFORM
        if platform != DEFAULT_PLATFORM and default.schedule_annotation and default.schedule_annotation in annotations:
            chosen_one = PLATFORMS[platform]
            self.problems.append(
                group.where(f"metadata.annotations.{default.schedule_annotation}")
                + f": the Group is on call in {chosen_one.title} ({chosen_one.team_annotation}) and also names"
                f" {default.title} schedules ({default.schedule_annotation}); keep one of the two annotations"
            )
        return platform

    def platform_conflicts(self, teams: list[dict[str, Any]], services: list[dict[str, Any]]) -> None:
        """A Component of a team on another platform that names a service of the default one is an error."""
        default = PLATFORMS[DEFAULT_PLATFORM]
        elsewhere = {row["team"]: row for row in teams if row["oncall_platform"] != DEFAULT_PLATFORM}
        team_of = {row["service"]: row["team"] for row in services}
        for component in self.of_kind("Component"):
            team = team_of.get(component.ident)
            named = self.annotations(component).get(default.service_annotation or "")
            if team not in elsewhere or not _text(named):
                continue
            platform = PLATFORMS[elsewhere[team]["oncall_platform"]]
            self.problems.append(
                component.where(f"metadata.annotations.{default.service_annotation}")
                + f": its team {team} is on call in {platform.title} ({platform.team_annotation} in"
                f" {elsewhere[team]['source_file']}), so it names no {default.title} service"
                f" ({default.service_annotation}); keep one of the two annotations"
            )

    def build_groups(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
        """The rows of the teams, team_schedules and thresholds tables, from the Groups."""
        teams: list[dict[str, Any]] = []
        schedules: list[dict[str, Any]] = []
        thresholds: list[dict[str, Any]] = []
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
                    "jsm_ops_team": _text(annotations.get(ANN_JSM_OPS_TEAM)),
                    "oncall_platform": self.platform(group, annotations),
                    "grafana_team": _text(annotations.get(ANN_GRAFANA_TEAM)),
                    "last_chaos_day": self.date(group, annotations, ANN_LAST_CHAOS_DAY),
                    "incident_commander_schedule": _text(annotations.get(ANN_INCIDENT_COMMANDERS)),
                    "review_space": _text(annotations.get(ANN_REVIEW_SPACE)),
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
                thresholds.append({"team": group.ident, "check_id": check_id, "key": setting, "value": text})
                self.threshold_places[(group.ident, check_id, setting)] = group.where(f"metadata.annotations.{key}")
        return teams, schedules, thresholds

    def build_memberships(self) -> dict[tuple[str, str, str], list[Entity]]:
        """User key -> the Groups they belong to (union of both sides)."""
        members: dict[tuple[str, str, str], list[Entity]] = {user.key: [] for user in self.of_kind("User")}

        def add(user: Entity, group: Entity) -> None:
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
                joined = self.resolve(user, ref, "group", "spec.memberOf", "group")
                if joined is None:
                    continue
                if joined.kind != "Group":
                    self.problems.append(user.where("spec.memberOf") + f": {ref!r} is not a Group")
                    continue
                add(user, joined)
        return members

    def build_people(self, memberships: dict[tuple[str, str, str], list[Entity]]) -> list[dict[str, Any]]:
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
            groups: Sequence[Entity | None] = memberships[user.key] or [None]  # a person of no team: one row
            for group in groups:
                rows.append({**base, "team": group.ident if group else None})
        return rows

    def build_services(self, memberships: dict[tuple[str, str, str], list[Entity]]) -> list[dict[str, Any]]:
        rows = []
        claimed: dict[str, Entity] = {}  # PagerDuty service id -> the first Component that names it
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
            service_id = _text(annotations.get(ANN_SERVICE_ID))
            if service_id and service_id in claimed:
                # Two owners for one PagerDuty service: its incidents' costs and notes would name either.
                first = claimed[service_id]
                self.problems.append(
                    component.where(f"metadata.annotations.{ANN_SERVICE_ID}")
                    + f": PagerDuty service {service_id} is claimed by {first.label} too ({first.file}): "
                    "one Component per PagerDuty service"
                )
            elif service_id:
                claimed[service_id] = component
            rows.append(
                {
                    "service": component.ident,
                    "team": team,
                    "owner": owner,
                    "runbook_url": runbook_url,
                    "pagerduty_service_id": service_id,
                    "dashboard_selector": _text(annotations.get(ANN_DASHBOARD_SELECTOR)),
                    "alert_selector": _text(annotations.get(ANN_ALERT_SELECTOR)),
                    "cost_per_minute": self.cost(component, annotations),
                    "lifecycle": _text(spec.get("lifecycle")),
                    "type": _text(spec.get("type")),
                    "tier": _text(annotations.get(ANN_TIER)),
                    "availability_target": self.availability_target(component, annotations),
                    "slo_selector": _text(annotations.get(ANN_SLO_SELECTOR)),
                    "source_file": component.source_file,
                }
            )
        return rows

    def resolve_owner(self, component: Entity, ref: Any) -> Entity | None:
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

    def cost(self, component: Entity, annotations: dict[str, Any]) -> float | None:
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

    def availability_target(self, component: Entity, annotations: dict[str, Any]) -> float | None:
        """The availability agreed at inception, in percent: a number above 0 and at most 100."""
        value = annotations.get(ANN_AVAILABILITY_TARGET)
        if value is None or value == "":
            return None
        number = _number(str(value).strip().removesuffix("%")) if not isinstance(value, bool) else math.nan
        if not math.isfinite(number) or not 0 < number <= 100:
            self.problems.append(
                component.where(f"metadata.annotations.{ANN_AVAILABILITY_TARGET}")
                + f': not a percentage above 0 and at most 100 {str(value)!r} (write it as "99.9")'
            )
            return None
        return number


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return math.nan


def _parse_ref(ref: Any, default_namespace: str) -> tuple[str | None, str, str] | None:
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


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _display_name(entity: Entity) -> str:
    profile = _dict(_dict(entity.data.get("spec")).get("profile"))
    metadata = _dict(entity.data.get("metadata"))
    return _text(profile.get("displayName")) or _text(metadata.get("title")) or entity.name


def _frame(rows: list[dict[str, Any]], columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame([[row.get(c) for c in columns] for row in rows], columns=columns, dtype=object)
