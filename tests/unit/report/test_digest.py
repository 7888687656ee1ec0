"""The leadership digest stays a page a director reads: 2,000 teams in 100 KB; a small organisation keeps its table."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re

import pytest

from oncall_readiness.report import digest
from oncall_readiness.report.email import build_digest
from oncall_readiness.report.message import readiness_page_url
from oncall_readiness.report.weekly import ScorecardWeek
from tests.unit.report import large_org

SENT = dt.datetime(2026, 11, 16, 8, tzinfo=dt.UTC)
HTML_BUDGET = 100 * 1024  # Gmail clips an HTML part past 102 KB
PAGE = "https://airflow.example.com/readiness"


@pytest.fixture(scope="module")
def large_week() -> ScorecardWeek:
    return large_org.large_week()


def render(week: ScorecardWeek, page_url: str | None = PAGE) -> tuple[str, str]:
    message = build_digest(
        week, recipients=["cto@example.com"], sender="readiness@example.com", date=SENT, page_url=page_url
    )
    return message.get_body(("plain",)).get_content(), message.get_body(("html",)).get_content()


def section(text: str, heading: str) -> str:
    """The plain text from ``heading`` to the next blank line."""
    return text.split(heading, 1)[1].split("\n\n", 2)[1]


def listed_teams(lines: str) -> list[str]:
    return re.findall(r"^- (team-\d{4}):", lines, flags=re.MULTILINE)


def only_teams(week: ScorecardWeek, count: int) -> ScorecardWeek:
    """The week of the organisation's first ``count`` teams (the sample organisation has six)."""
    kept = {large_org.team_name(index) for index in range(1, count + 1)}

    def keep(frame):
        return frame[frame["team"].isin(kept)].reset_index(drop=True)

    return dataclasses.replace(
        week,
        scorecard=keep(week.scorecard),
        results=keep(week.results),
        previous_scorecard=keep(week.previous_scorecard),
        previous_results=keep(week.previous_results),
        history=keep(week.history),
        campaigns=keep(week.campaigns),
        rollup=None,
        previous_rollup=None,
        insights=None,
    )


def test_a_2000_team_digest_fits_the_budget_with_a_row_per_department(large_week):
    text, html = render(large_week)
    assert len(html.encode()) <= HTML_BUDGET
    department_rows = re.findall(r"<tr><td[^>]*>Department \d+</td>", html)
    assert len(department_rows) == large_org.DEPARTMENTS
    assert len(re.findall(r"^- Department \d+ ", text, flags=re.MULTILINE)) == large_org.DEPARTMENTS


def test_the_2000_team_digest_names_the_ten_that_fell_and_rose_most(large_week):
    text, html = render(large_week)
    assert listed_teams(section(text, "BIGGEST REGRESSIONS")) == large_org.FALLERS
    assert listed_teams(section(text, "BIGGEST IMPROVEMENTS")) == large_org.RISERS
    assert "team-0030</strong>: 50 → 15" in html and "team-0015</strong>: 50 → 85" in html


def test_the_2000_team_digest_has_no_per_team_table_but_a_link_to_the_page(large_week):
    text, html = render(large_week)
    assert "Every team, ranked" not in html and "EVERY TEAM, RANKED" not in text
    assert f'<a href="{PAGE}"' in html and PAGE in text
    assert html.count("team-0500") == 0  # a team that neither moved nor newly fails is not named
    incident_rows = re.findall(r"^- team-\d{4}: 2 \(±0\)", text, flags=re.MULTILINE)
    assert len(incident_rows) == digest.INCIDENT_TEAMS_SHOWN
    assert "And 1990 more teams with incidents" in text and "And 1990 more teams with incidents" in html


def test_newly_failing_checks_are_capped_and_counted(large_week):
    text, html = render(large_week)
    shown = listed_teams(section(text, "NEWLY FAILING A CHECK"))
    assert shown == [large_org.team_name(index) for index in range(100, 100 + digest.NEWLY_FAILING_SHOWN)]
    more = len(large_org.NEWLY_FAILING) - digest.NEWLY_FAILING_SHOWN
    assert f"And {more} more" in text and f"And {more} more" in html


def test_the_organisation_and_campaigns_are_counted_not_listed(large_week):
    text, _ = render(large_week)
    organisation = section(text, "THE ORGANISATION")
    assert "over 2000 scored teams" in organisation and "15 below bronze (+15)" in organisation
    assert "1334 of 2000 teams meet it" in text and "and 656 more" in text


def test_without_the_page_url_the_digest_names_the_page_without_a_link(large_week):
    text, html = render(large_week, page_url=None)
    assert "<a href" not in html and "the Readiness page (in Airflow)" in html
    assert "the Readiness page in Airflow ranks every one" in text


def test_a_sample_sized_organisation_keeps_its_per_team_table(large_week):
    small = only_teams(large_week, 6)
    assert digest.shows_every_team(small)
    text, html = render(small, page_url=None)
    ranked = text.split("EVERY TEAM, RANKED", 1)[1].split("\n\n", 2)[1]
    assert len(ranked.splitlines()) == 6 and "team-0006" in ranked
    assert "<h2" in html and "Every team, ranked</h2>" in html
    assert html.count("<td style=") >= 6 * 5  # a row of five cells per team
    assert "Departments" not in html  # no roll-up in this week: no department table


def test_the_per_team_table_stops_past_the_threshold(large_week):
    _, at_threshold = render(only_teams(large_week, digest.PER_TEAM_TABLE_MAX_TEAMS))
    _, past_it = render(only_teams(large_week, digest.PER_TEAM_TABLE_MAX_TEAMS + 1))
    assert "Every team, ranked</h2>" in at_threshold and "Every team, ranked</h2>" not in past_it


@pytest.mark.parametrize(
    ("base_url", "page_url"),
    [
        ("https://airflow.example.com/", "https://airflow.example.com/readiness"),
        ("https://example.com/airflow", "https://example.com/airflow/readiness"),
        ("", None),  # not set: the digest names the page without a link
    ],
)
def test_the_page_url_comes_from_airflows_base_url(monkeypatch, base_url, page_url):
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", base_url)
    assert readiness_page_url() == page_url
