"""The emulators' state of a synthetic organisation, in the formats the sandbox reads.

One function per emulator, each returning the mapping its state file holds (formats:
``readiness_sandbox.pagerduty.state``, ``grafana.state``, ``github.state``,
``confluence.state``, ``jsm_ops.state``; the Chaos Day feed is iCalendar text and Prometheus reads rule files).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from benchmarks.org import (
    GITHUB_OWNER,
    INSTANT,
    PANELS_ONLY_EVERY,
    PRIORITIES,
    ROTATION_START,
    Commander,
    Division,
    Organisation,
    Person,
    Service,
    Team,
)

ADD_RESPONDERS = "pagerduty.com:incident-workflows:add-responders:2"
RUNBOOK_AUTHOR = {"name": "Runbook Bot", "email": "runbook-bot@bench.example.com", "login": "runbook-bot"}


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- PagerDuty ---------------------------------------------------------------------------------


def pagerduty(org: Organisation) -> dict[str, Any]:
    users, teams, schedules, policies, services = [], [], [], [], []
    for team in org.pagerduty_teams:
        members = [p for p in team.people if not (p == team.joiner and team.joiner_without_pagerduty)]
        users += [_user(team, person) for person in members]
        teams.append(
            {
                "id": team.pagerduty_team_id,
                "name": team.name,
                "members": [{"user": p.user_id, "role": "manager" if p.index == 0 else "responder"} for p in members],
            }
        )
        schedules.append(
            {
                "id": team.schedule_id,
                "name": f"{team.name} on-call",
                "time_zone": "UTC",
                "teams": [team.pagerduty_team_id],
                "layers": [
                    {
                        "id": f"PL{team.index:05d}",
                        "name": "Layer 1",
                        "start": iso(ROTATION_START),
                        "end": None,
                        "rotation_virtual_start": iso(ROTATION_START),
                        "rotation_turn_length_seconds": team.turn_seconds,
                        "users": [p.user_id for p in team.rotation],
                        "restrictions": [],
                    }
                ],
                "overrides": [],
            }
        )
        policies.append(
            {
                "id": team.policy_id,
                "name": team.name,
                "num_loops": 1,
                "teams": [team.pagerduty_team_id],
                "rules": [
                    {
                        "escalation_delay_in_minutes": 15,
                        "targets": [{"type": "schedule_reference", "id": team.schedule_id}],
                    },
                    {
                        "escalation_delay_in_minutes": 15,
                        "targets": [{"type": "user_reference", "id": team.people[0].user_id}],
                    },
                ],
            }
        )
        services += [
            {
                "id": service.service_id,
                "name": service.name,
                "status": "active",
                "created_at": "2025-03-03T10:00:00Z",
                "escalation_policy": team.policy_id,
                "teams": [team.pagerduty_team_id],
            }
            for service in team.services
        ]
    return {
        "users": users,
        "teams": teams,
        "schedules": schedules,
        "escalation_policies": policies,
        "services": services,
        "incidents": [_incident(incident) for incident in org.pagerduty_incidents],
    } | _incident_command(org, users, teams, schedules, policies)


def _incident_command(
    org: Organisation,
    users: list[dict[str, Any]],
    teams: list[dict[str, Any]],
    schedules: list[dict[str, Any]],
    policies: list[dict[str, Any]],
) -> dict[str, Any]:
    """Each division's commanders (users, their PagerDuty team, a weekly schedule, a policy), its P1 workflow.

    Adds to ``users``, ``teams``, ``schedules`` and ``policies``; returns the sections of their own.
    """
    workflows, triggers = [], []
    for division in org.divisions:
        users += [_commander(commander) for commander in division.commanders]
        teams.append(
            {
                "id": division.pagerduty_team_id,
                "name": f"Division {division.index:04d} incident command",
                "members": [{"user": commander.user_id, "role": "responder"} for commander in division.commanders],
            }
        )
        schedules.append(_commander_schedule(division))
        policies.append(
            {
                "id": division.policy_id,
                "name": f"Division {division.index:04d} incident command",
                "num_loops": 2,
                "teams": [division.pagerduty_team_id],
                "rules": [
                    {
                        "escalation_delay_in_minutes": 10,
                        "targets": [{"type": "schedule_reference", "id": division.schedule_id}],
                    }
                ],
            }
        )
        responders = json.dumps([{"id": division.policy_id, "type": "escalation_policy"}])
        add = {"name": "Responders", "value": responders}
        workflows.append(
            {
                "id": division.workflow_id,
                "name": f"Major incident: division {division.index:04d}",
                "steps": [
                    {
                        "id": f"PTC{division.index:04d}",
                        "name": "Add Responders",
                        "action_id": ADD_RESPONDERS,
                        "inputs": [add],
                    }
                ],
            }
        )
        covered = [
            service.service_id
            for team in org.pagerduty_teams
            if team.division == division
            for service in team.major_incident_services
        ]
        triggers.append(
            {
                "id": division.trigger_id,
                "workflow": division.workflow_id,
                "trigger_type": "conditional",
                "condition": "incident.priority matches 'P1'",
                "services": covered,
            }
        )
    return {
        "priorities": [{"name": name} for name in PRIORITIES],
        "incident_workflows": workflows,
        "incident_workflow_triggers": triggers,
    }


def _commander(commander: Commander) -> dict[str, Any]:
    uid = commander.user_id[2:]
    phone = {"id": f"PC{uid}", "type": "phone", "label": "Mobile", "address": f"+44 7700 8{uid[-6:]}"}
    rule = {"id": f"PR{uid}", "urgency": "high", "start_delay_in_minutes": 0, "contact_method": phone["id"]}
    return {
        "id": commander.user_id,
        "name": commander.name,
        "email": commander.email,
        "time_zone": "UTC",
        "role": "user",
        "contact_methods": [phone],
        "notification_rules": [rule],
    }


def _commander_schedule(division: Division) -> dict[str, Any]:
    return {
        "id": division.schedule_id,
        "name": f"Division {division.index:04d} incident commanders",
        "time_zone": "UTC",
        "teams": [division.pagerduty_team_id],
        "layers": [
            {
                "id": f"PLC{division.index:04d}",
                "name": "Layer 1",
                "start": iso(ROTATION_START),
                "end": None,
                "rotation_virtual_start": iso(ROTATION_START),
                "rotation_turn_length_seconds": 604_800,
                "users": [commander.user_id for commander in division.commanders],
                "restrictions": [],
            }
        ],
        "overrides": [],
    }


def _user(team: Team, person: Person) -> dict[str, Any]:
    uid = f"{team.index:05d}{person.index:02d}"
    phone = {"id": f"PC{uid}", "type": "phone", "label": "Mobile", "address": f"+44 7700 9{uid[-6:]}"}
    email = {"id": f"PM{uid}", "type": "email", "label": "Work", "address": person.email}
    email_only = "email-only-responder" in team.flaws and person == team.rotation[-1]
    rules = [
        {
            "id": f"PR{uid}",
            "urgency": "high",
            "start_delay_in_minutes": 0,
            "contact_method": email["id"] if email_only else phone["id"],
        },
        {"id": f"PN{uid}", "urgency": "low", "start_delay_in_minutes": 0, "contact_method": email["id"]},
    ]
    return {
        "id": person.user_id,
        "name": person.name,
        "email": person.email,
        "time_zone": "UTC",
        "role": "admin" if team.index == 1 and person.index == 0 else "user",
        "contact_methods": [email] if email_only else [phone, email],
        "notification_rules": rules,
    }


def _incident(incident) -> dict[str, Any]:
    responder = incident.responder
    resolved = incident.resolved
    entry = {
        "id": incident.incident_id,
        "incident_number": incident.number,
        "title": f"{incident.service.name} error rate above threshold",
        "service": incident.service.service_id,
        "status": "resolved" if resolved else "acknowledged",
        "urgency": "high" if incident.high_urgency else "low",
        "created_at": iso(incident.created),
        "acknowledged_at": iso(incident.acknowledged),
        "escalation_policy": incident.team.policy_id,
        "assignments": [{"at": iso(incident.created), "assignee": responder.user_id}],
        "notifications": [
            {
                "at": iso(incident.created),
                "user": responder.user_id,
                "type": "phone" if incident.high_urgency else "email",
            }
        ],
    }
    if resolved:
        entry["resolved_at"] = iso(resolved)
    return entry


# --- JSM Operations ----------------------------------------------------------------------------

JSM_CLOUD_ID = "b3c40000-0000-4000-8000-000000000001"
JSM_CALLER = "readiness-audit@example.com"  # the sandbox's account (readiness_sandbox.jsm_ops.app)


def _account(person: Person) -> str:
    return f"712020:{person.team:08d}-0000-4000-8000-{person.index:012d}"


def jsm_ops(org: Organisation) -> dict[str, Any]:
    """The JSM Operations site of the teams on call there: the same story as their PagerDuty twins."""
    accounts = [
        {
            "account_id": "712020:ad000000-0000-4000-8000-000000000001",
            "name": "Readiness Audit",
            "email": JSM_CALLER,
            "time_zone": "UTC",
            "api": True,
        }
    ]
    teams, schedules, escalations, routing, alerts = [], [], [], [], []
    for team in org.jsm_teams:
        accounts += [
            {"account_id": _account(p), "name": p.name, "email": p.email, "time_zone": "UTC"}
            for p in team.people
            if not (p == team.joiner and team.joiner_without_pagerduty)
        ]
        teams.append({"id": team.jsm_team_id, "name": team.name})
        length, kind = (1, "daily") if team.turn_seconds == 86_400 else (1, "weekly")
        schedules.append(
            {
                "id": team.jsm_schedule_id,
                "name": f"{team.name} on-call",
                "team": team.jsm_team_id,
                "timezone": "UTC",
                "rotations": [
                    {
                        "id": f"50000000-0000-4000-8000-{team.index:012d}",
                        "name": "Rotation 1",
                        "type": kind,
                        "length": length,
                        "start": iso(ROTATION_START),
                        "end": None,
                        "participants": [_account(p) for p in team.rotation],
                    }
                ],
            }
        )
        escalations.append(
            {
                "id": team.jsm_escalation_id,
                "team": team.jsm_team_id,
                "name": team.name,
                "enabled": True,
                "rules": [
                    {
                        "condition": "if-not-acked",
                        "notifyType": "default",
                        "delay": 0,
                        "recipient": {"type": "schedule", "id": team.jsm_schedule_id},
                    },
                    {
                        "condition": "if-not-acked",
                        "notifyType": "default",
                        "delay": 15,
                        "recipient": {"type": "user", "id": _account(team.people[0])},
                    },
                ],
                "repeat": {"waitInterval": 15, "count": 1},
            }
        )
        routing.append(
            {
                "id": f"40000000-0000-4000-8000-{team.index:012d}",
                "team": team.jsm_team_id,
                "name": "Default",
                "isDefault": True,
                "order": 0,
                "notify": {"type": "escalation", "id": team.jsm_escalation_id},
            }
        )
    for incident in org.jsm_alerts:
        resolved = incident.resolved
        alert = {
            "id": f"a1000000-0000-4000-8000-{incident.number:012d}",
            "tinyId": str(incident.number),
            "message": f"{incident.service.name} error rate above threshold",
            "entity": incident.service.name,
            "priority": "P2" if incident.high_urgency else "P4",
            "status": "closed" if resolved else "acked",
            "createdAt": iso(incident.created),
            "ackTime": iso(incident.acknowledged),
            "responders": [{"type": "team", "id": incident.team.jsm_team_id}],
            "notifications": [
                {
                    "at": iso(incident.created),
                    "user": _account(incident.responder),
                    "method": "voice" if incident.high_urgency else "email",
                }
            ],
        }
        if resolved:
            alert["closeTime"] = iso(resolved)
        alerts.append(alert)
    return {
        "emulator": {"cloud_id": JSM_CLOUD_ID},
        "accounts": accounts,
        "teams": teams,
        "schedules": schedules,
        "escalations": escalations,
        "routing_rules": routing,
        "notification_rules": [],
        "alerts": alerts,
    }


# --- Grafana -----------------------------------------------------------------------------------


def grafana(org: Organisation) -> dict[str, Any]:
    folders, dashboards, teams, rules, slos = [], [], [], [], []
    for team in org.teams:
        folders.append({"uid": team.name, "title": team.name})
        teams.append(
            {
                "id": team.index,
                "name": team.name,
                "email": f"{team.name}@bench.example.com",
                "members": [p.email for p in team.people if not (p == team.joiner and team.joiner_without_grafana)],
            }
        )
        for service in team.services:
            dashboards += _dashboards(team, service)
        last = team.services[-1]
        rules.append(
            {
                "uid": f"gr-{last.name}",
                "title": f"{last.name} error rate",
                "folder": team.name,
                "rule_group": last.name,
                "for": "5m",
                "labels": {"service": last.name, "severity": "critical", "team": team.name},
                "annotations": {"summary": f"{last.name} fails", "runbook_url": last.runbook_url},
                "updated": "2026-10-01T09:00:00Z",
            }
        )
        slo, fast_burn = _slo(team)
        slos.append(slo)
        rules.append(fast_burn)
    return {"folders": folders, "dashboards": dashboards, "teams": teams, "alert_rules": rules, "slos": slos}


def _slo(team: Team) -> tuple[dict[str, Any], dict[str, Any]]:
    """A Grafana SLO of the team's first service (its other services' targets have none: availability-target
    warns), with the fast-burn rule Grafana SLO creates for it: the SLO list costs one call whatever its size."""
    first = team.services[0]
    uuid = f"slo-{first.name}"
    slo = {"uuid": uuid, "name": f"{first.name} availability", "objectives": [{"value": 0.999, "window": "28d"}],
           "labels": {"service": first.name, "team": team.name}}  # fmt: skip
    fast_burn = {
        "uid": f"{uuid}-fast",
        "title": f"{first.name} SLO burn rate very high",
        "folder": team.name,
        "rule_group": uuid,
        "for": "2m",
        "labels": {"grafana_slo_uuid": uuid, "grafana_slo_severity": "critical", "grafana_slo_window": "1h"},
        "updated": "2026-10-01T09:00:00Z",
    }
    return slo, fast_burn


def _dashboards(team: Team, service: Service) -> list[dict[str, Any]]:
    panels_only = service.index == 0 and team.index % PANELS_ONLY_EVERY == 0
    monitoring = {
        "uid": f"m-{service.name}",
        "title": f"{service.name} overview",
        "folder": team.name,
        "tags": [service.name] if panels_only else [service.name, "monitoring"],
        "panels": [{"type": "timeseries", "title": "Requests per second"}, {"type": "stat", "title": "Error ratio"}],
    }
    logging = {
        "uid": f"l-{service.name}",
        "title": f"{service.name} logs",
        "folder": team.name,
        "tags": [service.name, "logs"],
        "panels": [{"type": "logs", "title": "Logs"}],
    }
    if "no-logging-dashboard" in team.flaws and service.index == 1:
        return [monitoring]
    return [monitoring, logging]


# --- Prometheus --------------------------------------------------------------------------------


def prometheus_rules(team: Team) -> dict[str, Any]:
    groups = []
    for service in (s for s in team.services if s.prometheus_rules):
        annotations = {"summary": f"{service.name} fails"}
        if not ("alert-without-runbook-url" in team.flaws and service.index == 0):
            annotations["runbook_url"] = service.runbook_url
        groups.append(
            {
                "name": service.name,
                "rules": [
                    {
                        "alert": f"HighErrorRate{team.index:04d}{service.index}",
                        "expr": f'sum(rate(http_requests_total{{service="{service.name}",code=~"5.."}}[5m])) > 1',
                        "for": "5m",
                        "labels": {"service": service.name, "team": team.name, "severity": "critical"},
                        "annotations": annotations,
                    }
                ],
            }
        )
    return {"groups": groups}


# --- Runbooks: GitHub and Confluence -----------------------------------------------------------


def runbook_markdown(service: Service, complete: bool) -> str:
    text = f"# {service.name} runbook\n\nWhat {service.name} does and who to call.\n"
    if complete:
        text += (
            "\n## Failure scenarios\n\n- The database is slow.\n\n## Mitigations\n\n- Fail over.\n"
            "\n## Alert thresholds\n\n| alert | fires when |\n|---|---|\n| HighErrorRate | 5xx > 1/s |\n"
            "\n## Step-by-step guides\n\n1. Check the dashboard.\n2. Fail over.\n"
        )
    return text


def _runbook_updated(team: Team, service: Service) -> dt.datetime:
    if "stale-runbook" in team.flaws and service.index == 1:
        return INSTANT - dt.timedelta(days=45, hours=3)
    return INSTANT - dt.timedelta(days=1 + (team.index + service.index) % 6, hours=5)


def _complete(team: Team, service: Service) -> bool:
    return not ("incomplete-runbook" in team.flaws and service.index == 2)


def github(org: Organisation) -> dict[str, Any]:
    repositories = []
    for team in org.teams:
        on_github = [s for s in team.services if not s.runbook_on_confluence]
        commits = [
            {
                "date": "2026-01-12T10:00:00Z",
                "author": RUNBOOK_AUTHOR,
                "message": "First runbooks",
                "files": {f"{s.name}.md": runbook_markdown(s, complete=False) for s in on_github},
            }
        ]
        for service in sorted(on_github, key=lambda s: _runbook_updated(team, s)):
            commits.append(
                {
                    "date": iso(_runbook_updated(team, service)),
                    "author": RUNBOOK_AUTHOR,
                    "message": f"{service.name}: weekly review",
                    "files": {f"{service.name}.md": runbook_markdown(service, _complete(team, service))},
                }
            )
        repositories.append(
            {"name": f"{GITHUB_OWNER}/{team.name}-runbooks", "default_branch": "main", "commits": commits}
        )
    return {"repositories": repositories}


def confluence(org: Organisation) -> dict[str, Any]:
    from readiness_sandbox.confluence.app import SANDBOX_EMAIL

    pages = []
    for team in org.teams:
        for service in (s for s in team.services if s.runbook_on_confluence):
            body = "".join(
                f"<h2>{heading}</h2><p>{text}</p>"
                for heading, text in (
                    ("Failure scenarios", "The queue backs up."),
                    ("Mitigations", "Scale the consumers."),
                    ("Alert thresholds", "Queue depth above 10,000."),
                    ("Step-by-step guides", "1. Scale. 2. Drain."),
                )
            )
            pages.append(
                {
                    "id": service.page_id,
                    "title": f"{service.name} Runbook",
                    "space": "OPS",
                    "versions": [
                        {
                            "when": "2026-02-02T09:00:00Z",
                            "by": "Runbook Bot",
                            "message": "First draft",
                            "body": f"<h1>{service.name} Runbook</h1><p>To be written.</p>",
                        },
                        {
                            "when": iso(_runbook_updated(team, service)),
                            "by": "Runbook Bot",
                            "message": "Weekly review",
                            "body": f"<h1>{service.name} Runbook</h1>{body}",
                        },
                    ],
                }
            )
    pages += [_review(incident) for incident in org.incidents if incident.reviewed]
    return {"users": [SANDBOX_EMAIL], "pages": pages}


def _review(incident) -> dict[str, Any]:
    """A post-incident review a day after the resolution, naming the incident and one action item."""
    written = incident.resolved + dt.timedelta(hours=1)
    body = (
        f"<h1>Review of {incident.incident_id}</h1><p>What happened, and what we learned.</p>"
        f'<ac:structured-macro ac:name="jira"><ac:parameter ac:name="key">{incident.action_key}</ac:parameter>'
        "</ac:structured-macro>"
    )
    return {
        "id": incident.review_page_id,
        "title": f"{incident.service.name}: review of {incident.incident_id}",
        "space": "OPS",
        "labels": ["postmortem"],
        "versions": [{"when": iso(written), "by": "Review Bot", "body": body}],
    }


# --- Jira ----------------------------------------------------------------------------------------


def jira(org: Organisation) -> dict[str, Any]:
    """The action items the reviews name: half done, half open with a due date a week after the review."""
    from readiness_sandbox.jira.app import SANDBOX_EMAIL

    issues = []
    for incident in (i for i in org.incidents if i.reviewed):
        done = incident.number % 4 == 0
        issue = {
            "key": incident.action_key,
            "summary": f"Follow-up of {incident.incident_id}",
            "status": "Done" if done else "In Progress",
            "assignee": incident.responder.name,
            "duedate": (incident.resolved + dt.timedelta(days=7)).date().isoformat(),
        }
        if done:
            issue["resolutiondate"] = iso(incident.resolved + dt.timedelta(days=2))
        issues.append(issue)
    return {"users": [SANDBOX_EMAIL], "issues": issues}


# --- Chaos Day calendar ------------------------------------------------------------------------


def chaos_calendar(org: Organisation) -> str:
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Bench Org//Chaos Days//EN", "CALSCALE:GREGORIAN"]
    stamp = INSTANT.strftime("%Y%m%dT%H%M%SZ")
    for team in org.teams:
        if team.chaos_day is None or team.chaos_day_in_catalog:
            continue
        start = team.chaos_day
        lines += [
            "BEGIN:VEVENT",
            f"SUMMARY:{team.name}: kill the primary database",
            f"DTSTART:{start.strftime('%Y%m%dT%H%M%SZ')}",
            f"DTEND:{(start + dt.timedelta(hours=6)).strftime('%Y%m%dT%H%M%SZ')}",
            f"DTSTAMP:{stamp}",
            f"UID:chaos-{team.name}@chaos.bench.example.com",
            f"CATEGORIES:Chaos Day,{team.name}",
            f"URL:https://bench.atlassian.net/wiki/spaces/OPS/pages/{team.index}/Chaos+Day",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return "\r\n".join(lines) + "\r\n"
