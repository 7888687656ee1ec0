"""Every facts table and its columns, by source: the documented schema the warehouse stores.

Column kinds: string, integer, float, boolean, date, timestamp (UTC). A source module
(``sources/<source>.py``, or ``registry.py`` and ``hr.py`` for the tables staged with the
registry) owns its tables' schemas in ``FACT_COLUMNS``;
this module only gathers those of every source the check catalogue names.
"""

from __future__ import annotations

import importlib
import importlib.util

from oncall_readiness import hr, registry
from oncall_readiness.checks.catalogue import load_catalogue


def _source_schemas() -> dict[str, dict[str, str]]:
    schemas: dict[str, dict[str, str]] = dict(registry.FACT_COLUMNS)
    schemas.update(hr.FACT_COLUMNS)  # the HR export's joiners, staged with the registry
    sources = sorted({source for check in load_catalogue().checks.values() for source in check.sources})
    for source in sources:
        name = f"oncall_readiness.sources.{source}"
        if source != "registry" and importlib.util.find_spec(name):
            schemas.update(importlib.import_module(name).FACT_COLUMNS)
    return schemas


FACT_SCHEMAS: dict[str, dict[str, str]] = _source_schemas()
