"""The Confluence runbooks' data contract: one fact per runbook page the registry links, complete.

The same guarantees as GitHub's (``quality/github.py``): one row per team service with a
Confluence runbook link, found runbooks with their version, date and parts, no version
dated after the audit instant (the collector picks the version current at the instant),
and a reason for every page that could not be read.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from oncall_readiness.quality import Expectations, QualityContext, link_expectations
from oncall_readiness.quality.github import runbook_expectations
from oncall_readiness.runbook_facts import HOSTS
from oncall_readiness.sources.confluence_reviews import LINKS, REVIEWS


def suites(facts: Mapping[str, pd.DataFrame], context: QualityContext) -> dict[str, Expectations]:
    host = HOSTS["confluence"]
    return {host.table: runbook_expectations(context, host, ("page_id", "version", "title")), **_reviews(facts)}


def _reviews(facts: Mapping[str, pd.DataFrame]) -> dict[str, Expectations]:
    """The reviews: one row per page, each with its creation date (created at or before the audit,
    as the collector keeps only those), a URL and whether it is restricted; a link per incident named."""
    import great_expectations.expectations as gxe  # imported on use: GX is slow to import

    if REVIEWS not in facts:  # staged before the reviews were collected
        return {}
    return {
        REVIEWS: [
            gxe.ExpectColumnValuesToNotBeNull(column="page_id"),
            gxe.ExpectColumnValuesToBeUnique(column="page_id"),
            gxe.ExpectColumnValuesToNotBeNull(column="created"),
            gxe.ExpectColumnValuesToNotBeNull(column="url"),
            gxe.ExpectColumnValuesToNotBeNull(column="restricted"),
            gxe.ExpectColumnPairValuesAToBeGreaterThanB(column_A="last_modified", column_B="created", or_equal=True),
        ],
        # The runbooks' links (service:<name>) and the reviews' (incident:<id>), one table.
        LINKS: [
            *link_expectations(),
            gxe.ExpectColumnValuesToMatchRegex(column="subject", regex=r"^(incident|service):.+$"),
        ],
    }
