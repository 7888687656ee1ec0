"""A synthetic organisation of N teams, as the audit sees a real one: catalog, HR export, SaaS state.

Per team (``team-0001``, ...): 10 people (one exempt from on-call; some recent joiners), 5
services, one weekly schedule, one escalation policy (the schedule, then the team's manager),
incident commanders shared by a division of 20 teams (a weekly rota of three people in no
catalog team, members of the division's PagerDuty team "incident command" as PagerDuty's
incident-command guide sets them up, named on each team's Group, with an escalation policy and a
P1 incident workflow that adds it),
each person with a phone and an email contact method and their notification rules, a Grafana
team with its members, a monitoring and a logging dashboard per service (a few of which only
their panels tell apart), Prometheus alerting rules for four services and a Grafana-managed
rule for the fifth, a runbook per service (nine in ten on GitHub, one repository per team;
the rest on Confluence), about six PagerDuty incidents in the last five weeks (every second
high-urgency one of the last 28 days reviewed on Confluence, its review naming one Jira action
item), and a Chaos Day
in the calendar feed or in the catalog. One team in ten (``JSM_EVERY``) is on call in Jira
Service Management Operations instead of PagerDuty (``atlassian.com/jsm-ops-team``): the same
people, rotation, escalation and incidents, as JSM's teams, schedules, escalations and alerts
with their notification logs. A few teams are built to warn or fail (daily turns, a
rotation of two, an email-only responder, a stale or incomplete runbook, a missing logging
dashboard, no incident commanders, a service the major-incident trigger leaves out), so every
check has work to do; everything is deterministic for a given size.

``Organisation.of(teams)`` plans it; ``write(organisation, folder)`` writes what the sandbox and
the audit read (``layout.Files``). The counts the request floors are computed from are
properties of the plan (``Organisation.counts``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cached_property

INSTANT = dt.datetime(2026, 11, 16, tzinfo=dt.UTC)  # the demo's audit instant (audit date 2026-11-16)
PEOPLE_PER_TEAM = 10
SERVICES_PER_TEAM = 5
INCIDENTS_PER_TEAM = 6
INCIDENT_DAYS = 34  # inside the collector's 35-day look-back
ROTATION_START = dt.datetime(2026, 1, 5, 9, tzinfo=dt.UTC)  # a Monday
WEEK = dt.timedelta(days=7)
CONFLUENCE_EVERY = 2  # every second team keeps its last service's runbook on Confluence (1 in 10)
PANELS_ONLY_EVERY = 10  # every tenth team has one dashboard only its panels tell the kind of
EMAIL_DOMAIN = "bench.example.com"
GITHUB_OWNER = "bench-org"
CONFLUENCE_SITE = "https://bench.atlassian.net/wiki/spaces/OPS/pages"
FIRST_PAGE_ID = 50_000_000
TEAMS_PER_DIVISION = 20  # teams that share one incident-commander rota
COMMANDERS_PER_DIVISION = 3
PRIORITIES = ("P1", "P2", "P3", "P4", "P5")
JSM_EVERY = 10  # team 7, 17, 27, ...: on call in JSM Operations
JSM_ALERT_LOOK_BACK_DAYS = 28  # the on-call checks' look-back: the alerts the JSM collector reads
FIRST_REVIEW_ID = 90_000_000
REVIEW_DAYS = 28  # post-incident-review's window: the reviews the CQL search finds


@dataclass(frozen=True)
class Person:
    team: int
    index: int  # 0 is the team's manager

    @property
    def handle(self) -> str:
        return f"p{self.team:04d}-{self.index:02d}"

    @property
    def email(self) -> str:
        return f"{self.handle}@{EMAIL_DOMAIN}"

    @property
    def name(self) -> str:
        return f"Person {self.team:04d} {self.index:02d}"

    @property
    def user_id(self) -> str:  # PagerDuty
        return f"PU{self.team:05d}{self.index:02d}"


@dataclass(frozen=True)
class Service:
    team: int
    index: int

    @property
    def name(self) -> str:
        return f"svc-{self.team:04d}-{self.index}"

    @property
    def service_id(self) -> str:  # PagerDuty
        return f"PV{self.team:05d}{self.index}"

    @property
    def runbook_on_confluence(self) -> bool:
        return self.index == SERVICES_PER_TEAM - 1 and self.team % CONFLUENCE_EVERY == 0

    @property
    def page_id(self) -> str:
        return str(FIRST_PAGE_ID + self.team * SERVICES_PER_TEAM + self.index)

    @property
    def runbook_url(self) -> str:
        if self.runbook_on_confluence:
            return f"{CONFLUENCE_SITE}/{self.page_id}/{self.name}+Runbook"
        return f"https://github.com/{GITHUB_OWNER}/{team_name(self.team)}-runbooks/blob/main/{self.name}.md"

    @property
    def prometheus_rules(self) -> bool:
        """Services 0-3 alert from Prometheus, the last from a Grafana-managed rule."""
        return self.index < SERVICES_PER_TEAM - 1


@dataclass(frozen=True)
class Commander:
    division: int
    index: int

    @property
    def user_id(self) -> str:  # PagerDuty (7 characters, like every id)
        return f"PUC{self.division:03d}{self.index}"

    @property
    def name(self) -> str:
        return f"Commander {self.division:04d} {self.index}"

    @property
    def email(self) -> str:
        return f"ic-{self.division:04d}-{self.index}@{EMAIL_DOMAIN}"


@dataclass(frozen=True)
class Division:
    """Up to ``TEAMS_PER_DIVISION`` teams and their incident commanders."""

    index: int  # 1-based

    @property
    def schedule_id(self) -> str:
        return f"PSC{self.index:04d}"

    @property
    def policy_id(self) -> str:
        return f"PEC{self.index:04d}"

    @property
    def pagerduty_team_id(self) -> str:
        return f"PTI{self.index:04d}"

    @property
    def workflow_id(self) -> str:
        return f"PWC{self.index:04d}"

    @property
    def trigger_id(self) -> str:
        return f"00000000-0000-4000-8000-{self.index:012d}"

    @property
    def commanders(self) -> list[Commander]:
        return [Commander(self.index, n) for n in range(COMMANDERS_PER_DIVISION)]


def team_name(team: int) -> str:
    return f"team-{team:04d}"


@dataclass(frozen=True)
class Team:
    """One team and how it is built to score (``flaws`` name what it gets wrong on purpose)."""

    index: int

    @property
    def name(self) -> str:
        return team_name(self.index)

    @property
    def schedule_id(self) -> str:
        return f"PS{self.index:05d}"

    @property
    def policy_id(self) -> str:
        return f"PE{self.index:05d}"

    @property
    def pagerduty_team_id(self) -> str:
        return f"PT{self.index:05d}"

    @property
    def people(self) -> list[Person]:
        return [Person(self.index, m) for m in range(PEOPLE_PER_TEAM)]

    @property
    def on_jsm(self) -> bool:
        return self.index % JSM_EVERY == 7

    @property
    def jsm_team_id(self) -> str:
        return f"7e000000-0000-4000-8000-{self.index:012d}"

    @property
    def jsm_schedule_id(self) -> str:
        return f"5c000000-0000-4000-8000-{self.index:012d}"

    @property
    def jsm_escalation_id(self) -> str:
        return f"e5000000-0000-4000-8000-{self.index:012d}"

    @property
    def services(self) -> list[Service]:
        return [Service(self.index, s) for s in range(SERVICES_PER_TEAM)]

    @property
    def exempt(self) -> Person:
        return Person(self.index, PEOPLE_PER_TEAM - 1)

    @property
    def joiner(self) -> Person | None:
        """Every fifth team has someone who started 20 days before the instant (in the HR export)."""
        return Person(self.index, PEOPLE_PER_TEAM - 2) if self.index % 5 == 0 else None

    @property
    def joiner_without_pagerduty(self) -> bool:
        return self.index % 25 == 0

    @property
    def joiner_without_grafana(self) -> bool:
        return self.index % 10 == 0

    @property
    def flaws(self) -> frozenset[str]:
        """Deterministic mistakes, so that warn and fail come out too (about one team in seven each)."""
        t = self.index
        return frozenset(
            flaw
            for flaw, hit in (
                ("daily-turns", t % 7 == 3),
                ("rotation-of-two", t % 11 == 5),
                ("email-only-responder", t % 13 == 6),
                ("stale-runbook", t % 6 == 2),
                ("incomplete-runbook", t % 9 == 4),
                ("no-logging-dashboard", t % 8 == 1),
                ("alert-without-runbook-url", t % 10 == 7),
                ("no-chaos-day", t % 12 == 9),
                ("no-commander", t % 13 == 11),
                ("uncovered-service", t % 17 == 8),
            )
            if hit
        )

    @property
    def division(self) -> Division:
        return Division((self.index - 1) // TEAMS_PER_DIVISION + 1)

    @property
    def commander_schedule(self) -> str | None:
        """What the team's Group names as its incident commanders (none for the flaw)."""
        return None if "no-commander" in self.flaws else self.division.schedule_id

    @property
    def major_incident_services(self) -> list[Service]:
        """The services the division's P1 trigger covers: all, or all but the last (the flaw)."""
        return self.services[:-1] if "uncovered-service" in self.flaws else self.services

    @property
    def rotation(self) -> list[Person]:
        """The schedule's users in rotation order: every non-exempt member, or two of them."""
        members = [p for p in self.people if p != self.exempt]
        if self.joiner and self.joiner_without_pagerduty:
            members = [p for p in members if p != self.joiner]
        return members[:2] if "rotation-of-two" in self.flaws else members

    @property
    def turn_seconds(self) -> int:
        return 86_400 if "daily-turns" in self.flaws else 604_800

    def on_call(self, at: dt.datetime) -> Person:
        """Who the schedule puts on call at ``at`` (one layer, no overrides)."""
        turns = int((at - ROTATION_START).total_seconds() // self.turn_seconds)
        return self.rotation[turns % len(self.rotation)]

    def start_date(self, person: Person) -> dt.date:
        if person == self.joiner:
            return (INSTANT - dt.timedelta(days=20)).date()
        return dt.date(2019 + (person.index + self.index) % 6, 1 + person.index, 7)

    @property
    def chaos_day(self) -> dt.datetime | None:
        """The team's last Chaos Day: 10 to 70 days ago (a feed event or, every third team, the catalog)."""
        if "no-chaos-day" in self.flaws:
            return None
        return INSTANT - dt.timedelta(days=10 + (self.index * 7) % 61, hours=14)

    @property
    def chaos_day_in_catalog(self) -> bool:
        return self.index % 3 == 0


@dataclass(frozen=True)
class Incident:
    team: Team
    number: int  # 1-based across the organisation
    service: Service
    created: dt.datetime
    high_urgency: bool

    @property
    def incident_id(self) -> str:
        return f"Q{self.number:07d}"

    @property
    def responder(self) -> Person:
        return self.team.on_call(self.created)

    @property
    def acknowledged(self) -> dt.datetime:
        return self.created + dt.timedelta(minutes=3 + self.number % 12)

    @property
    def resolved(self) -> dt.datetime | None:
        """The newest incidents are still open, as on any real account (one in fifty)."""
        if self.number % 50 == 0:
            return None
        return self.created + dt.timedelta(minutes=25 + self.number % 90)

    @property
    def reviewed(self) -> bool:
        """Every second high-urgency incident resolved in the review window (and a day before the audit)."""
        resolved = self.resolved
        return (
            self.high_urgency
            and self.number % 2 == 0
            and resolved is not None
            and INSTANT - dt.timedelta(days=REVIEW_DAYS) <= resolved <= INSTANT - dt.timedelta(days=1)
        )

    @property
    def review_page_id(self) -> str:
        return str(FIRST_REVIEW_ID + self.number)

    @property
    def action_key(self) -> str:
        """The Jira action item its review names."""
        return f"ACT-{self.number}"


@dataclass(frozen=True)
class Organisation:
    size: int  # number of teams

    @classmethod
    def of(cls, teams: int) -> Organisation:
        if teams < 1:
            raise ValueError(f"an organisation needs at least one team, got {teams}")
        return cls(teams)

    @cached_property
    def teams(self) -> list[Team]:
        return [Team(t) for t in range(1, self.size + 1)]

    @cached_property
    def divisions(self) -> list[Division]:
        return [Division(d) for d in range(1, -(-self.size // TEAMS_PER_DIVISION) + 1)]

    @cached_property
    def incidents(self) -> list[Incident]:
        """Six per team in the last 34 days, spread over the day so that some wake people up."""
        incidents, number = [], 0
        for team in self.teams:
            for i in range(INCIDENTS_PER_TEAM):
                number += 1
                hours = (team.index * 37 + i * 131) % (INCIDENT_DAYS * 24)
                created = INSTANT - dt.timedelta(hours=hours + 1, minutes=(team.index * 13 + i * 7) % 60)
                service = team.services[(team.index + i) % SERVICES_PER_TEAM]
                incidents.append(Incident(team, number, service, created, high_urgency=i % 3 != 2))
        return incidents

    @property
    def pagerduty_teams(self) -> list[Team]:
        return [team for team in self.teams if not team.on_jsm]

    @property
    def jsm_teams(self) -> list[Team]:
        return [team for team in self.teams if team.on_jsm]

    @property
    def pagerduty_incidents(self) -> list[Incident]:
        return [incident for incident in self.incidents if not incident.team.on_jsm]

    @property
    def jsm_alerts(self) -> list[Incident]:
        return [incident for incident in self.incidents if incident.team.on_jsm]

    @property
    def counts(self) -> dict[str, int]:
        """What the API floors are computed from (``floors.py``)."""
        services = [service for team in self.teams for service in team.services]
        confluence = sum(service.runbook_on_confluence for service in services)
        pagerduty_users = sum(
            len(team.people) - (1 if team.joiner and team.joiner_without_pagerduty else 0)
            for team in self.pagerduty_teams
        )
        divisions = len(self.divisions)
        on_pagerduty, on_jsm = len(self.pagerduty_teams), len(self.jsm_teams)
        look_back = INSTANT - dt.timedelta(days=JSM_ALERT_LOOK_BACK_DAYS)
        return {
            "teams": self.size,
            "people": self.size * PEOPLE_PER_TEAM,
            "commanders": divisions * COMMANDERS_PER_DIVISION,
            "pagerduty_users": pagerduty_users + divisions * COMMANDERS_PER_DIVISION,
            "services": len(services),
            "pagerduty_services": on_pagerduty * SERVICES_PER_TEAM,
            "schedules": on_pagerduty + divisions,
            "escalation_policies": on_pagerduty + divisions,
            "priorities": len(PRIORITIES),
            "incident_workflows": divisions,
            "workflow_triggers": divisions,
            "incidents": len(self.pagerduty_incidents),
            "open_incidents": sum(incident.resolved is None for incident in self.pagerduty_incidents),
            "jsm_teams": on_jsm,
            "jsm_people": sum(len(team.people) for team in self.jsm_teams),
            "jsm_alerts": len(self.jsm_alerts),
            "jsm_alerts_look_back": sum(alert.created >= look_back for alert in self.jsm_alerts),
            "grafana_teams": self.size,
            "dashboards": 2 * len(services) - sum("no-logging-dashboard" in team.flaws for team in self.teams),
            "panel_only_dashboards": sum(team.index % PANELS_ONLY_EVERY == 0 for team in self.teams),
            "grafana_alert_rules": 2 * self.size,  # an error-rate rule and an SLO's fast-burn rule per team
            "grafana_slos": self.size,
            "github_runbooks": len(services) - confluence,
            "github_repositories": self.size,
            "confluence_runbooks": confluence,
            "reviews": sum(incident.reviewed for incident in self.incidents),
            "review_actions": sum(incident.reviewed for incident in self.incidents),
        }
