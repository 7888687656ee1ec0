"""Jira Service Management Operations: the on-call platform of the teams annotated ``atlassian.com/jsm-ops-team``.

- :mod:`.client`: the REST API client (Basic auth, the site's cloud id, ``offset``/``size`` paging
  by ``links.next``, retries on 429 and 5xx);
- :mod:`.collect`: what one audit reads of the audited teams, in the fewest calls;
- :mod:`.facts`: the ``jsm_ops_*`` facts tables, the on-call facts' shapes (``oncall_facts``).

docs/sources/jsm_ops.md is the reference.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import pandas as pd

from oncall_readiness.sources.facts import Facts
from oncall_readiness.sources.jsm_ops.client import API_URL, SOURCE, JsmOpsClient
from oncall_readiness.sources.jsm_ops.collect import JsmRead, audited_team_ids, read
from oncall_readiness.sources.jsm_ops.facts import FACT_COLUMNS, normalise, oncall_facts_of
from oncall_readiness.sources.window import AuditWindow

if TYPE_CHECKING:
    from oncall_readiness.hooks.base import ReadinessHook

__all__ = [
    "API_URL",
    "FACT_COLUMNS",
    "SOURCE",
    "JsmOpsClient",
    "JsmRead",
    "collect",
    "collect_for_audit",
    "normalise",
    "oncall_facts_of",
]


def collect(client: JsmOpsClient, registry: Mapping[str, pd.DataFrame], window: AuditWindow) -> Facts:
    """The facts of the registry's teams on JSM Operations, as of ``window``."""
    return normalise(read(client, audited_team_ids(registry).values(), window), registry, window)


def collect_for_audit(hook: ReadinessHook, registry: Mapping[str, pd.DataFrame], window: AuditWindow) -> Facts:
    """The audit's collection through the hook's connection (``jsm_ops_default``)."""
    client = hook.get_conn()
    assert isinstance(client, JsmOpsClient)
    return collect(client, registry, window)
