"""Bounded concurrency for the calls an API makes us repeat per item (Grafana members, Confluence pages).

Some collections cost one call per item however well they are batched: Grafana has no
endpoint that lists the members of many teams, and Confluence's bulk page read takes at most
250 ids. Run one after another, their time is requests x latency; run a few at once, it
approaches the API's rate-limited floor. The pool is bounded so that the audit never opens
more connections than the operator allows, and every worker goes through the client's
shared rate-limit gate (``sources/http.py``), so a 429 pauses them all.

How many at once: the connection's extra ``{"concurrency": N}`` when set, else the
environment variable ``READINESS_HTTP_CONCURRENCY``, else :data:`DEFAULT_CONCURRENCY`. 1 means
one call after another (no threads at all).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from oncall_readiness import config
from oncall_readiness.errors import ConnectionConfigError

DEFAULT_CONCURRENCY = config.HTTP_CONCURRENCY.declared_default()
# More than this buys nothing against a rate-limited API and only opens connections.
MAX_CONCURRENCY = 64
CONCURRENCY_EXTRA = "concurrency"

Item = TypeVar("Item")
Result = TypeVar("Result")


def concurrency_setting(extra: Mapping[str, Any] | None = None, *, conn_id: str | None = None) -> int:
    """How many calls a client may have in flight: the connection extra, the environment, or 8.

    A value that is not a whole number from 1 to 64 stops the run, naming where it was set.
    """
    if extra and extra.get(CONCURRENCY_EXTRA) not in (None, ""):
        return _parsed(extra[CONCURRENCY_EXTRA], f"Airflow connection {conn_id!r} extra {CONCURRENCY_EXTRA!r}")
    return config.HTTP_CONCURRENCY.require()


def _parsed(value: Any, where: str) -> int:
    try:
        number = int(str(value).strip())
    except ValueError:
        number = 0
    if isinstance(value, bool) or not 1 <= number <= MAX_CONCURRENCY or str(number) != str(value).strip():
        raise ConnectionConfigError(
            f"{where} is {value!r}: expected a whole number of concurrent requests from 1 to {MAX_CONCURRENCY}"
        )
    return number


def bounded_map(call: Callable[[Item], Result], items: Iterable[Item], *, workers: int) -> list[Result]:
    """``[call(item) for item in items]`` with at most ``workers`` calls at once, results in the items' order.

    The first error is raised once the calls already running have ended; the calls not yet
    started are cancelled, so a refused token does not cost one failed call per item.
    """
    items = list(items)
    workers = min(max(1, workers), len(items))
    if workers <= 1:
        return [call(item) for item in items]
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="readiness-http")
    try:
        futures = [pool.submit(call, item) for item in items]
        return [future.result() for future in futures]
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
