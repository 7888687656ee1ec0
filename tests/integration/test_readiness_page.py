"""The Readiness page in the real Airflow API server, behind its real login, in headless Chromium.

The module starts ``airflow api-server`` on a free loopback port (SQLite metadata migrated in a
temporary AIRFLOW_HOME, the repository's plugins folder, SimpleAuthManager with a known admin
password, a DuckDB warehouse seeded through ``Warehouse.publish``) and creates a run of
``readiness_audit`` through the REST API. Each browser test drives Chromium (Debian packages
``chromium`` and ``chromium-driver``) through the UI's login form. Screenshots go to
``test-artifacts/``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pandas as pd
import pytest
import requests

from oncall_readiness.demo import airflow_env
from oncall_readiness.sandbox.process import SandboxHandle
from oncall_readiness.warehouse import RESULT_TABLES, Warehouse

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
    pid: int


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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_env(home: Path, warehouse: Path, port: int) -> dict[str, str]:
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
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
    }


def wait_until_healthy(process: subprocess.Popen, base_url: str, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"airflow api-server exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if requests.get(f"{base_url}/api/v2/monitor/health", timeout=2).ok:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"airflow api-server did not answer within {timeout:.0f} s:\n{log.read_text()[-3000:]}")


def stop(process: subprocess.Popen) -> None:
    """Stop the server and whatever it started: its own process group, by its pid."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


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
def airflow(tmp_path_factory) -> Iterator[AirflowServer]:
    home = tmp_path_factory.mktemp("airflow-home")
    warehouse = home / "warehouse.duckdb"
    seed(f"duckdb:///{warehouse}")
    port = free_port()
    env = server_env(home, warehouse, port)
    airflow_cli = str(Path(sys.executable).with_name("airflow"))
    subprocess.run([airflow_cli, "db", "migrate"], env=env, check=True, capture_output=True, timeout=120)
    subprocess.run([airflow_cli, "dags", "reserialize"], env=env, check=True, capture_output=True, timeout=120)
    log = home / "api-server.log"
    command = [airflow_cli, "api-server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(process, base_url, log)
        trigger_audit_run(base_url)
        yield AirflowServer(base_url=base_url, pid=process.pid)
    finally:
        stop(process)


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
    assert rows["checkout"][1:8] == ["100", "gold", "1", "0", "0", "0", "▲ +50"]
    assert rows["notifications"][1:8] == ["0", "none", "0", "0", "1", "0", "▼ -50"]
    assert rows["notifications"][9].startswith("Notifications on-call has 2 people on call")
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
        ("2026-11-16", "0", "none"),
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
