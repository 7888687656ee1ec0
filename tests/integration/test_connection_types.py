"""The project's connection types in the real Airflow API server: the forms and the Test button.

The module starts one ``airflow api-server`` on a free loopback port (SQLite metadata migrated
with ``airflow db migrate`` in a temporary AIRFLOW_HOME, SimpleAuthManager with a passwords
file, ``[core] test_connection = Enabled``, no DAGs and no plugins) and one sandbox, and logs
in through ``POST /auth/token``. It checks what the UI's "Add Connection" form reads
(``GET /ui/connections/hook_meta``: in Airflow 3 the form's metadata is a UI route, not under
``/api/v2``) and what its Test button calls (``POST /api/v2/connections/test``).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from oncall_readiness import provider
from oncall_readiness.hooks.pagerduty import PagerDutyNotesHook
from oncall_readiness.source_catalogue import REGISTRY_API_HOOK, collected_sources
from readiness_sandbox.process import running_sandbox

pytestmark = pytest.mark.integration

AIRFLOW_CLI = Path(sys.executable).with_name("airflow")
ADMIN, PASSWORD = "admin", "readiness-connections-password"
WRONG_TOKEN = "wrong-secret-token-4711"
# Every source's hook, the cost watch's notes hook (a key that may write notes) and the registry's
# Backstage catalog API hook (a connection of its own, never collected).
HOOKS = {
    hook.conn_type: hook
    for hook in [*(source.hook for source in collected_sources()), PagerDutyNotesHook, REGISTRY_API_HOOK]
}
# provider field name -> the name the API gives it in standard_fields
STANDARD_FIELDS = {"schema": "url_schema", "host": "host", "port": "port", "login": "login", "password": "password"}


@dataclass(frozen=True)
class AirflowServer:
    base_url: str
    token: str  # a JWT of the admin user

    def get(self, path: str) -> requests.Response:
        return requests.get(f"{self.base_url}{path}", headers=self.headers, timeout=30)

    def post(self, path: str, body: dict) -> requests.Response:
        return requests.post(f"{self.base_url}{path}", json=body, headers=self.headers, timeout=60)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def server_env(home: Path) -> dict[str, str]:
    """An Airflow of its own: none of the caller's AIRFLOW_* settings or connections."""
    passwords = home / "passwords.json"
    passwords.write_text(json.dumps({ADMIN: PASSWORD}))
    for folder in ("dags", "plugins"):
        (home / folder).mkdir(exist_ok=True)
    base = {key: value for key, value in os.environ.items() if not key.startswith("AIRFLOW")}
    return base | {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(home / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__API_AUTH__JWT_SECRET": os.urandom(16).hex(),
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
    }


@pytest.fixture(scope="module")
def airflow_server(tmp_path_factory, running_api_server) -> Iterator[AirflowServer | None]:
    """The module's API server, or None when the airflow command is not installed."""
    if not AIRFLOW_CLI.exists():
        yield None
        return
    home = tmp_path_factory.mktemp("airflow-home")
    with running_api_server(server_env(home), home) as base_url:
        login = requests.post(f"{base_url}/auth/token", json={"username": ADMIN, "password": PASSWORD}, timeout=30)
        assert login.status_code in (200, 201), login.text
        yield AirflowServer(base_url=base_url, token=login.json()["access_token"])


@pytest.fixture
def airflow(airflow_server, unavailable) -> AirflowServer:
    if airflow_server is None:
        unavailable(f"the airflow command is not installed next to {sys.executable}")
    return airflow_server


@pytest.fixture(scope="module")
def sandbox():
    with running_sandbox() as running:
        yield running


@pytest.fixture(scope="module")
def hook_meta(airflow_server) -> dict[str, dict]:
    """The connection types the UI's form knows, by type (only once per module: it is not small)."""
    if airflow_server is None:
        return {}
    response = airflow_server.get("/ui/connections/hook_meta")
    assert response.status_code == 200, response.text
    return {meta["connection_type"]: meta for meta in response.json()}


def test_the_form_offers_each_readiness_connection_type_with_its_hook(airflow, hook_meta):
    ours = {conn_type: meta for conn_type, meta in hook_meta.items() if conn_type.startswith("readiness_")}
    assert sorted(ours) == sorted(HOOKS)
    for conn_type, hook in HOOKS.items():
        assert ours[conn_type]["hook_name"] == hook.hook_name
        assert ours[conn_type]["hook_class_name"] == f"{hook.__module__}.{hook.__qualname__}"


@pytest.mark.parametrize("entry", provider.CONNECTION_TYPES, ids=lambda entry: entry["connection-type"])
def test_the_form_hides_relabels_and_fills_in_the_fields_as_declared(airflow, hook_meta, entry):
    behaviour = entry["ui-field-behaviour"]
    fields = hook_meta[entry["connection-type"]]["standard_fields"]
    for name, api_name in STANDARD_FIELDS.items():
        field = fields[api_name] or {"hidden": False, "title": None, "placeholder": None}
        assert field["hidden"] == (name in behaviour["hidden-fields"]), (name, field)
        assert field["title"] == behaviour["relabeling"].get(name), (name, field)
        assert field["placeholder"] == behaviour["placeholders"].get(name), (name, field)


def test_the_grafana_form_asks_for_a_service_account_token(airflow, hook_meta):
    fields = hook_meta["readiness_grafana"]["standard_fields"]
    assert fields["login"]["hidden"] and fields["port"]["hidden"] and fields["url_schema"]["hidden"]
    assert fields["host"]["title"] == "Grafana URL"
    assert fields["password"]["title"] == "Service account token"
    assert "service account token" in fields["password"]["placeholder"]


def test_the_confluence_form_asks_for_the_account_email(airflow, hook_meta):
    fields = hook_meta["readiness_confluence"]["standard_fields"]
    assert fields["login"]["hidden"] is False and fields["login"]["title"] == "Account email"


def pagerduty_test(airflow: AirflowServer, sandbox, password: str) -> dict:
    body = {
        "connection_id": "pagerduty_default",
        "conn_type": "readiness_pagerduty",
        "host": sandbox.url("pagerduty"),
        "password": password,
    }
    response = airflow.post("/api/v2/connections/test", body)
    assert response.status_code == 200, response.text
    return response.json()


def test_the_test_button_succeeds_with_the_right_token(airflow, sandbox):
    result = pagerduty_test(airflow, sandbox, sandbox.token + "\n")  # a pasted token, newline and all
    assert result == {"status": True, "message": f"PagerDuty answered the test call at {sandbox.url('pagerduty')}."}


def test_the_test_button_fails_with_a_wrong_token_naming_pagerduty_and_401(airflow, sandbox):
    result = pagerduty_test(airflow, sandbox, WRONG_TOKEN)
    assert result["status"] is False
    message = result["message"]
    assert message.startswith("PagerDuty test failed:") and "401" in message, message
    assert WRONG_TOKEN not in message and sandbox.token not in message
