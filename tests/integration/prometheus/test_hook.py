"""The Prometheus hook's Test button against a real Prometheus: open, and behind basic auth.

The probe is the audit's own call, ``GET /api/v1/rules`` (alerting and recording rules). A refused login names
Prometheus and the 401, never the password.
"""

from __future__ import annotations

import json

import pytest

from oncall_readiness.hooks.prometheus import PrometheusHook

pytestmark = pytest.mark.integration

CONN_ID = "team_prometheus_test"
WRONG_PASSWORD = "wrong-prom-password-4711"


def use_connection(monkeypatch, **fields: str) -> None:
    conn = {"conn_type": PrometheusHook.conn_type, **fields}
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", json.dumps(conn))


def test_the_test_button_succeeds_against_an_open_prometheus(prometheus, monkeypatch):
    use_connection(monkeypatch, host=prometheus.base_url)
    assert PrometheusHook(CONN_ID).test_connection() == (
        True,
        f"Prometheus answered the test call at {prometheus.base_url}.",
    )


def test_the_test_button_logs_in_with_basic_auth_and_strips_the_password(protected_prometheus, monkeypatch):
    login, password = protected_prometheus.login, protected_prometheus.password
    use_connection(monkeypatch, host=protected_prometheus.base_url, login=f" {login}\n", password=f"{password}\n")
    ok, message = PrometheusHook(CONN_ID).test_connection()
    assert ok, message


@pytest.mark.parametrize("password", [WRONG_PASSWORD, None])
def test_a_refused_login_fails_the_test_naming_prometheus_and_401(protected_prometheus, monkeypatch, password):
    fields = {"login": protected_prometheus.login, "password": password} if password else {}
    use_connection(monkeypatch, host=protected_prometheus.base_url, **fields)
    ok, message = PrometheusHook(CONN_ID).test_connection()
    assert not ok
    assert message.startswith("Prometheus test failed: prometheus: GET /api/v1/rules answered 401")
    assert WRONG_PASSWORD not in message and protected_prometheus.password not in message
