"""The benchmark measures what a request costs on the machine, beside the latency it asks for."""

from benchmarks.audit import sandbox_round_trip_ms
from readiness_sandbox.process import running_sandbox


def test_a_request_that_does_nothing_takes_at_least_the_latency_and_is_not_counted_in_the_run():
    with running_sandbox(latency_ms=30) as sandbox:
        round_trip = sandbox_round_trip_ms(sandbox, requests=10)
        counted = sandbox.request_counts(reset=True)
        after_reset = sandbox.request_counts()
    assert 30 <= round_trip < 30 * 3
    assert sum(row["requests"] for row in counted) == 11  # the connection's first request and ten timed
    assert after_reset == []
