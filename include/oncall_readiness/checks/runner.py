"""Run every implemented check over all teams; the same rules for unknowns, scopes, waivers, scores and remediation.

Scopes: a check with ``applies_to`` in checks.yaml sees only the services in its scope
(``registry_services`` filtered by lifecycle, type and ``readiness/tier``); each service
outside it gets a finding with outcome ``pass`` whose message starts ``Out of scope:`` and
says why, so it is neither counted nor lost. A team none of whose services is in scope
passes the check, its reason saying so (as a team without services does).

On-call platforms: a team is on call on one platform (``registry_teams.oncall_platform``). A
check reading a platform that is unavailable is ``unknown`` with the reason for the teams on
that platform only; the other teams are judged (all teams on it: the whole check, as for any
source).

Waivers: the active waivers (``oncall_readiness.waivers``, applied by ``checks.waivers``) then turn fail and warn into
``waived``, before scoring, so a waived result scores nothing.

Links: each finding gets the web page (``url``) and display name (``subject_name``) of its
subject from the ``<source>_links`` facts (subject, name, url) of the sources the check reads,
in the order it names them: ``service:checkout-api`` is its dashboards for dashboard-coverage,
its runbook for runbook-freshness, its PagerDuty service for escalation-path. A source the check
does not read never links its findings (catalog-media "names no PagerDuty service" does not
link to its dashboards); a subject none of them links has none.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import pandas as pd

from oncall_readiness import schema
from oncall_readiness.checks import FINDING_COLUMNS, CheckInput
from oncall_readiness.checks.catalogue import (
    Catalogue,
    CheckDefinition,
    in_scope,
    load_catalogue,
    out_of_scope_reasons,
    team_thresholds,
)
from oncall_readiness.checks.waivers import waive
from oncall_readiness.frames import is_in
from oncall_readiness.oncall_facts import PLATFORMS, team_platforms
from oncall_readiness.reasons import one_sentence, sentences
from oncall_readiness.registry.groups import audited_teams

# The warehouse's check_results and findings tables (without audit_date).
RESULT_COLUMNS = list(schema.CHECK_RESULT_COLUMNS)
CHECK_FINDING_COLUMNS = list(schema.FINDING_COLUMNS)
PASS_REMEDIATION = "No action needed."
OUT_OF_SCOPE = schema.OUT_OF_SCOPE


def evaluate_checks(
    *,
    audit_instant: pd.Timestamp,
    facts: Mapping[str, pd.DataFrame],
    unavailable: Mapping[str, str],
    catalogue: Catalogue | None = None,
    waivers: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Results (one row per team and check) and findings of every implemented check.

    ``unavailable`` maps a source to why it cannot be trusted this time (down, failed
    validation); every check that reads it is ``unknown`` with that reason. ``waivers``:
    the waivers table as of the audit instant (its active rows apply).
    """
    catalogue = catalogue or load_catalogue()
    unavailable = {source: one_sentence(reason) for source, reason in unavailable.items()}
    waivers = waivers if waivers is not None else pd.DataFrame(columns=list(schema.WAIVER_COLUMNS))
    facts = _audited(facts)
    teams = facts["registry_teams"]
    all_results, all_findings = [], []
    for check in catalogue.implemented():
        thresholds = team_thresholds(check, teams["team"], facts["registry_thresholds"])
        blocked = [source for source in check.required_sources if source in unavailable]
        on_blocked_platform = _on_blocked_platform(teams, facts, blocked)
        if blocked and (on_blocked_platform is None or on_blocked_platform.all()):
            told = _told(blocked, teams, facts)
            reason = "; ".join(f"{source} data is unavailable: {unavailable[source]}" for source in told)
            results, findings = _all_unknown(teams["team"], reason), pd.DataFrame(columns=FINDING_COLUMNS)
        else:
            partial = {source: unavailable[source] for source in check.partial_sources if source in unavailable}
            scoped, skipped = _scoped(facts, check, teams["team"])
            outcome = check.evaluator()(CheckInput(audit_instant, teams, scoped, thresholds, partial))
            results, findings = _complete(outcome.results, teams["team"]), outcome.findings
            results, findings = _with_out_of_scope(results, findings, skipped, facts.get("registry_services"), check)
            if on_blocked_platform is not None:
                results, findings = _platform_unknown(results, findings, teams, facts, blocked, unavailable)
        results, findings = waive(check.id, results, findings, waivers)
        all_results.append(_scored(results.assign(check_id=check.id), check, catalogue))
        all_findings.append(findings.assign(check_id=check.id)[FINDING_COLUMNS + ["check_id"]])
    results = pd.concat(all_results, ignore_index=True)[RESULT_COLUMNS]
    findings = _linked(pd.concat(all_findings, ignore_index=True), facts, catalogue)
    # One sentence each: a source error repeated per item is said once, with a count (reasons.py).
    return results.assign(reason=sentences(results["reason"])), findings.assign(message=sentences(findings["message"]))


def links_of(facts: Mapping[str, pd.DataFrame], sources: Iterable[str]) -> dict[str, pd.DataFrame]:
    """Source -> its links (``<source>_links``: subject, name, url), one row per subject.

    Looked up by source name: other tables may end in ``_links`` too (``oncall_service_links``).
    """
    links = {}
    for source in sources:
        frame = facts.get(f"{source}{schema.LINKS_SUFFIX}")
        if frame is not None and not frame.empty:
            usable = frame.dropna(subset=["subject", "url"]).drop_duplicates("subject")
            links[source] = usable[list(schema.LINK_COLUMNS)]
    return links


def _linked(findings: pd.DataFrame, facts: Mapping[str, pd.DataFrame], catalogue: Catalogue) -> pd.DataFrame:
    """``findings`` with each subject's url and display name, from the links of the check's own sources."""
    sources_of = {check.id: check.sources for check in catalogue.implemented()}
    links = links_of(facts, {source for sources in sources_of.values() for source in sources})
    # Plain text columns, None where nothing links (the warehouse's bulk loads type them as text).
    url = pd.Series(None, index=findings.index, dtype=object)
    name = pd.Series(None, index=findings.index, dtype=object)
    for check_id, rows in findings.groupby("check_id", sort=False):
        for source in [source for source in sources_of.get(str(check_id), ()) if source in links]:
            todo = rows.index[url[rows.index].isna()]
            if todo.empty:
                break
            found = links[source].set_index("subject")
            subjects = findings.loc[todo, "subject"]
            url[todo] = subjects.map(found["url"]).astype(object)
            name[todo] = subjects.map(found["name"]).astype(object)
    return findings.assign(url=url.where(url.notna(), None), subject_name=name.where(url.notna(), None))[
        CHECK_FINDING_COLUMNS
    ]


def _audited(facts: Mapping[str, pd.DataFrame]) -> Mapping[str, pd.DataFrame]:
    """The facts with only the teams the checks judge (``registry.groups.audited_teams``): a parent
    group owning no service (a department) is scored through its roll-up, not as a team.

    ``registry_groups`` keeps every group: a check that inherits from the tree (the nearest
    group's incident commanders) walks up through the departments the teams table leaves out.
    """
    teams, services = facts["registry_teams"], facts.get("registry_services")
    if "parent" not in teams.columns or services is None:
        return {**facts, "registry_groups": teams}
    return {**facts, "registry_teams": audited_teams(teams, services), "registry_groups": teams}


def _scoped(
    facts: Mapping[str, pd.DataFrame], check: CheckDefinition, teams: pd.Series
) -> tuple[Mapping[str, pd.DataFrame], pd.DataFrame]:
    """The facts the check sees (only its services in scope), and the teams' services it does not judge."""
    services = facts.get("registry_services")
    if not check.applies_to or services is None:
        return facts, pd.DataFrame(columns=["service", "team", "why"])
    selected = in_scope(services, check.applies_to)
    outside = services[~selected & is_in(services["team"], teams)]
    skipped = pd.DataFrame(
        {
            "service": outside["service"],
            "team": outside["team"],
            "why": out_of_scope_reasons(outside, check.applies_to),
        }
    )
    return {**facts, "registry_services": services[selected].reset_index(drop=True)}, skipped


def _with_out_of_scope(
    results: pd.DataFrame,
    findings: pd.DataFrame,
    skipped: pd.DataFrame,
    services: pd.DataFrame | None,
    check: CheckDefinition,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A pass finding per service outside the scope saying why; a team with none in scope says so."""
    if skipped.empty:
        return results, findings
    notes = pd.DataFrame(
        {
            "team": skipped["team"],
            "subject": "service:" + skipped["service"],
            "outcome": "pass",
            "message": f"{OUT_OF_SCOPE}: " + skipped["service"] + " is not judged, " + skipped["why"],
        }
    )
    findings = pd.concat([findings, notes[FINDING_COLUMNS]], ignore_index=True)
    judged = set(services.loc[in_scope(services, check.applies_to), "team"].dropna()) if services is not None else set()
    none_in_scope = is_in(results["team"], set(skipped["team"]) - judged) & (results["status"] == "pass")
    scope = "; ".join(f"{key} {' or '.join(values)}" for key, values in check.applies_to.items())
    results = results.copy()
    results.loc[none_in_scope, "reason"] = f"No service of the team is in scope of this check (it applies to {scope})."
    return results, findings


def _on_blocked_platform(
    teams: pd.DataFrame, facts: Mapping[str, pd.DataFrame], blocked: list[str]
) -> pd.Series | None:
    """Per team, whether its on-call platform is among the ``blocked`` sources; None when a blocked
    source is not an on-call platform (it blocks every team) or none is blocked."""
    if not blocked or any(source not in PLATFORMS for source in blocked):
        return None
    platforms = team_platforms(facts.get("registry_groups", teams))
    return teams["team"].map(platforms).isin(blocked)


def _told(blocked: list[str], teams: pd.DataFrame, facts: Mapping[str, pd.DataFrame]) -> list[str]:
    """The blocked sources a reason names: an on-call platform only when a team is on it (an organisation
    without a team on JSM Operations is not told that JSM Operations is not configured)."""
    used = set(team_platforms(facts.get("registry_groups", teams)).values())
    told = [source for source in blocked if source not in PLATFORMS or source in used]
    return told or blocked


def _platform_unknown(
    results: pd.DataFrame,
    findings: pd.DataFrame,
    teams: pd.DataFrame,
    facts: Mapping[str, pd.DataFrame],
    blocked: list[str],
    unavailable: Mapping[str, str],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The teams on an unavailable platform: unknown with why, and none of the findings judged without it."""
    platforms = team_platforms(facts.get("registry_groups", teams))
    on = {team: platforms[team] for team in teams["team"].tolist() if platforms.get(team) in blocked}
    affected = is_in(results["team"], set(on))
    results = results.copy()
    results.loc[affected, "status"] = "unknown"
    results.loc[affected, "reason"] = [
        f"{on[team]} data is unavailable: {unavailable[on[team]].rstrip('.')}."
        for team in results.loc[affected, "team"].tolist()
    ]
    return results, findings[~is_in(findings["team"], set(on))]


def _all_unknown(teams: pd.Series, reason: str) -> pd.DataFrame:
    return pd.DataFrame({"team": teams, "status": "unknown", "reason": f"{reason.rstrip('.')}."})


def _complete(results: pd.DataFrame, teams: pd.Series) -> pd.DataFrame:
    """A team the check said nothing about is unknown, never silently dropped."""
    missing = teams[~is_in(teams, results["team"])]
    gaps = _all_unknown(missing, "The check produced no result for this team")
    return pd.concat([results, gaps], ignore_index=True) if len(gaps) else results


def _scored(results: pd.DataFrame, check: CheckDefinition, catalogue: Catalogue) -> pd.DataFrame:
    score = results["status"].map(catalogue.status_scores).astype("Float64")
    remediation = results["status"].map(lambda status: PASS_REMEDIATION if status == "pass" else check.remediation)
    return results.assign(score=score, remediation=remediation)
