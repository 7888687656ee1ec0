"""The GitHub runbooks' data contract: one fact per runbook the registry links on GitHub, complete.

Catches a read that lost or duplicated runbooks (one row per team service with a GitHub
runbook link, keyed by service, with the registry's URL), a field dropped by an API change
(``found`` null without a reason; a found runbook without commit, date or parts), a date in the future of
the audit instant (the ``until`` filter was not applied), and an unread runbook without a
reason.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from oncall_readiness.quality import Expectations, QualityContext, RowCondition
from oncall_readiness.runbook_facts import HOSTS, PART_COLUMNS, RunbookHost
from oncall_readiness.sources.runbooks import runbooks_to_collect

FOUND: RowCondition = {"row_condition": "found==True", "condition_parser": "pandas"}
NOT_FOUND: RowCondition = {"row_condition": "found==False", "condition_parser": "pandas"}
# A runbook the host could not answer for (found null): its error must say why. (Python's query
# engine: numexpr, when installed, cannot call isna, and the expectation then fails: unknown, safely.)
UNREAD: RowCondition = {"row_condition": "found.isna()", "condition_parser": "pandas"}


def runbook_expectations(context: QualityContext, host: RunbookHost, found_columns: tuple[str, ...]) -> Expectations:
    """The expectations every runbook host's facts table meets (shared with quality/confluence.py)."""
    import great_expectations.expectations as gxe  # imported on use: GX is slow to import

    expected = runbooks_to_collect(host, context.registry["registry_services"])
    return [
        gxe.ExpectTableRowCountToEqual(value=len(expected)),
        gxe.ExpectColumnValuesToNotBeNull(column="service"),
        gxe.ExpectColumnValuesToBeUnique(column="service"),
        gxe.ExpectColumnDistinctValuesToEqualSet(column="service", value_set=sorted(expected["service"])),
        gxe.ExpectColumnValuesToBeInSet(column="url", value_set=sorted(set(expected["url"]))),
        gxe.ExpectColumnValuesToNotBeNull(column="error", **UNREAD),
        *(gxe.ExpectColumnValuesToNotBeNull(column=column, **FOUND) for column in ("last_changed", *found_columns)),
        *(gxe.ExpectColumnValuesToNotBeNull(column=column, **FOUND) for column in PART_COLUMNS),
        gxe.ExpectColumnValuesToNotBeNull(column="error", **NOT_FOUND),
        gxe.ExpectColumnValuesToBeBetween(column="last_changed", max_value=context.audit_instant.to_pydatetime()),
    ]


def suites(facts: Mapping[str, pd.DataFrame], context: QualityContext) -> dict[str, Expectations]:
    host = HOSTS["github"]
    return {host.table: runbook_expectations(context, host, ("commit_sha",))}
