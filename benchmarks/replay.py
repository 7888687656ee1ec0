"""This machine's share of PagerDuty's collect: the audit's own requests, sent again by a client that does nothing else.

PagerDuty is read one request at a time, so its collect costs the sum of its round trips plus
whatever the audit does between them. Each round trip here is the sandbox's latency plus this
machine's HTTP stack on both ends and the emulator's work when it outlasts the latency. The
sandbox records the requests as they arrive (``record_requests``); sending the same ones
again, in order, one after another, through the audit's own client sessions and doing
nothing with the answers measures the first part alone: the least this machine collects
PagerDuty in, whatever the audit does. They are sent to a fresh sandbox serving the same
state, so the emulator starts as cold as the audit found it (no query matches kept from the
run), without PagerDuty's rate limit (the replay times round trips; the audit's own refused
requests are left out of it).

The record also says when each request arrived and was answered, so ``between_requests``
reads the time the emulator had no request of the audit's: the audit's own work between
requests (its HTTP client's included), which a real API's round trip would not take away.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from oncall_readiness.sources.pagerduty import PagerDutyClient

SOURCE = "pagerduty"


class ReplayError(RuntimeError):
    """A request sent again was answered otherwise than the audit's was: the replay measured something else."""


def replay_seconds(log: Iterable[Mapping[str, Any]], *, state: Path, latency_ms: float) -> float:
    """Seconds a fresh sandbox serving PagerDuty's ``state`` takes to answer the PagerDuty requests of ``log``."""
    from readiness_sandbox.process import running_sandbox

    unlimited = {SOURCE: "1000000/1"}
    with running_sandbox(
        states={SOURCE: state}, latency_ms=latency_ms, source_rate_limits=unlimited, timeout=600
    ) as sandbox:
        return send_again(sandbox.url(SOURCE), sandbox.token, log)


def between_requests(log: Iterable[Mapping[str, Any]]) -> dict[str, float] | None:
    """PagerDuty's requests as the sandbox saw them: ``span`` (first arrival to last answer), ``between`` (none there).

    None when the log holds no PagerDuty request.
    """
    entries = sorted((entry for entry in log if entry["source"] == SOURCE), key=lambda entry: entry["arrived"])
    if not entries:
        return None
    between, answered = 0.0, entries[0]["arrived"]
    for entry in entries:
        between += max(0.0, entry["arrived"] - answered)
        answered = max(answered, entry["answered"])
    return {"span": answered - entries[0]["arrived"], "between": between}


def send_again(base_url: str, token: str, log: Iterable[Mapping[str, Any]]) -> float:
    """Seconds to send PagerDuty's recorded requests to ``base_url`` again, one after another, reading each whole.

    Raises ``ReplayError`` when a request's status differs from the one recorded (a 429 would
    time the rate limit, not the round trips). The audit's own refused requests (429) are left
    out: they measure its rate limit, not the machine.
    """
    prefix = "/" + SOURCE
    answered = [entry for entry in log if entry["source"] == SOURCE and entry["status"] != 429]
    client = PagerDutyClient(token, base_url=base_url, max_retries=0)
    started = time.perf_counter()
    for entry in answered:
        path = entry["path"].removeprefix(prefix)
        url = f"{base_url}{path}?{entry['query']}" if entry["query"] else f"{base_url}{path}"
        if entry["method"] == "GET":
            response = client.session.get(url, timeout=60)
        else:
            headers = {"Content-Type": "application/json"}
            response = client.queries.post(url, data=entry["body"].encode(), headers=headers, timeout=60)
        response.content  # noqa: B018 - read whole, as the audit does
        if response.status_code != entry["status"]:
            raise ReplayError(
                f"replayed {entry['method']} {entry['path']} answered {response.status_code}, "
                f"the audit's got {entry['status']}"
            )
    return time.perf_counter() - started
