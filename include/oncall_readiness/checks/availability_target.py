"""availability-target: every production service has an SLO at least as strict as its agreed target, that pages.

The target is the Component's ``readiness/availability-target`` (percent, agreed at
inception). Its SLOs are those of Sloth and Pyrra (rules loaded in Prometheus,
``prometheus_slos``) and of Grafana SLO (``grafana_slos``) that the sources matched to it by its
``readiness/slo-selector`` (default ``service=<name>``); each SLO's ``page_alert`` says whether an
enabled page-severity burn-rate alert is linked to it, the way its tool links them
(``sources/slo_rules.py``, ``sources/grafana.py``).

One finding per service (``service:<name>``), naming the SLO and its objective:

- pass: an SLO whose objective is at least the target, with a page alert;
- warn: the best SLO is weaker than the target, or has no page alert; or the service has a
  target but no SLO; or an SLO but no target (nothing to hold it to);
- fail: neither a target nor an SLO;
- an SLO several services' selectors claim counts for none of them (the sources leave it
  unmatched, ``claimed_by`` naming them): each is told to narrow its selector, and one without
  any other SLO warns rather than fails (it has an SLO, just not one it alone holds);
- unknown: Prometheus or Grafana could not be read or trusted, and what the other gave does
  not settle it (a pass found in one source stands; so does the warn of an SLO without a
  target: no SLO found elsewhere could make it pass).

A team's status is its worst finding.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from oncall_readiness.checks import FINDING_COLUMNS, CheckInput, CheckOutcome, results_from_findings
from oncall_readiness.frames import records
from oncall_readiness.label_matchers import LabelMatcherError
from oncall_readiness.slo_facts import (
    SELECTOR_ANNOTATION,
    SLO_FACT_TABLES,
    TARGET_ANNOTATION,
    parse_slo_selector,
    selector_of,
)

ALL_CLEAR = (
    "Every production service has an SLO at least as strict as its availability target, "
    "with an enabled page-severity burn-rate alert."
)
# A percentage read from a ratio (0.999 * 100) may be off in the last bits: 99.9 must meet 99.9.
TOLERANCE = 1e-9
TOOL_TITLES = {"sloth": "Sloth", "pyrra": "Pyrra", "grafana": "Grafana SLO"}
SOURCE_OF_TABLE = {"prometheus_slos": "prometheus", "grafana_slos": "grafana"}
SOURCE_TITLES = {"prometheus": "Prometheus (Sloth and Pyrra rules)", "grafana": "Grafana SLO"}
# Where each tool keeps what a finding asks to change.
OBJECTIVE_PLACE = {
    "sloth": "the `objective` of SLO {slo} in the Sloth spec",
    "pyrra": "the `target` of Pyrra's ServiceLevelObjective {slo}",
    "grafana": "the target of SLO {slo!r} in Grafana (SLO, Edit, Set target)",
}
PAGE_PLACE = {
    "sloth": "add `alerting.page_alert` to SLO {slo} in the Sloth spec (alerts labelled sloth_severity=page)",
    "pyrra": "enable alerting on Pyrra's ServiceLevelObjective {slo} (ErrorBudgetBurn with severity critical)",
    "grafana": "enable the fast-burn alert rule of SLO {slo!r} in Grafana (SLO, Edit, Alerting), and unpause it",
}


@dataclass(frozen=True)
class Slo:
    source: str
    slo: str
    objective: float
    window: str
    page_alert: bool
    page_alert_rules: str

    @property
    def described(self) -> str:
        tool = TOOL_TITLES.get(self.source, self.source)
        return f"SLO {self.slo} ({tool}, {_percent(self.objective)} over {self.window})"


def evaluate(audit: CheckInput) -> CheckOutcome:
    services = audit.facts["registry_services"]
    services = services[services["team"].notna()][["service", "team", "availability_target", "slo_selector"]]
    slos = _slos_by_service(audit.facts)
    contested = _contested_by_service(audit.facts)
    unread = {source: reason for source, reason in audit.unavailable.items() if source in SOURCE_TITLES}
    unread.update(_slos_unread(audit.facts))
    findings = pd.DataFrame(
        [
            _finding(row, slos.get(row.service, []), contested.get(row.service, []), unread)
            for row in records(services.astype(object))
        ],
        columns=FINDING_COLUMNS,
    ).sort_values(["team", "subject"], ignore_index=True)
    results = results_from_findings(audit.teams["team"], findings, all_clear=ALL_CLEAR)
    return CheckOutcome(results=results, findings=findings)


def _slos_by_service(facts: Mapping[str, pd.DataFrame]) -> dict[str, list[Slo]]:
    """The SLOs each service was matched to, from the SLO tables of the sources read."""
    by_service: dict[str, list[Slo]] = {}
    for table in SLO_FACT_TABLES:
        frame = facts.get(table)
        if frame is None or frame.empty:
            continue
        matched = frame[frame["service"].notna()]
        for row in records(matched.astype(object)):
            by_service.setdefault(row.service, []).append(
                Slo(
                    source=row.source,
                    slo=row.slo,
                    objective=float(row.objective_percent),
                    window=_text(row.window),
                    page_alert=_text(row.page_alert) == "True",
                    page_alert_rules=_text(row.page_alert_rules),
                )
            )
    return by_service


def _slos_unread(facts: Mapping[str, pd.DataFrame]) -> dict[str, str]:
    """Sources read whose SLOs were not (Grafana's SLO plugin refused or failed), with why."""
    unreadable = facts.get("grafana_unreadable")
    if unreadable is None or unreadable.empty:
        return {}
    return {"grafana": "; ".join(unreadable["reason"].astype(str))}


def _contested_by_service(facts: Mapping[str, pd.DataFrame]) -> dict[str, list[str]]:
    """Service -> what it shares: each SLO its selector claims together with others' selectors."""
    by_service: dict[str, list[str]] = {}
    for table in SLO_FACT_TABLES:
        frame = facts.get(table)
        if frame is None or frame.empty or "claimed_by" not in frame:
            continue
        for row in records(frame[frame["claimed_by"].notna()][["slo", "claimed_by"]].astype(object)):
            names = str(row.claimed_by).split(", ")
            for name in names:
                others = " and ".join(other for other in names if other != name)
                by_service.setdefault(name, []).append(f"SLO {row.slo} matches the selector of {others} too")
    return by_service


def _finding(
    service: Any, slos: list[Slo], contested: list[str], unread: Mapping[str, str]
) -> tuple[str, str, str, str]:
    """(team, subject, outcome, message) of one service."""
    target = _target(service.availability_target)
    selector = selector_of(service.service, service.slo_selector)
    outcome, message = _judged(service.service, target, slos, selector)
    problem = _selector_problem(service.service, service.slo_selector)
    if problem and not slos:
        message = f"{message}; {problem}"
    if contested and outcome != "pass":
        outcome = "warn"
        message = (
            f"{message} alone; {'; '.join(contested)}, so it counts for neither: "
            f"narrow each {SELECTOR_ANNOTATION} ({selector} here) to the service's own SLOs"
        )
    settled = outcome == "pass" or (target is None and slos)
    if unread and not settled:
        outcome, message = "unknown", _unknown(message, unread)
    return service.team, f"service:{service.service}", outcome, message


def _judged(name: str, target: float | None, slos: list[Slo], selector: str) -> tuple[str, str]:
    if not slos and target is None:
        return "fail", (
            f"{name} has neither an availability target ({TARGET_ANNOTATION}) "
            f"nor an SLO in Sloth, Pyrra or Grafana SLO matching {selector}"
        )
    if not slos:
        return "warn", (
            f"{name} has an availability target of {_percent(target)} "
            f"but no SLO in Sloth, Pyrra or Grafana SLO matching {selector}"
        )
    if target is None:
        best = max(slos, key=lambda slo: (slo.page_alert, slo.objective))
        return "warn", (
            f"{name} has {best.described} but no {TARGET_ANNOTATION} to hold it to: "
            "record the availability agreed at inception on the Component"
        )
    best = max(slos, key=lambda slo: _rank(slo, target))
    return _against_target(name, target, best)


def _rank(slo: Slo, target: float) -> tuple[bool, bool, float]:
    """Best first: strict enough, then paging, then the highest objective."""
    return _meets(slo, target), slo.page_alert, slo.objective


def _meets(slo: Slo, target: float) -> bool:
    return slo.objective >= target - TOLERANCE


def _against_target(name: str, target: float, slo: Slo) -> tuple[str, str]:
    goal = f"its availability target {_percent(target)}"
    if _meets(slo, target) and slo.page_alert:
        return "pass", f"{name}'s {slo.described} meets {goal} and pages ({slo.page_alert_rules})"
    problems = []
    if not _meets(slo, target):
        place = OBJECTIVE_PLACE.get(slo.source, "the SLO's objective").format(slo=slo.slo)
        problems.append(f"is weaker than {goal} (raise {place})")
    if not slo.page_alert:
        place = PAGE_PLACE.get(slo.source, "add a page-severity burn-rate alert").format(slo=slo.slo)
        problems.append(f"has no enabled page-severity burn-rate alert ({place})")
    return "warn", f"{name}'s {slo.described} " + " and ".join(problems)


def _selector_problem(name: str, annotation: object) -> str | None:
    """Why the service's selector ties it to no SLO, or None when it parses."""
    try:
        parse_slo_selector(name, annotation)
    except LabelMatcherError as problem:
        return str(problem)
    return None


def _unknown(message: str, unread: Mapping[str, str]) -> str:
    sources = " and ".join(SOURCE_TITLES[source] for source in unread)
    reasons = "; ".join(reason.rstrip(".") for reason in unread.values())
    return f"{message} in the sources read, and {sources} could not be read ({reasons})"


def _missing(value: object) -> bool:
    """None, NA or NaN: a facts value that is not there."""
    return value is None or value is pd.NA or (isinstance(value, float) and value != value)


def _text(value: object) -> str:
    """A facts value as text; a missing one is ``""``."""
    return "" if _missing(value) else str(value)


def _target(value: object) -> float | None:
    return None if _missing(value) else float(str(value))


def _percent(value: float | None) -> str:
    """99.95 -> ``99.95%``: every decimal the tools keep, no float noise."""
    return f"{value:.6f}".rstrip("0").rstrip(".") + "%" if value is not None else "none"
