"""Taking turns on the DuckDB warehouse file: the backoff, the turns in a process, the file between processes."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import threading
import time

import pytest
import sqlalchemy as sa

from oncall_readiness import warehouse_file
from oncall_readiness.errors import WarehouseBusy
from oncall_readiness.warehouse import Warehouse
from oncall_readiness.warehouse_file import Backoff, Turns, held_elsewhere, retry

READ_ONLY = (("access_mode", "read_only"),)
READ_WRITE = ()


class FakeClock:
    """A clock that only ``sleep`` moves; it records the sleeps."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class Held(Exception):
    pass


def failing(times: int, error: Exception) -> tuple[list[int], object]:
    calls: list[int] = []

    def attempt() -> str:
        calls.append(1)
        if len(calls) <= times:
            raise error
        return "open"

    return calls, attempt


# The backoff and the retry ---------------------------------------------------------------------


def test_the_delays_double_up_to_the_longest_each_jittered_to_half_to_all_of_it():
    exact = Backoff(first=0.005, longest=0.1).delays(jitter=lambda: 1.0)
    assert [round(next(exact), 3) for _ in range(7)] == [0.005, 0.01, 0.02, 0.04, 0.08, 0.1, 0.1]
    halved = Backoff(first=0.005, longest=0.1).delays(jitter=lambda: 0.0)
    assert [round(next(halved), 4) for _ in range(3)] == [0.0025, 0.005, 0.01]


def test_a_retryable_error_is_retried_until_the_attempt_succeeds():
    clock = FakeClock()
    calls, attempt = failing(3, Held("locked"))
    result = retry(attempt, retryable=lambda e: isinstance(e, Held), until=clock() + 5, clock=clock, sleep=clock.sleep)
    assert result == "open" and len(calls) == 4 and len(clock.sleeps) == 3
    assert clock.now - 100.0 < 0.05  # milliseconds, not seconds, for a lock held briefly


def test_another_error_is_raised_at_once():
    clock = FakeClock()
    calls, attempt = failing(3, ValueError("corrupt file"))
    with pytest.raises(ValueError, match="corrupt"):
        retry(attempt, retryable=lambda e: isinstance(e, Held), until=clock() + 5, clock=clock, sleep=clock.sleep)
    assert len(calls) == 1 and clock.sleeps == []


def test_the_retries_stop_at_the_bound_with_the_last_error():
    clock = FakeClock()
    calls, attempt = failing(10_000, Held("still locked"))
    with pytest.raises(Held, match="still locked"):
        retry(attempt, retryable=lambda e: isinstance(e, Held), until=clock() + 2, clock=clock, sleep=clock.sleep)
    assert clock.now == pytest.approx(102.0)  # the last sleep is cut to end at the bound
    assert max(clock.sleeps) <= Backoff().longest
    assert 20 < len(calls) < 60  # about ten a second once the backoff reached its longest


def test_duckdbs_words_for_a_file_held_elsewhere():
    assert held_elsewhere(Exception('IO Error: Could not set lock on file "/w.duckdb": Conflicting lock is held'))
    assert held_elsewhere(Exception("Can't open a connection to same database file with a different configuration"))
    assert not held_elsewhere(Exception("IO Error: Cannot open file: No such file or directory"))


# The turns in one process ----------------------------------------------------------------------


def enter_in_thread(turns: Turns, mode, *, alone: bool, wait: float = 5.0) -> tuple[threading.Thread, list]:
    """Enter in a thread of its own; the list gets "in" (or the error), then the thread waits to be let go."""
    outcome: list = []
    go = threading.Event()

    def run() -> None:
        try:
            turns.enter(mode, alone=alone, until=time.monotonic() + wait, clock=time.monotonic)
        except Exception as error:
            outcome.append(error)
            return
        outcome.append("in")
        go.wait(10)
        turns.leave(threading.get_ident())

    thread = threading.Thread(target=run, daemon=True)
    thread.go = go  # type: ignore[attr-defined]
    thread.start()
    return thread, outcome


def settle() -> None:
    time.sleep(0.1)


def test_readers_share_and_a_writer_waits_for_them_then_the_readers_after_it_wait_for_it():
    turns = Turns()
    first, first_in = enter_in_thread(turns, READ_ONLY, alone=False)
    second, second_in = enter_in_thread(turns, READ_ONLY, alone=False)
    settle()
    assert first_in == ["in"] and second_in == ["in"]  # readers together
    writer, writer_in = enter_in_thread(turns, READ_WRITE, alone=True)
    settle()
    late, late_in = enter_in_thread(turns, READ_ONLY, alone=False)
    settle()
    assert writer_in == [] and late_in == []  # the writer waits for the reads; the late reader waits behind it
    first.go.set(), second.go.set()
    settle()
    assert writer_in == ["in"] and late_in == []
    writer.go.set()
    settle()
    assert late_in == ["in"]
    late.go.set()


def test_two_writers_never_write_at_once():
    turns = Turns()
    first, first_in = enter_in_thread(turns, READ_WRITE, alone=True)
    settle()
    second, second_in = enter_in_thread(turns, READ_WRITE, alone=True)
    settle()
    assert first_in == ["in"] and second_in == []
    first.go.set()
    settle()
    assert second_in == ["in"]
    second.go.set()


def test_a_turn_not_given_within_the_wait_is_busy():
    turns = Turns()
    holder, _ = enter_in_thread(turns, READ_WRITE, alone=True)
    settle()
    waiter, outcome = enter_in_thread(turns, READ_ONLY, alone=False, wait=0.2)
    waiter.join(5)
    assert isinstance(outcome[0], WarehouseBusy)
    holder.go.set()


def test_a_thread_holding_a_connection_joins_at_once_and_cannot_change_configuration():
    turns = Turns()
    until = time.monotonic() + 1
    assert turns.enter(READ_ONLY, alone=False, until=until, clock=time.monotonic) is False
    assert turns.enter(READ_ONLY, alone=False, until=until, clock=time.monotonic) is True
    with pytest.raises(RuntimeError, match="another configuration"):
        turns.enter(READ_WRITE, alone=True, until=until, clock=time.monotonic)
    turns.leave(threading.get_ident()), turns.leave(threading.get_ident())
    assert turns.enter(READ_WRITE, alone=True, until=until, clock=time.monotonic) is False


# The DuckDB file, through Warehouse --------------------------------------------------------------


@pytest.fixture
def duckdb_file(tmp_path) -> str:
    path = tmp_path / "warehouse.duckdb"
    warehouse = Warehouse(f"duckdb:///{path}")
    with warehouse.engine.begin() as conn:
        conn.execute(sa.text("CREATE SCHEMA readiness; CREATE TABLE readiness.pushed (n INTEGER)"))
    warehouse.dispose()
    return str(path)


def count(warehouse: Warehouse) -> int:
    with warehouse.engine.connect() as conn:
        return int(conn.execute(sa.text("SELECT COUNT(*) FROM readiness.pushed")).scalar_one())


def test_reads_and_writes_of_one_process_at_once_never_meet_a_different_configuration(duckdb_file):
    errors: list[Exception] = []

    def read() -> None:
        for _ in range(8):
            warehouse = Warehouse(f"duckdb:///{duckdb_file}?access_mode=read_only", wait=10)
            try:
                count(warehouse)
            except Exception as error:
                errors.append(error)
            finally:
                warehouse.dispose()

    def write(n: int) -> None:
        for _ in range(4):
            warehouse = Warehouse(f"duckdb:///{duckdb_file}", wait=10)
            try:
                with warehouse.engine.begin() as conn:
                    conn.execute(sa.text("INSERT INTO readiness.pushed VALUES (:n)"), {"n": n})
            except Exception as error:
                errors.append(error)
            finally:
                warehouse.dispose()

    threads = [threading.Thread(target=read) for _ in range(2)] + [
        threading.Thread(target=write, args=(n,)) for n in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    reader = Warehouse(f"duckdb:///{duckdb_file}")
    try:
        assert count(reader) == 8
    finally:
        reader.dispose()


# Holds the file read-write in another process for a while (as the audit's publish does), then lets go.
HOLDER = """
import sys, time, duckdb
connection = duckdb.connect(sys.argv[1])
print("held", flush=True)
time.sleep(float(sys.argv[2]))
connection.close()
"""


def hold_elsewhere(path: str, seconds: float) -> subprocess.Popen:
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, path, str(seconds)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    return holder


def test_a_file_held_briefly_by_another_process_is_waited_for(duckdb_file):
    holder = hold_elsewhere(duckdb_file, 0.5)
    warehouse = Warehouse(f"duckdb:///{duckdb_file}?access_mode=read_only", wait=10)
    started = time.monotonic()
    try:
        assert count(warehouse) == 0
    finally:
        warehouse.dispose()
        holder.wait()
    assert time.monotonic() - started < 5


def test_a_file_held_past_the_wait_is_busy_naming_the_holder(duckdb_file):
    holder = hold_elsewhere(duckdb_file, 5)
    warehouse = Warehouse(f"duckdb:///{duckdb_file}", wait=0.3)
    try:
        with pytest.raises(WarehouseBusy, match=rf"not free after 0\.\d s: .*PID {holder.pid}"):
            count(warehouse)
    finally:
        warehouse.dispose()
        holder.kill()
        holder.wait()


def test_a_reader_waits_behind_a_writers_claim_on_the_turnstile(duckdb_file):
    claim = os.open(duckdb_file + warehouse_file.LOCK_SUFFIX, os.O_RDWR | os.O_CREAT)
    fcntl.flock(claim, fcntl.LOCK_EX)  # a writer of another process waits for the file
    threading.Timer(0.4, os.close, args=(claim,)).start()
    warehouse = Warehouse(f"duckdb:///{duckdb_file}?access_mode=read_only", wait=10)
    started = time.monotonic()
    try:
        assert count(warehouse) == 0
    finally:
        warehouse.dispose()
    assert 0.3 < time.monotonic() - started < 5


def test_a_closed_connection_gives_its_turn_back(duckdb_file):
    reader = Warehouse(f"duckdb:///{duckdb_file}?access_mode=read_only", wait=0.5)
    count(reader)  # the pool keeps the connection (and the file) until dispose
    reader.dispose()
    writer = Warehouse(f"duckdb:///{duckdb_file}", wait=0.5)
    try:
        with writer.engine.begin() as conn:  # at once: neither busy nor a different configuration
            conn.execute(sa.text("INSERT INTO readiness.pushed VALUES (1)"))
    finally:
        writer.dispose()


def test_another_database_is_left_alone(tmp_path):
    warehouse = Warehouse(f"sqlite:///{tmp_path / 'w.db'}")
    try:
        assert not warehouse.engine.dialect.dispatch.do_connect
    finally:
        warehouse.dispose()
    assert not (tmp_path / ("w.db" + warehouse_file.LOCK_SUFFIX)).exists()
