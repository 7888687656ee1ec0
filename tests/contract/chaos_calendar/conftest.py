"""Serving a feed emulator in this process, for feeds the sandbox would refuse to load (broken ones)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from readiness_sandbox.in_thread import serving_in_thread


@pytest.fixture
def serving() -> Callable:
    """``with serving(app) as url:`` runs an emulator app for one block of a test."""
    return serving_in_thread
