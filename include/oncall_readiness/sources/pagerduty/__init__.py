"""PagerDuty: who is on call and how they are paged, services and escalation policies, incidents.

- :mod:`.client`: the REST API v2 client (token auth, classic pagination, retries);
- :mod:`.collect`: the audit's collection, with the fewest calls the API allows;
- :mod:`.facts`: the facts tables; :mod:`.incidents`: incidents, analytics and responder load;
- :mod:`.oncall`: those facts as the platform-neutral on-call facts the on-call checks read;
- :mod:`.slices`: collections past the offset cap, read in team slices and schedule batches;
- :mod:`.pages`: pages read one ahead of their use and decoded cheaply.

docs/sources/pagerduty.md is the reference.
"""

from oncall_readiness.sources.pagerduty.client import API_URL, SOURCE, BeyondOffsetCap, PagerDutyClient
from oncall_readiness.sources.pagerduty.collect import collect, collect_for_audit, joiner_emails
from oncall_readiness.sources.pagerduty.facts import FACT_COLUMNS, normalise
from oncall_readiness.sources.pagerduty.oncall import oncall_facts_of

__all__ = [
    "API_URL",
    "FACT_COLUMNS",
    "SOURCE",
    "BeyondOffsetCap",
    "PagerDutyClient",
    "collect",
    "collect_for_audit",
    "joiner_emails",
    "normalise",
    "oncall_facts_of",
]
