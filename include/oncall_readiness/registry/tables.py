"""The registry's tables and what they hold: the reference of the registry facts.

A :class:`Registry` holds five DataFrames, ``teams``, ``people``, ``services``,
``team_schedules`` and ``thresholds``; :meth:`Registry.to_facts` gives them to the audit
as the facts tables ``registry_*`` that analysts query in the warehouse.

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
Group is a team, whatever its ``spec.type`` (parent groups included; the audit scores a
parent group without services only through its roll-up: :mod:`oncall_readiness.rollup`). A User with no
team at all still gets one row in ``people`` with ``team`` None, so that their email
can be matched against other systems.

Annotations (``metadata.annotations``)
--------------------------------------
================================= ========= ==========================================
annotation                        on        becomes
================================= ========= ==========================================
``pagerduty.com/service-id``      Component ``services.pagerduty_service_id``
``pagerduty.com/schedule-ids``    Group     rows of ``team_schedules`` (comma-separated)
``opsgenie.com/team``             Group     ``teams.opsgenie_team``
``atlassian.com/jsm-ops-team``    Group     ``teams.jsm_ops_team``; ``teams.oncall_platform`` ``jsm_ops``
``grafana/dashboard-selector``    Component ``services.dashboard_selector``
``grafana/team``                  Group     ``teams.grafana_team``
``readiness/alert-selector``      Component ``services.alert_selector``
``readiness/start-date``          User      ``people.start_date`` (YYYY-MM-DD)
``readiness/oncall-exempt``       User      ``people.oncall_exempt`` (the reason)
``readiness/last-chaos-day``      Group     ``teams.last_chaos_day`` (YYYY-MM-DD)
``readiness/cost-per-minute``     Component ``services.cost_per_minute`` (number >= 0)
``readiness/<check-id>.<key>``    Group     rows of ``thresholds`` (a per-team override)
``readiness/tier``                Component ``services.tier`` (text, e.g. ``1``: check scopes, level rules)
``readiness/availability-target`` Component ``services.availability_target`` (percent, > 0 and <= 100)
``readiness/slo-selector``        Component ``services.slo_selector`` (label matchers; absent: ``service=<name>``)
``readiness/waivers``             Group     the team's waivers (YAML list; :mod:`oncall_readiness.waivers`)
================================= ========= ==========================================

The Group annotation ``readiness/incident-commander-schedule`` becomes
``teams.incident_commander_schedule``: the PagerDuty schedule of the incident commanders of the
group and of every group below it (the nearest group up the tree that names one applies; the
``incident-command`` check walks the tree).

Columns
-------
Every column has dtype ``object``; a missing value is ``None`` (never NaN). Text is
``str``, dates are ``datetime.date``, ``cost_per_minute`` and ``availability_target`` are ``float``. This writes
to SQL as TEXT, DATE and FLOAT columns. ``FACT_COLUMNS`` states each facts table's column
kinds (``string``, ``date``, ``float``).

* ``teams``: team, display_name, email, parent, type, opsgenie_team, jsm_ops_team,
  oncall_platform, grafana_team, last_chaos_day, incident_commander_schedule, review_space
  (``readiness/review-space``: the Confluence space keys, comma-separated, of its post-incident
  reviews), source_file. One row per Group. ``oncall_platform`` is where the team is on call (the names of
  :data:`oncall_readiness.oncall_facts.PLATFORMS`): ``jsm_ops`` for a Group with
  ``atlassian.com/jsm-ops-team``, else ``pagerduty``. A Group on JSM Operations that also names
  PagerDuty schedules, or owns a Component with ``pagerduty.com/service-id``, is an error that
  names both annotations, the file and the entity.
* ``people``: person, display_name, email, team, start_date, oncall_exempt,
  source_file. One row per (person, team) membership.
* ``services``: service, team, owner, runbook_url, pagerduty_service_id,
  dashboard_selector, alert_selector, cost_per_minute, lifecycle, type, tier,
  availability_target, slo_selector, source_file. One row per Component.
* ``team_schedules``: team, schedule_id, source (``"pagerduty"``).
* ``thresholds``: team, check_id, key, value (the annotation's text).

``display_name`` is ``spec.profile.displayName``, else ``metadata.title``, else the
name. Emails are stripped and lower-cased: the email is the join key with every other
system. ``owner`` is the resolved owner reference (``group:payments``,
``user:guest``, ``user:development/guest``). ``source_file`` is the POSIX path of the
entity's file relative to the catalog folder (the folder given, or the folder of the
file given), or absolute when a Location led outside it; it is kept in
:meth:`Registry.to_facts` so analysts can find the file behind a row.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field

import pandas as pd

TEAM_COLUMNS = [
    "team",
    "display_name",
    "email",
    "parent",
    "type",
    "opsgenie_team",
    "jsm_ops_team",
    "oncall_platform",
    "grafana_team",
    "last_chaos_day",
    "incident_commander_schedule",
    "review_space",
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
    "tier",
    "availability_target",
    "slo_selector",
    "source_file",
]
TEAM_SCHEDULE_COLUMNS = ["team", "schedule_id", "source"]
THRESHOLD_COLUMNS = ["team", "check_id", "key", "value"]

_KINDS = {"last_chaos_day": "date", "start_date": "date", "cost_per_minute": "float", "availability_target": "float"}
# The facts tables of :meth:`Registry.to_facts` and their column kinds (string, date, float),
# gathered with every source's tables by ``oncall_readiness.source_catalogue``.
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
    # The Groups' ``readiness/waivers`` annotations, unparsed: (team, file, line, text); the
    # waivers module validates them with the waivers file (they are not facts).
    waiver_annotations: tuple[tuple[str, str, int, str], ...] = field(default=())
    # The Groups' ``readiness/waiver-approvers`` (lower-cased emails): who may approve a waiver of
    # the Group or a team below it (the nearest Group that names any decides).
    waiver_approvers: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # Where each threshold override was written, (team, check_id, key) -> "file: Group 'x' field",
    # so the check catalogue can name it when it refuses the value (not facts either).
    threshold_places: Mapping[tuple[str, str, str], str] = field(default_factory=dict)

    def to_facts(self) -> dict[str, pd.DataFrame]:
        """The registry as facts tables (copies, ``source_file`` kept)."""
        return {
            "registry_teams": self.teams.copy(),
            "registry_people": self.people.copy(),
            "registry_services": self.services.copy(),
            "registry_team_schedules": self.team_schedules.copy(),
            "registry_thresholds": self.thresholds.copy(),
        }


def facts_as_of(facts: dict[str, pd.DataFrame], day: dt.date) -> dict[str, pd.DataFrame]:
    """The registry's facts as of ``day``: what the catalog dates after it was not so yet.

    The catalog is read as it is now. A ``readiness/last-chaos-day`` after ``day`` was written
    since (its value on ``day`` is in the catalog's history, not here): left empty, so the
    Chaos Day calendar decides. A person whose ``readiness/start-date`` is after ``day`` had not
    joined: left out. Auditing a past date so judges it without failing the registry's contract.
    """
    teams, people = facts["registry_teams"], facts["registry_people"]
    later = pd.to_datetime(teams["last_chaos_day"], errors="coerce") > pd.Timestamp(day)
    if later.any():
        teams = teams.copy()
        teams.loc[later, "last_chaos_day"] = None
    joined = ~(pd.to_datetime(people["start_date"], errors="coerce") > pd.Timestamp(day))
    return {**facts, "registry_teams": teams, "registry_people": people[joined].reset_index(drop=True)}
