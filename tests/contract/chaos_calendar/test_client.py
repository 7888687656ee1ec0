"""The Chaos Day calendar's client and hook against the feed emulator: one call, auth, retries, clear errors.

The sample feed comes through the sandbox (a subprocess, as in production-like runs); broken
feeds through an emulator served in this process (``serving``), which the sandbox would refuse.
"""

from __future__ import annotations

import json
import socket

import pandas as pd
import pytest

from oncall_readiness.errors import SourceError
from oncall_readiness.hooks.chaos_calendar import ChaosCalendarHook
from oncall_readiness.registry import load_registry
from oncall_readiness.sources import chaos_calendar
from oncall_readiness.sources.chaos_calendar import ChaosCalendarClient, collect_for_audit
from oncall_readiness.sources.http import describe_failure
from oncall_readiness.sources.window import AuditWindow
from readiness_sandbox.chaos_calendar import FEED_PATH, SANDBOX_LOGIN, FeedState, create_app, secret_path
from readiness_sandbox.process import running_sandbox
from readiness_sandbox.rate_limit import RateLimit
from readiness_sandbox.sample_org import CATALOG

INSTANT = pd.Timestamp("2026-11-16T00:00:00Z")
REGISTRY = load_registry(CATALOG).to_facts()
CONN_ID = "chaos_calendar_default"
SECRET = "s3cr3t-feed-key-8c1f"
EMPTY_FEED = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nEND:VCALENDAR\r\n"


def use_connection(monkeypatch, **fields: str) -> None:
    conn = {"conn_type": ChaosCalendarHook.conn_type, **fields}
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", json.dumps(conn))


def collect(hook: ChaosCalendarHook) -> dict[str, pd.DataFrame]:
    return collect_for_audit(hook, REGISTRY, AuditWindow(INSTANT, look_back_days=28))


@pytest.fixture(scope="module")
def sandbox():
    with running_sandbox() as running:
        yield running


def test_the_sample_feed_is_collected_in_one_call_through_the_sandbox_connection(sandbox, monkeypatch):
    use_connection(monkeypatch, **sandbox.connections()["chaos_calendar"])
    hook = ChaosCalendarHook()
    facts = collect(hook)
    for table, columns in chaos_calendar.FACT_COLUMNS.items():
        assert list(facts[table].columns) == list(columns), table
    feed = facts["chaos_calendar_feed"].iloc[0]
    assert (feed["configured"], feed["calendar_name"], feed["time_zone"]) == (True, "Chaos Days", "Europe/London")
    assert (feed["events_read"], feed["occurrences"]) == (10, 16)
    assert feed["range_start"] == pd.Timestamp("2024-11-16T00:00Z")
    assert feed["range_end"] == pd.Timestamp("2027-11-16T00:00Z")
    client = hook.get_conn()
    client.calendar()
    assert client.requests_made == 1 and client.retries == 0


def test_the_secret_address_form_needs_no_login_and_is_never_shown(sandbox, monkeypatch):
    address = sandbox.url("chaos_calendar") + secret_path(sandbox.token)
    use_connection(monkeypatch, password=address)
    assert len(collect(ChaosCalendarHook())["chaos_calendar_events"]) == 16
    ok, message = ChaosCalendarHook().test_connection()
    assert ok and message == f"Chaos Day calendar answered the test call at {sandbox.base_url}."
    use_connection(monkeypatch, password=sandbox.url("chaos_calendar") + secret_path(SECRET))
    with pytest.raises(SourceError) as error:
        collect(ChaosCalendarHook())
    assert str(error.value) == (f"chaos_calendar: GET the secret address at {sandbox.base_url} answered 404: Not Found")
    ok, message = ChaosCalendarHook().test_connection()
    assert not ok and SECRET not in message and "private-" not in message


def test_the_secret_address_is_masked_whole_and_by_its_path(monkeypatch):
    masked = []
    monkeypatch.setattr("airflow.sdk.log.mask_secret", masked.append)
    use_connection(monkeypatch, password=f"https://calendar.example.com/ical/team/private-{SECRET}/basic.ics\n")
    client = ChaosCalendarHook().get_conn()
    # The address as stored (with its newline) is masked when the connection is read; then the clean forms.
    assert {
        f"https://calendar.example.com/ical/team/private-{SECRET}/basic.ics",
        f"/ical/team/private-{SECRET}/basic.ics",
    } <= set(masked)
    assert client.base_url == "https://calendar.example.com" and SECRET not in client.where


def test_without_credentials_the_feed_answers_401_naming_the_source(sandbox):
    client = ChaosCalendarClient(sandbox.url("chaos_calendar") + FEED_PATH)
    with pytest.raises(SourceError) as error:
        client.calendar()
    assert str(error.value) == "chaos_calendar: GET /chaos_calendar/calendars/chaos-days.ics answered 401: Unauthorized"


def test_a_429_is_retried_after_retry_after(serving):
    app = create_app(EMPTY_FEED, tokens=[SECRET], rate_limit=RateLimit(1, 1))
    with serving(app) as url:
        client = ChaosCalendarClient(url + FEED_PATH, login=SANDBOX_LOGIN, password=SECRET)
        client.calendar()
        client.calendar()  # the window's one request is spent: 429, Retry-After 1, then 200
    assert client.requests_made == 2 and client.retries == 1


def test_a_503_is_retried(serving):
    app = create_app(EMPTY_FEED, tokens=[SECRET], fail_next=2)
    with serving(app) as url:
        client = ChaosCalendarClient(url + secret_path(SECRET), secret_address=True, backoff_factor=0)
        assert client.calendar().get("PRODID") == "-//t//t//EN"
    assert client.retries == 2


def test_a_page_that_is_not_a_feed_is_a_clear_source_error(serving):
    login_page = FeedState(b"<!doctype html><title>Sign in</title>", content_type="text/html; charset=utf-8")
    with serving(create_app(login_page, tokens=[SECRET])) as url:
        client = ChaosCalendarClient(url + secret_path(SECRET), secret_address=True)
        with pytest.raises(SourceError) as error:
            client.calendar()
    message = str(error.value)
    assert message == (
        f"chaos_calendar: GET the secret address at {url} answered with something that is not an iCalendar feed "
        "(text/html; charset=utf-8, not starting with BEGIN:VCALENDAR); is the connection aimed at the feed's .ics "
        "address?"
    )
    assert SECRET not in message and "Sign in" not in message


def test_a_feed_that_does_not_parse_is_a_source_error(serving):
    broken = FeedState(b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART:yesterday\r\nEND:VEVENT\r\n")
    with (
        serving(create_app(broken, tokens=[SECRET])) as url,
        pytest.raises(SourceError, match=r"^chaos_calendar: GET /calendars/chaos-days.ics answered with an"),
    ):
        ChaosCalendarClient(url + FEED_PATH, login="x", password=SECRET).calendar()


def test_a_host_that_is_down_names_the_cause_but_not_the_address():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = ChaosCalendarClient(
        f"http://127.0.0.1:{port}/private-{SECRET}/basic.ics", secret_address=True, max_retries=0
    )
    with pytest.raises(SourceError) as error:
        client.calendar()
    assert str(error.value).startswith(f"chaos_calendar: GET the secret address at http://127.0.0.1:{port} failed")
    assert SECRET not in str(error.value) and SECRET not in describe_failure("Chaos Day calendar", error.value)


def test_no_connection_means_no_calendar_not_an_error(monkeypatch):
    monkeypatch.delenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", raising=False)
    facts = collect(ChaosCalendarHook())
    assert facts["chaos_calendar_feed"].to_dict("records")[0]["configured"] is False
    assert facts["chaos_calendar_events"].empty and facts["chaos_calendar_event_teams"].empty
    assert str(facts["chaos_calendar_events"]["start"].dtype) == "datetime64[ns, UTC]"
