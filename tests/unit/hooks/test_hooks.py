"""The hooks: connections read safely, a Test button that works against the sandbox, and the provider.

Connections are ``AIRFLOW_CONN_<ID>`` environment variables, as a deployment's secrets backend
would give them. Every emulated source's hook is tested against one sandbox for the module;
Prometheus, which the sandbox does not emulate, is tested against a real one in
``tests/integration/prometheus/test_hook.py``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from importlib.metadata import version
from pathlib import Path
from types import SimpleNamespace

import pytest

from oncall_readiness import provider
from oncall_readiness.errors import ConnectionConfigError, ConnectionMissingError
from oncall_readiness.hooks.base import ReadinessHook
from oncall_readiness.hooks.chaos_calendar import ChaosCalendarHook
from oncall_readiness.hooks.confluence import ConfluenceHook
from oncall_readiness.hooks.github import GitHubHook
from oncall_readiness.hooks.grafana import GrafanaHook
from oncall_readiness.hooks.jira import JiraHook
from oncall_readiness.hooks.jsm_ops import JsmOpsHook
from oncall_readiness.hooks.pagerduty import PagerDutyHook, PagerDutyNotesHook
from oncall_readiness.hooks.prometheus import PrometheusHook
from oncall_readiness.source_catalogue import REGISTRY_API_HOOK, SOURCES, collected_sources
from readiness_sandbox.emulators import EMULATORS
from readiness_sandbox.process import running_sandbox

HOOKS: dict[str, type[ReadinessHook]] = {source.name: source.hook for source in collected_sources()}
EMULATED = [name for name in HOOKS if name in EMULATORS]
CONN_ID = "team_readiness_test"
WRONG_TOKEN = "wrong-secret-token-4711"
# The design's connection ids (DESIGN.md, Connections): public, so they never change by accident.
CONNECTION_IDS = {
    "pagerduty": "pagerduty_default",
    "grafana": "grafana_default",
    "prometheus": "prometheus_default",
    "github": "github_default",
    "confluence": "confluence_default",
    "chaos_calendar": "chaos_calendar_default",
    "jsm_ops": "jsm_ops_default",
    "jira": "jira_default",
}


def use_connection(monkeypatch, conn_type: str, conn_id: str = CONN_ID, **fields: str) -> None:
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps({"conn_type": conn_type, **fields}))


def closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def sandbox():
    with running_sandbox() as running:
        yield running


# --- the Test button against the sandbox ---------------------------------------------------------


@pytest.mark.parametrize("name", EMULATED)
def test_the_test_button_succeeds_and_a_trailing_newline_in_the_token_is_stripped(sandbox, monkeypatch, name):
    hook_class = HOOKS[name]
    fields = sandbox.connections()[name] | {"password": sandbox.token + "\n"}  # as a pasted secret ends
    use_connection(monkeypatch, hook_class.conn_type, **fields)
    ok, message = hook_class(CONN_ID).test_connection()
    assert ok, message
    url = sandbox.connections()[name]["host"]  # the API's root, or a feed's own address
    assert message == f"{hook_class.title} answered the test call at {url}."
    client = hook_class(CONN_ID).get_conn()  # the audit's client, with the policy's retries
    assert client.base_url == url and client.max_retries == 3  # READINESS_HTTP_MAX_RETRIES' default


@pytest.mark.parametrize("name", EMULATED)
def test_a_wrong_token_fails_the_test_naming_the_source_and_401_but_not_the_token(sandbox, monkeypatch, name):
    hook_class = HOOKS[name]
    use_connection(monkeypatch, hook_class.conn_type, **sandbox.connections()[name] | {"password": WRONG_TOKEN})
    ok, message = hook_class(CONN_ID).test_connection()
    assert not ok
    assert message.startswith(f"{hook_class.title} test failed: {name}: GET ")
    assert "answered 401" in message and WRONG_TOKEN not in message


def test_a_confluence_account_the_site_does_not_know_fails_the_test(sandbox, monkeypatch):
    fields = sandbox.connections()["confluence"] | {"login": "intruder@example.com"}
    use_connection(monkeypatch, "readiness_confluence", **fields)
    ok, message = ConfluenceHook(CONN_ID).test_connection()
    assert not ok and "/wiki/rest/api/user/current answered 401" in message and sandbox.token not in message


def test_a_host_that_is_down_fails_the_test_within_seconds(monkeypatch):
    use_connection(monkeypatch, "readiness_pagerduty", host=f"http://127.0.0.1:{closed_port()}", password="t0ken")
    started = time.monotonic()
    ok, message = PagerDutyHook(CONN_ID).test_connection()
    assert time.monotonic() - started < 10
    assert not ok and message.startswith("PagerDuty could not be reached") and "t0ken" not in message


@pytest.mark.parametrize("token", ["first-half\nsecond-half", "first-half\r\nsecond-half"])
def test_a_token_with_a_line_break_inside_fails_the_test_without_showing_it(monkeypatch, token):
    use_connection(monkeypatch, "readiness_grafana", host="http://127.0.0.1:9", password=token)
    ok, message = GrafanaHook(CONN_ID).test_connection()
    assert not ok and message.startswith("Grafana ") and "line break or space inside it" in message
    assert "half" not in message


# --- reading a connection ------------------------------------------------------------------------


def test_the_token_is_stripped_and_masked(monkeypatch):
    masked = []
    monkeypatch.setattr("airflow.sdk.log.mask_secret", masked.append)
    conn = SimpleNamespace(password="  pd-token-123 \r\n")
    assert PagerDutyHook(CONN_ID).token(conn) == "pd-token-123"
    assert masked == ["pd-token-123"]


@pytest.mark.parametrize(
    "host",
    [
        "https://admin:pw@grafana.example.com",
        "admin:pw@grafana.example.com",
        "htps://admin:pw@host",
        "https://:pw@grafana.example.com",
        "https://pw@grafana.example.com",
    ],
)
def test_credentials_in_the_host_are_refused_without_echoing_them(monkeypatch, host):
    use_connection(monkeypatch, "readiness_grafana", host=host, password="grafana-token")
    with pytest.raises(ConnectionConfigError) as error:
        GrafanaHook(CONN_ID).get_conn()
    message = str(error.value)
    assert message.startswith(f"Airflow connection {CONN_ID!r} has credentials in its host")
    assert "pw" not in message and "admin" not in message
    ok, shown = GrafanaHook(CONN_ID).test_connection()
    assert not ok and "pw" not in shown and "admin" not in shown and "grafana-token" not in shown


@pytest.mark.parametrize("host", ["htps://grafana.example.com", "ftp://grafana.example.com", "https://"])
def test_a_host_that_is_not_an_http_url_is_refused(monkeypatch, host):
    use_connection(monkeypatch, "readiness_grafana", host=host, password="grafana-token")
    with pytest.raises(ConnectionConfigError, match=f"{CONN_ID!r} has a host that is not an http\\(s\\) URL"):
        GrafanaHook(CONN_ID).get_conn()


@pytest.mark.parametrize(
    ("hook_class", "fields", "missing"),
    [
        (PagerDutyHook, {}, "has no API token in its password field"),
        (GitHubHook, {"host": "https://github.example.com/api/v3"}, "has no API token in its password field"),
        (GrafanaHook, {"host": "https://grafana.example.com"}, "has no API token in its password field"),
        (GrafanaHook, {"password": "t"}, "has no host (the Grafana URL"),
        (PrometheusHook, {"login": "auditor", "password": "t"}, "has no host (the Prometheus URL"),
        (ConfluenceHook, {"host": "https://example.atlassian.net", "password": "t"}, "has no account email"),
        (ConfluenceHook, {"host": "https://example.atlassian.net", "login": "a@example.com"}, "has no API token"),
        (ConfluenceHook, {"login": "a@example.com", "password": "t"}, "has no host (the Confluence site"),
        (JiraHook, {"host": "https://example.atlassian.net", "password": "t"}, "has no account email"),
        (JiraHook, {"login": "a@example.com", "password": "t"}, "has no host (the Jira site"),
        (ChaosCalendarHook, {}, "has no host (the feed's URL"),
        (
            ChaosCalendarHook,
            {"host": "https://calendar.example.com/c.ics", "password": "t"},
            "has a password but no login",
        ),
    ],
)
def test_a_missing_field_names_the_connection_id(monkeypatch, hook_class, fields, missing):
    use_connection(monkeypatch, hook_class.conn_type, **fields)
    with pytest.raises(ConnectionConfigError) as error:
        hook_class(CONN_ID).get_conn()
    assert str(error.value).startswith(f"Airflow connection {CONN_ID!r} {missing}")
    ok, message = hook_class(CONN_ID).test_connection()
    assert not ok and message == f"{hook_class.title} test failed: {error.value}"


def test_an_undefined_connection_names_its_id(monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_PAGERDUTY_DEFAULT", raising=False)
    with pytest.raises(ConnectionMissingError, match="'pagerduty_default' is not defined"):
        PagerDutyHook().get_conn()


def test_public_apis_are_the_default_hosts(monkeypatch):
    use_connection(monkeypatch, "readiness_pagerduty", conn_id="pagerduty_default", password="t")
    use_connection(monkeypatch, "readiness_github", conn_id="github_default", password="t")
    assert PagerDutyHook().get_conn().base_url == "https://api.pagerduty.com"
    assert GitHubHook().get_conn().base_url == "https://api.github.com"


def test_prometheus_needs_no_credentials(monkeypatch):
    use_connection(monkeypatch, "readiness_prometheus", host="http://prometheus:9090")
    client = PrometheusHook(CONN_ID).get_conn()
    assert client.base_url == "http://prometheus:9090" and "Authorization" not in client.session.headers


# --- the provider ----------------------------------------------------------------------------------


def test_each_source_has_its_connection_id_and_title():
    assert {name: hook.default_conn_name for name, hook in HOOKS.items()} == CONNECTION_IDS
    for name, hook in HOOKS.items():
        assert hook.title == SOURCES[name].title and hook.hook_name == f"{hook.title} (oncall-readiness)"
        assert hook.conn_type == f"readiness_{name}" and hook.conn_name_attr == "conn_id"


def test_the_provider_lists_exactly_the_catalogues_hooks():
    info = provider.get_provider_info()
    listed = [
        (entry["connection-type"], entry["hook-class-name"], entry["hook-name"]) for entry in info["connection-types"]
    ]
    # the sources' hooks, the cost watch's writer and the registry's catalog API
    hooks = [*HOOKS.values(), PagerDutyNotesHook, REGISTRY_API_HOOK]
    expected = [(hook.conn_type, f"{hook.__module__}.{hook.__qualname__}", hook.hook_name) for hook in hooks]
    assert sorted(listed) == sorted(expected)
    assert info["package-name"] == "oncall-readiness" and info["versions"] == [version("oncall-readiness")]


def test_the_provider_info_is_what_airflow_accepts():
    import airflow
    import jsonschema

    schema = json.loads((Path(airflow.__file__).parent / "provider_info.schema.json").read_text())
    jsonschema.validate(provider.get_provider_info(), schema)


def test_the_connection_forms_hide_only_fields_the_hook_ignores():
    login_readers = {
        ConfluenceHook.conn_type,
        JiraHook.conn_type,
        PrometheusHook.conn_type,
        ChaosCalendarHook.conn_type,
        JsmOpsHook.conn_type,
    }
    for entry in provider.get_provider_info()["connection-types"]:
        behaviour = entry["ui-field-behaviour"]
        hidden = set(behaviour["hidden-fields"])
        assert {"host", "password"}.isdisjoint(hidden), entry["connection-type"]
        assert ("login" in hidden) == (entry["connection-type"] not in login_readers), entry["connection-type"]
        assert set(behaviour["relabeling"]) | set(behaviour["placeholders"]) <= {"host", "login", "password", "extra"}
        if entry["connection-type"] in (GitHubHook.conn_type, PagerDutyNotesHook.conn_type, JsmOpsHook.conn_type):
            # they read their extra
            assert "extra" not in hidden


def test_the_provider_module_is_plain_data():
    """Airflow reads it while it initialises: importing it must import neither Airflow nor a hook."""
    code = (
        "import sys\nimport oncall_readiness.provider\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'airflow' or m.startswith('oncall_readiness.')))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == "['oncall_readiness.provider']"


def test_airflow_discovers_the_connection_types_and_their_forms():
    from airflow.providers_manager import ProvidersManager

    manager = ProvidersManager()
    for hook in [*HOOKS.values(), PagerDutyNotesHook, REGISTRY_API_HOOK]:
        info = manager.hooks[hook.conn_type]
        assert info is not None, f"Airflow does not know {hook.conn_type}"
        assert (info.hook_class_name, info.hook_name, info.package_name) == (
            f"{hook.__module__}.{hook.__qualname__}",
            hook.hook_name,
            "oncall-readiness",
        )
        assert info.connection_id_attribute_name == "conn_id" and info.connection_testable
    forms = manager.field_behaviours
    assert forms["readiness_grafana"]["relabeling"]["password"] == "Service account token"
    assert "service account token" in forms["readiness_grafana"]["placeholders"]["password"]
    assert forms["readiness_confluence"]["relabeling"]["login"] == "Account email"
    assert "login" in forms["readiness_pagerduty"]["hidden_fields"]
