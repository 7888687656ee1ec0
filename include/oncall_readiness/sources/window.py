"""What a collector reads: the source as of the audit instant, over the days its checks look back and ahead.

The audit builds one :class:`AuditWindow` per source from the check catalogue (the
``window_days`` and ``coverage_days`` of the implemented checks that read it, and the
per-team thresholds that decide who to look up) and hands it to the source's
``collect_for_audit(hook, registry, window)``: no collector reads the catalogue itself.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True)
class AuditWindow:
    instant: pd.Timestamp  # the audit instant (UTC): every "now" of the collect
    look_back_days: int = 0  # the longest look-back of the source's checks
    look_ahead_days: int = 0  # the furthest look-ahead of the source's checks (0: none)
    joiner_days: int = 0  # the longest joiner window of any team: who started recently enough to look up
    labels: tuple[str, ...] = ()  # the labels that mark the pages its checks read (post-incident reviews)

    @property
    def since(self) -> dt.datetime:
        return (self.instant - pd.Timedelta(days=self.look_back_days)).to_pydatetime()

    @property
    def until(self) -> dt.datetime:
        return (self.instant + pd.Timedelta(days=self.look_ahead_days)).to_pydatetime()
