"""The incident collection's arithmetic without a server: windows halved past the offset cap, rows merged."""

from __future__ import annotations

import pandas as pd

from oncall_readiness.sources.pagerduty.incidents import BeyondOffsetCap, collect_incidents

INSTANT = pd.Timestamp("2026-11-16T00:00:00Z")


class FakePagerDuty:
    """Incidents every hour; a list query may hold at most ``cap`` of them, like offset + limit <= 10,000."""

    def __init__(self, *, cap: int, analytics: list[dict] = (), open_incidents: list[dict] = ()):
        self.cap, self.analytics, self.open = cap, list(analytics), list(open_incidents)
        self.windows: list[tuple[pd.Timestamp, pd.Timestamp]] = []
        self.queries: list[str] = []

    def iter_all(self, path, key, params):
        if "statuses[]" in params:
            yield from self.open
            return
        since, until = pd.Timestamp(params["since"]), pd.Timestamp(params["until"])
        hours = pd.date_range(since.ceil("h"), until, freq="h", inclusive="left")
        if len(hours) > self.cap:
            raise BeyondOffsetCap("too many")
        self.windows.append((since, until))
        for moment in hours:
            yield {
                "id": f"Q{moment:%m%d%H}",
                "title": "t",
                "status": "resolved",
                "urgency": "low",
                "created_at": moment.isoformat(),
                "resolved_at": (moment + pd.Timedelta(minutes=5)).isoformat(),
                "service": {"id": "PV1"},
                "incident_number": 1,
            }

    def query(self, path, body):
        self.queries.append(path)
        if path == "/analytics/raw/incidents":
            return {"data": self.analytics, "more": False}
        return {"data": []}


def test_a_window_past_the_cap_is_halved_until_each_query_fits_and_nothing_is_lost():
    client = FakePagerDuty(cap=300)  # 35 days are 840 hourly incidents
    facts = collect_incidents(client, INSTANT, window_days=28)
    incidents = facts["pagerduty_incidents"]
    assert len(incidents) == 840 and incidents["incident_id"].is_unique
    assert len(client.windows) == 4  # 840 -> 420, 420 -> 210 x 4 fit
    assert client.windows[0][0] == INSTANT - pd.Timedelta(days=35) and client.windows[-1][1] == INSTANT
    assert set(incidents["origin"]) == {"incidents"}


def test_analytics_rows_win_and_the_list_fills_open_and_late_incidents():
    analysed = {
        "id": "Q111500",
        "description": "From analytics",
        "created_at": "2026-11-15T00:00:00",
        "resolved_at": "2026-11-15T00:05:00",
        "status": "resolved",
        "urgency": "low",
        "service_id": "PV1",
        "seconds_to_first_ack": 60,
        "sleep_hour_interruptions": 1,
        "assigned_user_ids": ["PANN", "PBOB"],
    }
    still_open = {
        "id": "QOPEN",
        "title": "Still burning",
        "status": "triggered",
        "urgency": "high",
        "created_at": "2026-09-01T10:00:00Z",
        "resolved_at": None,
        "service": {"id": "PV1"},
        "acknowledgements": [],
        "assignments": [{"at": "2026-09-01T10:00:00Z", "assignee": {"id": "PANN"}}],
    }
    client = FakePagerDuty(cap=10_000, analytics=[analysed], open_incidents=[still_open])
    incidents = collect_incidents(client, INSTANT, window_days=28)["pagerduty_incidents"].set_index("incident_id")
    row = incidents.loc["Q111500"]
    assert (row["title"], row["origin"], row["sleep_hour_interruptions"]) == ("From analytics", "analytics", 1)
    assert row["created_at"] == pd.Timestamp("2026-11-15T00:00:00Z")  # analytics answers in UTC without an offset
    assert row["acknowledged_at"] == pd.Timestamp("2026-11-15T00:01:00Z")
    assert row["assigned_user_ids"] == "PANN,PBOB"
    opened = incidents.loc["QOPEN"]
    assert (opened["status"], opened["origin"], opened["assigned_user_ids"]) == ("triggered", "incidents", "PANN")
    assert pd.isna(opened["resolved_at"]) and pd.isna(opened["sleep_hour_interruptions"])
    assert client.queries.count("/analytics/metrics/responders/all") == 4  # one per week
