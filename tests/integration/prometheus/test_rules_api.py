"""The Prometheus source against a real Prometheus serving the sample organisation's rule files."""

from __future__ import annotations

import json
import re
import subprocess
import time

import pandas as pd
import pytest
import yaml

from oncall_readiness.errors import SourceError
from oncall_readiness.hooks.prometheus import PrometheusHook
from oncall_readiness.quality import QualityContext, failure_summary, validate_source
from oncall_readiness.registry import load_registry
from oncall_readiness.source_catalogue import SOURCES
from oncall_readiness.sources.prometheus import PrometheusClient, collect, collect_for_audit
from oncall_readiness.sources.window import AuditWindow
from readiness_sandbox.prometheus import running_prometheus, sample_rules_dir
from readiness_sandbox.sample_org import CATALOG as SAMPLE_CATALOG

pytestmark = pytest.mark.integration

RULE_FILES = sorted(sample_rules_dir().glob("*.yml"))
INSTANT = pd.Timestamp("2026-11-16T00:00:00Z")
PASSWORD = "s3cret-prom-pass"
DURATIONS = {"s": 1, "m": 60, "h": 3600}


def alerting_rules_in_files() -> dict[tuple[str, str, str], dict]:
    """(group, alert, labels) -> rule, for every alerting rule of the sample rule files.

    The labels are part of the key: Pyrra writes one ``ErrorBudgetBurn`` per window pair in one group.
    """
    rules = {}
    for path in RULE_FILES:
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                if "alert" in rule:
                    rules[(group["name"], rule["alert"], label_key(rule.get("labels", {})))] = rule
    return rules


def label_key(labels: dict) -> str:
    return json.dumps(labels, sort_keys=True)


def seconds(duration: str | None) -> float:
    """A rule file's ``for:`` in seconds; Pyrra writes Go's compound durations (``2m0s``)."""
    return 0.0 if not duration else sum(int(n) * DURATIONS[unit] for n, unit in re.findall(r"(\d+)([smh])", duration))


def quick_client(url: str, **options) -> PrometheusClient:
    return PrometheusClient(url, max_retries=2, backoff_factor=0.01, timeout=(2, 5), **options)


@pytest.fixture
def read(prometheus) -> dict[str, pd.DataFrame]:
    """Every facts table of one read of the real Prometheus, SLOs matched to the sample services."""
    client = PrometheusClient(prometheus.base_url)
    facts = collect(client, load_registry(SAMPLE_CATALOG).services)
    assert client.requests_made == 1 and client.retries == 0  # alerting and recording rules in one call
    return facts


@pytest.fixture
def facts(read):
    return read["prometheus_alert_rules"]


@pytest.mark.parametrize("path", RULE_FILES, ids=lambda path: path.name)
def test_promtool_accepts_every_sample_rule_file(promtool, path):
    result = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_sample_alerting_rule_is_collected_with_one_request(facts):
    expected = alerting_rules_in_files()
    assert len(expected) >= 15
    assert len(facts) == len(expected)
    labels = [label_key(json.loads(text)) for text in facts["labels"]]
    assert set(zip(facts["rule_group"], facts["name"], labels, strict=True)) == set(expected)
    assert facts["file"].str.endswith(".yml").all()
    assert list(facts.columns) == [
        "rule_group",
        "file",
        "name",
        "query",
        "duration_seconds",
        "labels",
        "annotations",
        "health",
    ]


def test_labels_annotations_and_for_are_those_of_the_rule_files(facts):
    expected = alerting_rules_in_files()
    for row in facts.itertuples(index=False):
        rule = expected[(row.rule_group, row.name, label_key(json.loads(row.labels)))]
        assert json.loads(row.labels) == rule.get("labels", {}), row.name
        assert json.loads(row.annotations) == rule.get("annotations", {}), row.name
        assert row.duration_seconds == seconds(rule.get("for")), row.name
        assert row.health in ("ok", "err", "unknown")


def test_for_is_read_as_duration_seconds(facts):
    durations = facts.set_index("name")["duration_seconds"]
    assert durations["PaymentsLedgerReplicationLag"] == 900  # for: 15m
    assert durations["IdentityAuthSigningKeyExpiresSoon"] == 3600  # for: 1h
    assert durations["PaymentsReconcilerRunFailed"] == 0  # no for:


def test_a_rule_without_annotations_has_an_empty_object(facts):
    annotations = facts.set_index("name")["annotations"]
    assert annotations["NotificationsPushDeliveryFailing"] == "{}"


def test_recording_rules_are_left_out(facts):
    assert not facts["name"].str.contains(":").any()  # service:http_requests:rate5m is a recording rule


def test_the_real_read_meets_its_data_contract(read):
    registry = load_registry(SAMPLE_CATALOG).to_facts()
    context = QualityContext(audit_instant=INSTANT, registry=registry)
    report = validate_source("prometheus", SOURCES["prometheus"].suites, read, context)
    assert failure_summary(report) is None
    assert report["success"].all()


def test_the_sloth_and_pyrra_slos_of_the_rule_files_are_read_from_their_recording_rules(read):
    slos = read["prometheus_slos"].set_index("slo_id")
    assert set(slos["source"]) == {"sloth", "pyrra"}
    pyrra_files = {path.stem.removeprefix("pyrra-") for path in RULE_FILES if path.name.startswith("pyrra-")}
    assert pyrra_files <= set(slos.index[slos["source"] == "pyrra"])  # one Pyrra SLO per generated file
    assert slos["objective_percent"].between(0, 100, inclusive="right").all()
    assert slos["window_days"].notna().all()
    assert slos["service"].notna().any() and slos["page_alert"].any()


def test_collect_for_audit_reads_the_airflow_connection(prometheus, monkeypatch):
    conn = {"conn_type": "readiness_prometheus", "host": prometheus.base_url}
    monkeypatch.setenv("AIRFLOW_CONN_PROMETHEUS_DEFAULT", json.dumps(conn))
    registry = load_registry(SAMPLE_CATALOG).to_facts()
    facts = collect_for_audit(PrometheusHook(), registry, AuditWindow(INSTANT, look_back_days=28))
    assert len(facts["prometheus_alert_rules"]) == len(alerting_rules_in_files())


# --- down, failing, rate-limited ---------------------------------------------------------------


def test_a_stopped_server_is_a_source_error_after_quick_retries(prometheus):
    with running_prometheus(sample_rules_dir()) as gone:
        url = gone.base_url
    started = time.monotonic()
    with pytest.raises(SourceError) as raised:
        collect(quick_client(url, login="auditor", password=PASSWORD))
    assert time.monotonic() - started < 5
    message = str(raised.value)
    assert message.startswith(f"prometheus: GET /api/v1/rules at {url} failed after 2 retries: ")
    assert "refused" in message.lower()
    assert PASSWORD not in message


def test_a_closed_port_is_a_source_error(prometheus):
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: connections are refused
        with pytest.raises(SourceError, match="failed after 2 retries"):
            collect(quick_client(f"http://127.0.0.1:{port}"))


def test_5xx_and_429_are_retried_then_the_read_succeeds(front):
    front.script = [
        (503, {"Content-Type": "text/plain"}, b"service unavailable"),
        (429, {"Retry-After": "0"}, b""),
    ]
    client = PrometheusClient(front.url, backoff_factor=0.01)
    facts = collect(client)
    assert len(facts["prometheus_alert_rules"]) == len(alerting_rules_in_files())
    assert client.requests_made == 1 and client.retries == 2
    assert len(front.seen) == 3


def test_a_server_that_keeps_failing_is_a_source_error(front):
    front.script = [(503, {"Content-Type": "text/plain"}, b"down for maintenance")] * 5
    started = time.monotonic()
    with pytest.raises(SourceError, match=r"prometheus: GET /api/v1/rules answered 503"):
        collect(quick_client(front.url))
    assert time.monotonic() - started < 5
    assert len(front.seen) == 3  # the request and 2 retries


def test_a_prometheus_error_answer_is_reported_with_its_message(front):
    body = json.dumps({"status": "error", "errorType": "bad_data", "error": "unknown rule type"}).encode()
    front.script = [(400, {"Content-Type": "application/json"}, body)]
    with pytest.raises(SourceError, match="answered 400: unknown rule type"):
        collect(quick_client(front.url))


def test_a_host_that_is_not_a_prometheus_api_is_a_source_error(front):
    front.script = [(200, {"Content-Type": "text/html"}, b"<html>Sign in</html>")]
    with pytest.raises(SourceError, match="not JSON .*text/html.* is the host a Prometheus API"):
        collect(quick_client(front.url))


# --- authentication ----------------------------------------------------------------------------


def test_a_password_without_login_is_sent_as_a_bearer_token(front):
    collect(PrometheusClient(front.url, password="service-token"))
    assert front.seen[-1]["Authorization"] == "Bearer service-token"


def test_basic_auth_against_a_real_protected_prometheus(protected_prometheus):
    login, password = protected_prometheus.login, protected_prometheus.password
    facts = collect(quick_client(protected_prometheus.base_url, login=login, password=password))
    assert len(facts["prometheus_alert_rules"]) == len(alerting_rules_in_files())
    # credentials written into the URL become basic auth and never show in a message
    host = protected_prometheus.base_url.removeprefix("http://")
    assert len(collect(quick_client(f"http://{login}:{password}@{host}"))["prometheus_alert_rules"])
    with pytest.raises(SourceError) as raised:
        collect(quick_client(f"http://{login}:wrong-{password}@{host}"))
    assert "answered 401" in str(raised.value) and password not in str(raised.value)
    with pytest.raises(SourceError, match="answered 401"):
        collect(quick_client(protected_prometheus.base_url))


def test_the_compose_stacks_prometheus_configuration_is_valid(promtool):
    config = sample_rules_dir().parent / "prometheus.yml"
    result = subprocess.run([promtool, "check", "config", str(config)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert yaml.safe_load(config.read_text())["rule_files"] == ["/etc/prometheus/rules/*.yml"]
