"""The shared schema: the warehouse's result tables and the vocabulary of statuses and levels.

One declaration, read by the checks and their runner, the scorecard, the warehouse, the
Readiness page and the emails. Change it on purpose: the result tables are the analysts'
contract (``docs/warehouse.md``).

Result tables
-------------
``RESULT_TABLES`` maps each result table to its columns and their kinds (``string``,
``float``, ``integer``, ``boolean``, ``date``), in the order the warehouse creates them. Every table
also has an ``audit_date`` column, added by the warehouse in front of these (its partition).

Statuses, worst first
---------------------
A check gives each team a status and each subject (service, person, schedule) an outcome,
from ``STATUSES``, listed worst first: ``fail``, ``warn``, ``unknown``, ``waived``, ``pass``.
``SEVERITY`` is that order as ranks (0 is the worst). It decides:

- a team's status for a check: the worst of its findings
  (``checks.results_from_findings``), and a subject's outcome: its worst finding;
- which finding leads a check's reason, and which check's reason is a team's headline on
  the Readiness page;
- the order of checks and findings on the page and in the emails.

Why ``warn`` before ``unknown``: a warn is a problem the audit has seen and the team can act
on today; an unknown says the audit could not see a subject (a source down, data that failed
validation). When a check finds both for one team, it reports the problem it saw and counts
the unknown among the other findings, rather than hide a real problem behind "we could not
tell". The unknown is not lost: the scorecard counts unknown checks apart and marks the team
not fully assessed, and an unknown is never scored as a pass. This is also the order the
checks have always used, so their results do not depend on where they are displayed.

``waived`` (a known gap, accepted by an approver until the waiver expires) ranks after every
status that needs action and before ``pass``: it shows in every report, below the problems.
A status outside the vocabulary ranks after all of them.

Levels
------
``LEVELS``, best first: ``gold``, ``silver``, ``bronze``, ``none``. ``LEVEL_RULES`` is the
rubric (``scorecard`` applies it): the least score of each level and whether a failed check
still allows it; ``none`` is every score below bronze's floor, and no score at all.
:func:`level_rank` orders levels for comparison (gold highest).
"""

from __future__ import annotations

from dataclasses import dataclass

RESULT_TABLES: dict[str, dict[str, str]] = {
    "check_results": {
        "team": "string",
        "check_id": "string",
        "status": "string",
        "score": "float",
        "reason": "string",
        "remediation": "string",
    },
    # url and subject_name: the web page of what the finding is about and its display name, from the
    # sources' ``<source>_links`` facts (the checks runner fills them; NULL where no source links it).
    "findings": {
        "team": "string",
        "check_id": "string",
        "subject": "string",
        "outcome": "string",
        "message": "string",
        "url": "string",
        "subject_name": "string",
    },
    "scorecard": {
        "team": "string",
        "score": "float",
        "level": "string",
        "passed": "integer",
        "warned": "integer",
        "failed": "integer",
        "unknown": "integer",
        "fully_assessed": "boolean",
        "score_change_7d": "float",
        # Checks an approved waiver turned into ``waived`` (not in the four counts above, nor in the score).
        "waived": "integer",
    },
    "data_quality": {
        "source": "string",
        "facts_table": "string",
        "expectation": "string",
        "success": "boolean",
        "observed_value": "string",
        "details": "string",
    },
    # Every waiver in the catalog and whether it applies on the audit date (oncall_readiness.waivers);
    # subject is NULL for a waiver of the whole check, source the file and line it was written at.
    "waivers": {
        "team": "string",
        "check_id": "string",
        "subject": "string",
        "reason": "string",
        "approver": "string",
        "approved": "date",
        "expires": "date",
        "active": "boolean",
        "source": "string",
    },
    # Per started campaign and team: does the team meet it on the audit date (oncall_readiness.campaigns).
    "campaign_progress": {
        "campaign_id": "string",
        "title": "string",
        "team": "string",
        "meets": "boolean",
        "reason": "string",
        "start": "date",
        "due": "date",
    },
    # Per parent group (department, organization): its teams rolled up (oncall_readiness.rollup).
    "scorecard_rollup": {
        "group_name": "string",
        "group_type": "string",
        "parent": "string",
        "score": "float",
        "level": "string",
        "teams": "integer",
        "services": "integer",
    },
    # Per SLO matched to a service (Sloth, Pyrra, Grafana SLO): the SLOs the availability-target check judged.
    "slos": {
        "team": "string",
        "service": "string",
        "slo": "string",
        "objective": "float",
        "window": "string",
        "source": "string",
        "page_burn_rate_alert": "boolean",
    },
    # Per incident due (or soon due) a review, and per Jira action its review links: what the
    # post-incident-review check judged (oncall_readiness.checks.post_incident_review.review_tables).
    "incident_reviews": {
        "incident_id": "string",
        "team": "string",
        "review_url": "string",
        "title": "string",
        "created": "timestamp",
        "due": "date",
        "late": "boolean",
        "restricted": "boolean",
    },
    "action_items": {
        "key": "string",
        "incident_id": "string",
        "team": "string",
        "status": "string",
        "due": "date",
        "resolved": "timestamp",
        "days_overdue": "integer",
    },
}
AUDIT_DATE = "audit_date"

CHECK_RESULT_COLUMNS: tuple[str, ...] = tuple(RESULT_TABLES["check_results"])
FINDING_COLUMNS: tuple[str, ...] = tuple(RESULT_TABLES["findings"])
# The columns of a finding's link (``<source>_links`` facts: subject, name, url), added by the checks runner.
FINDING_LINK_COLUMNS: tuple[str, ...] = ("url", "subject_name")
LINK_COLUMNS: dict[str, str] = {"subject": "string", "name": "string", "url": "string"}
LINKS_SUFFIX = "_links"
SCORECARD_COLUMNS: tuple[str, ...] = tuple(RESULT_TABLES["scorecard"])
WAIVER_COLUMNS: tuple[str, ...] = tuple(RESULT_TABLES["waivers"])

STATUSES: tuple[str, ...] = ("fail", "warn", "unknown", "waived", "pass")
SEVERITY: dict[str, int] = {status: rank for rank, status in enumerate(STATUSES)}
# A service outside a check's scope (``applies_to``) is a ``pass`` finding whose message starts
# with this: the page and the emails list such services as not judged.
OUT_OF_SCOPE = "Out of scope"
# The checks that judge whether a page reaches a person: among problems of equal status and weight,
# theirs are the most pressing (a page that may reach nobody), on the page and in the emails.
PAGING_CHECKS: tuple[str, ...] = ("escalation-path", "incident-command")
# Finding outcomes that ask nothing of the team: the page and the emails list only the others.
NO_ACTION_OUTCOMES: tuple[str, ...] = ("pass", "waived")
# The scorecard's count column of each status (a waived check counts in ``waived`` only, never in the score).
STATUS_COUNTS: dict[str, str] = {
    "pass": "passed",
    "warn": "warned",
    "fail": "failed",
    "unknown": "unknown",
    "waived": "waived",
}

# The warehouse tables of incidents (oncall_readiness.incidents builds their rows; docs/incidents.md).
INCIDENT_COLUMNS: dict[str, str] = {
    "incident_id": "string",
    "incident_number": "integer",
    "title": "string",
    "team": "string",
    "service": "string",
    "pagerduty_service_id": "string",
    "urgency": "string",
    "priority": "string",
    "status": "string",
    "created_at": "timestamp",
    "acknowledged_at": "timestamp",
    "resolved_at": "timestamp",
    "seconds_to_first_ack": "integer",
    "seconds_to_resolve": "integer",
    "minutes": "float",
    "cost_per_minute": "float",
    "currency": "string",
    "estimated_loss": "float",
    "priced": "boolean",
}
INCIDENT_COST_COLUMNS: dict[str, str] = {
    "team": "string",
    "iso_week": "string",
    "incidents": "integer",
    "high_urgency_incidents": "integer",
    "minutes": "float",
    "estimated_loss": "float",
    "unpriced_incidents": "integer",
    "currency": "string",
}
# Partitioned by audit_date, cleared and rewritten with the rest of an audit date by the publish.
AUDIT_INCIDENT_TABLES: dict[str, dict[str, str]] = {
    "incidents": INCIDENT_COLUMNS,
    "incident_costs": INCIDENT_COST_COLUMNS,
}
# What the last incident_cost_watch run saw: not partitioned, each run replaces it.
OPEN_INCIDENT_COSTS = "open_incident_costs"
OPEN_INCIDENT_COST_COLUMNS: dict[str, str] = {
    "checked_at": "timestamp",
    "incident_id": "string",
    "incident_number": "integer",
    "title": "string",
    "team": "string",
    "service": "string",
    "urgency": "string",
    "status": "string",
    "created_at": "timestamp",
    "minutes": "integer",
    "cost_per_minute": "float",
    "currency": "string",
    "estimated_loss": "float",
    "priced": "boolean",
}

# Scores (0 to 100, and a check's 0 to 10) have one decimal wherever they are stored, served or shown.
SCORE_DECIMALS = 1


def rounded_score(value: float | None) -> float | None:
    """A score to ``SCORE_DECIMALS``; None (or NaN) stays None. Drops the noise of a single-precision column."""
    if value is None or value != value:
        return None
    return round(float(value), SCORE_DECIMALS)


LEVELS: tuple[str, ...] = ("gold", "silver", "bronze", "none")
NO_LEVEL = LEVELS[-1]


@dataclass(frozen=True)
class LevelRule:
    level: str
    min_score: float
    allows_failures: bool  # may a team with a failed check hold it


LEVEL_RULES: tuple[LevelRule, ...] = (
    LevelRule("gold", 90.0, allows_failures=False),
    LevelRule("silver", 75.0, allows_failures=False),
    LevelRule("bronze", 50.0, allows_failures=True),
)


def level_rank(level: str | None) -> int:
    """Levels ordered for comparison: none 0, bronze 1, silver 2, gold 3; anything else -1 (below every level)."""
    return len(LEVELS) - 1 - LEVELS.index(level) if level in LEVELS else -1


def lowest_level(levels: list[str]) -> str:
    """The lowest of ``levels`` (``none`` when there are none)."""
    return min(levels, key=level_rank) if levels else NO_LEVEL


def levels_rubric() -> str:
    """The rubric in one sentence, as the emails print it."""
    parts = [
        f"{rule.level} at least {rule.min_score:g}{'' if rule.allows_failures else ' and no failed check'}"
        for rule in LEVEL_RULES
    ]
    return f"Levels: {', '.join(parts)}, {NO_LEVEL} below."


def severity(status: str | None) -> int:
    """The rank of a status, worst first; a status outside the vocabulary ranks after every known one."""
    return len(STATUSES) if status is None else SEVERITY.get(status, len(STATUSES))
