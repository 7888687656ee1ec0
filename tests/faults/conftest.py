"""One sandbox, one real Prometheus behind a faulting proxy, and one clean baseline audit for the fault matrix.

Retries and waits are short here (the configurable policy of sources/http.py): one retry per
request, one second of wait and of timeout at most, so a down source fails in seconds.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from types import SimpleNamespace

import pytest

from oncall_readiness import audit
from oncall_readiness.source_catalogue import SOURCES
from readiness_sandbox.demo import source_connections
from readiness_sandbox.faults import fault_proxy
from readiness_sandbox.process import running_sandbox
from readiness_sandbox.prometheus import find_prometheus, running_prometheus
from readiness_sandbox.sample_org import CATALOG

SHORT_POLICY = {
    "READINESS_HTTP_MAX_RETRIES": "1",
    "READINESS_HTTP_MAX_WAIT_SECONDS": "1",
    "READINESS_HTTP_TIMEOUT_SECONDS": "1",
}


def connection_env(sandbox, prometheus_url: str) -> dict[str, str]:
    """``AIRFLOW_CONN_*`` of every source, aimed at the sandbox (Prometheus: at the proxy)."""
    prometheus = SOURCES["prometheus"].hook
    connections = {
        **source_connections(sandbox),
        prometheus.default_conn_name: {"conn_type": prometheus.conn_type, "host": prometheus_url},
    }
    return {f"AIRFLOW_CONN_{conn_id.upper()}": json.dumps(conn) for conn_id, conn in connections.items()}


@pytest.fixture(scope="module")
def fault_lab(tmp_path_factory) -> Iterator[SimpleNamespace]:
    """The sandbox and the proxy (both faultable), with the environment that aims every source at them."""
    if not find_prometheus():  # as tests/conftest.py's unavailable(): skip here, fail in CI
        reason = "no prometheus binary (the matrix faults the real one through a proxy)"
        pytest.fail(reason) if os.environ.get("CI") else pytest.skip(reason)
    work = tmp_path_factory.mktemp("faults")
    with pytest.MonkeyPatch.context() as env:
        for name, value in {**SHORT_POLICY, "READINESS_CATALOG": str(CATALOG)}.items():
            env.setenv(name, value)
        env.setenv("READINESS_STAGING_DIR", str(work / "staging"))
        env.delenv("READINESS_HR_CSV", raising=False)
        with (  # generous start-up timeouts: a loaded CI runner may be slow to start two servers
            running_sandbox(timeout=120) as sandbox,
            running_prometheus(timeout=120) as prometheus,
            fault_proxy(prometheus.base_url) as proxy,
        ):
            for name, value in connection_env(sandbox, f"{proxy}/prometheus").items():
                env.setenv(name, value)
            yield SimpleNamespace(
                sandbox=sandbox,
                proxy=proxy,
                control={**dict.fromkeys(sandbox.connections(), sandbox.base_url), "prometheus": proxy},
            )


@pytest.fixture(scope="module")
def baseline(fault_lab) -> audit.AuditRun:
    """The clean audit every cell is compared with: every source collected and validated."""
    run = audit.AuditRun(audit.audit_instant("2026-11-16T00:00:00+00:00"), "manual__faults-baseline")
    audit.stage_registry(run)
    audit.stage_quality("registry", run)
    for source in audit.sources_to_collect():
        audit.stage_source(source, run)
        audit.stage_quality(source, run)
    audit.stage_checks(run)
    return run
