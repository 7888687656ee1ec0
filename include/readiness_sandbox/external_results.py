"""The sample organisation's external check results, stored as the readiness API would store them.

``make demo`` and the end-to-end tests run the audit without an API server, so the results the
sample security scanner "pushed" (``sample_org/external_results.yaml``) are validated with the
API's own model and rules and written to the warehouse's ``external_results`` table before the
audit. Idempotent: a result already stored is not stored again. A result observed after now
(the sample dated for a later audit date, ``sample_times``) is left out: the API would refuse it.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import yaml

from oncall_readiness.api.models import ExternalResult
from oncall_readiness.checks import organisation
from oncall_readiness.external_results import accepted, record
from oncall_readiness.warehouse import Warehouse
from readiness_sandbox.sample_org import CATALOG, state_file

RESULTS_FILE = "external_results.yaml"
PUSHED_BY = "security-scanner"  # the pusher the sample organisation declares (catalog/readiness-checks.yaml)


def seed_external_results(warehouse_url: str, path: Path | None = None) -> int:
    """Store every result of the sample file (validated like a POST); the number newly stored."""
    path = path or state_file(RESULTS_FILE)
    entries = yaml.safe_load(path.read_text())["results"]
    declared = organisation.entries(CATALOG / organisation.ORGANISATION_CHECKS_FILE)
    external = [entry["id"] for entry, _ in declared]
    warehouse = Warehouse(warehouse_url)
    stored = 0
    try:
        now = dt.datetime.now(dt.UTC)
        for number, entry in enumerate(entries, start=1):
            if _observed(entry) > now:
                continue
            result = _validated(entry, external, f"{path}: result {number}")
            received = result.observed_at + dt.timedelta(minutes=1)
            stored += record(warehouse, result, received_at=received, received_by=PUSHED_BY)
    finally:
        warehouse.dispose()
    return stored


def _observed(entry: dict) -> dt.datetime:
    observed = entry.get("observed_at")
    if isinstance(observed, dt.datetime):
        return observed if observed.tzinfo else observed.replace(tzinfo=dt.UTC)
    try:
        return dt.datetime.fromisoformat(str(observed).replace("Z", "+00:00"))
    except ValueError:
        return dt.datetime.min.replace(tzinfo=dt.UTC)  # the API's validation names what is wrong


def _validated(entry: dict, external: list[str], where: str) -> ExternalResult:
    """The entry as the API would accept it; a bad one names the file and the result's position."""
    try:
        result = accepted(
            ExternalResult.model_validate(entry), external_checks=external, registry=None, now=dt.datetime.now(dt.UTC)
        )
    except ValueError as error:
        raise ValueError(f"{where}: {error}") from error
    return result
