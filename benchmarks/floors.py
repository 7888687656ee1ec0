"""The least each API allows for an organisation: requests, and the wall time they need.

**Request floor** of a source: what the audit must read from it, each collection in pages of
the largest size the API allows, every query as full as the API lets it be, no object read
twice, no failed or retried request:

- PagerDuty (classic pagination, 100 a page): users, schedules, services, escalation
  policies, on-call entries of the window (every turn of every team schedule and every
  division's incident-commander schedule overlapping [instant - window_days, instant +
  coverage_days): one query), the priorities, the incident workflows with their steps, their
  triggers (cursor pagination, 100 a page), the open incidents, and listed of the
  look-back's resolved incidents only those analytics does not hold yet (the sandbox's
  analytics holds back what was created in the last 24 hours of its clock), at least the one
  page whose ``total`` says analytics holds the rest; the analytics API's raw incidents it
  holds (1,000 a page) and one responder-metrics query per week of the load check.
- Grafana: the dashboard search (5,000 a page), one ``GET /api/dashboards/uid`` per
  dashboard whose kind only its panels tell, the team search (1,000 a page), one member list
  per registry team (Grafana does not page or batch it), one alert-rules call, one Grafana SLO
  list (the SLO plugin's API has no paging: every SLO in one answer).
- GitHub: one GraphQL query per ``GITHUB_FILES_PER_QUERY`` (100) runbooks (each file's last commit
  before the instant and its text at that commit); the REST floor, two calls per runbook,
  is shown beside it.
- Confluence: one v2 pages call per 250 page ids (no page was edited after the instant, so
  no version history is needed); the post-incident reviews: one CQL search per 50 reviews,
  one v2 pages call per 250 of them, one read-restrictions call per review.
- Jira: one JQL search (``key in (...)``) per 100 action keys, each answered in one page of
  100. (The Jira collector finds the keys by reading the reviews' search and bodies again
  from Confluence, as sources are collected in parallel: those calls land on Confluence, over
  its floor.)
- JSM Operations (the teams on call there, ``org.JSM_EVERY``): the cloud id, the teams, the
  schedules with their rotations (50 a page), one timeline and two team calls (escalations,
  routing rules) per team, the caller's notification rules, the alerts newest first until one
  is older than the look-back (100 a page), one log read per alert of the look-back, and the
  people's accounts (200 a call).
- Chaos Day calendar: the feed, once. Prometheus: one rules call, alerting and recording rules
  together (a real server, not counted).
- The registry through Backstage's catalog API (``benchmarks/registry_api.py``): one
  ``by-query`` for Groups, Users and Components together, pages of the client's
  ``sources.backstage_catalog.PAGE_SIZE`` (1,000; Backstage sets no maximum, the page size is the client's
  choice, justified there): ``ceil(entities / 1000)`` requests.

**Time floor** of a source: ``max(n x latency / concurrency, rate-limit time)`` for its request
floor ``n``, where concurrency is what the collector uses with the API (GitHub serially, as its
best practices ask; PagerDuty serially by the audit's choice: its docs set no concurrency limit,
only 960 requests a minute per token, shared by everything that uses the token; Grafana and
Confluence the collectors' bounded pool of 8) and the rate-limit time is what a fixed window of
``L`` requests per ``W`` seconds lets through: ``floor((n - 1) / L) x W`` (the first window's
requests go at once, each later window waits for its reset). For a budget of points (GitHub
GraphQL: 5,000 an hour, at least one point a query) the same with points.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from benchmarks.org import INSTANT, JSM_ALERT_LOOK_BACK_DAYS, ROTATION_START, WEEK, Organisation
from readiness_sandbox.pagerduty.analytics import ANALYTICS_LAG

PAGERDUTY_PAGE = 100
PAGERDUTY_ANALYTICS_PAGE = 1000
LOAD_WEEKS = 4
GRAFANA_SEARCH_PAGE = 5000
GRAFANA_TEAMS_PAGE = 1000
CONFLUENCE_IDS_PER_CALL = 250
CONFLUENCE_SEARCH_PAGE = 50
JIRA_KEYS_PER_QUERY = 100
# GitHub charges a GraphQL query one point per 100 connections it asks for (at least one):
# 100 files, each with its history(first: 1), is the largest query that costs one point.
GITHUB_FILES_PER_QUERY = 100
BOUNDED_POOL = 8
JSM_SCHEDULE_PAGE = 50
JSM_PAGE = 100
JSM_USERS_PER_CALL = 200


@dataclass(frozen=True)
class RateLimit:
    requests: int
    per_seconds: float


# What the APIs enforce, and so the sandbox in the benchmark. Grafana (self-hosted) has no API
# rate limit: the benchmark lifts the emulator's default (SANDBOX_RATE_LIMITS).
RATE_LIMITS: dict[str, RateLimit | None] = {
    "pagerduty": RateLimit(960, 60),
    "grafana": None,
    "github": RateLimit(5000, 3600),
    "confluence": RateLimit(100, 1),
    "chaos_calendar": RateLimit(960, 60),
    # Atlassian publishes no fixed limit for the JSM Operations API (its cloud limits are dynamic):
    # none here, the emulator's own (100 a minute) lifted like Grafana's.
    "jsm_ops": None,
    "jira": RateLimit(100, 1),  # the emulator's default; Jira Cloud's own limits are cost-based
}
SANDBOX_RATE_LIMITS = {"grafana": "1000000/1", "jsm_ops": "1000000/1"}
CONCURRENCY = {
    "pagerduty": 1,
    "grafana": BOUNDED_POOL,
    "github": 1,
    "confluence": BOUNDED_POOL,
    "chaos_calendar": 1,
    "jsm_ops": 1,
    "jira": 1,
}


def pages(count: int, size: int) -> int:
    """Pages to read ``count`` objects; an empty collection still costs its one query."""
    return max(1, math.ceil(count / size))


def oncall_entries(org: Organisation, window_days: int, coverage_days: int) -> int:
    """Turns of every team schedule that overlap [instant - window_days, instant + coverage_days)."""
    since = INSTANT - dt.timedelta(days=window_days)
    until = INSTANT + dt.timedelta(days=coverage_days)
    total = 0
    for team in org.pagerduty_teams:
        turn = dt.timedelta(seconds=team.turn_seconds)
        first = (since - ROTATION_START) // turn
        last = math.ceil((until - ROTATION_START) / turn)
        total += last - first
    return total


def commander_oncall_entries(org: Organisation, window_days: int, coverage_days: int) -> int:
    """Weekly turns of every division's incident-commander schedule that overlap the same window."""
    since = INSTANT - dt.timedelta(days=window_days)
    until = INSTANT + dt.timedelta(days=coverage_days)
    first = (since - ROTATION_START) // WEEK
    last = math.ceil((until - ROTATION_START) / WEEK)
    return len(org.divisions) * (last - first)


def request_floors(
    org: Organisation, *, window_days: int = 28, coverage_days: int = 14, now: dt.datetime | None = None
) -> dict[str, dict[str, int]]:
    """Source -> collection -> the fewest requests that read it, with the sandbox's clock at ``now`` (default: now)."""
    counts = org.counts
    incidents_look_back = [i for i in org.pagerduty_incidents if i.created >= INSTANT - dt.timedelta(days=35)]
    resolved = [i for i in incidents_look_back if i.resolved is not None]
    # What the sandbox's analytics holds: resolved incidents created more than ANALYTICS_LAG before its clock.
    analysed = sum(i.created < (now or dt.datetime.now(dt.UTC)) - ANALYTICS_LAG for i in resolved)
    return {
        "pagerduty": {
            "users": pages(counts["pagerduty_users"], PAGERDUTY_PAGE),
            "schedules": pages(counts["schedules"], PAGERDUTY_PAGE),
            "services": pages(counts["pagerduty_services"], PAGERDUTY_PAGE),
            "escalation_policies": pages(counts["escalation_policies"], PAGERDUTY_PAGE),
            "oncalls": pages(
                oncall_entries(org, window_days, coverage_days)
                + commander_oncall_entries(org, window_days, coverage_days),
                PAGERDUTY_PAGE,
            ),
            # incident-command: what a major incident brings in (one walk each)
            "priorities": pages(counts["priorities"], PAGERDUTY_PAGE),
            "incident_workflows": pages(counts["incident_workflows"], PAGERDUTY_PAGE),
            "workflow_triggers": pages(counts["workflow_triggers"], PAGERDUTY_PAGE),
            "incidents": pages(len(resolved) - analysed, PAGERDUTY_PAGE)
            + pages(counts["open_incidents"], PAGERDUTY_PAGE),
            "analytics": pages(analysed, PAGERDUTY_ANALYTICS_PAGE) + LOAD_WEEKS,
        },
        "grafana": {
            "dashboards": pages(counts["dashboards"], GRAFANA_SEARCH_PAGE) + counts["panel_only_dashboards"],
            "teams": pages(counts["grafana_teams"], GRAFANA_TEAMS_PAGE) + counts["teams"],
            "alert_rules": 1,
            "slos": 1,
        },
        "github": {"runbooks": pages(counts["github_runbooks"], GITHUB_FILES_PER_QUERY)},
        "confluence": {
            "runbooks": pages(counts["confluence_runbooks"], CONFLUENCE_IDS_PER_CALL),
            "reviews": pages(counts["reviews"], CONFLUENCE_SEARCH_PAGE)
            + pages(counts["reviews"], CONFLUENCE_IDS_PER_CALL)
            + counts["reviews"],
        },
        "jsm_ops": jsm_ops_floor(org),
        "chaos_calendar": {"feed": 1},
        "jira": {"actions": pages(counts["review_actions"], JIRA_KEYS_PER_QUERY) if counts["review_actions"] else 0},
    }


def backstage_requests(entities: int, page_size: int) -> int:
    """The registry's read of Backstage's catalog API: one query for the three kinds, full pages but the last."""
    return max(1, math.ceil(entities / page_size))


def jsm_ops_floor(org: Organisation) -> dict[str, int]:
    """The JSM Operations collection of the teams on call there (sources/jsm_ops/collect.py)."""
    teams = org.counts["jsm_teams"]
    look_back = INSTANT - dt.timedelta(days=JSM_ALERT_LOOK_BACK_DAYS)
    recent = sum(alert.created >= look_back for alert in org.jsm_alerts)
    older = len(org.jsm_alerts) - recent
    # Newest first, until a page holds an alert older than the look-back (or the listing ends).
    alert_pages = recent // JSM_PAGE + 1 if older else pages(recent, JSM_PAGE)
    named = sum(len(set(team.rotation) | {team.people[0]}) for team in org.jsm_teams)
    return {
        "cloud_id": 1,
        "teams": 1,
        "schedules": pages(teams, JSM_SCHEDULE_PAGE),
        "timelines": teams,
        "escalations": teams,
        "routing_rules": teams,
        "notification_rules": 1,
        "alerts": alert_pages,
        "alert_logs": recent,
        "users": pages(named, JSM_USERS_PER_CALL),
    }


def github_rest_floor(org: Organisation) -> int:
    """Two REST calls per runbook: its last commit, then its text at that commit."""
    return 2 * org.counts["github_runbooks"]


def time_floor(source: str, requests: int, latency_s: float) -> float:
    """Seconds ``requests`` need at the least: latency over the allowed concurrency, or the rate limit."""
    limit = RATE_LIMITS[source]
    latency_bound = requests * latency_s / CONCURRENCY[source]
    if limit is None:
        return latency_bound
    windows = (requests - 1) // limit.requests if requests else 0
    return max(latency_bound, windows * limit.per_seconds)
