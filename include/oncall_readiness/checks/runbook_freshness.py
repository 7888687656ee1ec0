"""runbook-freshness: every service has a runbook, changed recently, that covers the four parts.

Per service of a team (``registry_services`` with a team), from its runbook link and the
facts of the host that keeps it (``github_runbooks``, ``confluence_runbooks``; the hosts,
their tables and the columns read are declared in ``oncall_readiness.runbook_facts``):

- no runbook link: fail;
- the runbook could not be read (no such repository, file or page; deleted or renamed): fail;
- age = audit instant - ``last_changed``: at most ``fresh_days`` passes, at most
  ``stale_days`` warns, older fails;
- a runbook whose headings lack any of failure scenarios, mitigations, alert thresholds
  and step-by-step guides warns, naming the missing parts (a failing runbook still
  names them in its message);
- a runbook on a host whose data is unavailable (down, or failed validation), or on a host
  this audit does not read: unknown, with the reason.

A team's status is its worst finding (fail, then warn, then unknown, then pass): the
team is unknown only when nothing worse can be said. A team without services passes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import pandas as pd

from oncall_readiness.checks import FINDING_COLUMNS, CheckInput, CheckOutcome, results_from_findings
from oncall_readiness.frames import is_in, records
from oncall_readiness.runbook_facts import HOSTS as RUNBOOK_HOSTS
from oncall_readiness.runbook_facts import PART_LABELS, RUNBOOK_COLUMNS, runbook_host

HOSTS = {name: host.title for name, host in RUNBOOK_HOSTS.items()}
FACT_TABLES = {name: host.table for name, host in RUNBOOK_HOSTS.items()}
PARTS = PART_LABELS
FACT_COLUMNS = RUNBOOK_COLUMNS
# team, subject, outcome, message
Finding = tuple[str, str, str, str]
ALL_CLEAR = (
    "Every service has a runbook changed in the last {fresh} days that covers failure scenarios, "
    "mitigations, alert thresholds and step-by-step guides."
)


def evaluate(audit: CheckInput) -> CheckOutcome:
    services = audit.facts["registry_services"]
    services = services[services["team"].notna()][["team", "service", "runbook_url"]].copy()
    services["host"] = services["runbook_url"].map(runbook_host)
    runbooks = services.merge(
        _runbook_facts(audit), left_on=["service", "runbook_url"], right_on=["service", "url"], how="left"
    )
    fresh = runbooks["team"].map(audit.thresholds["fresh_days"]).astype(float)
    stale = runbooks["team"].map(audit.thresholds["stale_days"]).astype(float)
    age = (audit.audit_instant - runbooks["last_changed"]).dt.total_seconds() / 86400
    rows = [
        _finding(row, age_days, fresh_days, stale_days, audit.unavailable)
        for row, age_days, fresh_days, stale_days in zip(
            records(runbooks), age.tolist(), fresh.tolist(), stale.tolist(), strict=True
        )
    ]
    findings = pd.DataFrame(rows, columns=FINDING_COLUMNS).sort_values(["team", "subject"], ignore_index=True)
    results = results_from_findings(audit.teams["team"], findings, all_clear="")
    return CheckOutcome(results=_all_clear_reasons(results, audit, services), findings=findings)


def _runbook_facts(audit: CheckInput) -> pd.DataFrame:
    """The runbook facts of every host that could be read (an unavailable host has none)."""
    frames = [
        audit.facts[table][FACT_COLUMNS]
        for host, table in FACT_TABLES.items()
        if host not in audit.unavailable and table in audit.facts
    ]
    frames = [frame for frame in frames if len(frame)]
    if not frames:
        return pd.DataFrame({column: pd.Series(dtype="object") for column in FACT_COLUMNS}).astype(
            {"last_changed": "datetime64[ns, UTC]"}
        )
    return pd.concat(frames, ignore_index=True).drop_duplicates(["service", "url"])


def _finding(
    row: Any,  # a row of the services joined with their runbook facts
    age_days: float,
    fresh_days: float,
    stale_days: float,
    unavailable: Mapping[str, str],
) -> Finding:
    subject = f"service:{row.service}"
    name = f"The runbook of {row.service}"

    def finding(outcome: str, message: str) -> Finding:
        return (row.team, subject, outcome, message)

    if pd.isna(row.runbook_url):
        return finding("fail", f"{row.service} links no runbook (metadata.links with type: runbook)")
    if pd.isna(row.host):
        where = urlsplit(str(row.runbook_url)).hostname or row.runbook_url
        return finding(
            "unknown", f"{name} is on {where}, which this audit cannot read (it reads GitHub and Confluence)"
        )
    if row.host in unavailable:
        reason = str(unavailable[row.host]).rstrip(". ")
        return finding("unknown", f"{name} is on {HOSTS[row.host]}, whose data is unavailable: {reason}")
    if pd.isna(row.found):  # the source could not say (a partial answer): never a finding of absence
        why = f": {row.error}" if isinstance(row.error, str) and row.error else ""
        return finding("unknown", f"{name} ({row.runbook_url}) was not collected from {HOSTS[row.host]}{why}")
    if not row.found:
        return finding("fail", f"{name} cannot be read: {row.error}")
    if pd.isna(age_days):
        return finding("unknown", f"{name} has no date of its last change on {HOSTS[row.host]}")
    covered = row._asdict()
    missing = [label for column, label in PARTS.items() if pd.isna(covered[column]) or not bool(covered[column])]
    lacks = f"lacks {_listed(missing)}" if missing else ""
    changed = f"was last changed {_ago(age_days)} ({row.last_changed:%Y-%m-%d})"
    if age_days > stale_days:
        also = f"; it also {lacks}" if lacks else ""
        return finding("fail", f"{name} {changed}, more than {stale_days:g} days ago{also}")
    if age_days > fresh_days:
        also = f", and {lacks}" if lacks else ""
        return finding("warn", f"{name} {changed}, more than {fresh_days:g} days ago{also}")
    if lacks:
        return finding("warn", f"{name} {lacks}")
    return finding("pass", f"{name} {changed} and covers all four parts")


def _all_clear_reasons(results: pd.DataFrame, audit: CheckInput, services: pd.DataFrame) -> pd.DataFrame:
    owns = is_in(results["team"], services["team"])
    fresh = results["team"].map(audit.thresholds["fresh_days"])
    passed = results["status"] == "pass"
    reasons = [ALL_CLEAR.format(fresh=f"{float(days):g}") for days in fresh]
    results = results.copy()
    results.loc[passed & owns, "reason"] = pd.Series(reasons, index=results.index)[passed & owns]
    results.loc[passed & ~owns, "reason"] = "The team owns no service in the catalog, so no runbook is due."
    return results


def _listed(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])} and {parts[-1]}"


def _ago(days: float) -> str:
    whole = int(days)
    if whole < 1:
        return "less than a day ago"
    return f"{whole} day{'s' if whole != 1 else ''} ago"
