"""Prometheus's data contract: what a sound read of the rules API looks like.

Catches the ways a read of ``/api/v1/rules`` goes wrong: a rule or group without a name
or a query (a field dropped or renamed by an API change, or another API behind the
host), labels or annotations that are not a JSON object (a shape change that would make
every rule look unlabelled), a negative ``for:`` duration, and a health value Prometheus
does not define; and the SLOs that Sloth and Pyrra generate break the SLO contract
(``quality/slos.py``: objective, window, one service at most, the unmatched reported).
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from oncall_readiness.quality import Expectations, QualityContext
from oncall_readiness.quality.slos import slo_expectations
from oncall_readiness.sources.prometheus import HEALTH_VALUES

# JSON object text as the source writes it (json.dumps of a dict): starts with { and ends with }.
JSON_OBJECT = r"^\{.*\}$"


def suites(facts: Mapping[str, pd.DataFrame], context: QualityContext) -> dict[str, Expectations]:
    import great_expectations.expectations as gxe  # imported on use: GX is slow to import

    return {
        "prometheus_alert_rules": [
            gxe.ExpectColumnValuesToNotBeNull(column="rule_group"),
            gxe.ExpectColumnValuesToNotBeNull(column="name"),
            gxe.ExpectColumnValuesToNotBeNull(column="query"),
            gxe.ExpectColumnValuesToNotBeNull(column="labels"),
            gxe.ExpectColumnValuesToBeJsonParseable(column="labels"),
            gxe.ExpectColumnValuesToMatchRegex(column="labels", regex=JSON_OBJECT),
            gxe.ExpectColumnValuesToNotBeNull(column="annotations"),
            gxe.ExpectColumnValuesToBeJsonParseable(column="annotations"),
            gxe.ExpectColumnValuesToMatchRegex(column="annotations", regex=JSON_OBJECT),
            gxe.ExpectColumnValuesToNotBeNull(column="duration_seconds"),
            gxe.ExpectColumnValuesToBeBetween(column="duration_seconds", min_value=0),
            gxe.ExpectColumnValuesToBeInSet(column="health", value_set=list(HEALTH_VALUES)),
        ],
        "prometheus_slos": slo_expectations(facts["prometheus_slos"]),
    }
