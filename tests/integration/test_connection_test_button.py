"""The Test button of a saved readiness connection, clicked in the Airflow UI (headless Chromium).

A ``pagerduty_default`` connection is saved as the UI's "Add Connection" form saves one (the API
base URL in the host, with its port; the port field hidden, so NULL), then the connection list's
Test button is clicked in the real Airflow API server's UI, and the answer of
``POST /api/v2/connections/test`` the page received is read back.

Airflow 3.3.2's list sends ``port: Number(connection.port)``, which is ``0`` for a NULL port, and its
API takes ``0`` for another destination than the stored NULL: "400 The host or port to test differs
from the stored connection", before any hook runs. apache/airflow#73298 fixes it in the API after
3.3.2; until then the readiness plugin's root middleware
(``oncall_readiness.api.connection_test``) makes ``port: 0`` ``null`` for a readiness connection.
Without it, this test fails with that 400.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import requests

from tests.conftest import REPO
from tests.integration.test_connection_types import (  # noqa: F401 (fixtures used by name)
    ADMIN,
    AIRFLOW_CLI,
    PASSWORD,
    AirflowServer,
    airflow,
    sandbox,
    server_env,
)
from tests.integration.test_readiness_page import browser, element, screenshot, wait_for  # noqa: F401

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def airflow_server(tmp_path_factory, running_api_server) -> Iterator[AirflowServer | None]:
    """An API server with the project's plugins, as deployed (the Readiness plugin brings the middleware)."""
    if not AIRFLOW_CLI.exists():
        yield None
        return
    home = tmp_path_factory.mktemp("airflow-home")
    env = server_env(home) | {"AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins")}
    with running_api_server(env, home) as base_url:
        login = requests.post(f"{base_url}/auth/token", json={"username": ADMIN, "password": PASSWORD}, timeout=30)
        assert login.status_code in (200, 201), login.text
        yield AirflowServer(base_url=base_url, token=login.json()["access_token"])


# Records the status and body of every call to the connection test endpoint the page makes.
RECORD_TEST_CALLS = """
window.__tests = [];
const open = XMLHttpRequest.prototype.open;
XMLHttpRequest.prototype.open = function (method, url) {
  if (String(url).includes("/connections/test")) {
    this.addEventListener("load", () => window.__tests.push({status: this.status, body: this.responseText}));
  }
  return open.apply(this, arguments);
};
const fetch0 = window.fetch;
window.fetch = async function (resource, init) {
  const response = await fetch0(resource, init);
  if (String(resource.url || resource).includes("/connections/test")) {
    const body = await response.clone().text();
    window.__tests.push({status: response.status, body: body});
  }
  return response;
};
"""


def test_the_list_test_button_of_a_saved_connection_reaches_the_hook(airflow, sandbox, browser):  # noqa: F811
    saved = {
        "connection_id": "pagerduty_default",
        "conn_type": "readiness_pagerduty",
        "host": sandbox.url("pagerduty"),
        "password": sandbox.token,
    }
    requests.delete(f"{airflow.base_url}/api/v2/connections/pagerduty_default", headers=airflow.headers, timeout=30)
    created = requests.post(f"{airflow.base_url}/api/v2/connections", json=saved, headers=airflow.headers, timeout=30)
    assert created.status_code == 201, created.text

    browser.get(f"{airflow.base_url}/auth/login?next=/connections")
    element(browser, "input[name=username]").send_keys(ADMIN)
    browser.find_element("css selector", "input[name=password]").send_keys(PASSWORD)
    browser.find_element("css selector", "button[type=submit]").click()
    wait_for(browser, lambda d: "pagerduty_default" in d.find_element("tag name", "body").text)
    browser.execute_script(RECORD_TEST_CALLS)
    row = wait_for(
        browser,
        lambda d: next((r for r in d.find_elements("css selector", "tr") if "pagerduty_default" in r.text), None),
    )
    row.find_element("css selector", "button[aria-label='Test Connection']").click()
    calls = wait_for(browser, lambda d: d.execute_script("return window.__tests.length ? window.__tests : null"))
    screenshot(browser, "connection-test-button.png")
    answer = calls[0]
    assert answer["status"] == 200, answer["body"]
    assert json.loads(answer["body"])["status"] is True
