"""The Test button of a saved readiness connection, clicked in the Airflow UI (headless Chromium).

A ``pagerduty_default`` connection is saved as the UI's "Add Connection" form saves one (the API
base URL in the host, with its port; the port field hidden, so NULL), then the connection list's
Test button is clicked in the real Airflow API server's UI, and the answer of
``POST /api/v2/connections/test`` the page received is read back.

Airflow 3.3.2's list sends ``port: Number(connection.port)``, which is ``0`` for a NULL port, and its
API takes ``0`` for another destination than the stored NULL: "400 The host or port to test differs
from the stored connection". No connection form or hook can change that (the API refuses before the
hook is called): apache/airflow#73298 fixes it in the API after 3.3.2. The test is a strict xfail
on the versions without the fix, so it says so the day an upgrade brings it.
"""

from __future__ import annotations

import json

import pytest
import requests
from airflow import __version__ as AIRFLOW_VERSION  # noqa: N812 (Airflow's own name)
from packaging.version import Version

from tests.integration.test_connection_types import (  # noqa: F401 (fixtures used by name)
    ADMIN,
    PASSWORD,
    airflow,
    airflow_server,
    sandbox,
)
from tests.integration.test_readiness_page import browser, element, screenshot, wait_for  # noqa: F401

pytestmark = pytest.mark.integration

FIXED_IN = Version("3.4.0")  # the first release line after apache/airflow#73298 (merged 2026-09-17)

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


@pytest.mark.xfail(
    Version(AIRFLOW_VERSION) < FIXED_IN,
    reason="Airflow before apache/airflow#73298 refuses port 0 against a stored NULL port",
    strict=True,
)
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
