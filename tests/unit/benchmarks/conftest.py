"""The benchmark lives beside the packages (``benchmarks/``, run as ``python -m benchmarks.audit``
from the repository root): its tests import it from there."""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
