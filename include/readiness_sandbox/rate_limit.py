"""Per-token rate limiting for the emulators: PagerDuty's fixed window, its headers and Retry-After.

The PagerDuty, Grafana, GitHub and Confluence emulators take a :class:`RateLimit`
(``--rate-limit N/SECONDS`` on the sandbox's command line); PagerDuty's default is
:data:`DEFAULT_RATE_LIMIT`.
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class RateLimit:
    """At most ``requests`` per ``per_seconds`` for each token (fixed window)."""

    requests: int
    per_seconds: float

    def __post_init__(self) -> None:
        if self.requests < 1 or self.per_seconds <= 0:
            raise ValueError(f"invalid rate limit {self.requests}/{self.per_seconds}")

    @classmethod
    def parse(cls, text: str) -> RateLimit:
        """``"960/60"`` → RateLimit(960, 60)."""
        match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+(?:\.\d+)?)\s*", text)
        if not match:
            raise ValueError(f"rate limit must look like N/SECONDS, got {text!r}")
        return cls(int(match.group(1)), float(match.group(2)))


DEFAULT_RATE_LIMIT = RateLimit(960, 60)


class RateLimiter:
    """Counts each token's requests in fixed windows of ``limit.per_seconds`` (thread-safe)."""

    def __init__(self, limit: RateLimit, clock: Callable[[], float]):
        self.limit, self.clock = limit, clock
        self._windows: dict[str, tuple[float, int]] = {}
        self._lock = threading.Lock()

    def hit(self, token: str) -> tuple[bool, dict[str, str]]:
        """Count a request; (allowed, the ratelimit headers to send)."""
        with self._lock:
            now = self.clock()
            start, count = self._windows.get(token, (now, 0))
            if now - start >= self.limit.per_seconds:
                start, count = now, 0
            count += 1
            self._windows[token] = (start, count)
        # Rounded first: start + 60 - now may come out as 60.000000000001 in floating point.
        reset = max(1, math.ceil(round(self.limit.per_seconds - (now - start), 6)))
        headers = {
            "ratelimit-limit": str(self.limit.requests),
            "ratelimit-remaining": str(max(0, self.limit.requests - count)),
            "ratelimit-reset": str(reset),
        }
        allowed = count <= self.limit.requests
        if not allowed:
            headers["Retry-After"] = str(reset)
        return allowed, headers
