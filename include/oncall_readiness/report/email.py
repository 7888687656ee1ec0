"""The weekly scorecard emails: one per team and a digest for the leadership.

Each message is ``multipart/alternative``: a plain-text part, and an HTML part inside
``multipart/related`` with the trend chart as an inline PNG referenced by ``cid:`` (and, when
there were incidents, a second one: last week's incidents, see :mod:`.incident_email`). Both are
rendered with Jinja2 templates (``templates/email_*.j2``); the HTML ones autoescape every
value, so a team named ``<script>`` arrives as text.

The builders are pure: same warehouse rows, same sender, recipients and date, same bytes.
Headers name what a message is (:mod:`.message`), which is how the sender
(``report.delivery``) keys its send ledger.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import tempfile
from collections.abc import Sequence
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from oncall_readiness import config, schema
from oncall_readiness.checks.catalogue import load_catalogue
from oncall_readiness.report import digest
from oncall_readiness.report.chart import level_distribution_png, score_trend_png
from oncall_readiness.report.department_email import behind_campaigns, department_emails
from oncall_readiness.report.incident_email import digest_section, team_section
from oncall_readiness.report.message import (
    HEADER_KIND,
    HEADER_TEAM,
    TEMPLATES,
    Chart,
    build_message,
    content_id,
    format_score,
    level_name,
    plain,
    record,
    short_hash,
)
from oncall_readiness.report.scope import not_judged
from oncall_readiness.report.weekly import ScorecardWeek, load_week, score_changes, team_changes
from oncall_readiness.waivers.report import team_waivers
from oncall_readiness.warehouse import Warehouse

if TYPE_CHECKING:
    from oncall_readiness.staging import RunStaging

log = logging.getLogger(__name__)

DEFAULT_SENDER = "oncall-readiness@localhost"
TEAM, DIGEST = "team", "digest"


def sender_address(connection_from: str | None = None) -> str:
    """``READINESS_EMAIL_FROM``, else the SMTP connection's ``from_email`` extra, else the default."""
    return config.EMAIL_FROM.get() or (connection_from or "").strip() or DEFAULT_SENDER


def parse_recipients(addresses: str | Sequence[str] | None) -> list[str]:
    """Addresses from a comma- or semicolon-separated string or a list; blanks dropped, order kept."""
    if not addresses:
        return []
    items = re.split(r"[,;]", addresses) if isinstance(addresses, str) else list(addresses)
    unique = dict.fromkeys(item.strip() for item in items if item and item.strip())
    return list(unique)


def digest_recipients(configured: str | Sequence[str] | None = None) -> list[str]:
    """The leadership digest's recipients: ``configured`` (the DAG's param) or ``READINESS_DIGEST_RECIPIENTS``."""
    return parse_recipients(configured) or list(config.DIGEST_RECIPIENTS.require())


def team_subject(team: str, level: str, score: float | None, change: float | None, week: dt.date) -> str:
    """E.g. ``On-call readiness: payments is gold (100) — week of 2026-11-16``."""
    if score is None or pd.isna(score):
        standing = "could not be assessed"
    else:
        standing = f"is {level_name(level)} ({format_score(score)}{_movement(change)})"
    return f"On-call readiness: {team} {standing} — week of {week.isoformat()}"


def digest_subject(levels: dict[str, int], week: dt.date) -> str:
    """E.g. ``On-call readiness digest: 6 teams, 2 gold, 0 silver, 3 bronze, 1 below bronze — week of …``."""
    teams = sum(levels.values())
    counts = ", ".join(f"{levels.get(level, 0)} {level_name(level)}" for level in schema.LEVELS)
    return f"On-call readiness digest: {teams} team{'s' if teams != 1 else ''}, {counts} — week of {week.isoformat()}"


def build_team_email(
    scorecard_week: ScorecardWeek, team: str, *, recipient: str, sender: str, date: dt.datetime
) -> EmailMessage:
    """The team's scorecard: score and level, what changed (regressions first), checks, findings, trend."""
    card = record(scorecard_week.scorecard[scorecard_week.scorecard["team"] == team].iloc[0])
    change = score_changes(scorecard_week).set_index("team")["change"].get(team)
    titles = {check.id: check.title for check in load_catalogue().checks.values()}
    results = scorecard_week.results[scorecard_week.results["team"] == team].sort_values("check_id")
    team_findings = scorecard_week.findings[scorecard_week.findings["team"] == team]
    findings = team_findings[~team_findings["outcome"].isin(schema.NO_ACTION_OUTCOMES)]  # waived: no action
    ranked = findings.assign(rank=findings["outcome"].map(schema.severity))
    findings = ranked.sort_values(["rank", "check_id", "subject"])
    trend = scorecard_week.history[scorecard_week.history["team"] == team].set_index("slot")["score"]
    scores = [plain(trend.get(slot)) for slot in scorecard_week.slots]
    chart = Chart(
        png=score_trend_png(scorecard_week.slots, scores),
        cid=content_id("trend", scorecard_week.week, TEAM, team, sender),
        alt=f"Weekly readiness score of {team}, {len(scorecard_week.slots)} weeks to {scorecard_week.week}",
    )
    incidents = team_section(
        scorecard_week.insights, team, cid=content_id("incidents", scorecard_week.week, TEAM, team, sender)
    )
    context = {
        "week": scorecard_week.week,
        "previous": scorecard_week.previous,
        "team": team,
        "display_name": _display_name(scorecard_week, team),
        "card": card,
        "change": plain(change),
        "changes": team_changes(scorecard_week, team),
        "checks": [
            {**record(row), "title": titles.get(row["check_id"], row["check_id"])} for _, row in results.iterrows()
        ],
        "findings": [record(row) for _, row in findings.iterrows()],
        "trend": list(zip(scorecard_week.slots, scores, strict=True)),
        "chart": chart,
        "incidents": incidents,
        "campaigns": behind_campaigns(scorecard_week, team),
        "waivers": team_waivers(scorecard_week.waivers, team, scorecard_week.week),
        "not_judged": not_judged(team_findings.to_dict("records")),
    }
    subject = team_subject(team, card["level"], card["score"], context["change"], scorecard_week.week)
    return build_message(
        subject=subject,
        sender=sender,
        to=[recipient],
        date=date,
        identity=(scorecard_week.week, TEAM, team),
        text=TEMPLATES.get_template("email_team.txt.j2").render(subject=subject, **context),
        html=TEMPLATES.get_template("email_team.html.j2").render(subject=subject, **context),
        charts=[chart, *_incident_chart(incidents)],
    )


def build_digest(
    scorecard_week: ScorecardWeek,
    *,
    recipients: Sequence[str],
    sender: str,
    date: dt.datetime,
    page_url: str | None = None,
) -> EmailMessage:
    """The leadership digest (:mod:`.digest`): the organisation, its departments, what moved, a link for the rest.

    ``page_url``: the Readiness page, linked for the full table; None names the page without a link.
    """
    every_team = digest.shows_every_team(scorecard_week)
    standing = digest.organisation(scorecard_week)
    levels = {row["level"]: row["teams"] for row in standing["levels"]}
    regressions, improvements = digest.movers(scorecard_week)
    history = scorecard_week.history
    weekly_levels = [
        history[history["slot"] == slot]["level"].value_counts().to_dict() for slot in scorecard_week.slots
    ]
    chart = Chart(
        png=level_distribution_png(scorecard_week.slots, weekly_levels),
        cid=content_id("levels", scorecard_week.week, DIGEST, "", sender),
        alt=f"Teams per level, {len(scorecard_week.slots)} weeks to {scorecard_week.week}",
    )
    incidents = digest_section(
        scorecard_week.insights, cid=content_id("incidents", scorecard_week.week, DIGEST, "", sender)
    )
    titles = {check.id: check.title for check in load_catalogue().checks.values()}
    departments = digest.departments(scorecard_week)
    context = {
        "week": scorecard_week.week,
        "previous": scorecard_week.previous,
        "team_count": len(scorecard_week.scorecard),
        "organisation": standing,
        "levels": levels,
        "departments": departments[: digest.DEPARTMENTS_SHOWN],
        "departments_more": max(len(departments) - digest.DEPARTMENTS_SHOWN, 0),
        "regressions": regressions,
        "improvements": improvements,
        "newly_failing": digest.newly_failing(scorecard_week, titles),
        "campaigns": digest.campaigns_behind(scorecard_week.campaigns, scorecard_week.week),
        "teams": digest.ranked_teams(scorecard_week) if every_team else None,
        "page_url": page_url,
        "chart": chart,
        "incidents": digest.capped_incident_teams(incidents, every_team),
    }
    subject = digest_subject(levels, scorecard_week.week)
    return build_message(
        subject=subject,
        sender=sender,
        to=list(recipients),
        date=date,
        identity=(scorecard_week.week, DIGEST, ""),
        text=TEMPLATES.get_template("email_digest.txt.j2").render(subject=subject, **context),
        html=TEMPLATES.get_template("email_digest.html.j2").render(subject=subject, **context),
        charts=[chart, *_incident_chart(incidents)],
    )


def build_week_emails(
    scorecard_week: ScorecardWeek,
    *,
    sender: str,
    digest_to: Sequence[str],
    date: dt.datetime,
    page_url: str | None = None,
) -> list[EmailMessage]:
    """Every team's email (teams without an email address are skipped, with a warning) and the digest.

    ``page_url``: the Readiness page, which the digest links to for the full table.
    """
    addresses = scorecard_week.teams.set_index("team")["email"]
    messages = []
    for team in sorted(scorecard_week.scorecard["team"]):
        recipient = plain(addresses.get(team))
        if not recipient or "@" not in str(recipient):
            log.warning(
                "Team %r has no email address (spec.profile.email of its Group) in the registry of %s: "
                "its scorecard email is skipped",
                team,
                scorecard_week.week,
            )
            continue
        messages.append(build_team_email(scorecard_week, team, recipient=recipient, sender=sender, date=date))
    if not digest_to:
        log.warning(
            "No digest recipients (%s or the DAG's digest_recipients param): the digest is built but has no recipient",
            config.DIGEST_RECIPIENTS.name,
        )
    messages.append(build_digest(scorecard_week, recipients=digest_to, sender=sender, date=date, page_url=page_url))
    return messages + department_emails(scorecard_week, sender=sender, date=date)


def write_emails(
    warehouse_url: str,
    out_dir: Path,
    *,
    week: dt.date | None = None,
    sender: str | None = None,
    digest_to: Sequence[str] | None = None,
    date: dt.datetime | None = None,
    page_url: str | None = None,
) -> list[Path]:
    """Build the week's emails from the warehouse and write each as ``<out_dir>/<name>.eml``.

    ``week`` defaults to the latest audit; ``sender`` to :func:`sender_address`; ``digest_to``
    to :func:`digest_recipients`; ``date`` (the Date header) to now; ``page_url`` (the
    Readiness page the digest links to) to none, a digest that names the page without a link. ``.eml`` files already in
    ``out_dir`` are removed first, so the folder holds exactly this week's messages. Also
    creates the (empty) send ledger table if missing, so every documented table exists.
    """
    from oncall_readiness.report.ledger import SendLedger

    warehouse = Warehouse(warehouse_url)
    try:
        scorecard_week = load_week(warehouse, week)
        SendLedger(warehouse).create()
    finally:
        warehouse.dispose()
    messages = build_week_emails(
        scorecard_week,
        sender=sender or sender_address(),
        digest_to=digest_recipients() if digest_to is None else list(digest_to),
        date=date or dt.datetime.now(dt.UTC),
        page_url=page_url,
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in out_dir.glob("*.eml"):
        stale.unlink()
    paths = []
    for message in messages:
        path = out_dir / f"{eml_name(message[HEADER_KIND], message[HEADER_TEAM] or '')}.eml"
        path.write_bytes(message.as_bytes())
        paths.append(path)
    log.info("Wrote %d emails for the week of %s to %s", len(paths), scorecard_week.week, out_dir)
    return paths


def eml_name(kind: str, team: str) -> str:
    """``digest``, ``team-payments``, ``department-commerce``; a name that is not file-safe gets a slug and a hash."""
    if kind == DIGEST:
        return DIGEST
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", team).strip("-.") or "team"
    return f"{kind}-{slug}" if slug == team else f"{kind}-{slug}-{short_hash(team)}"


def _incident_chart(incidents: dict[str, Any]) -> list[Chart]:
    """The incidents chart, when the section shows one (incident data, and incidents in the five weeks)."""
    chart = incidents.get("chart")
    return [Chart(png=chart["png"], cid=chart["cid"], alt=chart["alt"])] if chart and not incidents["quiet"] else []


def _display_name(scorecard_week: ScorecardWeek, team: str) -> str:
    names = scorecard_week.teams.set_index("team")["display_name"]
    return plain(names.get(team)) or team


def _movement(change: float | None) -> str:
    if change is None or pd.isna(change) or change == 0:
        return ""
    return f", {'up' if change > 0 else 'down'} {format_score(abs(change))}"


def stage_emails(warehouse_url: str, staging: RunStaging, **options: Any) -> str:
    """Build the week's emails (``write_emails``' options) into the run's ``emails`` step; return the step.

    Staged, not left on this worker's disk: the sending task may run on another worker.
    """
    with tempfile.TemporaryDirectory(prefix="readiness-emails-") as scratch:
        paths = write_emails(warehouse_url, Path(scratch), **options)
        return staging.write_files("emails", {path.name: path.read_bytes() for path in paths})
