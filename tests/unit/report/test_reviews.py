"""What we learned last week and Reviews due, from the post-incident-review tables of a week's audit."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from oncall_readiness.report.reviews import learned_last_week, reviews_due

WEEK = dt.date(2026, 11, 16)
NAMES = {"shop": "Shop", "ops": "Operations"}


def reviews(*rows):
    columns = ["incident_id", "team", "review_url", "title", "created", "due", "late", "restricted"]
    return pd.DataFrame([dict(zip(columns, row, strict=True)) for row in rows], columns=columns)


INCIDENTS = pd.DataFrame(
    {
        "incident_id": ["Q1", "Q2", "Q3", "Q4"],
        "incident_number": [11, 12, 13, 14],
        "title": ["Checkout down", "Slow search", "Login errors", "Old one"],
    }
)
REVIEWS = reviews(
    (
        "Q1",
        "shop",
        "https://wiki/1",
        "Checkout down: review",
        "2026-11-12T10:00:00Z",
        dt.date(2026, 11, 13),
        False,
        False,
    ),
    ("Q2", "ops", "https://wiki/2", "Slow search: review", "2026-11-09T00:00:00Z", dt.date(2026, 11, 13), False, False),
    ("Q3", "ops", "https://wiki/3", "Secret review", "2026-11-10T10:00:00Z", dt.date(2026, 11, 13), False, True),
    ("Q4", "shop", "https://wiki/4", "Old review", "2026-11-08T23:59:00Z", dt.date(2026, 11, 6), False, False),
    ("Q5", "shop", None, None, None, dt.date(2026, 11, 18), None, None),
)


def test_every_teams_reviews_of_last_week_open_to_everyone_newest_first():
    learned = learned_last_week(REVIEWS, INCIDENTS, WEEK, NAMES)
    assert [(r["team_name"], r["incident"], r["title"]) for r in learned] == [
        ("Shop", "#11", "Checkout down: review"),
        ("Operations", "#12", "Slow search: review"),  # created at the week's first instant
    ]
    assert learned[0]["url"] == "https://wiki/1" and learned[0]["incident_title"] == "Checkout down"


def test_no_reviews_table_means_no_list():
    assert learned_last_week(None, None, WEEK, NAMES) == []


def test_reviews_due_lists_the_teams_waiting_incidents_and_overdue_actions():
    actions = pd.DataFrame(
        {
            "key": ["SHOP-1", "SHOP-2", "OPS-1"],
            "incident_id": ["Q1", "Q1", "Q2"],
            "team": ["shop", "shop", "ops"],
            "status": ["In Progress", "To Do", "To Do"],
            "due": [dt.date(2026, 11, 10), dt.date(2026, 11, 30), dt.date(2026, 11, 1)],
            "resolved": [None, None, None],
            "days_overdue": [6, 0, 15],
        }
    )
    due = reviews_due(REVIEWS, actions, INCIDENTS)["shop"]
    assert [(i["incident"], i["due"]) for i in due["waiting"]] == [("Q5", dt.date(2026, 11, 18))]
    assert [(a["key"], a["days_overdue"], a["incident"]) for a in due["overdue"]] == [("SHOP-1", 6, "#11")]


def test_the_readiness_page_shows_what_we_learned_with_links():
    from oncall_readiness.report.page import OrgScorecard, render_scorecard_page

    learned = learned_last_week(REVIEWS, INCIDENTS, WEEK, {})
    card = OrgScorecard(audit_date=WEEK, teams=[], levels={}, sort="score", descending=True, learned=learned)
    html = render_scorecard_page(card, latest_runs=[])
    assert "What we learned last week" in html
    assert '<a href="https://wiki/1">Checkout down: review</a>' in html and "Secret review" not in html
