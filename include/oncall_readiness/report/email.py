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
from collections.abc import Iterator, Sequence
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from oncall_readiness import config, schema
from oncall_readiness.checks.catalogue import load_catalogue
from oncall_readiness.report import digest, reviews
from oncall_readiness.report.chart import level_distribution_png, score_trend_png
from oncall_readiness.report.department_email import behind_of, department_emails
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
    page_link,
    short_hash,
)
from oncall_readiness.report.scope import not_judged
from oncall_readiness.report.weekly import ScorecardWeek, WeekByTeam, changes_of, load_week
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
    scorecard_week: ScorecardWeek,
    team: str,
    *,
    recipient: str,
    sender: str,
    date: dt.datetime,
    by_team: WeekByTeam | None = None,
    page_url: str | None = None,
) -> EmailMessage:
    """The team's scorecard: score and level, what changed (regressions first), checks, findings, trend.

    ``by_team``: the week split by team (:class:`WeekByTeam`), made once for every team's email.
    ``page_url``: the Readiness page; the email links the team's page on it (none: named without a link).
    """
    by_team = by_team or WeekByTeam(scorecard_week)
    rows = by_team.rows(team)
    card = rows.card
    if card is None:
        raise LookupError(f"team {team!r} has no scorecard in the week of {scorecard_week.week}")
    scores = [rows.trend.get(slot) for slot in scorecard_week.slots]
    chart = Chart(
        png=score_trend_png(
            scorecard_week.slots, scores, [slot in rows.unknown_slots for slot in scorecard_week.slots]
        ),
        cid=content_id("trend", scorecard_week.week, TEAM, team, sender),
        alt=f"Weekly readiness score of {team}, {len(scorecard_week.slots)} weeks to {scorecard_week.week}",
    )
    incidents = team_section(
        scorecard_week.insights, team, cid=content_id("incidents", scorecard_week.week, TEAM, team, sender)
    )
    titles = check_titles()
    change = by_team.score_change.get(team)
    context = {
        "week": scorecard_week.week,
        "previous": scorecard_week.previous,
        "team": team,
        "display_name": by_team.display_names.get(team) or team,
        "card": card,
        "change": change,
        "changes": changes_of(rows) if scorecard_week.previous is not None else [],
        "checks": [
            {**row, "title": titles.get(row["check_id"], row["check_id"])}
            for row in sorted(rows.results, key=lambda row: row["check_id"])
        ],
        "findings": _needing_action(rows.findings, check_weights()),
        "trend": list(zip(scorecard_week.slots, scores, strict=True)),
        "chart": chart,
        "incidents": incidents,
        "campaigns": behind_of(by_team.campaigns.get(team, []), scorecard_week.week),
        "waivers": team_waivers(by_team.waivers.get(team), team, scorecard_week.week),
        "not_judged": not_judged(rows.findings),
        "team_page": page_link(page_url, team),
        "learned": by_team.learned,
        "learned_shown": reviews.LEARNED_SHOWN,
        "reviews_due": by_team.reviews_due.get(team),
    }
    subject = team_subject(team, card["level"], card["score"], change, scorecard_week.week)
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


def _display_names(teams: pd.DataFrame) -> dict[str, Any]:
    names = teams["display_name"] if "display_name" in teams else teams["team"]
    return dict(zip(teams["team"], names, strict=True))


def check_titles() -> dict[str, str]:
    """check id → its title, from the check catalogue."""
    return {check.id: check.title for check in load_catalogue().checks.values()}


def check_weights() -> dict[str, float]:
    """check id → its weight in the score, from the check catalogue."""
    return {check.id: float(check.weight) for check in load_catalogue().checks.values()}


def _needing_action(findings: list[dict[str, Any]], weights: dict[str, float]) -> list[dict[str, Any]]:
    """The findings that ask for action (not passed, not waived), most pressing first (:func:`impact_key`)."""
    ranked = [row for row in findings if row["outcome"] not in schema.NO_ACTION_OUTCOMES]
    return sorted(ranked, key=lambda row: impact_key(row["outcome"], row["check_id"], row["subject"], weights))


def impact_key(status: str, check_id: str | None, subject: str | None, weights: dict[str, float]) -> tuple[Any, ...]:
    """The order of what is most pressing: fail before warn (the status order), then the check's
    weight (heaviest first), then a page that may reach nobody (the paging checks) before the
    rest, then by check and subject, so ties never fall to the alphabet alone."""
    return (
        schema.severity(status),
        -weights.get(check_id or "", 0.0),
        check_id not in schema.PAGING_CHECKS,
        *_text_key(check_id),
        *_text_key(subject),
    )


def _text_key(value: str | None) -> tuple[bool, str]:
    """Text sorted as pandas sorts it: missing values last."""
    return value is None, value or ""


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
    titles = check_titles()
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
        "learned": reviews.learned_last_week(
            scorecard_week.incident_reviews,
            scorecard_week.incidents,
            scorecard_week.week,
            _display_names(scorecard_week.teams),
        ),
        "learned_shown": reviews.LEARNED_SHOWN,
        "reviews_due": None,  # a team's own list: not the digest's
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
    return list(each_week_email(scorecard_week, sender=sender, digest_to=digest_to, date=date, page_url=page_url))


def each_week_email(
    scorecard_week: ScorecardWeek,
    *,
    sender: str,
    digest_to: Sequence[str],
    date: dt.datetime,
    page_url: str | None = None,
) -> Iterator[EmailMessage]:
    """:func:`build_week_emails` one message at a time: a writer keeps none of them (2,000 are 500 MB in memory)."""
    by_team = WeekByTeam(scorecard_week)
    for team in sorted(scorecard_week.scorecard["team"]):
        recipient = by_team.addresses.get(team)
        if not recipient or "@" not in str(recipient):
            log.warning(
                "Team %r has no email address (spec.profile.email of its Group) in the registry of %s: "
                "its scorecard email is skipped",
                team,
                scorecard_week.week,
            )
            continue
        yield build_team_email(
            scorecard_week, team, recipient=recipient, sender=sender, date=date, by_team=by_team, page_url=page_url
        )
    if not digest_to:
        log.warning(
            "No digest recipients (%s or the DAG's digest_recipients param): the digest is built but has no recipient",
            config.DIGEST_RECIPIENTS.name,
        )
    yield build_digest(scorecard_week, recipients=digest_to, sender=sender, date=date, page_url=page_url)
    yield from department_emails(scorecard_week, sender=sender, date=date, by_team=by_team, page_url=page_url)


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
    messages = each_week_email(
        scorecard_week,
        sender=sender or sender_address(),
        digest_to=digest_recipients() if digest_to is None else list(digest_to),
        date=date or dt.datetime.now(dt.UTC),
        page_url=page_url,
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in out_dir.glob("*.eml"):
        stale.unlink()
    paths = []  # each message written as it is built, then dropped
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
