"""JSM Operations' data contract: what a complete, consistent read of the site looks like.

Catches the ways a real read goes wrong: a field dropped by an API change (nulls), duplicated
records (unique ids, one row per person and week), timestamps past what was asked for (a shift
starting after the look-ahead, an alert created after the audit instant), references that do
not resolve (a rotation member, a shift's person or an alert's notified person who is not a user
the site answered, a schedule an escalation pages that the schedule listing lacks, a route's
escalation that the team's escalations lack: JSM's listings state no total, so these are how a
lost page shows), values outside
JSM's documented sets (priorities, contact methods), and a read that lost most of the people of
the registry's teams on JSM. Who a person is notified by is the caller's alone (the platform's
gap, ``oncall_facts``), and alerts JSM would not list are ``jsm_ops_unreadable``: neither is bad
data, their checks say unknown.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from oncall_readiness.quality import Expectations, QualityContext
from oncall_readiness.sources.jsm_ops.facts import CONTACT_TYPES, PRIORITIES

# A registry typo makes one person missing; most of them missing is a bad read.
MOSTLY_FOUND = 0.5


def suites(facts: Mapping[str, pd.DataFrame], context: QualityContext) -> dict[str, Expectations]:
    import great_expectations.expectations as gxe  # imported on use: GX is slow to import

    users = sorted(facts["jsm_ops_users"]["user_id"].dropna())
    emails = sorted(facts["jsm_ops_users"]["email"].dropna())
    schedules = sorted(facts["jsm_ops_schedules"]["schedule_id"].dropna())
    routes = sorted(facts["jsm_ops_services"]["service_id"].dropna())
    levels = facts["jsm_ops_escalation_levels"]
    policies = sorted(levels["escalation_policy_id"].dropna().unique())
    now = context.audit_instant.to_pydatetime()
    ahead = (context.audit_instant + pd.Timedelta(days=context.look_ahead_days)).to_pydatetime()
    teams = context.registry.get("registry_teams", pd.DataFrame(columns=["team"]))
    on_jsm = (
        sorted(teams.loc[teams.get("oncall_platform", pd.Series(dtype="string")) == "jsm_ops", "team"])
        if len(teams)
        else []
    )
    people = context.registry.get("registry_people", pd.DataFrame(columns=["email", "team"]))
    jsm_people = people[people["team"].isin(on_jsm)] if on_jsm else people.iloc[0:0]
    return {
        "registry_people": (
            [
                gxe.ExpectColumnValuesToBeInSet(
                    column="email",
                    value_set=emails,
                    mostly=MOSTLY_FOUND,
                    row_condition=f"team in {on_jsm!r}",
                    condition_parser="pandas",
                )
            ]
            if len(jsm_people)
            else []
        ),
        "jsm_ops_users": [
            gxe.ExpectColumnValuesToNotBeNull(column="user_id"),
            gxe.ExpectColumnValuesToBeUnique(column="user_id"),
            gxe.ExpectColumnValuesToBeUnique(column="email"),
        ],
        "jsm_ops_notification_rules": [
            gxe.ExpectColumnValuesToNotBeNull(column="rule_id"),
            gxe.ExpectColumnValuesToBeInSet(column="user_id", value_set=users),
            gxe.ExpectColumnValuesToBeBetween(column="start_delay_minutes", min_value=0),
            gxe.ExpectColumnValuesToBeInSet(
                column="contact_method_type", value_set=sorted(set(CONTACT_TYPES.values()))
            ),
        ],
        "jsm_ops_schedules": [
            gxe.ExpectColumnValuesToNotBeNull(column="schedule_id"),
            gxe.ExpectColumnValuesToBeUnique(column="schedule_id"),
        ],
        "jsm_ops_team_schedules": [
            gxe.ExpectColumnValuesToBeInSet(column="schedule_id", value_set=schedules),
            gxe.ExpectColumnValuesToNotBeNull(column="team"),
        ],
        "jsm_ops_rotation_members": [
            gxe.ExpectColumnValuesToNotBeNull(column="user_id"),
            gxe.ExpectColumnValuesToBeInSet(column="user_id", value_set=users),
            gxe.ExpectColumnValuesToBeInSet(column="schedule_id", value_set=schedules),
            gxe.ExpectColumnValuesToBeBetween(column="turn_length_seconds", min_value=1),
            gxe.ExpectCompoundColumnsToBeUnique(column_list=["schedule_id", "rotation_id", "member_position"]),
        ],
        "jsm_ops_shifts": [
            gxe.ExpectColumnValuesToNotBeNull(column="start"),
            gxe.ExpectColumnValuesToNotBeNull(column="end"),
            gxe.ExpectColumnValuesToBeInSet(column="user_id", value_set=users),
            gxe.ExpectColumnValuesToBeInSet(column="schedule_id", value_set=schedules),
            gxe.ExpectColumnValuesToBeBetween(column="start", max_value=ahead),
            gxe.ExpectColumnPairValuesAToBeGreaterThanB(column_A="end", column_B="start"),
        ],
        "jsm_ops_escalation_levels": [
            gxe.ExpectColumnValuesToNotBeNull(column="escalation_policy_id"),
            gxe.ExpectColumnValuesToBeBetween(column="level", min_value=1),
            gxe.ExpectColumnValuesToBeBetween(column="delay_minutes", min_value=0),
            gxe.ExpectColumnValuesToNotBeNull(column="target_id"),
            # JSM's schedule listing states no total: a schedule an escalation pages that the listing
            # lacks says a page went missing (or the account cannot see it), not that it is gone.
            gxe.ExpectColumnValuesToBeInSet(
                column="target_id",
                value_set=schedules,
                row_condition='target_type == "schedule"',
                condition_parser="pandas",
            ),
        ],
        "jsm_ops_services": [
            gxe.ExpectColumnValuesToNotBeNull(column="service_id"),
            gxe.ExpectColumnValuesToBeUnique(column="service_id"),
            # The escalation a team's routing rule notifies is one the team's listing gave.
            gxe.ExpectColumnValuesToBeInSet(column="escalation_policy_id", value_set=policies),
        ],
        "jsm_ops_service_links": [
            gxe.ExpectColumnValuesToBeUnique(column="service"),
            gxe.ExpectColumnValuesToBeInSet(column="team", value_set=on_jsm),
        ],
        "jsm_ops_incidents": [
            gxe.ExpectColumnValuesToNotBeNull(column="incident_id"),
            gxe.ExpectColumnValuesToBeUnique(column="incident_id"),
            gxe.ExpectColumnValuesToNotBeNull(column="created_at"),
            gxe.ExpectColumnValuesToBeBetween(column="created_at", max_value=now),
            gxe.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A="resolved_at", column_B="created_at", or_equal=True, ignore_row_if="either_value_is_missing"
            ),
            gxe.ExpectColumnValuesToBeInSet(column="priority", value_set=list(PRIORITIES)),
            gxe.ExpectColumnValuesToBeInSet(column="urgency", value_set=["high", "low"]),
            gxe.ExpectColumnValuesToBeInSet(column="service_id", value_set=routes),
        ],
        "jsm_ops_notifications": [
            gxe.ExpectColumnValuesToBeInSet(column="user_id", value_set=users),
            gxe.ExpectColumnValuesToNotBeNull(column="sent_at"),
            gxe.ExpectColumnValuesToBeInSet(
                column="contact_method_type", value_set=sorted(set(CONTACT_TYPES.values()))
            ),
        ],
        "jsm_ops_responder_weeks": [
            gxe.ExpectColumnValuesToBeInSet(column="user_id", value_set=users),
            gxe.ExpectCompoundColumnsToBeUnique(column_list=["user_id", "week_start"]),
            gxe.ExpectColumnValuesToBeBetween(column="sleep_hour_interruptions", min_value=0),
            gxe.ExpectColumnValuesToBeBetween(column="seconds_on_call", min_value=0, max_value=7 * 86_400),
        ],
        "jsm_ops_priorities": [gxe.ExpectColumnValuesToBeUnique(column="position")],
    }
