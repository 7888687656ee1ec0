"""Every facts table and its columns, by source: the documented schema the warehouse stores.

Column kinds: string, integer, float, boolean, date, timestamp (UTC). A source module owns
its tables' schemas; this module only gathers them.
"""

from __future__ import annotations

from oncall_readiness import registry
from oncall_readiness.sources import pagerduty

FACT_SCHEMAS: dict[str, dict[str, str]] = {**registry.FACT_COLUMNS, **pagerduty.FACT_COLUMNS}
