"""The registry's data contract: keys present and unique, references that resolve, past dates."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from oncall_readiness.quality import Expectations, QualityContext


def suites(facts: Mapping[str, pd.DataFrame], context: QualityContext) -> dict[str, Expectations]:
    import great_expectations.expectations as gxe  # imported on use: GX is slow to import

    teams = sorted(facts["registry_teams"]["team"].dropna())
    today = context.audit_instant.date()
    return {
        "registry_teams": [
            gxe.ExpectTableRowCountToBeBetween(min_value=1),
            gxe.ExpectColumnValuesToNotBeNull(column="team"),
            gxe.ExpectColumnValuesToBeUnique(column="team"),
            gxe.ExpectColumnValuesToBeBetween(column="last_chaos_day", max_value=today),
        ],
        "registry_people": [
            gxe.ExpectColumnValuesToNotBeNull(column="person"),
            gxe.ExpectColumnValuesToNotBeNull(column="email"),
            gxe.ExpectColumnValuesToMatchRegex(column="email", regex=r"^[^A-Z\s]+@[^A-Z\s]+$"),
            gxe.ExpectCompoundColumnsToBeUnique(column_list=["person", "team"]),
            gxe.ExpectColumnValuesToBeInSet(column="team", value_set=teams),
        ],
        "registry_services": [
            gxe.ExpectColumnValuesToNotBeNull(column="service"),
            gxe.ExpectColumnValuesToBeUnique(column="service"),
            gxe.ExpectColumnValuesToBeInSet(column="team", value_set=teams),
        ],
        "registry_team_schedules": [
            gxe.ExpectColumnValuesToNotBeNull(column="schedule_id"),
            gxe.ExpectColumnValuesToBeInSet(column="team", value_set=teams),
            gxe.ExpectCompoundColumnsToBeUnique(column_list=["team", "schedule_id"]),
        ],
    }
