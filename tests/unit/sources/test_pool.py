"""The bounded pool and the shared rate-limit gate: order, bounds, errors, and 429 under concurrency.

The HTTP tests run a small loopback server (a free port, stopped after) that records when
each request arrived and answers 429 with ``Retry-After`` as told.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from oncall_readiness.errors import ConnectionConfigError, SettingError
from oncall_readiness.sources.http import ApiClient, RateLimitGate, raise_for_error
from oncall_readiness.sources.pool import DEFAULT_CONCURRENCY, bounded_map, concurrency_setting

# --- the pool ----------------------------------------------------------------------------------


def test_results_come_in_the_items_order_with_at_most_the_workers_at_once():
    running, most, lock = 0, 0, threading.Lock()

    def slow_square(n: int) -> int:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.02 * (n % 3))
        with lock:
            running -= 1
        return n * n

    assert bounded_map(slow_square, range(30), workers=4) == [n * n for n in range(30)]
    assert most == 4


def test_one_worker_or_one_item_runs_in_the_calling_thread():
    caller = threading.get_ident()
    assert bounded_map(lambda _: threading.get_ident(), range(3), workers=1) == [caller] * 3
    assert bounded_map(lambda _: threading.get_ident(), [0], workers=8) == [caller]
    assert bounded_map(lambda _: 1, [], workers=8) == []


def test_the_first_error_is_raised_and_the_calls_not_started_are_cancelled():
    started = []

    def refused(n: int) -> int:
        started.append(n)
        time.sleep(0.01)
        raise PermissionError(f"401 for {n}")

    with pytest.raises(PermissionError, match="401 for 0"):
        bounded_map(refused, range(100), workers=2)
    assert len(started) < 100


def test_concurrency_comes_from_the_connection_then_the_environment_then_8(monkeypatch):
    monkeypatch.delenv("READINESS_HTTP_CONCURRENCY", raising=False)
    assert concurrency_setting({}) == DEFAULT_CONCURRENCY == 8
    monkeypatch.setenv("READINESS_HTTP_CONCURRENCY", "3")
    assert concurrency_setting({}) == 3
    assert concurrency_setting({"concurrency": 12}, conn_id="grafana_default") == 12
    assert concurrency_setting({"concurrency": "1"}, conn_id="grafana_default") == 1


@pytest.mark.parametrize("value", ["0", "65", "2.5", "eight", True, -1])
def test_a_bad_concurrency_names_where_it_was_set(monkeypatch, value):
    with pytest.raises(ConnectionConfigError, match=r"'grafana_default' extra 'concurrency' is .*from 1 to 64"):
        concurrency_setting({"concurrency": value}, conn_id="grafana_default")
    monkeypatch.setenv("READINESS_HTTP_CONCURRENCY", str(value))
    with pytest.raises(SettingError, match="READINESS_HTTP_CONCURRENCY must be a whole number from 1 to 64"):
        concurrency_setting(None)


def test_the_gate_holds_every_waiter_until_the_longest_hold_ends():
    now = [100.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    gate = RateLimitGate(clock=lambda: now[0], sleep=sleep)
    gate.wait()
    assert slept == []
    gate.hold(2)
    gate.hold(1)  # a shorter hold never shortens the wait
    gate.wait()
    assert slept == [2] and gate.holds == 2


# --- 429 under the pool ------------------------------------------------------------------------


class Recorder:
    """What the loopback server saw: (arrival time, status answered) per request."""

    def __init__(self, answer: Callable[[float, int], tuple[int, dict[str, str]]]):
        self.answer, self.seen, self.lock = answer, [], threading.Lock()

    def handle(self) -> tuple[int, dict[str, str]]:
        with self.lock:
            moment, index = time.monotonic(), len(self.seen)
            status, headers = self.answer(moment, index)
            self.seen.append((moment, status))
        return status, headers


@contextmanager
def loopback(recorder: Recorder, delay: float = 0.03) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            status, headers = recorder.handle()
            time.sleep(delay)
            body = b'{"message": "Too many requests"}' if status == 429 else b"[]"
            self.send_response(status)
            for name, value in {"Content-Type": "application/json", **headers}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


class Client(ApiClient):
    def get(self, path: str) -> object:
        response = self._send(path)
        self.count_request()
        raise_for_error(response, "test")
        return response.json()


def test_a_429_pauses_every_worker_until_retry_after():
    def first_refused(moment: float, index: int) -> tuple[int, dict[str, str]]:
        return (429, {"Retry-After": "1"}) if index == 0 else (200, {})

    recorder = Recorder(first_refused)
    with loopback(recorder) as url:
        client = Client(url, concurrency=8)
        bounded_map(lambda n: client.get(f"/items/{n}"), range(24), workers=client.concurrency)
    refused_at = recorder.seen[0][0]
    during_hold = [moment for moment, _ in recorder.seen if refused_at + 0.2 < moment < refused_at + 0.95]
    assert during_hold == [], "a worker sent a request while the 429's Retry-After held the gate"
    assert client.requests_made == 24 and client.retries == 1 and client.gate.holds == 1
    assert len(recorder.seen) == 25  # the 24 calls and the one retry: nothing multiplied


def test_a_429_storm_under_the_pool_costs_at_most_one_refusal_per_worker_per_window():
    window, limit, start = 1.0, 10, time.monotonic()

    def fixed_window(moment: float, index: int) -> tuple[int, dict[str, str]]:
        elapsed = moment - start
        window_start = start + (elapsed // window) * window
        in_window = sum(1 for seen, status in recorder.seen if status == 200 and seen >= window_start)
        if in_window >= limit:
            return 429, {"Retry-After": str(max(1, math.ceil(window - elapsed % window)))}
        return 200, {}

    recorder = Recorder(fixed_window)
    with loopback(recorder, delay=0.01) as url:
        client = Client(url, concurrency=8)
        bounded_map(lambda n: client.get(f"/items/{n}"), range(40), workers=client.concurrency)
    elapsed = time.monotonic() - start
    refused = sum(1 for _, status in recorder.seen if status == 429)
    assert client.requests_made == 40 and sum(1 for _, status in recorder.seen if status == 200) == 40
    assert refused >= 1 and client.retries == refused
    assert refused <= client.concurrency * math.ceil(elapsed / window)
