"""Credentials a client's error quotes (URLs, headers, an API echoing them) are masked before anyone sees them.

Where a client's error becomes words: a ``SourceError``'s message (a check's reason, the
failed task's error), ``describe_failure`` (the Test button, a reason), the traceback that
``audit.stage_source`` logs, and each connection read (its secrets registered with Airflow's
masker).
"""

from __future__ import annotations

import json
import logging

import pytest
import requests

from oncall_readiness import audit
from oncall_readiness.connections import get_connection
from oncall_readiness.errors import SourceError
from oncall_readiness.masking import MASK, redact
from oncall_readiness.sources.http import describe_failure, raise_for_error
from readiness_sandbox.sample_org import CATALOG as SAMPLE_CATALOG

SECRET = "tok-4711-secret"


@pytest.mark.parametrize(
    "text",
    [
        f"HTTPSConnectionPool(host='cal.example.com', port=443): Max retries exceeded with url: /f.ics?token={SECRET}",
        f"GET https://admin:{SECRET}@grafana.example.com/api/search failed",
        f"GET https://{SECRET}@calendar.example.com/feed.ics failed",
        f"https://api.example.com/v1/rules?page=2&api_key={SECRET}&x=1",
        f"https://api.example.com/v1/rules?apikey={SECRET}",
        f"https://api.example.com/v1/rules?access_token={SECRET}#top",
        f"https://bucket.s3.amazonaws.com/k?X-Amz-Signature={SECRET}&X-Amz-Expires=60",
        f"{{'Authorization': 'Token token={SECRET}', 'Accept': 'application/vnd.pagerduty+json;version=2'}}",
        f"Authorization: Bearer {SECRET}\r\nAccept: */*",
        f"headers={{'authorization': 'Basic {SECRET}'}}",
        f"Invalid header value b'Bearer {SECRET}\\n'",
        f'{{"error": {{"message": "revoked", "token": "{SECRET}"}}}}',
        f"{{'client_secret': '{SECRET}'}}",
        f"https://x.example.com/?password={SECRET}",
        f"/api?token%3D{SECRET}",
    ],
)
def test_a_credential_in_a_url_or_header_is_masked(text):
    masked = redact(text)
    assert SECRET not in masked and "4711" not in masked
    assert MASK in masked


@pytest.mark.parametrize(
    "text",
    [
        "pagerduty: GET /users answered 401: Invalid token (Authentication failed)",
        "GitHub could not be called: the connection's token is not a valid header value.",
        "Airflow connection 'grafana_default' has credentials in its host: put them in the login and password fields",
        "Basic authentication required",
        "https://github.example.com/acme/runbooks/blob/main/payments.md?plain=1&author=jane&design=v2",
        "Token expired",
    ],
)
def test_words_without_a_credential_are_left_as_they_are(text):
    assert redact(text) == text


def test_a_source_error_masks_what_it_quotes():
    error = SourceError(f"confluence: GET /pages answered a next link without a cursor: https://u:{SECRET}@h/x")
    assert SECRET not in str(error) and str(error).endswith("https://***@h/x")
    assert SECRET not in describe_failure("Confluence", error)


def test_an_api_that_echoes_the_request_url_in_its_error_is_masked():
    response = requests.Response()
    response.status_code, response.url = 401, f"https://api.example.com/users?token={SECRET}"
    response._content = json.dumps({"error": {"message": f"bad credentials for /users?token={SECRET}"}}).encode()
    with pytest.raises(SourceError) as raised:
        raise_for_error(response, "example")
    assert str(raised.value) == "example: GET /users answered 401: bad credentials for /users?token=***"


def test_the_logged_traceback_of_a_failed_collection_masks_the_url(tmp_path, monkeypatch, caplog):
    """The task log keeps the client's traceback (to debug), without the credential its URL quotes."""
    monkeypatch.setenv("READINESS_STAGING_DIR", str(tmp_path / "staging"))
    monkeypatch.setenv("READINESS_CATALOG", str(SAMPLE_CATALOG))
    monkeypatch.delenv("READINESS_HR_CSV", raising=False)
    conn = {"conn_type": "readiness_pagerduty", "host": "http://127.0.0.1:9", "password": "pd-token-0815"}
    monkeypatch.setenv("AIRFLOW_CONN_PAGERDUTY_DEFAULT", json.dumps(conn))

    def unreachable(*args, **kwargs):  # urllib3's text: the URL as requested, here with a token and a password
        raise requests.ConnectionError(
            f"HTTPConnectionPool(host='127.0.0.1', port=9): Max retries exceeded with url: "
            f"/users?limit=1&token={SECRET} (proxy http://proxy-user:{SECRET}@proxy:3128)"
        )

    monkeypatch.setattr(requests.Session, "get", unreachable)
    run = audit.AuditRun(audit.audit_instant("2026-11-16T00:00:00+00:00"), "manual__masking")
    audit.stage_registry(run)
    caplog.set_level(logging.INFO)
    with pytest.raises(SourceError) as raised:
        audit.stage_source("pagerduty", run)

    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "Max retries exceeded with url: /users?limit=1&token=***" in logged  # the traceback is there
    assert "Traceback" in logged and SECRET not in logged
    assert SECRET not in str(raised.value) and SECRET not in run.staging.status("pagerduty")["reason"]


def test_reading_a_connection_registers_its_secrets_with_the_masker(monkeypatch):
    masked = []
    monkeypatch.setattr("airflow.sdk.log.mask_secret", lambda secret, name=None: masked.append(secret))
    url = "postgresql+psycopg2://readiness:wh%2Fpass-4711@db.example.com/readiness"
    warehouse = {"conn_type": "generic", "password": "field-pass-4711", "extra": {"url": url, "api_key": "k-4711"}}
    monkeypatch.setenv("AIRFLOW_CONN_READINESS_WAREHOUSE", json.dumps(warehouse))

    get_connection("readiness_warehouse")

    assert "field-pass-4711" in masked  # the password field
    assert "wh/pass-4711" in masked  # the password inside the URL in the extra, decoded
    extras = [secret for secret in masked if isinstance(secret, dict)]
    assert extras and extras[0]["api_key"] == "k-4711"  # Airflow masks its secret-named fields by name


def test_a_connection_without_secrets_registers_nothing_odd(monkeypatch):
    masked = []
    monkeypatch.setattr("airflow.sdk.log.mask_secret", lambda secret, name=None: masked.append(secret))
    monkeypatch.setenv("AIRFLOW_CONN_PROMETHEUS_DEFAULT", json.dumps({"conn_type": "generic", "host": "http://p:9090"}))
    get_connection("prometheus_default")
    assert not [secret for secret in masked if isinstance(secret, str)]


def test_describe_failure_never_quotes_a_client_error():
    error = requests.exceptions.InvalidURL(f"Invalid URL 'https://u:{SECRET}@h': No host supplied")
    assert (
        describe_failure("Grafana", error)
        == "Grafana could not be called: the connection's host or token is malformed."
    )


@pytest.mark.parametrize(
    "host", [f"https://grafana.example.com/?api_key={SECRET}", f"https://grafana.example.com/grafana?token={SECRET}"]
)
def test_a_credential_in_the_hosts_query_string_is_refused_like_one_in_its_userinfo(monkeypatch, host):
    """Else the Test button's "answered the test call at <URL>" and every client error would carry it."""
    from oncall_readiness.errors import ConnectionConfigError
    from oncall_readiness.hooks.grafana import GrafanaHook

    monkeypatch.setenv(
        "AIRFLOW_CONN_GRAFANA_DEFAULT",
        json.dumps({"conn_type": "readiness_grafana", "host": host, "password": "t0ken"}),
    )
    with pytest.raises(ConnectionConfigError, match="has credentials in its host") as refused:
        GrafanaHook().get_conn()
    ok, shown = GrafanaHook().test_connection()
    assert not ok and SECRET not in shown and SECRET not in str(refused.value)
