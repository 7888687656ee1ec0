"""The campaigns in the team emails, and the department head's weekly digest of their teams.

Campaigns: a team's weekly email names every campaign of the week's audit the team is
behind on (``campaign_progress.meets`` false): its title, what is missing, the due date
and the days left (or how long it is overdue), so the deadline reaches the people who do
the work, not only the page.

Department digest: every parent group (a department, an organization: see
:mod:`oncall_readiness.rollup`) with an email (its Group's ``spec.profile.email``, the
department head or their list) gets one digest a week: the group's rolled-up score and
level, each of its teams (all levels below it) with score, level, change and failed
checks, and the campaigns its teams are behind on. Kind ``department``, keyed in the send
ledger on (week, kind, group, recipient) like the team emails, so it is sent exactly once.
A parent group without an email is skipped with a warning.
"""

from __future__ import annotations

import datetime as dt
import logging
from email.message import EmailMessage
from typing import Any

import pandas as pd

from oncall_readiness.frames import is_in
from oncall_readiness.registry.groups import teams_under
from oncall_readiness.report.message import TEMPLATES, build_message, format_score, level_name, page_link, plain
from oncall_readiness.report.weekly import ScorecardWeek, WeekByTeam, split_records

log = logging.getLogger(__name__)

DEPARTMENT = "department"


def behind_campaigns(scorecard_week: ScorecardWeek, team: str) -> list[dict[str, Any]]:
    """The campaigns ``team`` is behind on in the week's audit, the soonest due first."""
    progress = scorecard_week.campaigns
    if progress is None or progress.empty:
        return []
    return behind_of(split_records(progress[progress["team"] == team]), scorecard_week.week)


def behind_of(progress: list[dict[str, Any]], week: dt.date) -> list[dict[str, Any]]:
    """:func:`behind_campaigns` from the team's own ``campaign_progress`` rows (:func:`.weekly.split_by_team`)."""
    rows = []
    for row in progress:
        if bool(row["meets"]):
            continue
        due = pd.Timestamp(row["due"]).date()
        rows.append(
            {
                "campaign_id": row["campaign_id"],
                "title": row["title"],
                "reason": row["reason"],
                "due": due,
                "days_left": (due - week).days,
            }
        )
    return sorted(rows, key=lambda row: (row["due"], row["campaign_id"]))


def department_subject(group: str, level: str, score: float | None, teams: int, week: dt.date) -> str:
    """E.g. ``On-call readiness of Commerce: bronze (62.4), 4 teams — week of 2026-11-16``."""
    standing = "not assessed" if score is None or pd.isna(score) else f"{level_name(level)} ({format_score(score)})"
    return f"On-call readiness of {group}: {standing}, {teams} team{'s' if teams != 1 else ''} — week of {week}"


def build_department_email(
    scorecard_week: ScorecardWeek,
    group: str,
    *,
    recipient: str,
    sender: str,
    date: dt.datetime,
    by_team: WeekByTeam | None = None,
    page_url: str | None = None,
) -> EmailMessage:
    """One parent group's digest: its roll-up, every team below it ranked, and the campaigns they are behind on.

    ``by_team``: the week split by team (:class:`.weekly.WeekByTeam`), made once for every email of the week.
    ``page_url``: the Readiness page, which the digest and each team's name link to.
    """
    by_team = by_team or WeekByTeam(scorecard_week)
    if scorecard_week.rollup is None:
        raise LookupError(f"the week of {scorecard_week.week} has no roll-up: no department digest")
    rollup = scorecard_week.rollup.set_index("group_name").loc[group]
    if not isinstance(rollup, pd.Series):
        raise ValueError(f"group {group!r} has more than one row in the roll-up of {scorecard_week.week}")
    members = teams_under(group, scorecard_week.teams, set(scorecard_week.scorecard["team"]))
    ranked = by_team.ranked
    ranked = ranked[is_in(ranked["team"], members)].merge(
        scorecard_week.scorecard[["team", "failed", "unknown"]], on="team", how="left"
    )
    ranked = ranked.sort_values(["score", "team"], ascending=[False, True], na_position="last")
    teams = [
        {
            **row,
            "campaigns": behind_of(by_team.campaigns.get(row["team"], []), scorecard_week.week),
            "team_page": page_link(page_url, row["team"]),
        }
        for row in split_records(ranked)
    ]
    progress = scorecard_week.campaigns
    campaigns = []
    if progress is not None and not progress.empty:
        mine = progress[is_in(progress["team"], members)]
        for campaign_id, rows in mine.groupby("campaign_id", sort=True):
            due = pd.Timestamp(rows["due"].iloc[0]).date()
            campaigns.append(
                {
                    "campaign_id": campaign_id,
                    "title": rows["title"].iloc[0],
                    "meeting": int(rows["meets"].astype(bool).sum()),
                    "teams": len(rows),
                    "due": due,
                    "days_left": (due - scorecard_week.week).days,
                    "behind": sorted(rows.loc[~rows["meets"].astype(bool), "team"], key=str.casefold),
                }
            )
    display_name = by_team.display_names.get(group) or group
    context = {
        "week": scorecard_week.week,
        "previous": scorecard_week.previous,
        "group": group,
        "display_name": display_name,
        "rollup": {key: plain(value) for key, value in rollup.items()},
        "teams": teams,
        "campaigns": campaigns,
        "page_url": page_url,
    }
    subject = department_subject(
        display_name, rollup["level"], plain(rollup["score"]), int(rollup["teams"]), scorecard_week.week
    )
    return build_message(
        subject=subject,
        sender=sender,
        to=[recipient],
        date=date,
        identity=(scorecard_week.week, DEPARTMENT, group),
        text=TEMPLATES.get_template("email_department.txt.j2").render(subject=subject, **context),
        html=TEMPLATES.get_template("email_department.html.j2").render(subject=subject, **context),
        charts=[],
    )


def department_emails(
    scorecard_week: ScorecardWeek,
    *,
    sender: str,
    date: dt.datetime,
    by_team: WeekByTeam | None = None,
    page_url: str | None = None,
) -> list[EmailMessage]:
    """A digest for every parent group of the week's roll-up that has an email address."""
    if scorecard_week.rollup is None or scorecard_week.rollup.empty:
        return []
    by_team = by_team or WeekByTeam(scorecard_week)
    messages = []
    for group in sorted(scorecard_week.rollup["group_name"], key=str.casefold):
        recipient = by_team.addresses.get(group)
        if not isinstance(recipient, str) or "@" not in recipient:
            log.warning(
                "Group %r has no email address (spec.profile.email) in the registry of %s: its department digest "
                "is skipped",
                group,
                scorecard_week.week,
            )
            continue
        messages.append(
            build_department_email(
                scorecard_week, group, recipient=recipient, sender=sender, date=date, by_team=by_team, page_url=page_url
            )
        )
    return messages
