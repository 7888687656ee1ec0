"""The Confluence runbooks' data contract: one fact per runbook page the registry links, complete.

The same guarantees as GitHub's (``quality/github.py``): one row per team service with a
Confluence runbook link, found runbooks with their version, date and parts, no version
dated after the audit instant (the collector picks the version current at the instant),
and a reason for every page that could not be read.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from oncall_readiness.quality import Expectations, QualityContext
from oncall_readiness.quality.github import runbook_expectations
from oncall_readiness.runbook_facts import HOSTS


def suites(facts: Mapping[str, pd.DataFrame], context: QualityContext) -> dict[str, Expectations]:
    host = HOSTS["confluence"]
    return {host.table: runbook_expectations(context, host, ("page_id", "version", "title"))}
