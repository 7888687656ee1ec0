"""alert-definitions: every service has alerting rules, each with a severity and a runbook link.

A rule belongs to a service when the rule's labels match the service's
``readiness/alert-selector`` (``registry_services.alert_selector``): a Prometheus-style
list of label matchers, ``service=checkout`` or ``{service="checkout", team=~"pay.*"}``,
with the operators ``=``, ``!=``, ``=~`` and ``!~`` (regular expressions are fully
anchored, as in PromQL; a label the rule lacks has the value ``""``). Rules come from
Prometheus (``prometheus_alert_rules``) and from Grafana-managed alerting
(``grafana_alert_rules``); a paused Grafana rule does not count. Only a rule's own static
labels are matched: labels an alert takes from the series it fires on are not known
until it fires.

Findings, per subject:

- ``service:<name>``: fails when the service has no selector, a selector that does not
  parse, or no active rule matching it; passes otherwise, with the number of rules.
- ``alert-rule:prometheus/<group>/<name>`` or ``alert-rule:grafana/<uid>``: warns when a
  rule of the team's services lacks a ``severity`` label or a ``runbook_url`` annotation,
  saying which.

A team's status is its worst finding.
"""

from __future__ import annotations

import json
from collections.abc import Hashable
from typing import Any

import numpy as np
import pandas as pd

from oncall_readiness.checks import FINDING_COLUMNS, CheckInput, CheckOutcome, results_from_findings
from oncall_readiness.frames import records
from oncall_readiness.label_matchers import LabelMatcherError, Matcher, parse_label_matchers

SELECTOR_ANNOTATION = "readiness/alert-selector"
SEVERITY_LABEL = "severity"
RUNBOOK_ANNOTATION = "runbook_url"
ALL_CLEAR = (
    f"Every service of the team has alerting rules, each with a {SEVERITY_LABEL} label "
    f"and a {RUNBOOK_ANNOTATION} annotation."
)

# --- the selector (label_matchers.py, shared with readiness/slo-selector) ---------------

AlertSelectorError = LabelMatcherError


def parse_alert_selector(text: str) -> tuple[Matcher, ...]:
    """Parse a ``readiness/alert-selector``: a label matcher list (see ``label_matchers``)."""
    return parse_label_matchers(text, SELECTOR_ANNOTATION)


# --- the check ------------------------------------------------------------------------


def evaluate(audit: CheckInput) -> CheckOutcome:
    facts = audit.facts
    services = facts["registry_services"]
    services = services[services["team"].notna()][["service", "team", "alert_selector"]]
    rules = alert_rules(facts["prometheus_alert_rules"], facts["grafana_alert_rules"])
    matches, service_findings = _match(services, rules)
    findings = pd.concat([service_findings, _rule_findings(matches, rules)], ignore_index=True)
    findings = findings.sort_values(["team", "subject"], ignore_index=True)
    results = results_from_findings(audit.teams["team"], findings, all_clear=ALL_CLEAR)
    return CheckOutcome(results=results, findings=findings)


def alert_rules(prometheus: pd.DataFrame, grafana: pd.DataFrame) -> pd.DataFrame:
    """Both sources' rules in one shape: source, subject, title, labels and annotations (dicts), paused."""
    from_prometheus = pd.DataFrame(
        {
            "source": "prometheus",
            "subject": "alert-rule:prometheus/" + prometheus["rule_group"].astype(str) + "/" + prometheus["name"],
            "title": "Prometheus rule " + prometheus["name"] + " (group " + prometheus["rule_group"] + ")",
            "labels": _mappings(prometheus["labels"]),
            "annotations": _mappings(prometheus["annotations"]),
            "paused": False,
        }
    )
    from_grafana = pd.DataFrame(
        {
            "source": "grafana",
            "subject": "alert-rule:grafana/" + grafana["uid"],
            "title": "Grafana rule " + grafana["title"].map(repr) + " (uid " + grafana["uid"] + ")",
            "labels": _mappings(grafana["labels"]),
            "annotations": _mappings(grafana["annotations"]),
            "paused": grafana["is_paused"].fillna(False).astype(bool),
        }
    )
    frames = [frame for frame in (from_prometheus, from_grafana) if len(frame)]
    columns = ["source", "subject", "title", "labels", "annotations", "paused"]
    rules = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)
    return rules[columns].astype({"subject": object, "title": object})


def _mappings(texts: pd.Series) -> pd.Series:
    # Not Series.map: on the string dtype it mangles dict results (an empty dict gains keys).
    # tolist(): iterating an Arrow-backed Series boxes each value (five times as slow).
    return pd.Series([_mapping(text) for text in texts.tolist()], index=texts.index, dtype=object)


def _mapping(text: object) -> dict[str, str]:
    """Labels or annotations from their JSON object text (the data contract guarantees the shape)."""
    if not isinstance(text, str):
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return {str(k): "" if v is None else str(v) for k, v in value.items()} if isinstance(value, dict) else {}


def _match(services: pd.DataFrame, rules: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(team, service, rule index) of every active rule matching a service, and one finding per service.

    An equality matcher (``service=checkout``, the usual selector) looks its rules up in an index
    of that label's values, built once; the other matchers then test those candidates only. Testing
    every rule for every service made the check grow with services x rules (minutes at 2,000 teams).
    """
    label_values: dict[str, pd.Series] = {}
    label_index: dict[str, dict[Hashable, np.ndarray]] = {}

    def values(name: str) -> pd.Series:
        if name not in label_values:
            label_values[name] = rules["labels"].map(lambda labels: labels.get(name, "")).astype(object)
        return label_values[name]

    def positions_equal(name: str, value: str) -> np.ndarray:
        if name not in label_index:
            label = values(name).reset_index(drop=True)
            label_index[name] = {
                key: np.asarray(found) for key, found in label.groupby(label, sort=False).indices.items()
            }
        return label_index[name].get(value, np.empty(0, dtype=np.intp))

    active = ~rules["paused"].astype(bool).to_numpy()
    source_of, source_dtype = rules["source"].to_numpy(dtype=object), rules["source"].dtype
    rule_labels = rules.index.to_numpy()
    every_rule = np.arange(len(rules))
    pairs, findings = [], []
    for service in records(services.astype(object)):
        subject = f"service:{service.service}"
        selector = service.alert_selector
        if selector is None or pd.isna(selector) or not str(selector).strip():
            message = (
                f"{service.service} has no {SELECTOR_ANNOTATION} annotation, so no alerting rule can be tied to it"
            )
            findings.append((service.team, subject, "fail", message))
            continue
        try:
            matchers = parse_alert_selector(str(selector))
        except AlertSelectorError as problem:
            findings.append((service.team, subject, "fail", f"{service.service}: {problem}"))
            continue
        candidates = None
        for matcher in (m for m in matchers if m.op == "="):
            found = positions_equal(matcher.name, matcher.value)
            candidates = found if candidates is None else np.intersect1d(candidates, found, assume_unique=True)
        candidates = every_rule if candidates is None else candidates
        matched = np.ones(len(candidates), dtype=bool)
        for matcher in (m for m in matchers if m.op != "="):
            matched &= matcher.mask(values(matcher.name).iloc[candidates]).to_numpy(dtype=bool)
        live_positions = candidates[matched & active[candidates]]
        live = rule_labels[live_positions]
        shown = str(selector).strip()
        if len(live) == 0:
            paused = int((matched & ~active[candidates]).sum())
            note = (
                f" ({_count(paused, 'paused Grafana rule does', 'paused Grafana rules do')} not count)"
                if paused
                else ""
            )
            message = f"{service.service} has no alerting rule matching {shown} in Prometheus or Grafana{note}"
            findings.append((service.team, subject, "fail", message))
            continue
        where = _rule_sources(source_of[live_positions], source_dtype)
        message = f"{service.service} has {_count(len(live), 'alerting rule', 'alerting rules')} ({where})"
        findings.append((service.team, subject, "pass", message))
        pairs += [(service.team, service.service, index) for index in live]
    matches = pd.DataFrame(pairs, columns=["team", "service", "rule"])
    return matches, pd.DataFrame(findings, columns=FINDING_COLUMNS)


def _rule_sources(sources: np.ndarray, dtype: np.dtype[Any] | pd.api.extensions.ExtensionDtype) -> str:
    """``2 in Prometheus, 1 in Grafana``: the matched rules' sources, the most frequent first."""
    distinct = set(sources)
    if len(distinct) == 1:  # the usual case, without a Series per service
        return f"{len(sources)} in {next(iter(distinct)).capitalize()}"
    counts = pd.Series(sources, dtype=dtype).value_counts()
    return ", ".join(f"{n} in {str(source).capitalize()}" for source, n in counts.items())


def _rule_findings(matches: pd.DataFrame, rules: pd.DataFrame) -> pd.DataFrame:
    """A warning per rule of a team's services that lacks a severity label or a runbook_url annotation."""
    if matches.empty:
        return pd.DataFrame(columns=FINDING_COLUMNS)
    lacks = pd.DataFrame(
        {
            "severity": ~rules["labels"].map(lambda labels: bool(labels.get(SEVERITY_LABEL, "").strip())),
            "runbook": ~rules["annotations"].map(lambda notes: bool(notes.get(RUNBOOK_ANNOTATION, "").strip())),
        }
    )
    lacking = matches.join(lacks, on="rule")
    lacking = lacking[lacking["severity"] | lacking["runbook"]]
    if lacking.empty:
        return pd.DataFrame(columns=FINDING_COLUMNS)
    per_rule = lacking.groupby(["team", "rule"], as_index=False).agg(
        services=("service", lambda names: ", ".join(sorted(set(names)))),
        severity=("severity", "first"),
        runbook=("runbook", "first"),
    )
    per_rule = per_rule.join(rules[["subject", "title"]], on="rule")
    missing = [
        " and ".join(
            part
            for part, absent in (
                (f"a {SEVERITY_LABEL} label", severity),
                (f"a {RUNBOOK_ANNOTATION} annotation", runbook),
            )
            if absent
        )
        for severity, runbook in zip(per_rule["severity"], per_rule["runbook"], strict=True)
    ]
    findings = pd.DataFrame(
        {
            "team": per_rule["team"],
            "subject": per_rule["subject"],
            "outcome": "warn",
            "message": per_rule["title"]
            + " for "
            + per_rule["services"]
            + " lacks "
            + pd.Series(missing, index=per_rule.index),
        },
        columns=FINDING_COLUMNS,
    )
    # Prometheus allows one alert name twice in a group (say a warning and a critical variant): one finding.
    return findings.groupby(["team", "subject"], as_index=False).agg(
        outcome=("outcome", "first"), message=("message", lambda texts: "; ".join(dict.fromkeys(texts)))
    )[FINDING_COLUMNS]


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"
