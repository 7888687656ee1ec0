"""Write a synthetic organisation to a folder: what the sandbox serves and what the audit reads.

::

    <folder>/catalog/<team>.yaml     Backstage Group, Users and Components of each team
    <folder>/hr_joiners.csv          the HR export (recent joiners)
    <folder>/state/pagerduty.yaml    emulator state files (JSON text, which is YAML)
    <folder>/state/jsm_ops.yaml, grafana.yaml, github.yaml, confluence.yaml, jira.yaml, chaos_days.ics
    <folder>/prometheus/rules/<team>.yml

State files are written as JSON (a subset of YAML) because it is much faster to write.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from benchmarks import states
from benchmarks.org import Organisation, Team

_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


@dataclass(frozen=True)
class Files:
    root: Path

    @property
    def catalog(self) -> Path:
        return self.root / "catalog"

    @property
    def hr_export(self) -> Path:
        return self.root / "hr_joiners.csv"

    @property
    def prometheus_rules(self) -> Path:
        return self.root / "prometheus" / "rules"

    def state(self, source: str) -> Path:
        return self.root / "state" / ("chaos_days.ics" if source == "chaos_calendar" else f"{source}.yaml")

    @property
    def states(self) -> dict[str, Path]:
        """Source -> its state file, as ``running_sandbox(states=...)`` takes them."""
        return {
            source: self.state(source)
            for source in ("pagerduty", "jsm_ops", "grafana", "github", "confluence", "chaos_calendar", "jira")
        }


def write(org: Organisation, folder: Path) -> Files:
    """Write every file of ``org`` below ``folder`` (created; existing files are replaced)."""
    files = Files(folder)
    for path in (files.catalog, files.prometheus_rules, files.state("pagerduty").parent):
        path.mkdir(parents=True, exist_ok=True)
    for team in org.teams:
        (files.catalog / f"{team.name}.yaml").write_text(
            yaml.dump_all(catalog_entities(team), Dumper=_DUMPER, sort_keys=False), encoding="utf-8"
        )
        (files.prometheus_rules / f"{team.name}.yml").write_text(
            yaml.dump(states.prometheus_rules(team), Dumper=_DUMPER, sort_keys=False), encoding="utf-8"
        )
    _write_hr_export(org, files.hr_export)
    for source, build in (
        ("pagerduty", states.pagerduty),
        ("jsm_ops", states.jsm_ops),
        ("grafana", states.grafana),
        ("github", states.github),
        ("confluence", states.confluence),
        ("jira", states.jira),
    ):
        files.state(source).write_text(json.dumps(build(org)), encoding="utf-8")
    files.state("chaos_calendar").write_text(states.chaos_calendar(org), encoding="utf-8", newline="")
    return files


def catalog_entities(team: Team) -> list[dict[str, Any]]:
    """The team's Group, its Users and its Components, as Backstage descriptors."""
    annotations = {"grafana/team": team.name}
    if team.on_jsm:  # on call in JSM Operations: no PagerDuty annotation on the Group nor its Components
        annotations["atlassian.com/jsm-ops-team"] = team.jsm_team_id
    else:
        annotations["pagerduty.com/schedule-ids"] = team.schedule_id
    if team.chaos_day is not None and team.chaos_day_in_catalog:
        annotations["readiness/last-chaos-day"] = team.chaos_day.date().isoformat()
    if team.commander_schedule is not None:
        annotations["readiness/incident-commander-schedule"] = team.commander_schedule
    entities: list[dict[str, Any]] = [
        _entity(
            "Group",
            team.name,
            annotations,
            {
                "type": "team",
                "profile": {"displayName": team.name.title(), "email": f"{team.name}@bench.example.com"},
                "children": [],
                "members": [p.handle for p in team.people],
            },
        )
    ]
    for person in team.people:
        user_annotations = {"readiness/start-date": team.start_date(person).isoformat()}
        if person == team.exempt:
            user_annotations["readiness/oncall-exempt"] = "parental leave"
        entities.append(
            _entity(
                "User",
                person.handle,
                user_annotations,
                {"profile": {"displayName": person.name, "email": person.email}, "memberOf": [team.name]},
            )
        )
    for service in team.services:
        component = _entity(
            "Component",
            service.name,
            {
                **({} if team.on_jsm else {"pagerduty.com/service-id": service.service_id}),
                "grafana/dashboard-selector": service.name,
                "readiness/alert-selector": f"service={service.name}",
                "readiness/availability-target": "99.9",
            },
            {"type": "service", "lifecycle": "production", "owner": f"group:{team.name}"},
        )
        component["metadata"]["links"] = [{"url": service.runbook_url, "title": "Runbook", "type": "runbook"}]
        entities.append(component)
    return entities


def _entity(kind: str, name: str, annotations: dict[str, str], spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": kind,
        "metadata": {"name": name, "annotations": annotations},
        "spec": spec,
    }


def _write_hr_export(org: Organisation, path: Path) -> None:
    with path.open("w", encoding="utf-8", newline="") as export:
        writer = csv.writer(export)
        writer.writerow(["email", "name", "team", "start_date", "status", "employee_id"])
        for team in org.teams:
            if team.joiner:
                joiner = team.joiner
                writer.writerow(
                    [
                        joiner.email,
                        joiner.name,
                        team.name,
                        team.start_date(joiner).isoformat(),
                        "active",
                        f"E{team.index:05d}",
                    ]
                )
