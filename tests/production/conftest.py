"""The production-shape tests import their harness as ``tests.production.*`` (and the suite's shared
helpers as ``tests.*``): from the repository root."""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
