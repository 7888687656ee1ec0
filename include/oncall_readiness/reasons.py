"""A reason or a finding as people read it: one sentence, not a log.

A source that fails the same way for a hundred items must not make a reason of a hundred
repeated clauses (5,000 characters of "error: Cannot query field ...; error: ..."): a clause
repeated is said once with a count, and a reason or finding message is cut, at a word, to
``MAX_LENGTH`` characters. The whole text stays in the task log.
"""

from __future__ import annotations

from collections import Counter

import pandas as pd

MAX_LENGTH = 300
SEPARATOR = "; "
ELLIPSIS = "…"


def one_sentence(text: str, limit: int = MAX_LENGTH) -> str:
    """``text`` with each repeated ``; ``-separated clause said once with its count, then cut to ``limit``."""
    clauses = text.split(SEPARATOR)
    if len(clauses) > 1:
        counts = Counter(clause.strip().rstrip(".") for clause in clauses)
        text = SEPARATOR.join(f"{clause} ({count} times)" if count > 1 else clause for clause, count in counts.items())
        if clauses[-1].rstrip().endswith("."):
            text += "."
    if len(text) > limit:
        text = text[: limit - len(ELLIPSIS)].rsplit(" ", 1)[0].rstrip(" ,;:(") + ELLIPSIS
    return text


def sentences(texts: pd.Series, limit: int = MAX_LENGTH) -> pd.Series:
    """:func:`one_sentence` over a column; only the texts that need it are touched (most do not)."""
    text = texts.astype("string")
    needs = text.notna() & ((text.str.len() > limit) | text.str.contains(SEPARATOR, regex=False))
    if not needs.any():
        return texts
    fixed = texts.copy()
    fixed[needs] = [one_sentence(value, limit) for value in text[needs].tolist()]
    return fixed
