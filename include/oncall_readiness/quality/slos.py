"""The SLO facts' data contract, the same for every source that reads SLOs (Prometheus, Grafana).

An objective must be a percentage above 0 and at most 100 (a ratio read as a percentage, or a
dropped field, is not one), a window must parse as a duration, an SLO id must be unique, and
an SLO given a service must be matched to that one service only (two services passing on one
SLO would be a false pass). Reported, not refused (expectations with ``mostly=0``, which
always succeed and list their unexpected values in ``data_quality``): SLOs matched to no
service, and SLOs several services' selectors claim (matched to none; the check tells each
service to narrow its selector, so one team's loose selector never makes the source untrusted
for every team).
"""

from __future__ import annotations

import pandas as pd

from oncall_readiness.quality import Expectations, RowCondition
from oncall_readiness.slo_facts import SLO_SOURCES

JSON_OBJECT = r"^\{.*\}$"
MATCHED: RowCondition = {"row_condition": "service.notna()", "condition_parser": "pandas"}


def slo_expectations(slos: pd.DataFrame) -> Expectations:
    import great_expectations.expectations as gxe  # imported on use: GX is slow to import

    matched = sorted(str(slo_id) for slo_id in slos.loc[slos["service"].notna(), "slo_id"].dropna())
    return [
        gxe.ExpectColumnValuesToNotBeNull(column="slo_id"),
        gxe.ExpectColumnValuesToBeUnique(column="slo_id"),
        gxe.ExpectColumnValuesToNotBeNull(column="slo"),
        gxe.ExpectColumnValuesToBeInSet(column="source", value_set=list(SLO_SOURCES)),
        gxe.ExpectColumnValuesToNotBeNull(column="labels"),
        gxe.ExpectColumnValuesToMatchRegex(column="labels", regex=JSON_OBJECT),
        gxe.ExpectColumnValuesToNotBeNull(column="objective_percent"),
        gxe.ExpectColumnValuesToBeBetween(column="objective_percent", min_value=0, max_value=100, strict_min=True),
        gxe.ExpectColumnValuesToNotBeNull(column="window_days"),
        gxe.ExpectColumnValuesToNotBeNull(column="page_alert"),
        gxe.ExpectColumnValuesToBeBetween(column="matched_services", min_value=1, max_value=1, **MATCHED),
        # Always succeeds: its unexpected values are the services that claim one SLO together.
        gxe.ExpectColumnValuesToBeNull(column="claimed_by", mostly=0.0),
        # Always succeeds: its unexpected values are the SLOs no service's selector matches.
        gxe.ExpectColumnValuesToBeInSet(column="slo_id", value_set=matched, mostly=0.0),
    ]
