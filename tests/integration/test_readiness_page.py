"""The Readiness page in the real Airflow API server, behind its real login, in headless Chromium.

The module starts ``airflow api-server`` on a free loopback port (SQLite metadata migrated in a
temporary AIRFLOW_HOME, the repository's plugins folder, SimpleAuthManager with a known admin
password, a DuckDB warehouse seeded through ``Warehouse.publish``) and creates a run of
``readiness_audit`` through the REST API. Each browser test drives Chromium (Debian packages
``chromium`` and ``chromium-driver``) through the UI's login form. Screenshots go to
``test-artifacts/``. What the page says when its warehouse cannot be read is checked on the
plugin's app in-process, against a real PostgreSQL server that refuses the login.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import logging
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import jwt
import pandas as pd
import pytest
import requests

from oncall_readiness.warehouse import RESULT_TABLES, Warehouse
from readiness_sandbox.demo import airflow_env
from readiness_sandbox.process import SandboxHandle

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1440,1000",
)
ADMIN, PASSWORD = "admin", "readiness-test-password"
DAY = dt.date(2026, 11, 16)
DATES = [DAY - dt.timedelta(days=14), DAY - dt.timedelta(days=7), DAY]
RUN_ID = "manual__2026-11-16T00:00:00+00:00"  # the characters a run id really has, quoted in the link
XSS_TEAM = "<script>window.pwned=1</script>"
ROTATION = "rotation-sustainability"
WAIT = 30


@dataclass(frozen=True)
class AirflowServer:
    base_url: str


# The warehouse and the server ---------------------------------------------------------------------


def frame(table: str, rows: list[dict]) -> pd.DataFrame:
    columns = list(RESULT_TABLES[table])
    return pd.DataFrame([{column: row.get(column) for column in columns} for row in rows], columns=columns)


def scorecard_row(team, score, level, passed=0, warned=0, failed=0, unknown=0, change=None) -> dict:
    counts = {"passed": passed, "warned": warned, "failed": failed, "unknown": unknown}
    return {"team": team, "score": score, "level": level, **counts, "score_change_7d": change}


def check_row(team, status, reason, score=None) -> dict:
    remediation = f"Add people to the {team} rotation until at least three take turns."
    return {"team": team, "check_id": ROTATION, "status": status, "score": score, "reason": reason} | {
        "remediation": remediation
    }


def seed(url: str) -> None:
    """Three weekly audits of five teams: one improving, one failing, one unknown with a hostile name."""
    warehouse = Warehouse(url)
    scores = {"checkout": [50.0, 50.0, 100.0], "search": [100.0, 50.0, 50.0], "notifications": [50.0, 50.0, 0.0]}
    try:
        for index, day in enumerate(DATES):
            latest = day == DAY
            cards = [
                scorecard_row("checkout", scores["checkout"][index], "gold" if latest else "bronze", 1, 0, 0, 0),
                scorecard_row("search", scores["search"][index], "bronze", 0, 1, 0, 0),
                scorecard_row("notifications", scores["notifications"][index], "none" if latest else "bronze"),
                scorecard_row("payments", 100.0, "gold", 1),
                scorecard_row(XSS_TEAM, None, "none", unknown=1),
            ]
            if latest:
                cards[0]["score_change_7d"], cards[2]["score_change_7d"], cards[2]["failed"] = 50.0, -50.0, 1
            results = [
                check_row("checkout", "pass", "Every rotation of the team is sustainable.", 10.0),
                check_row("search", "warn", "Search on-call hands over every 1 day; turns of 1 week are expected.", 5),
                check_row(
                    "notifications", "fail", "Notifications on-call has 2 people on call; at least 3 are needed."
                ),
                check_row("payments", "pass", "Every rotation of the team is sustainable.", 10.0),
                check_row(XSS_TEAM, "unknown", "pagerduty data is unavailable: <b>timeout</b>."),
            ]
            findings = [
                {"subject": "schedule:PNOTIF1", "outcome": "fail", "message": "Notifications on-call has 2 people."},
                {"subject": "person:liam-walsh", "outcome": "warn", "message": "Liam Walsh takes no on-call turns."},
                {"subject": "person:ava-doyle", "outcome": "pass", "message": "Ava Doyle takes on-call turns."},
            ]
            warehouse.publish(
                day,
                check_results=frame("check_results", results),
                findings=frame("findings", [{"team": "notifications", "check_id": ROTATION} | f for f in findings]),
                scorecard=frame("scorecard", cards),
                facts={},
            )
    finally:
        warehouse.dispose()


def server_env(home: Path, warehouse: Path) -> dict[str, str]:
    """The demo's embedded Airflow, plus a known login and a JWT secret of its own."""
    passwords = home / "passwords.json"
    passwords.write_text(json.dumps({ADMIN: PASSWORD}))
    base = {key: value for key, value in os.environ.items() if not key.startswith("AIRFLOW")}
    no_sandbox = SandboxHandle(base_url="http://127.0.0.1:9", token="unused", pid=0)  # the page reads no source
    env = airflow_env(airflow_home=home, sandbox=no_sandbox, warehouse=warehouse, staging=home)
    env = base | {key: value for key, value in env.items() if key.startswith("AIRFLOW") or key.startswith("READINESS")}
    return env | {
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
        "AIRFLOW__API_AUTH__JWT_SECRET": os.urandom(16).hex(),
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
    }


def token(base_url: str) -> str:
    response = requests.post(f"{base_url}/auth/token", json={"username": ADMIN, "password": PASSWORD}, timeout=10)
    response.raise_for_status()
    return response.json()["access_token"]


def trigger_audit_run(base_url: str) -> None:
    """A run of readiness_audit for DAY through Airflow's REST API (no scheduler runs, so it stays queued)."""
    end = f"{DAY.isoformat()}T00:00:00Z"
    body = {"dag_run_id": RUN_ID, "logical_date": end, "data_interval_start": end, "data_interval_end": end}
    response = requests.post(
        f"{base_url}/api/v2/dags/readiness_audit/dagRuns",
        json=body,
        headers={"Authorization": f"Bearer {token(base_url)}"},
        timeout=30,
    )
    assert response.status_code == 200, response.text


@pytest.fixture(scope="module")
def airflow(tmp_path_factory, running_api_server) -> Iterator[AirflowServer]:
    home = tmp_path_factory.mktemp("airflow-home")
    warehouse = home / "warehouse.duckdb"
    seed(f"duckdb:///{warehouse}")
    env = server_env(home, warehouse)
    with running_api_server(env, home) as base_url:
        airflow_cli = str(Path(sys.executable).with_name("airflow"))
        subprocess.run([airflow_cli, "dags", "reserialize"], env=env, check=True, capture_output=True, timeout=120)
        trigger_audit_run(base_url)
        yield AirflowServer(base_url=base_url)


# The browser ---------------------------------------------------------------------------------------


@pytest.fixture
def browser(unavailable, tmp_path):
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        unavailable("Chromium is not installed (Debian packages chromium and chromium-driver)")
    from selenium import webdriver

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        options.add_argument(flag)
    service = webdriver.ChromeService(executable_path=str(CHROMEDRIVER), log_output=str(tmp_path / "driver.log"))
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_page_load_timeout(WAIT)
    try:
        yield driver
    finally:
        driver.quit()  # ends Chromium and stops chromedriver; make sure of the latter by its pid
        if service.process and service.process.poll() is None:
            service.process.kill()


def wait_for(driver, condition, timeout: float = WAIT):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(condition)


def element(driver, css: str):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec

    return wait_for(driver, ec.presence_of_element_located((By.CSS_SELECTOR, css)))


def log_in(driver, base_url: str) -> None:
    """Through the UI's own login form, which stores the JWT in the ``_token`` cookie and returns to ``next``."""
    from selenium.webdriver.common.by import By

    element(driver, "input[name=username]").send_keys(ADMIN)
    driver.find_element(By.CSS_SELECTOR, "input[name=password]").send_keys(PASSWORD)
    driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait_for(driver, lambda d: d.current_url.startswith(f"{base_url}/readiness/"))


@pytest.fixture
def logged_in(browser, airflow):
    browser.get(f"{airflow.base_url}/readiness/")
    log_in(browser, airflow.base_url)
    element(browser, "#scorecard")
    return browser


def table_rows(driver, css: str) -> list[list[str]]:
    from selenium.webdriver.common.by import By

    rows = element(driver, css).find_elements(By.CSS_SELECTOR, "tbody tr")
    return [[cell.text for cell in row.find_elements(By.CSS_SELECTOR, "td")] for row in rows]


def screenshot(driver, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    driver.save_screenshot(str(path))
    return path


# The tests -----------------------------------------------------------------------------------------


def test_without_a_login_no_data_is_served(airflow):
    page = f"{airflow.base_url}/readiness/"
    anonymous = requests.get(page, timeout=10)
    assert anonymous.status_code == 401 and "checkout" not in anonymous.text
    browser_like = requests.get(page + "teams/checkout", headers={"Accept": "text/html"}, allow_redirects=False)
    assert browser_like.status_code == 303
    assert browser_like.headers["location"] == "/auth/login?next=%2Freadiness%2Fteams%2Fcheckout"
    forged = requests.get(page, headers={"Authorization": "Bearer not-a-jwt"}, timeout=10)
    assert forged.status_code == 403 and "checkout" not in forged.text
    signed_in = requests.get(page, headers={"Authorization": f"Bearer {token(airflow.base_url)}"}, timeout=10)
    assert signed_in.status_code == 200 and "checkout" in signed_in.text


def forged_token() -> str:
    """A well-formed, unexpired JWT for the admin, signed with a secret the server does not have."""
    now = int(time.time())
    claims = {"sub": ADMIN, "role": "admin", "iat": now, "nbf": now, "exp": now + 3600}
    return jwt.encode(claims, "not-the-servers-secret-" + "x" * 32, algorithm="HS512")


@pytest.mark.parametrize("cookie", ["not-a-jwt", "forged"])
def test_a_browser_with_an_invalid_login_cookie_is_sent_to_the_login_page(airflow, cookie):
    value = forged_token() if cookie == "forged" else cookie
    response = requests.get(
        f"{airflow.base_url}/readiness/teams/checkout?x=1",
        headers={"Accept": "text/html,application/xhtml+xml"},
        cookies={"_token": value},
        allow_redirects=False,
        timeout=10,
    )
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/auth/login?next=%2Freadiness%2Fteams%2Fcheckout%3Fx%3D1"
    assert "checkout" not in response.text


def test_an_api_client_with_an_invalid_token_still_gets_json(airflow):
    page = f"{airflow.base_url}/readiness/"
    for accept in ("application/json", "text/html"):  # a bearer token is an API client's, whatever it accepts
        forged = requests.get(
            page, headers={"Authorization": f"Bearer {forged_token()}", "Accept": accept}, allow_redirects=False
        )
        assert forged.status_code == 403 and forged.headers["content-type"] == "application/json"
        assert forged.json() == {"detail": "Invalid JWT token"}
    anonymous = requests.get(page, headers={"Accept": "application/json"}, cookies={"_token": "not-a-jwt"})
    assert anonymous.status_code == 403 and anonymous.headers["content-type"] == "application/json"


def test_a_browser_with_a_forged_cookie_logs_in_and_comes_back(browser, airflow):
    browser.get(f"{airflow.base_url}/readiness/icon.svg")  # public: a page of the server to set the cookie on
    browser.add_cookie({"name": "_token", "value": forged_token(), "path": "/"})
    browser.get(f"{airflow.base_url}/readiness/teams/checkout")
    element(browser, "input[name=username]")
    assert "/auth/login" in browser.current_url
    log_in(browser, airflow.base_url)
    assert element(browser, "header h1").text == "checkout"


def test_a_browser_goes_through_the_airflow_login_and_back_to_the_page(browser, airflow):
    browser.get(f"{airflow.base_url}/readiness/teams/checkout")
    element(browser, "input[name=username]")
    assert "/auth/login" in browser.current_url
    assert "checkout" not in browser.find_element("tag name", "body").text
    log_in(browser, airflow.base_url)
    assert element(browser, "header h1").text == "checkout"


def test_the_scorecard_shows_every_team_with_level_counts_change_and_trend(logged_in):
    rows = {row[0]: row for row in table_rows(logged_in, "#scorecard")}
    assert list(rows) == ["checkout", "payments", "search", "notifications", XSS_TEAM]  # best first, no score last
    assert rows["checkout"][1:8] == ["100", "gold", "1", "0", "0", "0", "0"]  # ..., unknown, waived
    assert rows["checkout"][8].startswith("▲ +50\nsince 09 Nov")
    assert rows["notifications"][1:8] == ["0", "none", "0", "0", "1", "0", "0"]
    assert rows["notifications"][8].startswith("▼ -50") and "was bronze" in rows["notifications"][8]
    assert rows["notifications"][11].startswith("Notifications on-call has 2 people on call")
    assert len(logged_in.find_elements("css selector", "#scorecard svg.spark polyline")) == 4  # the unknown has none
    summary = element(logged_in, ".summary").text
    assert "5\nTEAMS" in summary.upper() and "with failed or unknown checks".upper() in summary.upper()
    screenshot(logged_in, "readiness-page.png")

    logged_in.find_element("link text", "Fail").click()
    wait_for(logged_in, lambda d: "sort=failed" in d.current_url)
    assert table_rows(logged_in, "#scorecard")[0][0] == "notifications"


def test_a_team_page_shows_checks_findings_history_and_the_dag_run(logged_in, airflow):
    logged_in.find_element("link text", "notifications").click()
    assert element(logged_in, "header h1").text == "notifications"
    checks = table_rows(logged_in, "#checks")
    assert checks[0][1] == "fail" and checks[0][2].startswith("Notifications on-call has 2 people on call")
    assert checks[0][3] == "Add people to the notifications rotation until at least three take turns."
    findings = table_rows(logged_in, "#findings")
    assert [(row[0], row[1]) for row in findings] == [("fail", "schedule:PNOTIF1"), ("warn", "person:liam-walsh")]
    history = table_rows(logged_in, "#history")
    assert [(row[0], row[1], row[2]) for row in history] == [
        ("2026-11-16", "0", "none ▼ was bronze"),
        ("2026-11-09", "50", "bronze"),
        ("2026-11-02", "50", "bronze"),
    ]
    run_link = element(logged_in, "#history tbody tr:first-child td.runs a")
    expected = f"{airflow.base_url}/dags/readiness_audit/runs/{quote(RUN_ID, safe='')}"
    assert run_link.get_attribute("href") == expected
    fallback = element(logged_in, "#history tbody tr:last-child td.runs a").get_attribute("href")
    assert fallback == f"{airflow.base_url}/dags/readiness_audit"  # no run known for that date: the DAG's page
    screenshot(logged_in, "readiness-team-page.png")

    run_link.click()  # the Airflow UI's page of that run
    wait_for(logged_in, lambda d: RUN_ID in d.find_element("tag name", "body").text)


def test_a_team_named_script_is_shown_as_text_and_never_runs(logged_in):
    link = logged_in.find_element("link text", XSS_TEAM)
    assert link.text == XSS_TEAM
    link.click()
    assert element(logged_in, "header h1").text == XSS_TEAM
    assert "<b>timeout</b>" in table_rows(logged_in, "#checks")[0][2]
    assert logged_in.execute_script("return window.pwned") is None


def test_the_airflow_navigation_shows_the_page_in_the_ui(logged_in, airflow):
    from selenium.webdriver.support import expected_conditions as ec

    logged_in.get(f"{airflow.base_url}/plugin/readiness")
    frame = element(logged_in, "iframe")
    assert frame.get_attribute("src").endswith("/readiness/")
    wait_for(logged_in, lambda d: d.find_elements("css selector", "a[href$='plugin/readiness']"))
    wait_for(logged_in, ec.frame_to_be_available_and_switch_to_it(frame))
    assert "checkout" in element(logged_in, "#scorecard").text
    logged_in.switch_to.default_content()
    screenshot(logged_in, "readiness-in-airflow-ui.png")


# The warehouse cannot be read ------------------------------------------------------------------------

WAREHOUSE_USER, WAREHOUSE_PASSWORD = "leaky-reader-4711", "leaky-password-4711"


@pytest.fixture
def plugin_client(monkeypatch):
    """The plugin's FastAPI app in-process, the login dependency replaced (Airflow's is tested above)."""
    from fastapi.testclient import TestClient

    spec = importlib.util.spec_from_file_location("readiness_page_plugin", REPO / "plugins" / "readiness_page.py")
    plugin = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, plugin)
    spec.loader.exec_module(plugin)
    plugin.app.dependency_overrides[plugin.require_audit_reader] = lambda: "reader"
    with TestClient(plugin.app) as client:
        yield client


def use_warehouse(monkeypatch, url: str) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_READINESS_WAREHOUSE", json.dumps({"conn_type": "generic", "extra": {"url": url}}))


@pytest.mark.parametrize("path", ["/", "/teams/checkout"])
def test_the_503_names_the_connection_to_check_never_the_host_user_or_driver_error(
    plugin_client, postgres_url, monkeypatch, caplog, path
):
    server = requests.utils.urlparse(postgres_url)
    url = f"postgresql+psycopg2://{WAREHOUSE_USER}:{WAREHOUSE_PASSWORD}@{server.hostname}:{server.port}/postgres"
    use_warehouse(monkeypatch, url)  # the server is up, but there is no such role: the driver says who and where
    caplog.set_level(logging.INFO)

    response = plugin_client.get(path)

    assert response.status_code == 503 and response.headers["content-type"].startswith("text/html")
    body = response.text
    assert "The warehouse cannot be read" in body and "readiness_warehouse" in body
    for secret in (WAREHOUSE_USER, WAREHOUSE_PASSWORD, server.hostname, str(server.port), "psycopg2", "FATAL", "role"):
        assert secret not in body, secret
    assert f'role "{WAREHOUSE_USER}" does not exist' in caplog.text  # the details are in the server's log
    assert WAREHOUSE_PASSWORD not in caplog.text


def test_a_warehouse_that_is_not_listening_gets_the_same_503(plugin_client, monkeypatch):
    with socket.socket() as closed:  # a port nobody listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    use_warehouse(monkeypatch, f"postgresql+psycopg2://{WAREHOUSE_USER}:{WAREHOUSE_PASSWORD}@127.0.0.1:{port}/w")

    response = plugin_client.get("/")

    assert response.status_code == 503 and "readiness_warehouse" in response.text
    for secret in (WAREHOUSE_USER, WAREHOUSE_PASSWORD, "127.0.0.1", str(port), "refused"):
        assert secret not in response.text, secret


def test_without_the_warehouse_connection_the_page_says_which_one_to_set(plugin_client, monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_READINESS_WAREHOUSE", raising=False)

    response = plugin_client.get("/")

    assert response.status_code == 503 and "readiness_warehouse" in response.text
