"""Weekly incident insights from hand-built warehouse tables on DuckDB: figures, baseline, emails."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
import sqlalchemy as sa

from oncall_readiness.report import email as weekly_email
from oncall_readiness.report.incident_email import format_duration, format_losses
from oncall_readiness.report.insights import NO_TEAM, compute_insights, load_insights, reflect
from oncall_readiness.report.weekly import load_week
from oncall_readiness.warehouse import RESULT_TABLES, Warehouse

DAY = dt.date(2026, 11, 16)
INSTANT = pd.Timestamp("2026-11-16T00:00:00Z")
SENT = dt.datetime(2026, 11, 16, 8, tzinfo=dt.UTC)
XSS = "<script>alert(1)</script>"


def incident(number, team, service, *, days_ago, urgency="high", ack_min=5, resolve_min=60, loss=1000.0, open_=False):
    """An incident created ``days_ago`` days before the instant (at 12:00 that day)."""
    created = INSTANT - pd.Timedelta(days=days_ago) + pd.Timedelta(hours=12)
    return {
        "incident_id": f"Q{number:04d}",
        "title": f"Incident {number}",
        "team": team,
        "service": service,
        "urgency": urgency,
        "status": "triggered" if open_ else "resolved",
        "created_at": created.tz_localize(None),
        "acknowledged_at": (created + pd.Timedelta(minutes=ack_min)).tz_localize(None) if ack_min else None,
        "resolved_at": None if open_ else (created + pd.Timedelta(minutes=resolve_min)).tz_localize(None),
        "minutes": float(resolve_min),
        "currency": "GBP",
        "estimated_loss": loss,
        "priced": loss is not None,
    }


def fact(number, *, sleep=0, off=0, business=0, known=True):
    value = (lambda n: n) if known else (lambda n: None)
    return {
        "incident_id": f"Q{number:04d}",
        "total_interruptions": value(sleep + off + business),
        "sleep_hour_interruptions": value(sleep),
        "off_hour_interruptions": value(off),
        "business_hour_interruptions": value(business),
    }


def responder_week(user, back, *, sleep=0, off=0, business=0):
    end = INSTANT - pd.Timedelta(days=7 * back)
    return {
        "responder_id": user,
        "week_start": (end - pd.Timedelta(days=7)).tz_localize(None),
        "week_end": end.tz_localize(None),
        "total_interruptions": sleep + off + business,
        "sleep_hour_interruptions": sleep,
        "off_hour_interruptions": off,
        "business_hour_interruptions": business,
    }


INCIDENTS = [
    # last week: payments 3 (one low-urgency and unpriced, one still open), checkout 1, one unknown service
    incident(1, "payments", "checkout-api", days_ago=1, ack_min=2, resolve_min=30, loss=6000.0),
    incident(2, "payments", "checkout-api", days_ago=3, ack_min=10, resolve_min=90, loss=18000.0),
    incident(3, "payments", "ledger", days_ago=5, urgency="low", ack_min=None, resolve_min=20, loss=None),
    incident(4, "payments", "checkout-api", days_ago=2, ack_min=4, loss=400.0, open_=True),
    incident(5, "checkout", f"cart {XSS}", days_ago=4, ack_min=1, resolve_min=15, loss=750.0),
    incident(6, None, "PVUNKNOWN", days_ago=6, ack_min=3, resolve_min=10, loss=None),
    # the four weeks before: payments 4 in all (1 a week), one outside the five weeks
    *(incident(10 + back, "payments", "ledger", days_ago=7 * back + 3, loss=500.0) for back in range(1, 5)),
    incident(20, "payments", "ledger", days_ago=40),
]
FACTS = [
    fact(1, sleep=2, off=1),
    fact(2, business=3),
    fact(3, off=1),
    fact(4, known=False),  # the last day: not in analytics yet
    fact(5, business=1),
    fact(6, sleep=1),
    *(fact(10 + back, sleep=1) for back in range(1, 5)),
]
USERS = [
    {"user_id": "PUPAY01", "name": "Ada PagerDuty", "email": "ada@example.com"},
    {"user_id": "PUPAY02", "name": "Bo PagerDuty", "email": "BO@example.com"},
    {"user_id": "PUCHK01", "name": "Cy PagerDuty", "email": "cy@example.com"},
]
PEOPLE = [
    {"display_name": "Ada Lovelace", "email": "ada@example.com", "team": "payments"},
    {"display_name": "Bo Diddley", "email": "bo@example.com", "team": "payments"},
    {"display_name": "Cy Twombly", "email": "cy@example.com", "team": "checkout"},
]
RESPONDERS = [
    responder_week("PUPAY01", 0, sleep=2, off=1),
    responder_week("PUPAY02", 0, off=1, business=3),
    responder_week("PUCHK01", 0, business=1),
    responder_week("PUPAY01", 1, sleep=5),  # an earlier week: not last week's
]


def insights(**overrides):
    frames = {
        "incidents": pd.DataFrame(INCIDENTS),
        "facts": pd.DataFrame(FACTS),
        "responders": pd.DataFrame(RESPONDERS),
        "users": pd.DataFrame(USERS),
        "people": pd.DataFrame(PEOPLE),
    }
    return compute_insights(DAY, **{**frames, **overrides})


def test_the_week_counts_incidents_times_interruptions_and_losses():
    week = insights()
    assert (week.start, week.end) == (dt.datetime(2026, 11, 9, tzinfo=dt.UTC), dt.datetime(2026, 11, 16, tzinfo=dt.UTC))
    payments = week.team("payments").week
    assert (payments.incidents, payments.high_urgency, payments.still_open) == (4, 3, 1)
    assert payments.mtta_median == 4 * 60  # 2, 4 and 10 minutes; incident 3 was never acknowledged
    assert payments.mtta_p90 == pytest.approx(8.8 * 60)
    assert (payments.mttr_median, payments.mttr_p90) == (30 * 60, pytest.approx(78 * 60))  # open one left out
    assert payments.interruptions == {"sleep": 2, "off": 2, "business": 3}
    assert payments.interruptions_unknown == 1
    assert payments.losses == {"GBP": 24400.0} and payments.unpriced == 1


def test_unpriced_incidents_are_reported_as_such_never_as_zero():
    week = insights()
    assert week.team(NO_TEAM).week.losses == {}  # its only incident is unpriced
    assert format_losses({}, 1) == "unknown: 1 unpriced incident"
    assert format_losses({"GBP": 24400.0}, 2) == "GBP 24,400 + 2 unpriced incidents"
    assert format_losses({}, 0) == "none"


def test_the_change_is_against_the_weekly_average_of_the_four_weeks_before():
    payments = insights().team("payments")
    assert payments.baseline.incidents == 1  # 4 incidents in 4 weeks; the one 40 days back is outside
    assert payments.change("incidents") == 3
    assert payments.change("interruptions_sleep") == 1  # 2 last week against 1 a week
    assert payments.change("losses") == pytest.approx(24400 - 500)
    assert [figures.incidents for _, figures in payments.weekly] == [1, 1, 1, 1, 4]
    assert payments.weekly[0][0] == dt.date(2026, 10, 12)


def test_noisiest_services_and_the_teams_most_interrupted_people():
    payments = insights().team("payments")
    assert [(s.service, s.incidents, s.interruptions) for s in payments.services] == [
        ("checkout-api", 3, 6),
        ("ledger", 1, 1),
    ]
    assert [(p.name, p.sleep, p.off, p.business) for p in payments.responders] == [
        ("Bo Diddley", 0, 1, 3),  # the most interruptions first; emails matched case-blind
        ("Ada Lovelace", 2, 1, 0),
    ]
    assert [p.name for p in insights().team("checkout").responders] == ["Cy Twombly"]


def test_the_digest_rows_name_teams_never_people():
    rows = insights().digest_rows()
    assert [row.team for row in rows] == ["payments", "checkout", NO_TEAM]  # an unknown service's: reported, last
    assert all(row.responders == [] for row in rows)


def test_a_week_without_incidents_is_quiet_not_missing():
    week = insights(incidents=pd.DataFrame(INCIDENTS[:0], columns=list(INCIDENTS[0])), responders=None)
    assert week.available and week.organisation.week.incidents == 0
    assert week.team("payments") is None


def test_durations_read_as_people_say_them():
    assert [format_duration(s) for s in (None, 45, 240, 3 * 3600 + 300, 2 * 86400 + 4 * 3600)] == [
        "–",
        "45 s",
        "4 min",
        "3 h 05 min",
        "2 d 4 h",
    ]


# The warehouse round trip, and the emails -------------------------------------------------------


def scorecard_warehouse(path) -> Warehouse:
    """A warehouse holding DAY's scorecard of checkout and payments and their registry teams."""
    warehouse = Warehouse(f"duckdb:///{path / 'warehouse.duckdb'}")
    card = pd.DataFrame(columns=list(RESULT_TABLES["scorecard"]))
    for index, team in enumerate(("checkout", "payments")):
        card.loc[index] = {column: None for column in card.columns} | {"team": team, "score": 90.0, "level": "gold"}
    empty = {name: pd.DataFrame(columns=list(RESULT_TABLES[name])) for name in ("check_results", "findings")}
    warehouse.publish(DAY, scorecard=card, facts={}, **empty)
    teams = [{"team": team, "display_name": team.title(), "email": f"{team}@example.com"} for team in card["team"]]
    write(warehouse, "facts_registry_teams", teams)
    return warehouse


@pytest.fixture
def warehouse(tmp_path):
    warehouse = scorecard_warehouse(tmp_path)
    yield warehouse
    warehouse.dispose()


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    """The scorecard and every incident table; the tests only read it."""
    warehouse = scorecard_warehouse(tmp_path_factory.mktemp("seeded"))
    seed_incidents(warehouse)
    yield warehouse
    warehouse.dispose()


@pytest.fixture(scope="module")
def seeded_emails(seeded):
    return week_emails(seeded)


def write(warehouse: Warehouse, name: str, rows: list[dict]) -> None:
    """Rows of one table for DAY: into the table the warehouse created, else one made from the rows."""
    frame = pd.DataFrame(rows).assign(audit_date=DAY)
    with warehouse.engine.begin() as conn:
        if not sa.inspect(conn).has_table(name, schema=warehouse.schema):
            frame.iloc[0:0].to_sql(name, conn, schema=warehouse.schema, index=False)
        table = reflect(conn, name, warehouse.schema)
        records = frame.astype(object).where(frame.notna(), None).to_dict("records")
        conn.execute(table.insert(), [{k: v for k, v in row.items() if k in table.c} for row in records])


def seed_incidents(warehouse: Warehouse) -> None:
    write(warehouse, "incidents", INCIDENTS)
    write(warehouse, "facts_pagerduty_incidents", FACTS)
    write(warehouse, "facts_pagerduty_responder_weeks", RESPONDERS)
    write(warehouse, "facts_pagerduty_users", USERS)
    write(warehouse, "facts_registry_people", PEOPLE)


def week_emails(warehouse: Warehouse) -> dict[str, tuple[str, str, list]]:
    messages = weekly_email.build_week_emails(
        load_week(warehouse, DAY), sender="readiness@example.com", digest_to=["cto@example.com"], date=SENT
    )
    out = {}
    for message in messages:
        plain, related = message.get_payload()
        html, *images = related.get_payload()
        out[message["X-Readiness-Team"] or "digest"] = (plain.get_content(), html.get_content(), images)
    return out


def test_the_warehouse_tables_give_the_same_insights(seeded):
    read = load_insights(seeded, DAY)
    assert read.available
    assert read.team("payments").week == insights().team("payments").week


def test_one_email_per_team_the_scorecard_then_last_weeks_incidents_with_a_second_chart(seeded_emails):
    text, html, images = seeded_emails["payments"]
    assert text.index("CHECKS") < text.index("LAST WEEK'S INCIDENTS (9 Nov to 15 Nov 2026)")
    assert "Ada Lovelace: 2 / 1 / 0 = 3" in text and "Ada Lovelace" in html
    assert "GBP 24,400 + 1 unpriced incident" in text
    assert "Not yet in PagerDuty's analytics, which reports a day late: 1 of last week's incidents" in text
    assert len(images) == 2 and all(image.get_content_type() == "image/png" for image in images)
    for image in images:
        assert f'src="cid:{image["Content-ID"].strip("<>")}"' in html


def test_the_digest_shows_teams_and_no_person(seeded_emails):
    text, html, images = seeded_emails["digest"]
    assert "payments: 4 (+3)" in text and "(no team)" in text
    for person in ("Ada", "Bo ", "Cy ", "Lovelace", "Diddley", "Twombly"):
        assert person not in text and person not in html
    assert len(images) == 2


def test_hostile_service_names_arrive_as_text(seeded_emails):
    _, html, _ = seeded_emails["checkout"]
    assert XSS not in html and "&lt;script&gt;" in html


def test_without_incident_data_the_email_says_so_in_one_line(warehouse):
    text, html, images = week_emails(warehouse)["payments"]  # PagerDuty not collected: no rows at all
    line = "No incident data for this week: PagerDuty's incident data was not collected in this audit."
    assert line in text and line.replace("'", "&#39;") in html
    assert "Time to acknowledge" not in text and len(images) == 1


def test_tables_that_do_not_exist_are_no_incident_data(tmp_path):
    warehouse = Warehouse(f"sqlite:///{tmp_path / 'old.sqlite'}")
    try:
        assert not load_insights(warehouse, DAY).available
    finally:
        warehouse.dispose()


def test_a_quiet_week_says_there_were_no_incidents(warehouse):
    write(warehouse, "facts_pagerduty_users", USERS)  # PagerDuty collected, nothing happened
    text, _, images = week_emails(warehouse)["payments"]
    assert "No incidents last week, nor in the four weeks before." in text and len(images) == 1
