"""The incident collection's arithmetic without a server: only what analytics lacks is listed, rows merged."""

from __future__ import annotations

import pandas as pd
import pytest

from oncall_readiness.sources.pagerduty import incidents as pagerduty_incidents
from oncall_readiness.sources.pagerduty.incidents import BeyondOffsetCap, collect_incidents

INSTANT = pd.Timestamp("2026-11-16T00:00:00Z")
SINCE = INSTANT - pd.Timedelta(days=35)


def hourly_incidents() -> list[dict]:
    """An incident every hour of the 35 days, each resolved five minutes after it opened: 840 of them."""
    return [
        {
            "id": f"Q{moment:%m%d%H}",
            "incident_number": number,
            "title": "t",
            "status": "resolved",
            "urgency": "low",
            "created_at": moment.isoformat(),
            "resolved_at": (moment + pd.Timedelta(minutes=5)).isoformat(),
            "service": {"id": "PV1"},
        }
        for number, moment in enumerate(pd.date_range(SINCE, INSTANT, freq="h", inclusive="left"), start=1)
    ]


def analytics_row(incident: dict) -> dict:
    return {
        "id": incident["id"],
        "incident_number": incident["incident_number"],
        "description": "From analytics",
        "created_at": incident["created_at"],
        "resolved_at": incident["resolved_at"],
        "status": "resolved",
        "urgency": incident["urgency"],
        "service_id": "PV1",
        "seconds_to_first_ack": 60,
        "sleep_hour_interruptions": 1,
    }


class FakePagerDuty:
    """PagerDuty's incidents list and analytics over ``listed``; a list query may hold at most ``cap`` of them."""

    def __init__(
        self, *, cap: int = 10_000, listed: list[dict] | None = None, analytics=(), open_incidents: list[dict] = ()
    ):
        self.cap, self.open = cap, list(open_incidents)
        self.listed = hourly_incidents() if listed is None else listed
        self.analytics = list(analytics)
        self.windows: list[tuple[pd.Timestamp, pd.Timestamp]] = []  # the date windows read whole
        self.pages: list[int] = []  # the offsets of the pages read by resolution, newest first
        self.queries: list[str] = []
        self.collections: dict[str, list[int]] = {}

    def _in(self, params) -> list[dict]:
        since, until = pd.Timestamp(params["since"]), pd.Timestamp(params["until"])
        return [i for i in self.listed if since <= pd.Timestamp(i["created_at"]) < until]

    def iter_all(self, path, key, params):
        if params.get("date_range") == "all":
            assert params["statuses[]"] == ["triggered", "acknowledged"]
            yield from self.open
            return
        window = self._in(params)  # the open incidents here all predate the window
        if len(window) > self.cap:
            raise BeyondOffsetCap("too many")
        self.windows.append((pd.Timestamp(params["since"]), pd.Timestamp(params["until"])))
        yield from window

    def get(self, path, params):
        assert (path, params["statuses[]"], params["sort_by"]) == (
            "/incidents",
            ["resolved"],
            "resolved_at:desc,incident_number:desc",
        )
        newest_first = sorted(self._in(params), key=lambda i: (i["resolved_at"], i["incident_number"]), reverse=True)
        offset, limit = params["offset"], params["limit"]
        assert offset + limit <= self.cap, "past the offset cap"
        self.pages.append(offset)
        return {
            "incidents": newest_first[offset : offset + limit],
            "more": offset + limit < len(newest_first),
            "total": len(newest_first),
        }

    def query(self, path, body):
        self.queries.append(path)
        if path == "/analytics/raw/incidents":
            return {"data": self.analytics, "more": False}
        return {"data": []}


def test_only_the_incidents_analytics_has_not_caught_up_with_are_listed():
    listed = hourly_incidents()
    late = INSTANT - pd.Timedelta(hours=24)  # analytics holds what was created a day before
    held = [analytics_row(i) for i in listed if i["created_at"] < late.isoformat()]
    client = FakePagerDuty(listed=listed, analytics=held)
    incidents = collect_incidents(client, INSTANT, window_days=28)["pagerduty_incidents"]
    assert client.pages == [0] and client.windows == []  # 24 lacking: one page, not the window's 9
    assert len(incidents) == 840 and incidents["incident_id"].is_unique
    assert incidents["origin"].value_counts().to_dict() == {"analytics": 816, "incidents": 24}
    assert client.collections == {"/incidents": [840, 840]}  # the list's total, the incidents held


def test_an_incident_analytics_lacks_is_listed_whenever_it_was_created():
    listed = hourly_incidents()
    long_running = next(i for i in listed if i["id"] == "Q102600")  # created 21 days before the instant
    long_running["resolved_at"] = (INSTANT - pd.Timedelta(minutes=30)).isoformat()  # resolved inside the lag
    # Analytics runs ten days late, far past PagerDuty's "generally within 24 hours".
    behind = (INSTANT - pd.Timedelta(days=10)).isoformat()
    held = [analytics_row(i) for i in listed if i["created_at"] < behind and i is not long_running]
    client = FakePagerDuty(listed=listed, analytics=held)
    incidents = collect_incidents(client, INSTANT, window_days=28)["pagerduty_incidents"].set_index("incident_id")
    assert client.pages == [0, 100, 200]  # 241 lacking, the newest resolution first: three pages, then the count holds
    assert len(incidents) == 840
    assert incidents.loc["Q102600", "origin"] == "incidents"
    assert incidents.loc["Q102600", "resolved_at"] == INSTANT - pd.Timedelta(minutes=30)
    assert (incidents["origin"] == "incidents").sum() == 241


def test_past_the_cap_the_resolved_incidents_are_read_whole_in_halved_windows(monkeypatch):
    monkeypatch.setattr(pagerduty_incidents, "MAX_OFFSET_WINDOW", 300)
    client = FakePagerDuty(cap=300)  # analytics holds nothing; 35 days are 840 hourly incidents
    incidents = collect_incidents(client, INSTANT, window_days=28)["pagerduty_incidents"]
    assert client.pages == [0, 100, 200]  # as far as the cap lets the newest-first read go
    assert len(client.windows) == 4  # 840 -> 420, 420 -> 210 x 4 fit
    assert client.windows[0][0] == SINCE and client.windows[-1][1] == INSTANT
    assert len(incidents) == 840 and incidents["incident_id"].is_unique
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
    late = {**hourly_incidents()[-1], "id": "QLATE", "title": "Not in analytics yet"}
    client = FakePagerDuty(listed=[late], analytics=[analysed], open_incidents=[still_open])
    incidents = collect_incidents(client, INSTANT, window_days=28)["pagerduty_incidents"].set_index("incident_id")
    assert list(incidents.index) == ["QOPEN", "Q111500", "QLATE"]  # by creation
    row = incidents.loc["Q111500"]
    assert (row["title"], row["origin"], row["sleep_hour_interruptions"]) == ("From analytics", "analytics", 1)
    assert row["created_at"] == pd.Timestamp("2026-11-15T00:00:00Z")  # analytics answers in UTC without an offset
    assert row["acknowledged_at"] == pd.Timestamp("2026-11-15T00:01:00Z")
    assert row["assigned_user_ids"] == "PANN,PBOB"
    opened = incidents.loc["QOPEN"]
    assert (opened["status"], opened["origin"], opened["assigned_user_ids"]) == ("triggered", "incidents", "PANN")
    assert pd.isna(opened["resolved_at"]) and pd.isna(opened["sleep_hour_interruptions"])
    assert (incidents.loc["QLATE", "origin"], incidents.loc["QLATE", "title"]) == ("incidents", "Not in analytics yet")
    assert pd.isna(incidents.loc["QLATE", "sleep_hour_interruptions"])
    assert client.queries.count("/analytics/metrics/responders/all") == 4  # one per week


@pytest.mark.parametrize("answer", [{"more": False, "total": 0}, {"incidents": None, "more": False}])
def test_a_list_page_without_its_incidents_is_an_error(answer):
    class Broken(FakePagerDuty):
        def get(self, path, params):
            return answer

    with pytest.raises(pagerduty_incidents.SourceError, match="without an 'incidents' list"):
        collect_incidents(Broken(listed=[]), INSTANT, window_days=28)
