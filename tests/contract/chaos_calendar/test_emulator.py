"""The iCalendar feed emulator: a published calendar's answers, auth, secret address, caching, throttling."""

from __future__ import annotations

import base64

import pytest
from fastapi.testclient import TestClient
from icalendar import Calendar

from readiness_sandbox.chaos_calendar import FEED_PATH, FeedState, FeedStateError, create_app, load_feed, secret_path
from readiness_sandbox.emulators import EMULATORS
from readiness_sandbox.rate_limit import RateLimit
from readiness_sandbox.sample_org import state_file

TOKEN = "feed-password"
SAMPLE = state_file("chaos_days.ics")


def basic(password: str, user: str = "anyone") -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


@pytest.fixture
def client() -> TestClient:
    return TestClient(create_app(load_feed(SAMPLE), tokens=[TOKEN]))


def test_the_feed_is_served_as_text_calendar_behind_basic_auth(client):
    response = client.get(FEED_PATH, headers=basic(TOKEN))
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/calendar; charset=utf-8"
    assert response.content == SAMPLE.read_bytes()
    assert Calendar.from_ical(response.content).get("X-WR-TIMEZONE") == "Europe/London"


@pytest.mark.parametrize("headers", [{}, basic("wrong"), {"Authorization": "Bearer feed-password"}])
def test_without_the_password_it_answers_401_asking_for_basic_auth(client, headers):
    response = client.get(FEED_PATH, headers=headers)
    assert response.status_code == 401 and response.text == "Unauthorized"
    assert response.headers["www-authenticate"] == 'Basic realm="Chaos Days"'


def test_the_secret_address_needs_no_auth_and_an_unknown_one_is_not_found(client):
    assert client.get(secret_path(TOKEN)).content == SAMPLE.read_bytes()
    assert client.get(secret_path("guessed")).status_code == 404
    assert client.get("/calendars/other.ics", headers=basic(TOKEN)).status_code == 404


def test_an_unchanged_feed_answers_304_to_its_etag(client):
    etag = client.get(FEED_PATH, headers=basic(TOKEN)).headers["etag"]
    again = client.get(FEED_PATH, headers=basic(TOKEN) | {"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert client.get(FEED_PATH, headers=basic(TOKEN) | {"If-None-Match": '"old"'}).status_code == 200


def test_over_the_rate_limit_it_answers_429_with_retry_after():
    client = TestClient(
        create_app(b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n", tokens=[TOKEN], rate_limit=RateLimit(2, 60))
    )
    statuses = [client.get(secret_path(TOKEN)).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    assert 1 <= int(client.get(secret_path(TOKEN)).headers["retry-after"]) <= 60


def test_fail_next_answers_503_then_recovers():
    client = TestClient(create_app(FeedState(b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n"), tokens=[TOKEN], fail_next=1))
    assert client.get(FEED_PATH, headers=basic(TOKEN)).status_code == 503
    assert client.get(FEED_PATH, headers=basic(TOKEN)).status_code == 200


def test_a_state_file_that_is_not_icalendar_is_refused_naming_it(tmp_path):
    bad = tmp_path / "feed.ics"
    bad.write_text("<html>login</html>")
    with pytest.raises(FeedStateError, match=f"{bad} is not an iCalendar file"):
        load_feed(bad)


def test_the_sandbox_connection_aims_at_the_feed_with_basic_auth():
    emulator = EMULATORS["chaos_calendar"]
    assert emulator.connection("http://sandbox:8000/chaos_calendar", "t0ken") == {
        "host": "http://sandbox:8000/chaos_calendar/calendars/chaos-days.ics",
        "password": "t0ken",
        "login": "readiness-audit",
    }
    assert emulator.load().content == SAMPLE.read_bytes()
