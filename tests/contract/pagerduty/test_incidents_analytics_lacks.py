"""The collector lists only the incidents analytics lacks, and its facts equal a read of the whole list.

The account is ``fixtures/pagerduty_state.yaml`` with incidents placed around the sandbox's own
clock (its "now" is the wall clock): the emulator's analytics holds the resolved incidents
created more than 24 hours before it, so the 30 created in the last 23 hours are what it lacks.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from oncall_readiness.sources.pagerduty import PagerDutyClient
from oncall_readiness.sources.pagerduty import incidents as pagerduty_incidents
from oncall_readiness.sources.pagerduty.facts import frame
from readiness_sandbox.pagerduty.app import load_pagerduty_state
from readiness_sandbox.process import running_sandbox

STATE_FILE = Path(__file__).parent / "fixtures" / "pagerduty_state.yaml"
HELD, LACKING = 544, 30
LOOK_BACK = pd.Timedelta(days=35)


def _at(moment: pd.Timestamp) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _incident(number: int, created: pd.Timestamp, resolved: pd.Timestamp | None, **fields) -> dict:
    return {
        "id": f"QT{number:05d}",
        "incident_number": number,
        "title": f"Incident {number}",
        "service": "PSVPAY1" if number % 2 else "PSVSRC1",
        "status": "resolved" if resolved is not None else "triggered",
        "urgency": "high" if number % 3 else "low",
        "created_at": _at(created),
        "acknowledged_at": _at(created + pd.Timedelta(minutes=4)),
        "resolved_at": _at(resolved) if resolved is not None else None,
        "assignments": [{"at": _at(created), "assignee": "PUADA01" if number % 2 else "PUDEE04"}],
        "notifications": [{"at": _at(created), "user": "PUADA01" if number % 2 else "PUDEE04", "type": "phone"}],
        **fields,
    }


def account_incidents(instant: pd.Timestamp) -> list[dict]:
    """Around ``instant``, the sandbox's clock when it starts: an hour's margin on each side of its 24-hour line."""
    minutes = pd.Timedelta(minutes=1)
    # Resolved 20 minutes after they opened, every 90 minutes from 25 hours back to the window's start.
    held = [instant - 25 * 60 * minutes - n * 90 * minutes for n in range(HELD)]
    # Resolved, created in the last 23 hours: analytics has not caught up with them.
    lacking = [instant - 23 * 60 * minutes + n * 40 * minutes for n in range(LACKING)]
    made = [_incident(n, created, created + 20 * minutes) for n, created in enumerate(sorted(held + lacking), start=1)]
    number = len(made)
    made += [
        # Opened three days ago, resolved ten minutes ago: the newest resolution of all.
        _incident(number + 1, instant - pd.Timedelta(days=3), instant - 10 * minutes),
        # Open: one from before the window, one inside it, one an hour old.
        _incident(number + 2, instant - pd.Timedelta(days=40), None),
        _incident(number + 3, instant - pd.Timedelta(days=10), None, status="acknowledged"),
        _incident(number + 4, instant - 60 * minutes, None),
    ]
    for incident in made[-3:]:
        if incident["status"] == "triggered":
            incident.pop("acknowledged_at")
    return made


def whole_read(client: PagerDutyClient, instant: pd.Timestamp) -> dict[str, pd.DataFrame]:
    """The facts as the collector read them before: the window's whole list beside analytics, then the open ones."""
    since = instant - LOOK_BACK
    analysed = {row["id"]: row for row in pagerduty_incidents._analytics_incidents(client, since, instant)}
    window = {"since": since.isoformat(), "until": instant.isoformat(), "time_zone": "UTC"}
    listed = {incident["id"]: incident for incident in client.iter_all("/incidents", "incidents", window)}
    still_open = {"statuses[]": ["triggered", "acknowledged"], "date_range": "all"}
    listed |= {incident["id"]: incident for incident in client.iter_all("/incidents", "incidents", still_open)}
    rows = [pagerduty_incidents._from_analytics(row, listed.get(incident_id)) for incident_id, row in analysed.items()]
    rows += [pagerduty_incidents._from_list(incident) for key, incident in listed.items() if key not in analysed]
    return {
        "pagerduty_incidents": frame("pagerduty_incidents", sorted(rows, key=lambda row: row["created_at"] or "")),
        "pagerduty_responder_weeks": pagerduty_incidents._responder_weeks(client, instant),
    }


def _listed(sandbox) -> int:
    return sum(row["requests"] for row in sandbox.request_counts() if row["endpoint"] == "/pagerduty/incidents")


@pytest.fixture(scope="module")
def sandbox():
    """The sandbox and the audit instant: the minute it starts in (its clock decides what analytics holds)."""
    instant = pd.Timestamp.now(tz="UTC").floor("min")
    state = {**load_pagerduty_state(STATE_FILE), "incidents": account_incidents(instant)}
    with running_sandbox(states={"pagerduty": state}) as sandbox:
        yield sandbox, instant


def test_only_what_analytics_lacks_is_listed_and_the_facts_are_the_whole_reads(sandbox):
    sandbox, instant = sandbox
    whole_client = PagerDutyClient(sandbox.token, base_url=sandbox.url("pagerduty"))
    sandbox.request_counts(reset=True)
    expected = whole_read(whole_client, instant)
    assert _listed(sandbox) == 6 + 1  # 577 incidents of the window in pages of 100, and the open ones

    client = PagerDutyClient(sandbox.token, base_url=sandbox.url("pagerduty"))
    sandbox.request_counts(reset=True)
    facts = pagerduty_incidents.collect_incidents(client, instant, window_days=28)
    # The open ones, and one page of the resolved ones newest first: the 30 analytics lacks
    # (after the one resolved ten minutes ago), and PagerDuty's total says analytics holds the rest.
    assert _listed(sandbox) == 1 + 1
    assert client.requests_made == 1 + 1 + 1 + 4  # and one page of raw analytics, one query per week

    for table in ("pagerduty_incidents", "pagerduty_responder_weeks"):
        pd.testing.assert_frame_equal(facts[table], expected[table], obj=table)
    incidents = facts["pagerduty_incidents"]
    assert len(incidents) == HELD + LACKING + 1 + 3
    assert incidents["origin"].value_counts().to_dict() == {"analytics": HELD + 1, "incidents": LACKING + 3}
    assert client.collections["/incidents"] == [3 + HELD + LACKING + 1, 3 + HELD + LACKING + 1]


def test_a_backfill_lists_one_page_of_resolved_incidents(sandbox):
    """An audit two days back: analytics holds every resolved incident of its window, as the first page's total says."""
    sandbox, instant = sandbox
    client = PagerDutyClient(sandbox.token, base_url=sandbox.url("pagerduty"))
    sandbox.request_counts(reset=True)
    earlier = instant - pd.Timedelta(days=2)
    incidents = pagerduty_incidents.collect_incidents(client, earlier, window_days=28)["pagerduty_incidents"]
    assert _listed(sandbox) == 1 + 1
    resolved = incidents[incidents["status"] == "resolved"]
    assert (resolved["origin"] == "analytics").all() and resolved["sleep_hour_interruptions"].notna().all()
