"""``post-incident-review``: every serious incident has a blameless review, shared with everyone, its actions done.

Which incidents need a review: the team's (the on-call facts' ``oncall_incidents``, whatever the
team's platform: the team the platform routed the incident to, else the owner of its service,
``oncall_service_links``) that were high-urgency (threshold ``high_urgency``: 1) or of a
priority among the ``max_priority`` most severe (P1, P2), resolved in the last ``window_days``
days. One resolved less than ``due_business_days`` business days (Monday to Friday) before
the audit is not due yet.

The review: a Confluence page labelled ``label`` (``confluence_reviews``) in the team's review
space (``readiness/review-space`` on its Group or the nearest group above it; any space when
none is set) that names the incident by its id, its number (``#1234``: PagerDuty's incident
number, a JSM alert's tiny id) or its URL (an id in it);
the earliest such page counts. Its actions: the Jira issues it names (``jira_action_items``).

Verdicts per incident (subject ``incident:<id>``) and action (subject ``action:<KEY>``): a due
incident without a review fails; a review created more than ``due_business_days`` business
days after the resolution warns, as does one readable by fewer than everyone (read
restrictions), and an action open past its due date (naming it and its assignee); an action
without a due date is reported, not judged. Jira unreadable (a partial source): the actions
of a reviewed incident are ``unknown``, while a missing review still fails.

:func:`review_tables` gives the warehouse's ``incident_reviews`` and ``action_items`` from the
same judgement.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from oncall_readiness.checks import FINDING_COLUMNS, CheckInput, CheckOutcome, one_per_subject, results_from_findings
from oncall_readiness.frames import is_in, records
from oncall_readiness.registry.groups import nearest_value

JIRA = "jira"
ALL_CLEAR = "Every incident due a review has one, published on time, readable by everyone, its actions on time."
NONE_DUE = "No high-urgency or top-priority incident of the team resolved in the last {days} days is due a review."
INCIDENT_REVIEW_COLUMNS = ("incident_id", "team", "review_url", "title", "created", "due", "late", "restricted")
ACTION_ITEM_COLUMNS = ("key", "incident_id", "team", "status", "due", "resolved", "days_overdue")
_PRIORITY_NUMBER = re.compile(r"^\s*P(\d+)\b", re.IGNORECASE)


def evaluate(audit: CheckInput) -> CheckOutcome:
    judged = judge(audit.facts, audit.teams["team"], audit.thresholds, audit.audit_instant)
    jira_down = audit.unavailable.get(JIRA)
    today = audit.audit_instant.tz_convert("UTC").date()
    rows: list[tuple[Any, str, str, str]] = []
    for incident in judged.incidents.itertuples(index=False):
        rows += [(incident.team, *finding) for finding in _incident_findings(incident)]
        if incident.review_url is None or not incident.is_due:
            continue
        keys = [key for key in str(incident.jira_keys or "").split(",") if key]
        if keys and jira_down:
            message = f"The actions of {_name(incident)}'s review could not be read: {jira_down}"
            rows.append((incident.team, f"incident:{incident.incident_id}", "unknown", message))
            continue
        rows += [(incident.team, *f) for f in _action_findings(incident, keys, judged.actions, today)]
    findings = one_per_subject(pd.DataFrame(rows, columns=FINDING_COLUMNS))
    results = results_from_findings(audit.teams["team"], findings, all_clear=ALL_CLEAR)
    days = int(audit.thresholds["window_days"].iloc[0]) if len(audit.thresholds) else 28
    due_teams = set(judged.incidents.loc[judged.incidents["is_due"], "team"])
    none_due = (results["status"] == "pass") & ~is_in(results["team"], due_teams)
    results.loc[none_due, "reason"] = NONE_DUE.format(days=days)
    return CheckOutcome(results=results, findings=findings)


@dataclass(frozen=True)
class Judged:
    incidents: pd.DataFrame  # one row per incident that needs a review, with its review (if any)
    actions: dict[str, dict[str, Any]]  # Jira key -> its fact


def judge(
    facts: Mapping[str, pd.DataFrame], teams: pd.Series, thresholds: pd.DataFrame, instant: pd.Timestamp
) -> Judged:
    """The incidents of ``teams`` that need a review, each with its due date, review and verdict inputs."""
    incidents = _serious_incidents(facts, teams, thresholds, instant)
    reviews = facts.get("confluence_reviews")
    matched = _match_reviews(incidents, reviews, facts) if reviews is not None else incidents
    if reviews is None:
        for column in ("review_url", "review_title", "review_created", "restricted", "jira_keys"):
            matched[column] = None
    actions_frame = facts.get("jira_action_items")
    actions = {str(row["key"]): row for row in _records(actions_frame)} if actions_frame is not None else {}
    return Judged(incidents=matched, actions=actions)


def _serious_incidents(
    facts: Mapping[str, pd.DataFrame], teams: pd.Series, thresholds: pd.DataFrame, instant: pd.Timestamp
) -> pd.DataFrame:
    owned = _owned(facts["oncall_incidents"], facts["oncall_service_links"])
    owned = owned[is_in(owned["team"], set(teams)) & owned["resolved_at"].notna()].copy()
    if owned.empty:
        return _empty_incidents()
    per_team = thresholds.reindex(owned["team"].astype(str).tolist())
    window = pd.to_timedelta(per_team["window_days"].to_numpy(dtype="float64"), unit="D")
    resolved = pd.to_datetime(owned["resolved_at"], utc=True)
    recent = (resolved <= instant) & (resolved >= instant - window)
    high = owned["urgency"].astype("string").eq("high").fillna(False) & (per_team["high_urgency"].to_numpy() > 0)
    rank = _priority_rank(owned["platform"], owned["priority"], facts.get("oncall_priorities"))
    top = rank.le(per_team["max_priority"].to_numpy()).fillna(False)
    owned = owned[(recent & (high | top)).to_numpy()].copy()
    if owned.empty:
        return _empty_incidents()
    business_days = thresholds.reindex(owned["team"].astype(str).tolist())["due_business_days"].to_numpy(dtype="int64")
    owned["due_at"] = due_moments(pd.to_datetime(owned["resolved_at"], utc=True), business_days)
    owned["business_days"] = business_days
    owned["is_due"] = owned["due_at"] <= instant
    owned["due"] = owned["due_at"].dt.date
    return owned.reset_index(drop=True)


def _owned(incidents: pd.DataFrame, links: pd.DataFrame) -> pd.DataFrame:
    """The incidents with their team: the one the platform routed them to, else their service's owner."""
    owners = links[["platform", "service_id", "team"]].dropna().drop_duplicates(["platform", "service_id"])
    owned = incidents.merge(owners, on=["platform", "service_id"], how="left", suffixes=("", "_of_service"))
    owned["team"] = owned["team"].fillna(owned["team_of_service"])
    return owned.drop(columns="team_of_service").dropna(subset=["team"])


def due_moments(resolved: pd.Series, business_days: np.ndarray) -> pd.Series:
    """When each review is due: ``business_days`` business days (Monday to Friday) after the resolution,
    at the same time of day; a resolution on a weekend counts from the Monday after, at midnight."""
    naive = resolved.dt.tz_convert("UTC").dt.tz_localize(None)
    days = naive.dt.normalize().to_numpy(dtype="datetime64[D]")
    on_business_day = np.is_busday(days)
    due_days = np.busday_offset(days, business_days, roll="forward")
    time_of_day = np.where(on_business_day, (naive - naive.dt.normalize()).to_numpy(), np.timedelta64(0, "ns"))
    due = pd.to_datetime(due_days) + pd.to_timedelta(time_of_day)
    return pd.Series(due, index=resolved.index).dt.tz_localize("UTC")


def _empty_incidents() -> pd.DataFrame:
    columns = [
        "incident_id",
        "incident_number",
        "title",
        "team",
        "resolved_at",
        "due_at",
        "due",
        "business_days",
        "is_due",
    ]
    return pd.DataFrame({column: pd.Series(dtype=object) for column in columns}).astype({"is_due": bool})


def _priority_rank(platforms: pd.Series, priorities: pd.Series, known: pd.DataFrame | None) -> pd.Series:
    """Each incident's priority as a rank (1 the most severe), from its platform's priorities or a ``P<n>`` name."""
    ranks: dict[tuple[str, str], Any] = {}
    if known is not None and len(known):
        keys = zip(known["platform"].astype(str), known["name"].astype(str), strict=True)
        ranks = dict(zip(keys, known["position"].astype("Int64"), strict=True))

    def rank(platform: Any, name: Any) -> float:
        if not isinstance(name, str) or not name:
            return float("nan")
        position = ranks.get((str(platform), name))
        if position is not None and not pd.isna(position):
            return float(position)
        match = _PRIORITY_NUMBER.match(name)
        return float(match[1]) if match else float("nan")

    ranked = [rank(platform, name) for platform, name in zip(platforms, priorities, strict=True)]
    return pd.Series(ranked, index=priorities.index, dtype="float64")


def _match_reviews(incidents: pd.DataFrame, reviews: pd.DataFrame, facts: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Each incident with its earliest review in the team's spaces that names its id or number."""
    groups = facts.get("registry_groups", facts["registry_teams"])
    spaces = (
        {
            team: {s.strip() for s in value.split(",")}
            for team, (value, _) in nearest_value(groups, "review_space").items()
        }
        if "review_space" in groups.columns
        else {}
    )
    by_id: dict[str, list[dict[str, Any]]] = {}
    by_number: dict[str, list[dict[str, Any]]] = {}
    review_columns = ["url", "title", "created", "restricted", "jira_keys", "space", "incident_ids", "incident_numbers"]
    for review in _records(reviews.sort_values("created"), review_columns):
        for incident_id in str(review.get("incident_ids") or "").split(","):
            if incident_id:
                by_id.setdefault(incident_id, []).append(review)
        for number in str(review.get("incident_numbers") or "").split(","):
            if number:
                by_number.setdefault(number, []).append(review)
    found = []
    for incident in _records(incidents, ["incident_id", "incident_number", "team"]):
        candidates = by_id.get(str(incident["incident_id"]), []) + by_number.get(
            str(incident.get("incident_number")), []
        )
        allowed = spaces.get(str(incident["team"]))
        candidates = [r for r in candidates if allowed is None or r.get("space") in allowed]
        chosen: dict[str, Any] | None = (
            min(candidates, key=lambda r: pd.Timestamp(r["created"])) if candidates else None
        )
        found.append(
            {
                "review_url": chosen["url"] if chosen else None,
                "review_title": chosen["title"] if chosen else None,
                "review_created": chosen["created"] if chosen else None,
                "restricted": bool(chosen["restricted"]) if chosen and not pd.isna(chosen["restricted"]) else None,
                "jira_keys": chosen["jira_keys"] if chosen else None,
            }
        )
    review_columns = ["review_url", "review_title", "review_created", "restricted", "jira_keys"]
    matched = pd.concat(
        [incidents.reset_index(drop=True), pd.DataFrame(found, columns=review_columns, dtype=object)], axis=1
    )
    matched["late"] = [
        bool(pd.Timestamp(created) > due) if created is not None else None
        for created, due in zip(matched["review_created"], matched["due_at"], strict=True)
    ]
    return matched


def _records(frame: pd.DataFrame, columns: list[str] | None = None) -> list[dict[str, Any]]:
    """Rows as dicts, each column read once (``frames.records``): ``to_dict`` boxes every Arrow value alone."""
    frame = frame if columns is None else frame[[column for column in columns if column in frame.columns]]
    return [row._asdict() for row in records(frame)]


def _name(incident: Any) -> str:
    number = getattr(incident, "incident_number", None)
    label = f"#{number}" if number is not None and not pd.isna(number) else str(incident.incident_id)
    return f"incident {label} ({incident.incident_id})"


def _when(moment: Any) -> str:
    return pd.Timestamp(moment).tz_convert("UTC").strftime("%Y-%m-%d")


def _incident_findings(incident: Any) -> list[tuple[str, str, str]]:
    subject = f"incident:{incident.incident_id}"
    name, title = _name(incident), incident.title
    resolved = _when(incident.resolved_at)
    if not incident.is_due:
        if incident.review_url is not None:
            return [(subject, "pass", f"{name} '{title}' resolved {resolved} has its review already")]
        return [(subject, "pass", f"{name} '{title}' resolved {resolved}: its review is due {incident.due}")]
    if incident.review_url is None:
        message = f"{name} '{title}' resolved {resolved} has no review (due {incident.due})"
        return [(subject, "fail", message)]
    findings = []
    review_title = incident.review_title
    if incident.late:
        created = _when(incident.review_created)
        days = incident.business_days
        message = (
            f"The review of {name}, '{review_title}', was published {created}, more than {days} business days "
            f"after the resolution on {resolved}"
        )
        findings.append((subject, "warn", message))
    if incident.restricted:
        message = f"The review of {name}, '{review_title}', is readable by fewer than everyone (page restrictions)"
        findings.append((subject, "warn", message))
    return findings or [(subject, "pass", f"{name} has its review '{review_title}'")]


def _action_findings(
    incident: Any, keys: list[str], actions: Mapping[str, Mapping[str, Any]], today: dt.date
) -> list[tuple[str, str, str]]:
    """Each action the review names: overdue warns, without a due date it is reported, not judged."""
    findings = []
    of = f"{_name(incident)}'s review"
    for key in keys:
        action = actions.get(key)
        if action is None or not action.get("found"):
            continue  # text that looks like a key (UTF-8), or an issue the account cannot see: not judged
        subject, summary, due = f"action:{key}", action.get("summary"), action.get("due")
        if action.get("status_category") == "done":
            findings.append((subject, "pass", f"Action {key} '{summary}' of {of} is done"))
        elif due is None or pd.isna(due):
            findings.append((subject, "pass", f"Action {key} '{summary}' of {of} has no due date (not judged)"))
        elif _date(due) < today:
            assignee = action.get("assignee")
            owner = f"assigned to {assignee}" if isinstance(assignee, str) and assignee else "unassigned"
            message = f"Action {key} '{summary}' of {of} is still open past its due date {_date(due)} ({owner})"
            findings.append((subject, "warn", message))
        else:
            findings.append((subject, "pass", f"Action {key} '{summary}' of {of} is due {_date(due)}"))
    return findings


def _date(value: Any) -> dt.date:
    """A date from a date, a timestamp (a ``datetime`` is a ``date`` too) or ISO text."""
    if isinstance(value, dt.datetime):
        return value.date()
    return value if isinstance(value, dt.date) else pd.Timestamp(str(value)).date()


def review_tables(facts: Mapping[str, pd.DataFrame], instant: pd.Timestamp) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The warehouse's ``incident_reviews`` (each incident that needs a review) and ``action_items``
    (each action its review links), judged as the check judges them, with the catalogue's thresholds."""
    from oncall_readiness.checks.catalogue import load_catalogue, team_thresholds

    teams = facts["registry_teams"]["team"]
    check = load_catalogue().checks["post-incident-review"]
    thresholds = team_thresholds(check, teams, facts["registry_thresholds"])
    judged = judge(facts, teams, thresholds, instant)
    incidents = judged.incidents
    reviews = pd.DataFrame(
        {
            "incident_id": incidents["incident_id"],
            "team": incidents["team"],
            "review_url": incidents.get("review_url"),
            "title": incidents.get("review_title"),
            "created": incidents.get("review_created"),
            "due": incidents["due"],
            "late": incidents.get("late"),
            "restricted": incidents.get("restricted"),
        },
        columns=list(INCIDENT_REVIEW_COLUMNS),
    )
    today = instant.tz_convert("UTC").date()
    rows = []
    for incident in incidents.itertuples(index=False):
        for key in str(getattr(incident, "jira_keys", None) or "").split(","):
            action = judged.actions.get(key)
            if not key or action is None or not action.get("found"):
                continue
            due = action.get("due")
            open_ = action.get("status_category") != "done"
            overdue = (today - _date(due)).days if open_ and due is not None and not pd.isna(due) else None
            rows.append(
                {
                    "key": key,
                    "incident_id": incident.incident_id,
                    "team": incident.team,
                    "status": action.get("status"),
                    "due": None if due is None or pd.isna(due) else _date(due),
                    "resolved": action.get("resolved"),
                    "days_overdue": max(overdue, 0) if overdue is not None else None,
                }
            )
    actions = pd.DataFrame(rows, columns=list(ACTION_ITEM_COLUMNS)).drop_duplicates("key")
    return reviews, actions
