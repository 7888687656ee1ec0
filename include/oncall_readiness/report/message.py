"""What every email of the project shares: the templates and their filters, the message and its identity.

Headers name what a message is (``X-Readiness-Week``, ``-Kind``, ``-Team``), which is how the
senders key their ledgers; the Message-ID and the inline images' ids are derived from them,
so a message that is ever sent twice carries the same id and mail clients fold it. Same
input, same bytes: the MIME boundaries are derived too.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

import jinja2
import markupsafe
import pandas as pd
from markdown_it import MarkdownIt

from oncall_readiness import config, schema
from oncall_readiness.report.incident_email import format_duration, format_losses

HEADER_WEEK, HEADER_KIND, HEADER_TEAM = "X-Readiness-Week", "X-Readiness-Kind", "X-Readiness-Team"

TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("oncall_readiness.report", "templates"),
    autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), disabled_extensions=("txt.j2",), default=True),
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
    auto_reload=False,  # packaged files: compiled once per process, not checked on disk for every email
)


def readiness_page_url() -> str | None:
    """The Readiness page's URL: ``READINESS_PAGE_URL``, else from Airflow's ``[api] base_url``; None
    when neither is set (no link then)."""
    from airflow.configuration import conf  # Airflow's configuration: only when a task builds its emails

    configured = config.PAGE_URL.get()
    if configured:
        return configured
    base = (conf.get("api", "base_url", fallback="") or "").strip()
    return f"{base.rstrip('/')}/readiness" if base.startswith("http") else None


def format_score(score: float | None) -> str:
    """``100``, ``87.5``; an en dash when the score is unknown."""
    if score is None or pd.isna(score):
        return "–"
    return f"{float(score):.{schema.SCORE_DECIMALS}f}".removesuffix(".0")


def format_change(change: float | None) -> str:
    """``+5``, ``-12.5``, ``±0``; an en dash when there is nothing to compare with."""
    if change is None or pd.isna(change):
        return "–"
    return "±0" if change == 0 else f"{float(change):+.1f}".removesuffix(".0")


def level_name(level: str) -> str:
    """How a level reads in a sentence: ``gold``, ``silver``, ``bronze``, ``below bronze``."""
    return "below bronze" if level == "none" else level


def format_days_left(days: int) -> str:
    """``14 days left``, ``due today``, ``overdue by 3 days``."""
    if days == 0:
        return "due today"
    plural = "s" if abs(days) != 1 else ""
    return f"{days} day{plural} left" if days > 0 else f"overdue by {-days} day{plural}"


# CommonMark without raw HTML: remediation and reasons come from checks.yaml and the sources, so
# a tag in them is shown as text, never run by a mail client or the page.
_MARKDOWN = MarkdownIt("commonmark", {"html": False})


def markdown_html(text: str | None) -> markupsafe.Markup:
    """Inline Markdown (``code``, *emphasis*, [links](url)) as safe HTML for one paragraph of text."""
    return markupsafe.Markup(_MARKDOWN.renderInline(text or ""))


def markdown_text(text: str | None) -> str:
    """The same text for a plain-text email: code spans without their backticks, links as "text (url)"."""
    tokens = _MARKDOWN.parseInline(text or "")
    parts: list[str] = []
    hrefs: list[str] = []
    for token in tokens[0].children or [] if tokens else []:
        if token.type == "link_open":
            hrefs.append(str(token.attrGet("href") or ""))
        elif token.type == "link_close":
            parts.append(f" ({hrefs.pop()})" if hrefs else "")
        elif token.type in ("softbreak", "hardbreak"):
            parts.append(" ")
        else:
            parts.append(token.content)
    return "".join(parts)


def page_link(page_url: str | None, team: str | None = None) -> str | None:
    """The Readiness page (``…/readiness``), or a team's page on it (``…/readiness/teams/<team>``)."""
    from urllib.parse import quote

    if not page_url:
        return None
    return f"{page_url.rstrip('/')}/teams/{quote(team, safe='')}" if team else page_url


TEMPLATES.globals["levels_rubric"] = schema.levels_rubric()
TEMPLATES.filters.update(
    score=format_score,
    change=format_change,
    level_name=level_name,
    duration=format_duration,
    losses=format_losses,
    days_left=format_days_left,
    markdown=markdown_html,
    markdown_text=markdown_text,
)


@dataclass(frozen=True)
class Chart:
    png: bytes
    cid: str  # without the angle brackets, as the HTML's ``cid:`` refers to it
    alt: str


def build_message(
    *,
    subject: str,
    sender: str,
    to: Sequence[str],
    date: dt.datetime,
    identity: tuple[dt.date, str, str],
    text: str,
    html: str,
    charts: Sequence[Chart],
) -> EmailMessage:
    week, kind, team = identity
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = sender
    if to:
        message["To"] = ", ".join(to)
    message["Date"] = format_datetime(date if date.tzinfo else date.replace(tzinfo=dt.UTC))
    message["Message-ID"] = f"<{content_id('scorecard', week, kind, team, sender)}>"
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies, please
    message[HEADER_WEEK] = week.isoformat()
    message[HEADER_KIND] = kind
    if team:
        message[HEADER_TEAM] = team
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    html_part = list(message.iter_parts())[1]  # text, then html
    for chart, filename in zip(charts, ("trend.png", "incidents.png"), strict=False):
        html_part.add_related(chart.png, "image", "png", cid=f"<{chart.cid}>", filename=filename, disposition="inline")
    for index, part in enumerate(part for part in message.walk() if part.is_multipart()):
        part.set_boundary(f"readiness-{short_hash(message['Message-ID'])}-{index}")  # same input, same bytes
    return unfolded_headers(message)


def unfolded_headers(message: EmailMessage) -> EmailMessage:
    """``message`` serialised with headers on one line up to RFC 5322's 998 characters.

    Python's folding of a subject at 78 characters puts the space before an encoded word (the
    subject's "—") at the end of the first line and another at the start of the next, so mail
    clients show two spaces ("4 teams  — week of"). The bodies keep their transfer encoding:
    it was chosen when they were set."""
    message.policy = message.policy.clone(max_line_length=998)
    return message


def content_id(what: str, week: dt.date, kind: str, team: str, sender: str) -> str:
    """A stable id (``what.week.kind.hash@domain``) for a Message-ID or an inline image."""
    domain = sender.rpartition("@")[2].strip(" >") or "oncall-readiness"
    return f"{what}.{week.isoformat()}.{kind}.{short_hash(team)}@{domain}"


def short_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def record(row: pd.Series) -> dict[str, Any]:
    return {str(key): plain(value) for key, value in row.items()}  # a row's labels: its columns


def plain(value: Any) -> Any:
    """NA, NaN and NaT become None; numpy scalars plain Python values."""
    if value is None or (not isinstance(value, str | bytes) and pd.api.types.is_scalar(value) and pd.isna(value)):
        return None
    return value.item() if hasattr(value, "item") else value
