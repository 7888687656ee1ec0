"""dashboard-coverage: every service has a monitoring dashboard and a logging dashboard.

A dashboard belongs to a service when it carries the service's ``grafana/dashboard-selector``
as a tag (tags compared without case; one dashboard may serve several services). Its kind
comes from the Grafana facts (``grafana_dashboards.kind``: a ``logs``/``logging`` or
``monitoring``/``metrics`` tag, else its panels). Per service of a team:

- both kinds: pass; one kind missing: warn, saying which; no dashboard: fail;
- no ``grafana/dashboard-selector`` annotation: fail (nothing can find its dashboards).

The team's status is its worst service's; a team without services passes.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from oncall_readiness.checks import FINDING_COLUMNS, CheckInput, CheckOutcome, results_from_findings
from oncall_readiness.frames import is_in

TABLES = ("registry_services", "grafana_dashboards")
KINDS = ("monitoring", "logging")
MAX_TITLES = 3


def evaluate(audit: CheckInput) -> CheckOutcome:
    missing = [table for table in TABLES if table not in audit.facts]
    if missing:
        return _unknown(audit.teams["team"], f"The facts table {', '.join(missing)} was not collected")
    services = audit.facts["registry_services"]
    services = services[services["team"].notna() & is_in(services["team"], audit.teams["team"])]
    services = services.assign(selector=services["dashboard_selector"].astype("string").str.strip().str.lower())
    titles = _titles_per_service(services, audit.facts["grafana_dashboards"])
    columns = ["team", "service", "selector", "dashboard_selector"]
    findings = pd.DataFrame(
        [
            _finding(
                team,
                service,
                selector,
                raw,
                titles.get((service, "monitoring"), []),
                titles.get((service, "logging"), []),
            )
            for team, service, selector, raw in zip(*(services[column].tolist() for column in columns), strict=True)
        ],
        columns=FINDING_COLUMNS,
    ).sort_values(["team", "subject"], ignore_index=True)
    results = results_from_findings(
        audit.teams["team"], findings, all_clear="Every service of the team has a monitoring and a logging dashboard."
    )
    no_services = ~is_in(results["team"], services["team"])
    results.loc[no_services, "reason"] = "The team owns no service in the registry."
    return CheckOutcome(results=results, findings=findings)


def _titles_per_service(services: pd.DataFrame, dashboards: pd.DataFrame) -> dict[tuple[str, str], list[str]]:
    """(service, kind) -> the titles of the service's dashboards of that kind, sorted.

    Built in plain Python: a pandas list aggregation per service and kind took seconds at 10,000 services.
    """
    classified = dashboards[dashboards["kind"].isin(KINDS)]
    tagged = classified.assign(selector=classified["tags"].fillna("").astype(str).str.split(",")).explode("selector")
    tagged["selector"] = tagged["selector"].str.strip().str.lower()
    matched = services[["service", "selector"]].dropna().merge(tagged[["selector", "title", "kind"]], on="selector")
    titles: dict[tuple[str, str], list[str]] = {}
    ordered = matched.sort_values("title")
    for service, kind, title in zip(
        *(ordered[column].tolist() for column in ("service", "kind", "title")), strict=True
    ):
        titles.setdefault((service, kind), []).append(title)
    return titles


def _finding(
    team: str,
    service: str,
    selector: Any,  # the selector tags are matched with (text, or missing)
    dashboard_selector: Any,  # the annotation as written (text, or missing)
    monitoring: list[str],
    logging: list[str],
) -> dict[str, str]:
    subject = f"service:{service}"
    if pd.isna(selector) or not selector:
        outcome = "fail"
        message = f"{service} has no grafana/dashboard-selector annotation, so none of its dashboards can be found"
    elif not monitoring and not logging:
        outcome, message = "fail", f"{service} has no dashboard tagged '{dashboard_selector}'"
    elif not logging:
        outcome = "warn"
        message = f"{service} has a monitoring dashboard ({_titles(monitoring)}) but no logging dashboard"
    elif not monitoring:
        outcome = "warn"
        message = f"{service} has a logging dashboard ({_titles(logging)}) but no monitoring dashboard"
    else:
        outcome = "pass"
        message = f"{service} has monitoring ({_titles(monitoring)}) and logging ({_titles(logging)}) dashboards"
    return {"team": team, "subject": subject, "outcome": outcome, "message": message}


def _titles(titles: list[str]) -> str:
    shown = ", ".join(f'"{title}"' for title in titles[:MAX_TITLES])
    more = len(titles) - MAX_TITLES
    return shown + (f" and {more} more" if more > 0 else "")


def _unknown(teams: pd.Series, reason: str) -> CheckOutcome:
    results = pd.DataFrame({"team": teams, "status": "unknown", "reason": f"{reason}."})
    return CheckOutcome(results=results, findings=pd.DataFrame(columns=FINDING_COLUMNS))
