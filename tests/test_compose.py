"""docker-compose.yml stays valid and wires every connection the DAGs use (no engine needed)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

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
        "readiness_warehouse",
    ],
)
def test_airflow_services_get_every_connection(conn_id):
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    for name in ("airflow-apiserver", "airflow-scheduler", "airflow-dag-processor"):
        env = compose["x-airflow"]["environment"] | compose["services"][name].get("environment", {})
        assert f"AIRFLOW_CONN_{conn_id.upper()}" in env, f"{name} lacks connection {conn_id}"
