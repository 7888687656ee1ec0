"""The day's alerts on Slack: every team's changes in one message, split only where Slack's limits say.

An incoming webhook takes about one message a second (Slack's rate limits for webhooks), so a
day on which hundreds of teams change cannot be a message per team: it is one message per
webhook (one channel) listing every team's changes, with a link to each team's page when the
Readiness page's URL is known. Slack refuses or cuts a message past its documented limits (50
blocks, 3,000 characters in a section's text, 40,000 characters in a message), so a long day
is split, in team order, into as few messages as those limits allow, each saying "part i of n".

Pure: the same changes give the same posts. Everything from the warehouse (team names,
reasons) is escaped for Slack's mrkdwn, so no text becomes a link or a mention.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from oncall_readiness.alerts.changes import Change
from oncall_readiness.alerts.messages import change_summary

# Slack's documented limits (Block Kit: blocks per message, a section's text; chat.postMessage: text).
MAX_BLOCKS = 50
MAX_SECTION_CHARS = 3_000
MAX_MESSAGE_CHARS = 40_000
# Room kept for a message's heading and fallback text, which grow with the part number and counts.
HEADING_ROOM = 400
ELLIPSIS = "…"


@dataclass(frozen=True)
class Section:
    """One Block Kit section: its mrkdwn text and the changes it tells."""

    text: str
    changes: tuple[Change, ...]


@dataclass(frozen=True)
class SlackPost:
    """One webhook message and the changes it tells: the ledger records exactly these once it is accepted."""

    payload: dict[str, Any]
    changes: tuple[Change, ...]

    @property
    def teams(self) -> list[str]:
        return list(dict.fromkeys(change.team for change in self.changes))


def slack_posts(pending: Mapping[str, list[Change]], page_urls: Mapping[str, str | None]) -> list[SlackPost]:
    """The day's changes of every team (``pending``, per team) as the fewest messages Slack accepts."""
    if not any(pending.values()):
        return []
    sections = [
        section
        for team, changes in sorted(pending.items())
        if changes
        for section in team_sections(team, changes, page_urls.get(team))
    ]
    parts = pack(sections)
    every_change = [change for changes in pending.values() for change in changes]
    day = every_change[0].audit_date
    teams = len({change.team for change in every_change})
    return [_post(part, day, teams, len(every_change), number, len(parts)) for number, part in enumerate(parts, 1)]


def team_sections(team: str, changes: list[Change], page_url: str | None) -> list[Section]:
    """A team's title and one line per change, in sections of at most ``MAX_SECTION_CHARS``.

    A team with many long reasons continues in a next section ("continued"); a single line
    longer than a section (never seen: a reason is at most 300 characters) is cut.
    """
    title = _team_title(team, changes, page_url)
    continued = f"{title} (continued)"
    line_room = MAX_SECTION_CHARS - len(continued) - 1  # a line always fits under the longer title
    told: list[Change]
    sections: list[Section] = []
    text, told = title, []  # the section being filled and the changes it tells
    for change in changes:
        line = "\n" + _cut(f"• {mrkdwn(change.sentence())}", line_room)
        if told and len(text) + len(line) > MAX_SECTION_CHARS:
            sections.append(Section(text, tuple(told)))
            text, told = continued, []
        text += line
        told.append(change)
    sections.append(Section(text, tuple(told)))
    return sections


def pack(sections: list[Section]) -> list[list[Section]]:
    """Sections in order, into the fewest messages within Slack's block and character limits.

    Taking as many as fit before starting the next message is the fewest for an order kept
    (any split point moved earlier leaves the rest no shorter).
    """
    blocks_room = MAX_BLOCKS - 1  # the heading is a block too
    chars_room = MAX_MESSAGE_CHARS - HEADING_ROOM
    parts: list[list[Section]] = [[]]
    chars = 0
    for section in sections:
        if parts[-1] and (len(parts[-1]) == blocks_room or chars + len(section.text) > chars_room):
            parts.append([])
            chars = 0
        parts[-1].append(section)
        chars += len(section.text)
    return parts


def mrkdwn(text: str) -> str:
    """Slack's three control characters escaped (its docs: &, < and >), so no text becomes a link or mention."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _team_title(team: str, changes: list[Change], page_url: str | None) -> str:
    """E.g. "*checkout*: level gold → silver, 1 check turned fail", the team linked to its page."""
    name = f"<{page_url}|{mrkdwn(team)}>" if page_url else mrkdwn(team)
    return f"*{name}*: {mrkdwn(change_summary(changes))}"


def _post(part: list[Section], day: dt.date, teams: int, changes: int, number: int, parts: int) -> SlackPost:
    heading = f"On-call readiness, {day.isoformat()}: {_count(changes, 'change')} in {_count(teams, 'team')}"
    if parts > 1:
        heading += f" (part {number} of {parts})"
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": f"*{heading}*"}}]
    blocks += [{"type": "section", "text": {"type": "mrkdwn", "text": section.text}} for section in part]
    told = tuple(change for section in part for change in section.changes)
    return SlackPost({"text": heading, "blocks": blocks}, told)


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - len(ELLIPSIS)] + ELLIPSIS
