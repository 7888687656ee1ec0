"""The sample organisation's JSM Operations site tells identity's PagerDuty story, hour by hour and alert by alert.

identity moved from PagerDuty to JSM Operations (include/sample_org/README.md): its people, rotation,
override, escalation and alerts in jsm_ops.yaml are the ones its PagerDuty data had, so its on-call
checks judge the same things for the same reasons. Computed from both files here, independently of
the collector.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import yaml

from oncall_readiness.registry import load_registry
from readiness_sandbox.jsm_ops.state import final_periods, load_jsm_state

from .test_sample_org import AUDIT_INSTANT, WINDOW_START, on_call

SAMPLE_ORG = Path(__file__).resolve().parents[3] / "include" / "sample_org"
LOOK_AHEAD_END = AUDIT_INSTANT + dt.timedelta(days=14)
JSM = load_jsm_state(SAMPLE_ORG / "jsm_ops.yaml")
PD = yaml.safe_load((SAMPLE_ORG / "pagerduty.yaml").read_text(encoding="utf-8"))
PD_EMAIL = {user["id"]: user["email"] for user in PD["users"]}


def jsm_on_call(t: dt.datetime) -> set[str]:
    schedule = JSM.schedules[0]
    return {
        JSM.accounts[who]["email"]
        for rotation in schedule.rotations
        for start, end, who, _ in final_periods(schedule, rotation, WINDOW_START, LOOK_AHEAD_END)
        if start <= t < end
    }


def test_identity_is_on_jsm_by_its_groups_annotation():
    teams = load_registry(SAMPLE_ORG / "catalog").teams.set_index("team")
    assert teams.at["identity", "jsm_ops_team"] == next(iter(JSM.teams))
    assert teams.at["identity", "oncall_platform"] == "jsm_ops"


def test_the_timeline_is_pagerdutys_final_schedule_every_half_hour_of_the_window_and_the_look_ahead():
    schedule = next(s for s in PD["schedules"] if s["id"] == "PS0IDN1")
    t = WINDOW_START
    while t < LOOK_AHEAD_END:
        expected = on_call(schedule, t)
        assert jsm_on_call(t) == ({PD_EMAIL[expected]} if expected else set()), t
        t += dt.timedelta(minutes=30)
    assert jsm_on_call(dt.datetime(2026, 11, 22, 12, tzinfo=dt.UTC)) == set()  # the weekend gap: escalation-path fails


def test_every_identity_incident_is_an_alert_that_notified_the_same_people_the_same_way():
    method = {"phone": "voice", "sms": "sms", "push": "mobile", "email": "email"}
    incidents = {i["created_at"]: i for i in PD["incidents"] if i["id"].startswith("Q0IDN")}
    alerts = {a["createdAt"]: a for a in JSM.alerts}
    assert incidents.keys() == alerts.keys()
    for created, incident in incidents.items():
        alert = alerts[created]
        assert [(n["at"], PD_EMAIL[n["user"]], method[n["type"]]) for n in incident["notifications"]] == [
            (n["at"], JSM.accounts[n["user"]]["email"], n["method"]) for n in alert["notifications"]
        ]
        assert (alert["priority"] in ("P1", "P2", "P3")) == (incident["urgency"] == "high"), created


def test_the_escalation_pages_the_schedule_then_oliver_bennett_after_fifteen_minutes_twice():
    ((escalation,),) = [[e for e in JSM.escalations]]
    rules = [(r["delay"], r["recipient"]["type"], r["recipient"]["id"]) for r in escalation["rules"]]
    oliver = JSM.by_email["oliver.bennett@example.com"]
    assert rules == [(0, "schedule", JSM.schedules[0].id), (15, "user", oliver)]
    assert escalation["repeat"]["waitInterval"] == 30 and escalation["repeat"]["count"] == 2
    # nobody's notification rules but the audit account's: JSM shows a person's own only
    assert {rule["account"] for rule in JSM.notification_rules} == {JSM.by_email["readiness-audit@example.com"]}
