"""Grafana's data contract: what a complete, consistent read of the instance looks like.

Catches the ways a real API read goes wrong: a truncated team search or member list (fewer
objects than Grafana's own ``totalCount`` / ``memberCount``), duplicated records (unique
uids, team ids, memberships), a field dropped by an API change (nulls in keys and emails,
labels that are not a map), values outside the documented sets (kinds), and a read that
silently lost most of what the registry names: its Grafana teams, or the dashboards its
services' selectors tag (a single typo is left to the checks to report). Grafana SLOs meet the
SLO contract (``quality/slos.py``); SLOs Grafana would not give (``grafana_unreadable``) are not
bad data: ``availability-target`` says unknown for what they would have settled.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from oncall_readiness.quality import Expectations, QualityContext
from oncall_readiness.quality.slos import slo_expectations
from oncall_readiness.sources.grafana import KIND_SOURCES, KINDS

# A registry typo makes one team or selector missing; most of them missing is a bad read.
MOSTLY_FOUND = 0.5
LOWER_CASE_EMAIL = r"^[^A-Z\s]+@[^A-Z\s]+$"
JSON_OBJECT = r"^\{.*\}$"


def suites(facts: Mapping[str, pd.DataFrame], context: QualityContext) -> dict[str, Expectations]:
    import great_expectations.expectations as gxe  # imported on use: GX is slow to import

    team_names = sorted(facts["grafana_teams"]["team_name"].dropna())
    team_ids = sorted(int(team_id) for team_id in facts["grafana_teams"]["team_id"].dropna())
    tags = sorted(
        {
            tag.strip().lower()
            for tags in facts["grafana_dashboards"]["tags"].dropna()
            for tag in str(tags).split(",")
            if tag.strip()
        }
    )
    return {
        "registry_teams": [
            gxe.ExpectColumnValuesToBeInSet(column="grafana_team", value_set=team_names, mostly=MOSTLY_FOUND),
        ],
        "registry_services": [
            gxe.ExpectColumnValuesToBeInSet(
                column="dashboard_selector", value_set=_with_case_variants(context, tags), mostly=MOSTLY_FOUND
            ),
        ],
        "grafana_collections": [
            gxe.ExpectColumnValuesToNotBeNull(column="reported_total"),
            gxe.ExpectColumnPairValuesToBeEqual(column_A="collected", column_B="reported_total"),
        ],
        "grafana_dashboards": [
            gxe.ExpectColumnValuesToNotBeNull(column="uid"),
            gxe.ExpectColumnValuesToBeUnique(column="uid"),
            gxe.ExpectColumnValuesToNotBeNull(column="title"),
            gxe.ExpectColumnValuesToBeInSet(column="kind", value_set=list(KINDS)),
            gxe.ExpectColumnValuesToBeInSet(column="kind_from", value_set=list(KIND_SOURCES)),
        ],
        "grafana_teams": [
            gxe.ExpectColumnValuesToNotBeNull(column="team_id"),
            gxe.ExpectColumnValuesToBeUnique(column="team_id"),
            gxe.ExpectColumnValuesToNotBeNull(column="team_name"),
            gxe.ExpectColumnValuesToBeUnique(column="team_name"),
        ],
        "grafana_team_members": [
            gxe.ExpectColumnValuesToBeInSet(column="team_id", value_set=team_ids),
            gxe.ExpectColumnValuesToNotBeNull(column="email"),
            gxe.ExpectColumnValuesToMatchRegex(column="email", regex=LOWER_CASE_EMAIL),
            gxe.ExpectCompoundColumnsToBeUnique(column_list=["team_id", "email"]),
        ],
        "grafana_alert_rules": [
            gxe.ExpectColumnValuesToNotBeNull(column="uid"),
            gxe.ExpectColumnValuesToBeUnique(column="uid"),
            gxe.ExpectColumnValuesToNotBeNull(column="title"),
            gxe.ExpectColumnValuesToNotBeNull(column="labels"),
            gxe.ExpectColumnValuesToMatchRegex(column="labels", regex=JSON_OBJECT),
            gxe.ExpectColumnValuesToNotBeNull(column="annotations"),
            gxe.ExpectColumnValuesToMatchRegex(column="annotations", regex=JSON_OBJECT),
            gxe.ExpectColumnValuesToNotBeNull(column="is_paused"),
        ],
        "grafana_slos": slo_expectations(facts["grafana_slos"]),
        # Not bad data: a collection Grafana would not give, with why (its check says unknown).
        "grafana_unreadable": [
            gxe.ExpectColumnValuesToNotBeNull(column="collection"),
            gxe.ExpectColumnValuesToNotBeNull(column="reason"),
        ],
    }


def _with_case_variants(context: QualityContext, tags: list[str]) -> list[str]:
    """The tags, plus every registry selector that matches one of them without case."""
    lowered = set(tags)
    selectors = context.registry["registry_services"]["dashboard_selector"].dropna()
    return sorted(lowered | {s for s in selectors if str(s).strip().lower() in lowered})
