"""docker-compose.yml stays valid and wires every connection the DAGs use (no engine needed)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from oncall_readiness.sources.catalogue import SOURCES, collected_sources
from readiness_sandbox.emulators import connections
from readiness_sandbox.sample_org import CATALOG, HR_EXPORT

REPO = Path(__file__).resolve().parents[1]


def test_compose_file_is_valid(unavailable):
    if not shutil.which("docker-compose"):
        unavailable("docker-compose is not installed (Debian package docker-compose)")
    result = subprocess.run(["docker-compose", "config", "-q"], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    "conn_id",
    [
        "pagerduty_default",
        "grafana_default",
        "prometheus_default",
        "github_default",
        "confluence_default",
        "chaos_calendar_default",
        "readiness_warehouse",
    ],
)
def test_airflow_services_get_every_connection(conn_id):
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    for name in ("airflow-apiserver", "airflow-scheduler", "airflow-dag-processor"):
        env = compose["x-airflow"]["environment"] | compose["services"][name].get("environment", {})
        assert f"AIRFLOW_CONN_{conn_id.upper()}" in env, f"{name} lacks connection {conn_id}"


def compose_environment() -> dict[str, str]:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())["x-airflow"]["environment"]


@pytest.mark.parametrize("source", [source.name for source in collected_sources()])
def test_sandbox_connections_derive_from_the_source_catalogue(source):
    """Each source's connection: its hook's type, aimed at its emulator (Prometheus: the real one)."""
    hook = SOURCES[source].hook
    fields = connections("http://sandbox:8000", "sandbox-token").get(source, {"host": "http://prometheus:9090"})
    declared = json.loads(compose_environment()[f"AIRFLOW_CONN_{hook.default_conn_name.upper()}"])
    assert declared == {"conn_type": hook.conn_type, **fields}


def test_the_stack_audits_the_packaged_sample_organisation_explicitly():
    env = compose_environment()
    image_root = "/opt/oncall-readiness/"  # where the Dockerfile copies include/
    assert Path(REPO / env["READINESS_CATALOG"].removeprefix(image_root)) == CATALOG
    assert Path(REPO / env["READINESS_HR_CSV"].removeprefix(image_root)) == HR_EXPORT
