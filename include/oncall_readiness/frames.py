"""pandas helpers for the text columns pandas 3 keeps in Arrow.

pandas 3 stores text in Arrow-backed ``str`` columns. Most of their operations run in Arrow's
C++, but ``Series.isin`` turns every one of its ``values`` into an Arrow scalar in Python first
(a couple of microseconds each): testing 2,000 teams' findings against 10,000 service owners
cost about a second of the checks at 2,000 teams. ``is_in`` hands the whole set to Arrow. And
iterating such a column boxes each value through an Arrow scalar, thirty times as slow as
``tolist``: ``records`` is ``itertuples`` over lists.

And one facts table from raw rows (``typed_frame``): exactly its documented columns, each of
its documented kind (``sources/facts.py`` says the rules), for the sources and the on-call facts.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

_ARRAYS = (pd.Series, pd.Index, pd.api.extensions.ExtensionArray, np.ndarray, list, tuple)


def is_in(column: pd.Series, values: Iterable[object]) -> pd.Series:
    """``column.isin(values)``, with the value set tested by Arrow when ``column`` is Arrow text.

    Same answer as pandas, missing values included (a missing value matches a missing one in
    ``values``); values that are not all text fall back to pandas' own ``isin``.
    """
    if not (isinstance(column.dtype, pd.StringDtype) and column.dtype.storage == "pyarrow"):
        return column.isin(values)
    texts = pa.array(column.array)
    try:
        # pyarrow-stubs type array() per element type only; any values are accepted, their type inferred
        value_set: pa.Array[Any] = pa.array(
            values if isinstance(values, _ARRAYS) else list(values),  # type: ignore[arg-type]
            from_pandas=True,
        )
        value_set = value_set.cast(texts.type)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, TypeError):
        return column.isin(values)
    hits = pc.fill_null(pc.is_in(texts, value_set=value_set), False)
    return pd.Series(hits.to_numpy(zero_copy_only=False), index=column.index, name=column.name)


def records(frame: pd.DataFrame) -> Iterator[Any]:
    """``frame.itertuples(index=False)``, each column read once with ``tolist``.

    Rows are named tuples whose fields are the frame's columns: known only at run time, so typed ``Any``.
    """
    # mypy types a namedtuple from literal field names only (here the columns: known only at run time)
    row = namedtuple("Row", frame.columns, rename=True)  # type: ignore[misc]  # noqa: PYI024
    return map(row._make, zip(*(frame.iloc[:, i].tolist() for i in range(frame.shape[1])), strict=True))


ZONED_ISO_8601 = r"(?:Z|[+-]\d{2}:?\d{2})$"


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
