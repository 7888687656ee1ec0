"""PagerDuty's facts as the platform-neutral on-call facts (``oncall_facts``) the on-call checks read.

A pure function of the validated ``pagerduty_*`` tables and the registry's: the renames, the
contact methods PagerDuty delivers to folded into each notification rule, target types without
their ``_reference`` suffix, and the workflow triggers' PCL conditions read here (the checks
do not speak PCL): a trigger starts by itself for every incident (no condition), for every
high-urgency one (a clause ``incident.urgency matches 'high'``), or for the priorities its
clauses ``incident.priority matches '<name>'`` name, each clause alone in an ``or``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

import pandas as pd

from oncall_readiness import oncall_facts
from oncall_readiness.frames import is_in
from oncall_readiness.oncall_facts import from_frame
from oncall_readiness.sources.pagerduty.facts import FACT_COLUMNS, frame

PLATFORM = oncall_facts.PAGERDUTY.name
# The collections of pagerduty_unreadable, by the facet of oncall_unreadable they leave unknown,
# in the order their reasons are told.
FACETS = {
    "/incident_workflows": "incident_workflows",
    "/incident_workflows/triggers": "incident_workflows",
    "/priorities": "priorities",
}
# One clause of a PCL condition that starts a workflow for every major incident.
_CLAUSE = re.compile(r"""^incident\.(priority|urgency)\s+matches\s+(['"])(.*)\2$""", re.IGNORECASE)


def oncall_facts_of(given: Mapping[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The ``oncall_*`` tables of PagerDuty's facts (and the registry's links of the teams on PagerDuty).

    A table not collected (the workflows when no Group names incident commanders) gives no rows.
    """
    facts = _Complete(given)
    return {
        "oncall_users": from_frame("oncall_users", facts["pagerduty_users"], PLATFORM),
        "oncall_notification_rules": _notification_rules(
            facts["pagerduty_notification_rules"], facts["pagerduty_contact_methods"]
        ),
        "oncall_schedules": from_frame("oncall_schedules", facts["pagerduty_schedules"], PLATFORM),
        "oncall_team_schedules": _team_schedules(facts),
        "oncall_rotation_members": from_frame(
            "oncall_rotation_members",
            facts["pagerduty_rotation_members"],
            PLATFORM,
            rotation_id="layer_id",
            rotation_name="layer_name",
            rotation_position="layer_position",
            rotation_start="layer_start",
            rotation_end="layer_end",
        ),
        "oncall_shifts": from_frame("oncall_shifts", facts["pagerduty_oncall_shifts"], PLATFORM),
        "oncall_escalation_levels": _without_reference(
            from_frame(
                "oncall_escalation_levels",
                facts["pagerduty_escalation_targets"],
                PLATFORM,
                delay_minutes="escalation_delay_in_minutes",
            )
        ),
        "oncall_services": from_frame("oncall_services", facts["pagerduty_services"], PLATFORM),
        "oncall_service_links": _service_links(facts),
        "oncall_incidents": _incidents(facts["pagerduty_incidents"]),
        "oncall_responder_weeks": from_frame(
            "oncall_responder_weeks", facts["pagerduty_responder_weeks"], PLATFORM, user_id="responder_id"
        ),
        "oncall_priorities": from_frame("oncall_priorities", facts["pagerduty_priorities"], PLATFORM),
        "oncall_incident_workflows": from_frame(
            "oncall_incident_workflows", facts["pagerduty_incident_workflows"], PLATFORM
        ),
        "oncall_workflow_responders": _without_reference(
            from_frame("oncall_workflow_responders", facts["pagerduty_workflow_responders"], PLATFORM)
        ),
        "oncall_workflow_triggers": _workflow_triggers(facts["pagerduty_workflow_triggers"]),
        "oncall_unreadable": _unreadable(facts["pagerduty_unreadable"]),
    }


class _Complete(dict[str, pd.DataFrame]):
    """The facts, with an empty table for each PagerDuty table not given.

    The registry's tables come complete from ``source_catalogue.with_oncall_facts``: a source
    importing the registry would make the two a cycle (the registry reads Backstage through
    ``sources.http``).
    """

    def __missing__(self, table: str) -> pd.DataFrame:
        if table in FACT_COLUMNS:
            return frame(table, [])
        raise KeyError(f"PagerDuty's on-call facts need the registry's {table!r}, which was not given")


def _notification_rules(rules: pd.DataFrame, methods: pd.DataFrame) -> pd.DataFrame:
    """Each rule, deliverable when its contact method is the user's and PagerDuty does not block it."""
    open_methods = methods.loc[~methods["blacklisted"].fillna(False).astype(bool), ["user_id", "contact_method_id"]]
    usable = set(zip(open_methods["user_id"].tolist(), open_methods["contact_method_id"].tolist(), strict=True))
    deliverable = [
        pair in usable for pair in zip(rules["user_id"].tolist(), rules["contact_method_id"].tolist(), strict=True)
    ]
    table = from_frame("oncall_notification_rules", rules, PLATFORM, start_delay_minutes="start_delay_in_minutes")
    return table.assign(deliverable=pd.array(deliverable, dtype="boolean"))


def _incidents(incidents: pd.DataFrame) -> pd.DataFrame:
    """The incidents, their numbers as text (a JSM alert's is). Their team is their service's and their
    url NA: analytics, which gives most of them, has no web address (a review's PagerDuty link names
    the incident by the id in it)."""
    table = from_frame("oncall_incidents", incidents, PLATFORM)
    return table.assign(incident_number=table["incident_number"].astype("string"))


def _without_reference(table: pd.DataFrame) -> pd.DataFrame:
    """``schedule_reference`` -> ``schedule``: the API's references are the same targets."""
    return table.assign(target_type=table["target_type"].str.removesuffix("_reference"))


def _teams_on_pagerduty(facts: Mapping[str, pd.DataFrame]) -> set[str]:
    teams = facts["registry_teams"]
    if "oncall_platform" not in teams:
        return set(teams["team"].dropna())
    return set(teams.loc[teams["oncall_platform"].fillna(PLATFORM) == PLATFORM, "team"].dropna())


def _team_schedules(facts: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """The schedules the registry links to teams on PagerDuty (``pagerduty.com/schedule-ids``)."""
    links = facts["registry_team_schedules"]
    links = links[is_in(links["team"], _teams_on_pagerduty(facts))]
    return from_frame("oncall_team_schedules", links, PLATFORM)


def _service_links(facts: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Every registry service not owned by a team on another platform, with its ``pagerduty.com/service-id``."""
    services = facts["registry_services"]
    mine = services["team"].isna() | is_in(services["team"], _teams_on_pagerduty(facts))
    return from_frame("oncall_service_links", services[mine], PLATFORM, service_id="pagerduty_service_id")


def _workflow_triggers(triggers: pd.DataFrame) -> pd.DataFrame:
    """One row per trigger and service it names, with when it starts by itself (manual ones never)."""
    conditional = (triggers["trigger_type"] == "conditional").fillna(False).tolist()
    starts = [
        _starts(condition) if auto else (False, False, None)
        for condition, auto in zip(triggers["condition"].tolist(), conditional, strict=True)
    ]
    table = from_frame("oncall_workflow_triggers", triggers, PLATFORM, description="condition")
    return table.assign(
        is_enabled=~triggers["is_disabled"].fillna(False).astype(bool).to_numpy(),
        every_incident=pd.array([every for every, _, _ in starts], dtype="boolean"),
        high_urgency=pd.array([high for _, high, _ in starts], dtype="boolean"),
        priorities=pd.array([names for _, _, names in starts], dtype="string"),
    ).astype({"is_enabled": "boolean"})


def _starts(condition: Any) -> tuple[bool, bool, str | None]:
    """:func:`_read_condition` of a cell (missing: no condition)."""
    return _read_condition(None if condition is None or pd.isna(condition) else str(condition))


@functools.lru_cache(maxsize=4096)  # a trigger's condition repeats on each of its services' rows
def _read_condition(condition: str | None) -> tuple[bool, bool, str | None]:
    """(every incident, every high-urgency incident, the priorities that alone start it) of a PCL condition.

    No condition starts it on every incident. Otherwise a clause counts only alone in an ``or``:
    a clause joined by ``and`` starts it for fewer incidents.
    """
    if condition is None or not condition.strip():
        return True, False, None
    high, priorities = False, []
    for clause in _split(_unwrap(condition), " or "):
        if _split(clause, " and ") != [clause]:
            continue
        match = _CLAUSE.match(_unwrap(clause))
        if match is None:
            continue
        field, value = match.group(1).lower(), match.group(3)
        if field == "urgency" and value.lower() == "high":
            high = True
        elif field == "priority":
            priorities.append(value)
    return False, high, ",".join(priorities) or None


def _split(text: str, word: str) -> list[str]:
    """``text`` split on ``word`` (any case) outside quotes and parentheses, each part stripped."""
    parts, depth, quote, start, lower = [], 0, "", 0, text.lower()
    index = 0
    while index < len(text):
        char = text[index]
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char in "()":
            depth += 1 if char == "(" else -1
        elif depth == 0 and lower.startswith(word, index):
            parts.append(text[start:index].strip())
            start = index = index + len(word)
            continue
        index += 1
    return [*parts, text[start:].strip()]


def _unwrap(text: str) -> str:
    """``text`` without the parentheses that enclose all of it."""
    text = text.strip()
    while text.startswith("(") and text.endswith(")") and _balanced(text[1:-1]):
        text = text[1:-1].strip()
    return text


def _balanced(text: str) -> bool:
    depth = 0
    for char in text:
        depth += 1 if char == "(" else -1 if char == ")" else 0
        if depth < 0:
            return False
    return depth == 0


def _unreadable(unreadable: pd.DataFrame) -> pd.DataFrame:
    """The collections PagerDuty would not give, as the facets they leave unknown (workflows' reasons first)."""
    order = {path: position for position, path in enumerate(FACETS)}
    # The last reason given for a collection holds (as a dict of them would).
    rows = unreadable.drop_duplicates("collection", keep="last")
    rows = rows.assign(position=rows["collection"].map(order)).sort_values("position", kind="stable")
    rows = rows.assign(facet=rows["collection"].map(FACETS).fillna(rows["collection"]))
    return from_frame("oncall_unreadable", rows, PLATFORM)
