"""The benchmark tells the machine's share of PagerDuty's collect from the audit's: its requests, sent again bare."""

import pytest

from benchmarks.replay import ReplayError, between_requests, replay_seconds, send_again
from oncall_readiness.sources.pagerduty import PagerDutyClient
from readiness_sandbox.emulators import EMULATORS
from readiness_sandbox.process import running_sandbox


def _recorded_collection(sandbox) -> list[dict]:
    client = PagerDutyClient(sandbox.token, base_url=sandbox.url("pagerduty"))
    sandbox.request_counts(reset=True)
    assert list(client.iter_all("/users", "users"))
    client.query("/analytics/raw/incidents", {"filters": {}, "limit": 10})
    return sandbox.request_log()


def test_the_recorded_requests_reach_a_fresh_sandbox_again_as_the_audit_sent_them():
    with running_sandbox(record_requests=True) as sandbox:
        log = _recorded_collection(sandbox)
    with running_sandbox(latency_ms=25, record_requests=True) as fresh:
        seconds = send_again(fresh.url("pagerduty"), fresh.token, log)
        received = fresh.request_log()
    assert [entry["method"] for entry in log] == ["GET", "POST"]
    sent = ("method", "path", "query", "body", "status")
    assert [[entry[key] for key in sent] for entry in received] == [[entry[key] for key in sent] for entry in log]
    assert seconds >= 0.025 * len(log)  # a round trip of the latency each, at least


def test_the_replay_starts_its_own_sandbox_on_the_audits_state():
    with running_sandbox(record_requests=True) as sandbox:
        log = _recorded_collection(sandbox)
    assert replay_seconds(log, state=EMULATORS["pagerduty"].sample_state, latency_ms=20) >= 0.02 * len(log)


def test_a_request_answered_otherwise_than_the_audits_stops_the_replay():
    with running_sandbox(record_requests=True) as sandbox:
        log = _recorded_collection(sandbox)
    refused = r"replayed POST /pagerduty/analytics/raw/incidents answered 429, the audit's got 200"
    with running_sandbox(rate_limit="1/60") as fresh, pytest.raises(ReplayError, match=refused):
        send_again(fresh.url("pagerduty"), fresh.token, log)


def test_the_time_between_requests_is_what_the_emulator_spent_without_one():
    log = [
        {"source": "pagerduty", "arrived": 10.0, "answered": 10.5},
        {"source": "grafana", "arrived": 10.6, "answered": 11.0},  # another source's: not PagerDuty's time
        {"source": "pagerduty", "arrived": 10.7, "answered": 11.2},  # 0.2 s with none in flight before it
        {"source": "pagerduty", "arrived": 12.2, "answered": 12.4},  # 1.0 s
    ]
    timeline = between_requests(log)
    assert timeline == pytest.approx({"span": 2.4, "between": 1.2})
    assert between_requests(log[1:2]) is None


def test_the_report_splits_pagerdutys_collect_into_the_machines_share_and_the_audits():
    from benchmarks.report import pagerduty_sentences

    result = {
        "latency_ms": 20,
        "requests": [{"source": "pagerduty", "endpoint": "/pagerduty/users", "status": 200, "requests": 500}],
        "floors": {"pagerduty": {"users": 500}},
        "tasks": [{"task": "audit_source.collect", "source": "pagerduty", "state": "success", "seconds": 16.0}],
        "pagerduty_replay_s": 12.5,
        "pagerduty_requests_s": {"span": 15.0, "between": 2.0},
    }
    replayed, split = pagerduty_sentences(result)
    assert "took 12.5 s (1.25 × its time floor)" in replayed  # the floor: 500 × 20 ms = 10 s
    assert "The audit's collect took 1.28 × that." in replayed  # 16 s for 12.5 s
    assert "collect took 15 s, 2 s of them with no request" in split
    assert "about 10 + 2 + 1.0 = 13.0 s (1.30 × the time floor)" in split
