"""Whole-number settings read from the environment, refused by name when they are not one."""

from __future__ import annotations

import os


def whole_number(variable: str, default: int, *, unit: str) -> int:
    """``variable`` as a whole number of ``unit``, at least 1; ``default`` when unset or blank.

    Anything else (``0``, ``-1``, ``1.5``, ``seven``) raises ``ValueError`` naming the variable.
    """
    configured = os.environ.get(variable, "").strip()
    if not configured:
        return default
    if not configured.isdigit() or int(configured) < 1:
        raise ValueError(f"{variable} must be a whole number of {unit}, at least 1, not {configured!r}")
    return int(configured)
