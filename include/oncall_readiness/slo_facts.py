"""The SLO facts' vocabulary, shared by the sources that read SLOs and the ``availability-target`` check.

Three tools keep SLOs: Sloth and Pyrra (rules loaded in Prometheus, ``prometheus_slos``) and
Grafana SLO (``grafana_slos``). Both facts tables have the columns ``SLO_COLUMNS``:

- source: ``sloth``, ``pyrra`` or ``grafana``; slo_id: the tool's own id (Sloth's ``sloth_id``,
  Pyrra's ``slo`` label, a Grafana SLO's uuid); slo: the name people know it by;
- labels: the labels a ``readiness/slo-selector`` is matched against (JSON object text):
  Sloth's ``sloth_slo_info`` labels plus ``service`` (= ``sloth_service``) and ``slo``
  (= ``sloth_slo``); Pyrra's ``pyrra_objective`` labels (``slo`` and the SLO's ``pyrra.dev/``
  labels); a Grafana SLO's ``labels``;
- objective_percent (99.9), window (as the tool says it: ``30d``), window_days (None when the
  window does not parse: the data contract rejects it);
- page_alert: an enabled page-severity burn-rate alert is linked to the SLO, the way its tool
  links them; page_alert_rules: those rules' names (Grafana: uids), comma-joined;
- service: the one registry service whose selector matches the SLO (None when none, or when
  several do); matched_services: how many services' selectors match it; claimed_by: when
  several do, their names (comma-joined): such an SLO counts for none of them, and the check
  tells each to narrow its selector, rather than one team's loose selector making a whole
  source untrusted for every team.

A service's selector is its ``readiness/slo-selector`` annotation, else ``service=<name>``.
A selector that does not parse matches nothing here; the check says why.
"""

from __future__ import annotations

import json
import re
from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

from oncall_readiness.frames import records
from oncall_readiness.label_matchers import LabelMatcherError, Matcher, parse_label_matchers
from oncall_readiness.schema import RESULT_TABLES

SELECTOR_ANNOTATION = "readiness/slo-selector"
TARGET_ANNOTATION = "readiness/availability-target"
SLO_SOURCES = ("sloth", "pyrra", "grafana")
SLO_COLUMNS: dict[str, str] = {
    "source": "string",
    "slo_id": "string",
    "slo": "string",
    "labels": "string",
    "objective_percent": "float",
    "window": "string",
    "window_days": "float",
    "page_alert": "boolean",
    "page_alert_rules": "string",
    "service": "string",
    "matched_services": "integer",
    "claimed_by": "string",
}
# The warehouse table ``slos``: one row per SLO matched to a service.
SLO_TABLE_COLUMNS: dict[str, str] = RESULT_TABLES["slos"]
SLO_FACT_TABLES = ("prometheus_slos", "grafana_slos")
# The facts' column -> the warehouse's, as DESIGN.md names the table's columns.
WAREHOUSE_NAMES = {"objective_percent": "objective", "page_alert": "page_burn_rate_alert"}
_DURATION = re.compile(r"^(?:\d+(?:ms|[smhdwy]))+$")
_DURATION_PART = re.compile(r"(\d+)(ms|[smhdwy])")
_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "y": 365 * 86400}


def window_days(text: object) -> float | None:
    """A Prometheus duration (``30d``, ``4w``, ``1w3d``) in days; None when it does not parse."""
    if not isinstance(text, str) or not _DURATION.match(text.strip()):
        return None
    seconds = sum(int(n) * _SECONDS[unit] for n, unit in _DURATION_PART.findall(text.strip()))
    return seconds / 86400 if seconds > 0 else None


def window_text(seconds: float) -> str:
    """A window in seconds as Prometheus writes it, in whole days when it is (``28d``), else seconds."""
    whole = int(seconds)
    return f"{whole // 86400}d" if whole > 0 and whole % 86400 == 0 else f"{whole}s"


def selector_of(service: str, annotation: object) -> str:
    """The service's SLO selector: its annotation, else ``service=<name>``."""
    text = annotation.strip() if isinstance(annotation, str) else ""
    return text or f'service="{service}"'


def parse_slo_selector(service: str, annotation: object) -> tuple[Matcher, ...]:
    """The matchers of a service's SLO selector; ``LabelMatcherError`` when the annotation does not parse."""
    return parse_label_matchers(selector_of(service, annotation), SELECTOR_ANNOTATION)


def label_map(text: object) -> dict[str, str]:
    """Labels from their JSON object text ({} when it is not one)."""
    try:
        value = json.loads(text) if isinstance(text, str) else None
    except ValueError:
        return {}
    return {str(k): "" if v is None else str(v) for k, v in value.items()} if isinstance(value, dict) else {}


def match_services(slo_labels: Sequence[Mapping[str, str]], services: pd.DataFrame | None) -> list[dict[str, Any]]:
    """Per SLO, its ``service``, ``matched_services`` and ``claimed_by`` columns (``SLO_COLUMNS``).

    An equality matcher (the usual ``service=<name>``) finds its SLOs in an index of that label's
    values, so the cost grows with services + SLOs, not services x SLOs.
    """
    matched: list[list[str]] = [[] for _ in slo_labels]
    if services is not None:
        index: dict[str, dict[Hashable, list[int]]] = {}

        def positions(name: str, value: str) -> list[int]:
            if name not in index:
                by_value: dict[Hashable, list[int]] = {}
                for position, labels in enumerate(slo_labels):
                    by_value.setdefault(labels.get(name, ""), []).append(position)
                index[name] = by_value
            return index[name].get(value, [])

        for row in records(services[["service", "slo_selector"]].astype(object)):
            try:
                matchers = parse_slo_selector(row.service, row.slo_selector)
            except LabelMatcherError:
                continue  # the check reports the selector; it ties the service to no SLO
            for position in _matching(matchers, slo_labels, positions):
                matched[position].append(row.service)
    return [
        {
            "service": names[0] if len(names) == 1 else None,
            "matched_services": len(names),
            "claimed_by": ", ".join(sorted(names)) if len(names) > 1 else None,
        }
        for names in matched
    ]


def _matching(matchers: tuple[Matcher, ...], slo_labels: Sequence[Mapping[str, str]], positions: Any) -> Iterable[int]:
    equal = [m for m in matchers if m.op == "="]
    candidates: Iterable[int] = range(len(slo_labels))
    if equal:
        found = set(positions(equal[0].name, equal[0].value))
        for matcher in equal[1:]:
            found &= set(positions(matcher.name, matcher.value))
        candidates = sorted(found)
    return [i for i in candidates if all(m.matches(slo_labels[i]) for m in matchers)]


def slo_table(facts: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """The warehouse's ``slos`` rows: every SLO matched to a service, with the service's team.

    Only the SLO facts tables present count: a source unavailable this run adds no rows (its
    data_quality and the check's reason say why), rather than rows nobody can trust.
    """
    frames = [facts[table] for table in SLO_FACT_TABLES if table in facts and len(facts[table])]
    columns = list(SLO_TABLE_COLUMNS)
    if not frames or "registry_services" not in facts:
        return pd.DataFrame(columns=columns)
    slos = pd.concat(frames, ignore_index=True)
    slos = slos[slos["service"].notna()]
    owners = facts["registry_services"][["service", "team"]]
    joined = slos.merge(owners, on="service", how="inner").rename(columns=WAREHOUSE_NAMES)
    return joined[columns].sort_values(["team", "service", "slo"], ignore_index=True)
