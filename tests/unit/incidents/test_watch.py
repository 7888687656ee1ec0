"""The watch against the PagerDuty emulator, with a DuckDB warehouse: one note per milestone crossed."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from oncall_readiness.errors import AuditInstantError, ConnectionConfigError, SourceError
from oncall_readiness.incidents import watch
from oncall_readiness.incidents.ledger import NotesLedger
from oncall_readiness.incidents.notes import FROM_ENV_VAR, NotesAccount, from_address, incident_notes, post_note
from oncall_readiness.sources.pagerduty import PagerDutyClient
from oncall_readiness.warehouse import Warehouse
from readiness_sandbox.process import running_sandbox

BOT = "oncall-bot@example.com"
# The account: open, resolved, unpriced and low-urgency incidents (its header says which).
ACCOUNT = Path(__file__).parents[2] / "fixtures" / "cost_watch_pagerduty.yaml"
SERVICES = pd.DataFrame(
    [
        {"service": "checkout-api", "team": "checkout", "pagerduty_service_id": "PVCHK01", "cost_per_minute": 200.0},
        {"service": "checkout-tax", "team": "checkout", "pagerduty_service_id": "PVCHK04", "cost_per_minute": None},
    ]
)


def note(minutes: int) -> str:
    return f"Estimated loss so far: {minutes} min x GBP 200/min = GBP {minutes * 200:,} (checkout-api)"


@pytest.fixture(scope="module")
def sandbox():
    with running_sandbox(states={"pagerduty": ACCOUNT}) as handle:
        client = PagerDutyClient(handle.token, base_url=handle.url("pagerduty"))
        probe = client.session.get(f"{client.base_url}/incidents/Q0CHK001/notes", timeout=10)
        if probe.status_code == 404:
            pytest.skip("the PagerDuty emulator serves no incident notes yet")
        yield handle


@pytest.fixture
def env(sandbox, tmp_path, monkeypatch):
    """A fresh incident per test would need a fresh emulator: each test uses its own incident ids' notes count."""
    monkeypatch.delenv("READINESS_CURRENCY", raising=False)
    client = PagerDutyClient(sandbox.token, base_url=sandbox.url("pagerduty"))
    url = f"duckdb:///{tmp_path / 'warehouse.duckdb'}"

    def run_at(clock: str, run_id: str, **options) -> watch.WatchReport:
        return watch.run(
            client, url, instant=pd.Timestamp(f"2026-11-16T{clock}Z"), services=SERVICES,
            notes_account=options.pop("notes_account", NotesAccount(client, BOT)), run_id=run_id, **options,
        )  # fmt: skip

    return client, url, run_at


@pytest.fixture(scope="module")
def three_runs_and_a_retry(sandbox, tmp_path_factory):
    client = PagerDutyClient(sandbox.token, base_url=sandbox.url("pagerduty"))
    url = f"duckdb:///{tmp_path_factory.mktemp('watch') / 'warehouse.duckdb'}"
    reports = {}
    for clock, run_id in [("00:35:00", "r1"), ("01:05:00", "r2"), ("01:05:00", "r2"), ("01:10:00", "r3")]:
        key = run_id if run_id not in reports else f"{run_id}-retry"
        reports[key] = watch.run(
            client,
            url,
            instant=pd.Timestamp(f"2026-11-16T{clock}Z"),
            services=SERVICES,
            notes_account=NotesAccount(client, BOT),
            run_id=run_id,
        )
    warehouse = Warehouse(url)
    yield client, warehouse, reports
    warehouse.dispose()


def test_notes_are_exactly_the_milestones_crossed(three_runs_and_a_retry):
    client, _, reports = three_runs_and_a_retry
    assert [n["content"] for n in incident_notes(client, "Q0CHK001")] == [note(35), note(65)]
    assert reports["r1"].posted == [("Q0CHK001", 30)]
    assert reports["r2"].posted == [("Q0CHK001", 60)]
    assert reports["r2-retry"].posted == [] and reports["r3"].posted == []


def test_a_resolved_or_unpriced_incident_gets_no_note(three_runs_and_a_retry, caplog):
    client, _, reports = three_runs_and_a_retry
    assert incident_notes(client, "Q0CHK002") == [] and incident_notes(client, "Q0CHK003") == []
    assert reports["r3"].open_incidents == 2 and reports["r3"].unpriced == 1


def test_the_ledger_records_each_milestone_once(three_runs_and_a_retry):
    _, warehouse, _ = three_runs_and_a_retry
    rows = warehouse.query(
        "SELECT incident_id, milestone_minutes, content, claimed_by, posted_at, note_id "
        "FROM readiness.incident_cost_notes ORDER BY milestone_minutes"
    )
    assert list(rows["milestone_minutes"]) == [30, 60] and set(rows["incident_id"]) == {"Q0CHK001"}
    assert list(rows["content"]) == [note(35), note(65)] and list(rows["claimed_by"]) == ["r1", "r2"]
    assert rows["posted_at"].notna().all() and rows["note_id"].notna().all()


def test_open_incident_costs_holds_what_the_last_run_saw(three_runs_and_a_retry):
    _, warehouse, _ = three_runs_and_a_retry
    seen = warehouse.query("SELECT * FROM readiness.open_incident_costs ORDER BY incident_id").set_index("incident_id")
    assert list(seen.index) == ["Q0CHK001", "Q0CHK003"]
    assert seen.at["Q0CHK001", "minutes"] == 70 and seen.at["Q0CHK001", "estimated_loss"] == 14_000
    assert seen.at["Q0CHK001", "team"] == "checkout" and seen.at["Q0CHK001", "currency"] == "GBP"
    assert not seen.at["Q0CHK003", "priced"] and pd.isna(seen.at["Q0CHK003", "estimated_loss"])
    assert str(seen.at["Q0CHK001", "checked_at"]) == "2026-11-16 01:10:00"


def test_a_retry_after_dying_between_post_and_record_finds_the_note(env, monkeypatch):
    client, url, run_at = env
    before = len(incident_notes(client, "Q0CHK001"))
    real_mark = NotesLedger.mark_posted

    def die(self, *args, **kwargs):
        raise RuntimeError("the worker died")

    monkeypatch.setattr(NotesLedger, "mark_posted", die)
    with pytest.raises(RuntimeError, match="died"):
        run_at("02:31:00", "crash")  # milestone 150: posted, not recorded
    monkeypatch.setattr(NotesLedger, "mark_posted", real_mark)
    retry = run_at("02:31:00", "crash")
    assert retry.posted == [] and retry.found_posted == [("Q0CHK001", 150)]
    assert len(incident_notes(client, "Q0CHK001")) == before + 1


def test_a_retry_after_dying_before_the_post_posts_it(env, monkeypatch):
    client, _, run_at = env
    before = len(incident_notes(client, "Q0CHK001"))
    monkeypatch.setattr(watch.notes, "post_note", lambda *a, **k: (_ for _ in ()).throw(SourceError("502")))
    with pytest.raises(watch.NotesNotPosted, match="502"):
        run_at("03:01:00", "fails")  # milestone 180: claimed, not posted
    monkeypatch.setattr(watch.notes, "post_note", post_note)
    assert run_at("03:01:00", "fails").posted == [("Q0CHK001", 180)]
    assert len(incident_notes(client, "Q0CHK001")) == before + 1


def test_an_overlapping_run_leaves_a_fresh_claim_alone_and_takes_over_a_stale_one(env, monkeypatch):
    client, url, run_at = env
    warehouse = Warehouse(url)
    ledger = NotesLedger(warehouse)
    ledger.create()
    assert ledger.claim("Q0CHK001", 210, "claimed by a run that is still posting", run_id="other")
    assert run_at("03:31:00", "mine").posted == []  # the other run holds milestone 210
    monkeypatch.setattr(watch, "lease_expired", lambda claim: True)
    assert run_at("03:31:00", "mine").posted == [("Q0CHK001", 210)]  # the other run died without posting
    warehouse.dispose()


def test_the_from_user_comes_from_the_environment_or_the_connection(monkeypatch):
    monkeypatch.delenv(FROM_ENV_VAR, raising=False)
    assert from_address({"from": "bot@example.com"}) == "bot@example.com"
    monkeypatch.setenv(FROM_ENV_VAR, "env-bot@example.com")
    assert from_address({"from": "bot@example.com"}) == "env-bot@example.com"


def test_without_a_from_user_the_error_names_both_settings(monkeypatch):
    monkeypatch.delenv(FROM_ENV_VAR, raising=False)
    with pytest.raises(ConnectionConfigError, match=r"READINESS_PAGERDUTY_FROM.*'pagerduty_notes'.*\"from\""):
        from_address({})


def test_without_a_notes_connection_the_open_incidents_are_priced_and_no_note_is_posted(env):
    client, url, run_at = env
    before = [n["content"] for n in incident_notes(client, "Q0CHK001")]
    report = run_at("05:31:00", "no-notes", notes_account=None)
    assert report.posted == [] and report.open_incidents >= 1
    assert [n["content"] for n in incident_notes(client, "Q0CHK001")] == before
    warehouse = Warehouse(url)
    try:
        with warehouse.engine.connect() as conn:
            rows = conn.execute(sa.select(warehouse.table("open_incident_costs").c["incident_id", "minutes"])).all()
    finally:
        warehouse.dispose()
    assert ("Q0CHK001", 331) in [tuple(row) for row in rows]  # 05:31 is 331 minutes after it triggered at 00:00


def test_a_read_only_key_cannot_post_a_note(sandbox):
    """The audit's key (pagerduty_default) is read-only: PagerDuty refuses the watch's write with it."""
    with running_sandbox(states={"pagerduty": ACCOUNT}, token="notes-key", read_only_tokens=["read-key"]) as handle:
        reader = PagerDutyClient("read-key", base_url=handle.url("pagerduty"))
        assert incident_notes(reader, "Q0CHK001") == []  # reading is allowed
        with pytest.raises(SourceError, match="403.*read-only"):
            post_note(reader, "Q0CHK001", "a note", from_email=BOT)
        writer = PagerDutyClient("notes-key", base_url=handle.url("pagerduty"))
        assert post_note(writer, "Q0CHK001", "a note", from_email=BOT)["content"] == "a note"


def test_a_watch_dated_in_the_future_is_refused_and_posts_nothing(env):
    client, url, run_at = env
    before = [n["content"] for n in incident_notes(client, "Q0CHK001")]
    with pytest.raises(AuditInstantError, match="later than now"):
        watch.run(
            client, url, instant=pd.Timestamp("2099-01-01T00:00:00Z"), services=SERVICES,
            notes_account=NotesAccount(client, BOT), run_id="future",
        )  # fmt: skip
    assert [n["content"] for n in incident_notes(client, "Q0CHK001")] == before


def test_an_impossible_milestone_in_the_ledger_cannot_silence_the_next_notes(env):
    """A row claiming 283,710 minutes (a run dated years ahead wrote it) is beyond the incident's age: ignored."""
    client, url, run_at = env
    warehouse = Warehouse(url)
    ledger = NotesLedger(warehouse)
    ledger.create()
    assert ledger.claim("Q0CHK001", 283_710, "Estimated loss so far: 283710 min ...", run_id="from-the-future")
    warehouse.dispose()
    assert run_at("07:45:00", "today").posted == [("Q0CHK001", 450)]


def test_milestones():
    assert [watch.milestone(m, 30) for m in (0, 29.9, 30, 59, 60, 61, 95)] == [0, 0, 30, 30, 60, 60, 90]
    assert watch.milestone(16, 15) == 15
