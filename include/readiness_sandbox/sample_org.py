"""Where the sample organisation's data lives: ``include/sample_org/`` in a checkout, or the
copy packaged inside ``readiness_sandbox`` in a wheel (see ``pyproject.toml``).

Only the sandbox, the demo and ``make airflow`` use it: the runtime package never falls back
to sample data.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGED = Path(__file__).resolve().parent / "sample_org"
_CHECKOUT = Path(__file__).resolve().parents[1] / "sample_org"

SAMPLE_ORG = _PACKAGED if _PACKAGED.is_dir() else _CHECKOUT
CATALOG = SAMPLE_ORG / "catalog"
HR_EXPORT = SAMPLE_ORG / "hr_joiners.csv"
PROMETHEUS_RULES = SAMPLE_ORG / "prometheus" / "rules"
# A PagerDuty user of the sample account: the incident_cost_watch DAG posts its notes as them.
NOTES_FROM = "amara.okafor@example.com"


def state_file(name: str) -> Path:
    """The sample organisation's state file of an emulator (``pagerduty.yaml``, ...)."""
    return SAMPLE_ORG / name
