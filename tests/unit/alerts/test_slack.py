"""The day's Slack alerts: one message listing every team's changes, split only past Slack's limits."""

from __future__ import annotations

import datetime as dt

from oncall_readiness.alerts.changes import CHECK_FAIL, LEVEL_DROP, Change
from oncall_readiness.alerts.slack import MAX_BLOCKS, MAX_MESSAGE_CHARS, MAX_SECTION_CHARS, slack_posts

DAY = dt.date(2026, 11, 16)
PAGE_ROOT = "https://airflow.example.com/readiness/teams"


def level_drop(team: str) -> Change:
    return Change(DAY, team, LEVEL_DROP, "", "gold", "silver", "score 92 → 80")


def check_fail(team: str, check_id: str, reason: str = "no Chaos Day in 90 days.") -> Change:
    return Change(DAY, team, CHECK_FAIL, check_id, "warn", "fail", reason)


def texts(post) -> list[str]:
    return [block["text"]["text"] for block in post.payload["blocks"]]


def within_slack_limits(post) -> bool:
    blocks = post.payload["blocks"]
    chars = len(post.payload["text"]) + sum(len(text) for text in texts(post))
    return len(blocks) <= MAX_BLOCKS and chars <= MAX_MESSAGE_CHARS and max(map(len, texts(post))) <= MAX_SECTION_CHARS


def test_one_message_lists_every_team_with_its_changes_and_page():
    pending = {
        "search": [check_fail("search", "chaos-day")],
        "checkout": [level_drop("checkout"), check_fail("checkout", "runbook-freshness")],
    }
    [post] = slack_posts(pending, {"checkout": f"{PAGE_ROOT}/checkout", "search": None})
    heading, checkout, search = texts(post)
    assert heading == "*On-call readiness, 2026-11-16: 3 changes in 2 teams*"
    assert post.payload["text"] == "On-call readiness, 2026-11-16: 3 changes in 2 teams"
    assert checkout.splitlines() == [
        f"*<{PAGE_ROOT}/checkout|checkout>*: level gold → silver, 1 check turned fail",
        "• Level dropped from gold to silver (score 92 → 80).",
        "• runbook-freshness turned fail (it was warn): no Chaos Day in 90 days.",
    ]
    assert search.startswith("*search*: 1 check turned fail\n")  # no page URL known: no link
    assert post.teams == ["checkout", "search"] and len(post.changes) == 3


def test_many_teams_fill_as_few_messages_as_the_block_limit_allows_each_saying_its_part():
    pending = {f"team-{n:03}": [level_drop(f"team-{n:03}")] for n in range(120)}
    posts = slack_posts(pending, {})
    assert len(posts) == 3  # 49 teams a message beside the heading: 49 + 49 + 22
    assert [len(post.teams) for post in posts] == [49, 49, 22]
    assert [texts(post)[0] for post in posts] == [
        f"*On-call readiness, 2026-11-16: 120 changes in 120 teams (part {n} of 3)*" for n in (1, 2, 3)
    ]
    assert all(within_slack_limits(post) for post in posts)
    told = [change for post in posts for change in post.changes]
    assert told == [change for changes in pending.values() for change in changes]  # each once, in team order


def test_long_reasons_split_by_characters_before_blocks_and_a_long_team_continues():
    reason = "x" * 290  # reasons are at most 300 characters (reasons.py)
    pending = {
        f"team-{n:02}": [check_fail(f"team-{n:02}", f"check-{c:02}", reason) for c in range(12)] for n in range(20)
    }
    posts = slack_posts(pending, {})
    assert all(within_slack_limits(post) for post in posts)
    # Each team's 12 lines (about 4,000 characters) take two sections: 40 sections, about 80,000 characters, so
    # the character limit, not the 50 blocks, splits them: three messages, the fewest past 2 × 40,000.
    sections = sum(len(texts(post)) - 1 for post in posts)
    assert sections == 40 and sum(len(text) for post in posts for text in texts(post)) > 2 * MAX_MESSAGE_CHARS
    assert len(posts) == 3
    continued = [text for post in posts for text in texts(post) if "(continued)" in text]
    assert len(continued) == 20 and continued[0].startswith("*team-00*: 12 checks turned fail (continued)\n")
    told = [change.key for post in posts for change in post.changes]
    assert len(told) == len(set(told)) == 240


def test_a_line_longer_than_a_section_is_cut_and_nothing_pending_posts_nothing():
    [post] = slack_posts({"ops": [check_fail("ops", "chaos-day", "y" * 5000)]}, {})
    assert within_slack_limits(post) and texts(post)[1].endswith("…")
    assert slack_posts({}, {}) == [] and slack_posts({"ops": []}, {}) == []


def test_team_names_and_reasons_cannot_become_links_or_mentions():
    team = "<!channel> & <https://evil.example|click>"
    [post] = slack_posts({team: [check_fail(team, "chaos-day", "<@U123> owns it")]}, {team: f"{PAGE_ROOT}/x"})
    section = texts(post)[1]
    assert "<!channel>" not in section and "<@U123>" not in section and "<https://evil" not in section
    assert section.startswith(f"*<{PAGE_ROOT}/x|&lt;!channel&gt; &amp; &lt;https://evil.example|click&gt;>*")
