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

from oncall_readiness import schema

ZONED_ISO_8601 = r"(?:Z|[+-]\d{2}:?\d{2})$"
# A source's facts: its tables by name.
Facts = dict[str, pd.DataFrame]


def typed_frame(rows: Iterable[Mapping[str, Any]], kinds: Mapping[str, str]) -> pd.DataFrame:
    """A DataFrame of ``rows`` with the columns of ``kinds``, in order, typed; empty rows give an empty table."""
    frame = pd.DataFrame(list(rows), columns=list(kinds))
    for column, kind in kinds.items():
        frame[column] = _typed(frame[column], kind)
    return frame


def _typed(values: pd.Series, kind: str) -> pd.Series:
    if kind == "timestamp":
        return utc_timestamps(values)
    if kind == "integer":
        return pd.to_numeric(values, errors="coerce").astype("Int64")
    if kind == "float":
        return pd.to_numeric(values, errors="coerce").astype("Float64")
    if kind == "boolean":
        return values.astype("boolean")
    if kind == "date":
        return values.astype(object).where(values.notna(), None)
    return values.astype("string")


def utc_timestamps(values: pd.Series) -> pd.Series:
    """ISO 8601 values with a zone, as UTC; a time without a zone is ambiguous, so NaT."""
    text = values.astype("string")
    zoned = text.str.contains(ZONED_ISO_8601, regex=True).fillna(False).astype(bool)
    # One resolution for every source, whatever pandas infers from the text.
    return pd.to_datetime(text.where(zoned), utc=True, format="ISO8601").astype("datetime64[ns, UTC]")


def links_frame(rows: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """A source's ``<source>_links`` table (subject, name, url): one row per subject, the first
    kept; a row without an http(s) URL is dropped (a link is optional: a ``javascript:`` or
    relative address from a source never becomes one). The checks runner links each finding
    through these tables."""
    frame = typed_frame(rows, schema.LINK_COLUMNS).dropna(subset=["subject", "url"])
    web = frame["url"].str.match(r"^https?://", case=False).fillna(False).astype(bool)
    return frame[web].drop_duplicates("subject").reset_index(drop=True)
