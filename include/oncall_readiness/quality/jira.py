"""The Jira action items' data contract: one fact per key the reviews name, complete and consistent.

An issue Jira returned has its status category (``new``, ``indeterminate`` or ``done``: what
"open" is judged on) and a link; a key Jira did not return says why (``error``); a resolution
is never dated after the audit instant (the collector reads the issue as of then); and every
action has exactly one link row, so a finding about it can be opened.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from oncall_readiness.quality import Expectations, QualityContext, RowCondition
from oncall_readiness.sources.jira import ACTIONS, LINKS

STATUS_CATEGORIES = ["new", "indeterminate", "done"]


def suites(facts: Mapping[str, pd.DataFrame], context: QualityContext) -> dict[str, Expectations]:
    import great_expectations.expectations as gxe  # imported on use: GX is slow to import

    found: RowCondition = {"row_condition": "found==True", "condition_parser": "pandas"}
    missing: RowCondition = {"row_condition": "found==False", "condition_parser": "pandas"}
    return {
        ACTIONS: [
            gxe.ExpectColumnValuesToNotBeNull(column="key"),
            gxe.ExpectColumnValuesToBeUnique(column="key"),
            gxe.ExpectColumnValuesToMatchRegex(column="key", regex=r"^[A-Z][A-Z0-9_]+-[1-9][0-9]*$"),
            gxe.ExpectColumnValuesToNotBeNull(column="found"),
            gxe.ExpectColumnValuesToNotBeNull(column="url"),
            gxe.ExpectColumnValuesToBeInSet(column="status_category", value_set=STATUS_CATEGORIES, **found),
            gxe.ExpectColumnValuesToNotBeNull(column="status_category", **found),
            gxe.ExpectColumnValuesToNotBeNull(column="error", **missing),
            gxe.ExpectColumnValuesToBeBetween(column="resolved", max_value=context.audit_instant),
        ],
        LINKS: [
            gxe.ExpectTableRowCountToEqual(value=len(facts[ACTIONS])),
            gxe.ExpectColumnValuesToBeUnique(column="subject"),
            gxe.ExpectColumnValuesToNotBeNull(column="url"),
        ],
    }
