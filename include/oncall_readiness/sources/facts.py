"""One facts table from raw rows: exactly its documented columns, each of its documented kind.

Every source declares its tables as ``{column: kind}`` (``FACT_COLUMNS``, the kinds of
``warehouse.TYPES``) and builds them here, so a value that does not fit its kind becomes
empty (and the source's data contract reports it) rather than a crash or a silent guess:

- ``timestamp``: ISO 8601 text or datetimes *with a zone*, in UTC at nanosecond resolution; a
  time without a zone is ambiguous, so it becomes NaT;
- ``integer``, ``float``: numbers (``Int64``, ``Float64``); anything else becomes NA;
- ``boolean``, ``date`` (Python dates, kept as objects), ``string``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

# Built by oncall_readiness.frames (the foundation: the platform-neutral on-call facts use them too).
from oncall_readiness import schema
from oncall_readiness.frames import ZONED_ISO_8601, typed_frame, utc_timestamps

__all__ = ["ZONED_ISO_8601", "Facts", "links_frame", "typed_frame", "utc_timestamps"]

# A source's facts: its tables by name.
Facts = dict[str, pd.DataFrame]


def links_frame(rows: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """A source's ``<source>_links`` table (subject, name, url): one row per subject, the first
    kept; a row without an http(s) URL is dropped (a link is optional: a ``javascript:`` or
    relative address from a source never becomes one). The checks runner links each finding
    through these tables."""
    frame = typed_frame(rows, schema.LINK_COLUMNS).dropna(subset=["subject", "url"])
    web = frame["url"].str.match(r"^https?://", case=False).fillna(False).astype(bool)
    return frame[web].drop_duplicates("subject").reset_index(drop=True)
