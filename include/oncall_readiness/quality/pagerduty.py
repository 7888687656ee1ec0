"""PagerDuty's data contract: what a complete, consistent read of the account looks like.

Catches the ways a real API read goes wrong: a field dropped by an API change (nulls),
a truncated last page (fewer objects than PagerDuty's own ``total``), duplicated records
(unique ids), timestamps without a zone or past what was asked for (a service created after
the audit instant, a shift starting after the look-ahead), references that do not resolve (a
rotation member or a shift's user who is not a user, a notification rule that delivers
through no contact method, a trigger of a workflow the listing lacks), and a read that silently
lost most of the registry's schedules or people. A collection PagerDuty would not give
(``pagerduty_unreadable``, 402/403) is not bad data: its check says unknown.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from oncall_readiness.quality import Expectations, QualityContext
from oncall_readiness.sources.pagerduty.workflows import WHAT as WORKFLOW_COLLECTIONS

TRIGGER_TYPES = ("conditional", "manual", "incident_type")

# A registry typo makes one schedule or person missing; most of them missing is a bad read.
MOSTLY_FOUND = 0.5


def suites(facts: Mapping[str, pd.DataFrame], context: QualityContext) -> dict[str, Expectations]:
    import great_expectations.expectations as gxe  # imported on use: GX is slow to import

    users = sorted(facts["pagerduty_users"]["user_id"].dropna())
    emails = sorted(facts["pagerduty_users"]["email"].dropna())
    schedules = sorted(facts["pagerduty_schedules"]["schedule_id"].dropna())
    now = context.audit_instant.to_pydatetime()
    # Shifts are read ahead of the instant as far as a check looks ahead, and no further.
    ahead = (context.audit_instant + pd.Timedelta(days=context.look_ahead_days)).to_pydatetime()
    services = sorted(facts["pagerduty_services"]["service_id"].dropna())
    methods = facts["pagerduty_contact_methods"]
    method_ids = sorted(methods["contact_method_id"].dropna())
    account: dict[str, Expectations] = {
        "registry_team_schedules": [
            gxe.ExpectColumnValuesToBeInSet(column="schedule_id", value_set=schedules, mostly=MOSTLY_FOUND),
        ],
        "registry_people": [
            gxe.ExpectColumnValuesToBeInSet(column="email", value_set=emails, mostly=MOSTLY_FOUND),
        ],
        "pagerduty_collections": [
            gxe.ExpectColumnPairValuesToBeEqual(column_A="collected", column_B="reported_total"),
        ],
        "pagerduty_users": [
            gxe.ExpectColumnValuesToNotBeNull(column="user_id"),
            gxe.ExpectColumnValuesToBeUnique(column="user_id"),
            gxe.ExpectColumnValuesToNotBeNull(column="email"),
            gxe.ExpectColumnValuesToBeUnique(column="email"),
        ],
        "pagerduty_contact_methods": [
            gxe.ExpectColumnValuesToNotBeNull(column="contact_method_id"),
            gxe.ExpectCompoundColumnsToBeUnique(column_list=["user_id", "contact_method_id"]),
            gxe.ExpectColumnValuesToBeInSet(column="user_id", value_set=users),
            gxe.ExpectColumnValuesToNotBeNull(column="type"),
        ],
        "pagerduty_notification_rules": [
            gxe.ExpectColumnValuesToNotBeNull(column="rule_id"),
            gxe.ExpectColumnValuesToBeInSet(column="user_id", value_set=users),
            gxe.ExpectColumnValuesToBeInSet(column="urgency", value_set=["high", "low"]),
            gxe.ExpectColumnValuesToNotBeNull(column="start_delay_in_minutes"),
            gxe.ExpectColumnValuesToBeBetween(column="start_delay_in_minutes", min_value=0),
            # A rule must deliver through one of its user's contact methods, else reachability is a guess.
            gxe.ExpectColumnValuesToBeInSet(column="contact_method_id", value_set=method_ids),
        ],
        "pagerduty_schedules": [
            gxe.ExpectColumnValuesToNotBeNull(column="schedule_id"),
            gxe.ExpectColumnValuesToBeUnique(column="schedule_id"),
        ],
        "pagerduty_rotation_members": [
            gxe.ExpectColumnValuesToNotBeNull(column="user_id"),
            gxe.ExpectColumnValuesToBeInSet(column="user_id", value_set=users),
            gxe.ExpectColumnValuesToBeInSet(column="schedule_id", value_set=schedules),
            gxe.ExpectColumnValuesToBeBetween(column="turn_length_seconds", min_value=1),
            gxe.ExpectCompoundColumnsToBeUnique(column_list=["schedule_id", "layer_id", "member_position"]),
        ],
        "pagerduty_oncall_shifts": [
            gxe.ExpectColumnValuesToNotBeNull(column="user_id"),
            gxe.ExpectColumnValuesToNotBeNull(column="start"),
            gxe.ExpectColumnValuesToNotBeNull(column="end"),
            gxe.ExpectColumnValuesToBeInSet(column="user_id", value_set=users),
            gxe.ExpectColumnValuesToBeInSet(column="schedule_id", value_set=schedules),
            gxe.ExpectColumnValuesToBeBetween(column="start", max_value=ahead),
            gxe.ExpectColumnPairValuesAToBeGreaterThanB(column_A="end", column_B="start"),
        ],
        "pagerduty_services": [
            gxe.ExpectColumnValuesToNotBeNull(column="service_id"),
            gxe.ExpectColumnValuesToBeUnique(column="service_id"),
            gxe.ExpectColumnValuesToBeBetween(column="created_at", max_value=now),
        ],
        "pagerduty_incidents": [
            gxe.ExpectColumnValuesToNotBeNull(column="incident_id"),
            gxe.ExpectColumnValuesToBeUnique(column="incident_id"),
            gxe.ExpectColumnValuesToNotBeNull(column="created_at"),
            gxe.ExpectColumnValuesToBeBetween(column="created_at", max_value=now),
            # Times in order; an open incident has no resolved_at, an unacknowledged one no acknowledged_at.
            *(
                gxe.ExpectColumnPairValuesAToBeGreaterThanB(
                    column_A=later, column_B="created_at", or_equal=True, ignore_row_if="either_value_is_missing"
                )
                for later in ("acknowledged_at", "resolved_at")
            ),
            gxe.ExpectColumnValuesToBeInSet(column="status", value_set=["triggered", "acknowledged", "resolved"]),
            gxe.ExpectColumnValuesToBeInSet(column="urgency", value_set=["high", "low"]),
            gxe.ExpectColumnValuesToBeInSet(column="service_id", value_set=services),
        ],
        "pagerduty_responder_weeks": [
            gxe.ExpectColumnValuesToNotBeNull(column="responder_id"),
            gxe.ExpectColumnValuesToBeInSet(column="responder_id", value_set=users),
            gxe.ExpectCompoundColumnsToBeUnique(column_list=["responder_id", "week_start"]),
            gxe.ExpectColumnValuesToBeBetween(column="sleep_hour_interruptions", min_value=0),
            gxe.ExpectColumnValuesToBeBetween(column="seconds_on_call", min_value=0),
        ],
        "pagerduty_escalation_targets": [
            gxe.ExpectColumnValuesToNotBeNull(column="escalation_policy_id"),
            gxe.ExpectColumnValuesToNotBeNull(column="target_id"),
            gxe.ExpectColumnValuesToBeInSet(
                column="target_type", value_set=["schedule_reference", "user_reference", "schedule", "user"]
            ),
        ],
    }
    return account | _workflows(facts, gxe)


def _workflows(facts: Mapping[str, pd.DataFrame], gxe: Any) -> dict[str, Expectations]:
    """Priorities, incident workflows and triggers: ids present and unique, triggers of listed workflows."""
    unread = set(facts["pagerduty_unreadable"]["collection"]) if "pagerduty_unreadable" in facts else set()
    triggers: Expectations = [
        gxe.ExpectColumnValuesToNotBeNull(column="trigger_id"),
        gxe.ExpectColumnValuesToBeInSet(column="trigger_type", value_set=list(TRIGGER_TYPES)),
    ]
    if "/incident_workflows" not in unread and "pagerduty_incident_workflows" in facts:
        workflows = sorted(facts["pagerduty_incident_workflows"]["workflow_id"].dropna())
        triggers.append(gxe.ExpectColumnValuesToBeInSet(column="workflow_id", value_set=workflows))
    contract: dict[str, Expectations] = {
        "pagerduty_priorities": [
            gxe.ExpectColumnValuesToNotBeNull(column="priority_id"),
            gxe.ExpectColumnValuesToBeUnique(column="priority_id"),
            gxe.ExpectColumnValuesToNotBeNull(column="name"),
        ],
        "pagerduty_incident_workflows": [
            gxe.ExpectColumnValuesToNotBeNull(column="workflow_id"),
            gxe.ExpectColumnValuesToBeUnique(column="workflow_id"),
        ],
        "pagerduty_workflow_responders": [gxe.ExpectColumnValuesToNotBeNull(column="target_id")],
        "pagerduty_workflow_triggers": triggers,
        "pagerduty_unreadable": [
            gxe.ExpectColumnValuesToBeInSet(column="collection", value_set=list(WORKFLOW_COLLECTIONS)),
        ],
    }
    return {table: expectations for table, expectations in contract.items() if table in facts}
