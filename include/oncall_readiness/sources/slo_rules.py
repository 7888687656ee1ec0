"""The SLOs that Sloth and Pyrra generate, read from the rule groups of a Prometheus rules API answer.

Both tools write Prometheus rules, and each links its alerts to its SLOs its own way (read from
their generated examples: Sloth's ``examples/_gen/*.yml``, Pyrra's ``slo/rules.go``):

- Sloth: a ``sloth_slo_info`` recording rule per SLO whose labels carry ``sloth_id``,
  ``sloth_service``, ``sloth_slo`` and ``sloth_objective`` (percent), plus the SLO's own labels;
  ``slo:time_period:days`` (``vector(30)``) of the same ``sloth_id`` holds the window. Its
  burn-rate alerts carry only ``sloth_severity`` (``page`` or ``ticket``) and the user's labels:
  the SLO is named only in the expression's ``sloth_id="<id>"`` selectors.
- Pyrra, with ``--generic-rules``: ``pyrra_objective`` (the target as a ratio, ``0.99``) and
  ``pyrra_window`` (seconds) labelled ``slo`` (plus the SLO's ``pyrra.dev/`` labels, prefix
  dropped). Its burn-rate alerts (``ErrorBudgetBurn`` unless renamed) carry ``slo``,
  ``short``, ``long``, ``exhaustion`` and ``severity`` (``critical`` for the two fast windows,
  ``warning`` for the slow ones); ``SLOMetricAbsent`` is also ``critical`` but has no windows,
  so it is no burn-rate alert.

Rows have the columns of ``slo_facts.SLO_COLUMNS``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from oncall_readiness.slo_facts import match_services, window_text

SLOTH_INFO = "sloth_slo_info"
SLOTH_PERIOD = "slo:time_period:days"
SLOTH_PAGE = "page"
PYRRA_OBJECTIVE = "pyrra_objective"
PYRRA_WINDOW = "pyrra_window"
PYRRA_PAGE_SEVERITY = "critical"
_SLOTH_ID = re.compile(r'sloth_id\s*=\s*"([^"]+)"')
_VECTOR = re.compile(r"^\s*vector\(\s*([0-9.eE+-]+)\s*\)\s*$")


@dataclass
class _Slo:
    source: str
    slo_id: str
    slo: str
    labels: dict[str, str]
    objective_percent: float | None = None
    window: str | None = None
    window_days: float | None = None
    page_rules: list[str] = field(default_factory=list)


def slo_rows(groups: list[dict[str, Any]], services: pd.DataFrame | None) -> list[dict[str, Any]]:
    """One row per Sloth or Pyrra SLO in the rule groups, matched to the registry's ``services``."""
    rules = list(_rules(groups))
    slos = _sloth_slos(rules) + _pyrra_slos(rules)
    matches = match_services([slo.labels for slo in slos], services)
    return [
        {
            "source": slo.source,
            "slo_id": slo.slo_id,
            "slo": slo.slo,
            "labels": json.dumps(slo.labels, sort_keys=True, ensure_ascii=False),
            "objective_percent": slo.objective_percent,
            "window": slo.window,
            "window_days": slo.window_days,
            "page_alert": bool(slo.page_rules),
            "page_alert_rules": ", ".join(dict.fromkeys(slo.page_rules)) or None,
        }
        | match
        for slo, match in zip(slos, matches, strict=True)
    ]


def _rules(groups: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for group in groups:
        for rule in group.get("rules") or []:
            if isinstance(rule, dict):
                yield rule


def _labels(rule: Mapping[str, Any]) -> dict[str, str]:
    labels = rule.get("labels")
    return {str(k): str(v) for k, v in labels.items()} if isinstance(labels, dict) else {}


def _recording(rule: Mapping[str, Any], name: str) -> bool:
    return bool(rule.get("type") == "recording" and rule.get("name") == name)


def _alerting(rule: Mapping[str, Any]) -> bool:
    return bool(rule.get("type", "alerting") == "alerting")


# --- Sloth ---------------------------------------------------------------------------


def _sloth_slos(rules: list[dict[str, Any]]) -> list[_Slo]:
    slos: dict[str, _Slo] = {}
    for rule in rules:
        labels = _labels(rule)
        if _recording(rule, SLOTH_INFO) and labels.get("sloth_id") and labels["sloth_id"] not in slos:
            slos[labels["sloth_id"]] = _Slo(
                source="sloth",
                slo_id=labels["sloth_id"],
                slo=labels["sloth_id"],
                # The selector's `service` and `slo` are Sloth's service and SLO names.
                labels={**labels, "service": labels.get("sloth_service", ""), "slo": labels.get("sloth_slo", "")},
                objective_percent=_number(labels.get("sloth_objective")),
            )
    for rule in rules:
        slo = slos.get(_labels(rule).get("sloth_id", ""))
        if slo is not None and _recording(rule, SLOTH_PERIOD):
            days = _vector(rule.get("query"))
            if days is not None and days > 0:
                slo.window, slo.window_days = f"{days:g}d", days
        if _alerting(rule) and _labels(rule).get("sloth_severity") == SLOTH_PAGE:
            for sloth_id in set(_SLOTH_ID.findall(str(rule.get("query") or ""))):
                if sloth_id in slos:
                    slos[sloth_id].page_rules.append(str(rule.get("name")))
    return list(slos.values())


# --- Pyrra ---------------------------------------------------------------------------


def _pyrra_slos(rules: list[dict[str, Any]]) -> list[_Slo]:
    slos: dict[str, _Slo] = {}
    for rule in rules:
        labels = _labels(rule)
        name = labels.get("slo")
        if name and _recording(rule, PYRRA_OBJECTIVE) and name not in slos:
            ratio = _number(rule.get("query"))
            percent = None if ratio is None else round(ratio * 100, 6)
            slos[name] = _Slo(source="pyrra", slo_id=name, slo=name, labels=labels, objective_percent=percent)
    for rule in rules:
        labels = _labels(rule)
        slo = slos.get(labels.get("slo", ""))
        if slo is None:
            continue
        if _recording(rule, PYRRA_WINDOW):
            seconds = _number(rule.get("query"))
            if seconds is not None and seconds > 0:
                slo.window, slo.window_days = window_text(seconds), seconds / 86400
        if _alerting(rule) and _pyrra_page(labels):
            slo.page_rules.append(str(rule.get("name")))
    return list(slos.values())


def _pyrra_page(labels: Mapping[str, str]) -> bool:
    """A burn-rate alert (it names its windows) at the page severity."""
    return "short" in labels and "long" in labels and labels.get("severity") == PYRRA_PAGE_SEVERITY


def _number(value: object) -> float | None:
    try:
        number = float(str(value).strip())
    except ValueError:
        return None
    return number if number == number else None  # NaN is no number


def _vector(query: object) -> float | None:
    match = _VECTOR.match(str(query or ""))
    return _number(match.group(1)) if match else None
