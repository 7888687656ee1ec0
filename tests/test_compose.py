"""docker-compose.yml stays valid and wires every connection the DAGs use (no engine needed)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from oncall_readiness.hooks.pagerduty import PagerDutyNotesHook
from oncall_readiness.source_catalogue import REGISTRY, REGISTRY_API_HOOK, SOURCES, collected_sources
from readiness_sandbox.emulators import connections
from readiness_sandbox.sample_org import CATALOG, HR_EXPORT, NOTES_FROM

REPO = Path(__file__).resolve().parents[1]


def test_compose_file_is_valid(unavailable):
    if not shutil.which("docker-compose"):
        unavailable("docker-compose is not installed (Debian package docker-compose)")
    result = subprocess.run(["docker-compose", "config", "-q"], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def load_compose() -> dict:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())


def airflow_services(compose: dict) -> dict[str, dict]:
    """Every service running an Airflow component (the one-shot airflow-init too)."""
    return {
        name: service for name, service in compose["services"].items() if service.get("command", [""])[0] == "airflow"
    }


@pytest.mark.parametrize(
    "conn_id",
    [
        "pagerduty_default",
        "pagerduty_notes",
        "grafana_default",
        "prometheus_default",
        "github_default",
        "confluence_default",
        "chaos_calendar_default",
        "readiness_warehouse",
        "smtp_default",
        "readiness_staging",
    ],
)
def test_airflow_services_get_every_connection(conn_id):
    compose = load_compose()
    services = airflow_services(compose)
    assert {"airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer"} <= set(services)
    for name, service in services.items():
        env = compose["x-airflow"]["environment"] | service.get("environment", {})
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


def test_the_cost_watch_posts_through_its_own_connection_as_a_sample_user():
    declared = json.loads(compose_environment()["AIRFLOW_CONN_PAGERDUTY_NOTES"])
    audit = json.loads(compose_environment()["AIRFLOW_CONN_PAGERDUTY_DEFAULT"])
    assert declared["conn_type"] == PagerDutyNotesHook.conn_type and declared["host"] == audit["host"]
    assert declared["extra"]["from"] == NOTES_FROM


def test_the_stack_audits_the_packaged_sample_organisation_explicitly():
    env = compose_environment()
    image_root = "/opt/oncall-readiness/"  # where the Dockerfile copies include/
    # ${READINESS_CATALOG-<path>}: the sample catalog unless an env file sets it (deploy/backstage.env empties it)
    catalog = env["READINESS_CATALOG"].removeprefix("${READINESS_CATALOG-").removesuffix("}")
    assert Path(REPO / catalog.removeprefix(image_root)) == CATALOG
    assert Path(REPO / env["READINESS_HR_CSV"].removeprefix(image_root)) == HR_EXPORT


def long_running(compose: dict) -> dict[str, dict]:
    return {name: service for name, service in compose["services"].items() if service.get("restart") != "no"}


def test_every_long_running_service_has_a_healthcheck_and_waits_for_healthy_dependencies():
    compose = load_compose()
    running = long_running(compose)
    assert set(running) >= {"airflow-scheduler", "staging-s3", "mailpit", "redis", "flower", "airflow-worker-1"}
    for name, service in running.items():
        assert service.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
    for name, service in compose["services"].items():
        for dependency, how in service.get("depends_on", {}).items():
            expected = "service_healthy" if dependency in running else "service_completed_successfully"
            assert how == {"condition": expected}, f"{name} depends on {dependency} without waiting for it"
            # A service outside a profile may not need one inside it: compose would refuse to start it.
            assert set(compose["services"][dependency].get("profiles", [])) <= set(service.get("profiles", []))


def test_the_celery_profile_holds_redis_two_workers_and_flower():
    compose = load_compose()
    profiled = {name for name, service in compose["services"].items() if service.get("profiles")}
    assert profiled == {"redis", "airflow-worker-1", "airflow-worker-2", "flower"}
    assert all(compose["services"][name]["profiles"] == ["celery"] for name in profiled)
    workers = [
        name
        for name, service in compose["services"].items()
        if service.get("command", [])[:3] == ["airflow", "celery", "worker"]
    ]
    assert len(workers) == 2 and compose["services"]["flower"]["command"] == ["airflow", "celery", "flower"]
    env = compose_environment()
    assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://redis:")
    settings = dict(
        line.split("=", 1)
        for line in (REPO / "deploy/celery.env").read_text().splitlines()
        if "=" in line and not line.startswith("#")
    )
    assert settings == {"COMPOSE_PROFILES": "celery", "AIRFLOW_EXECUTOR": "CeleryExecutor"}


@pytest.mark.parametrize(("env_file", "executor"), [(None, "LocalExecutor"), ("deploy/celery.env", "CeleryExecutor")])
def test_the_executor_is_local_by_default_and_celery_with_its_env_file(unavailable, env_file, executor):
    if not shutil.which("docker-compose"):
        unavailable("docker-compose is not installed (Debian package docker-compose)")
    command = ["docker-compose", *(["--env-file", env_file] if env_file else []), "config"]
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, env={"PATH": os.environ["PATH"]})
    assert result.returncode == 0, result.stderr
    services = airflow_services(yaml.safe_load(result.stdout))
    assert {service["environment"]["AIRFLOW__CORE__EXECUTOR"] for service in services.values()} == {executor}


def test_emails_go_to_mailpit_and_its_inbox_is_published():
    compose = load_compose()
    mailpit = compose["services"]["mailpit"]
    smtp = json.loads(compose_environment()["AIRFLOW_CONN_SMTP_DEFAULT"])
    assert mailpit["image"].startswith("axllent/mailpit:")
    assert (smtp["conn_type"], smtp["host"], smtp["port"]) == ("smtp", "mailpit", 1025)  # Mailpit's SMTP port
    assert smtp["extra"]["disable_ssl"] is True and smtp["extra"]["disable_tls"] is True  # Mailpit speaks plain SMTP
    assert "8025:8025" in mailpit["ports"]  # its web inbox


def test_staging_is_the_moto_bucket_through_its_connection(monkeypatch):
    from oncall_readiness.staging import staging_path

    compose = load_compose()
    env = compose_environment()
    moto = compose["services"]["staging-s3"]
    # The bucket the healthcheck creates is the one staging uses, through the connection named.
    checked = urlsplit(re.search(r"http://[^']+", " ".join(moto["healthcheck"]["test"])).group(0))
    created = checked.path.strip("/")
    connection = json.loads(env[f"AIRFLOW_CONN_{env['READINESS_STAGING_CONN_ID'].upper()}"])
    endpoint = urlsplit(connection["extra"]["endpoint_url"])
    assert connection["conn_type"] == "aws" and (endpoint.hostname, endpoint.port) == ("staging-s3", checked.port)
    for variable in ("READINESS_STAGING_DIR", "READINESS_STAGING_CONN_ID", "AIRFLOW_CONN_READINESS_STAGING"):
        monkeypatch.setenv(variable, env[variable])
    root = staging_path(env["READINESS_STAGING_DIR"])
    assert (root.protocol, root.bucket, root.conn_id) == ("s3", created, env["READINESS_STAGING_CONN_ID"])
    assert int(env["READINESS_STAGING_RETENTION_DAYS"]) >= 1
    # The S3 stand-in is the moto the tests run (uv.lock), so what passes here behaves alike there.
    locked = re.search(r'name = "moto"\nversion = "([^"]+)"', (REPO / "uv.lock").read_text()).group(1)
    assert moto["image"] == f"motoserver/moto:{locked}"


def env_file(path: str) -> dict[str, str]:
    lines = (REPO / path).read_text().splitlines()
    return {k: v.strip("'") for k, _, v in (line.partition("=") for line in lines if "=" in line and line[0] != "#")}


def test_the_backstage_env_file_reads_the_registry_from_the_sandboxs_catalog_api():
    """One way only: READINESS_CATALOG emptied, backstage_default aimed at the emulator, the files named."""
    settings = env_file("deploy/backstage.env")
    hook = REGISTRY_API_HOOK
    declared = json.loads(settings.pop(f"AIRFLOW_CONN_{hook.default_conn_name.upper()}"))
    assert declared == {"conn_type": hook.conn_type, **connections("http://sandbox:8000", "sandbox-token")[REGISTRY]}
    assert settings.pop("READINESS_CATALOG") == ""
    image_root = "/opt/oncall-readiness/"
    for variable, path in settings.items():
        assert (REPO / path.removeprefix(image_root)).is_file(), variable
    env = compose_environment()
    # without the env file: no connection (an empty value is no connection to Airflow), the files beside the catalog
    assert (
        env[f"AIRFLOW_CONN_{hook.default_conn_name.upper()}"] == f"${{AIRFLOW_CONN_{hook.default_conn_name.upper()}:-}}"
    )
    assert all(env[variable] == f"${{{variable}:-}}" for variable in settings)
