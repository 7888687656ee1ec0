"""Modules a reader can take in at once: none under include/ is over MAX_LINES lines.

A module that grows past the limit is split along its seams (see how registry/, report/page/
and the emulators of readiness_sandbox/ are laid out).
"""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
INCLUDE = REPO / "include"
MAX_LINES = 400


def test_no_module_under_include_is_over_the_limit():
    too_long = {
        path.relative_to(INCLUDE).as_posix(): lines
        for path in sorted(INCLUDE.rglob("*.py"))
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not too_long, f"modules over {MAX_LINES} lines (split them along their seams): " + ", ".join(
        f"{name} ({count})" for name, count in sorted(too_long.items())
    )
