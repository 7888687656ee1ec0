"""The readiness API in the real Airflow API server, behind its real authentication.

The module starts ``airflow api-server`` on a free loopback port (SQLite metadata in a temporary
AIRFLOW_HOME, the repository's plugins folder, SimpleAuthManager with an admin and a viewer) over
the seeded DuckDB history of tests/integration/conftest.py (latest audit 2026-11-16), and calls
the API as a deploy pipeline or a scanner would: with a JWT from ``POST /auth/token``.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import requests
import sqlalchemy as sa

from oncall_readiness.external_results import results_as_of
from oncall_readiness.warehouse import Warehouse
from tests.integration.conftest import REPO, readiness_api_env
from tests.integration.conftest import bearer as airflow_bearer

pytestmark = pytest.mark.integration

USERS = {
    "admin": ("admin", "api-test-admin-password"),
    "viewer": ("viewer", "api-test-viewer-password"),
    # The sample organisation's pushers of security-scan (catalog/readiness-checks.yaml), and a user who is none.
    "security-scanner": ("user", "api-test-scanner-password"),
    "payments-ci": ("user", "api-test-payments-password"),
    "intruder": ("user", "api-test-intruder-password"),
}
API = "/readiness/api/v1"
TIMEOUT = 60  # the first request of a worker imports pandas and the warehouse: slow on a busy machine
RESULT = {
    "team": "checkout",
    "check_id": "security-scan",
    "status": "fail",
    "reason": "CVE-2026-1234 (critical) in openssl 3.0.1.",
    "subject": "service:checkout-api",
    "observed_at": "2026-11-15T10:00:00Z",
}


def add_waiver(url: str) -> None:
    """An active waiver of checkout's rotation check on the latest date (the `waivers` table the audit publishes)."""
    warehouse = Warehouse(url)
    try:
        with warehouse.engine.begin() as conn:
            if not sa.inspect(conn).has_table("waivers", schema="readiness"):
                return
            columns = {c["name"] for c in sa.inspect(conn).get_columns("waivers", schema="readiness")}
            row = {
                "audit_date": "2026-11-16",
                "team": "checkout",
                "check_id": "rotation-sustainability",
                "subject": None,
                "reason": "Hiring two people in December.",
                "approver": "cto@example.com",
                "expires": "2026-12-31",
                "active": True,
            }
            row = {key: value for key, value in row.items() if key in columns}
            names = ", ".join(row)
            conn.execute(sa.text(f"INSERT INTO readiness.waivers ({names}) VALUES (:{', :'.join(row)})"), row)
    finally:
        warehouse.dispose()


@pytest.fixture(scope="module")
def server(tmp_path_factory, seeded_duckdb, running_api_server) -> Iterator[tuple[str, Path]]:
    home = tmp_path_factory.mktemp("airflow-home")
    warehouse = home / "warehouse.duckdb"
    shutil.copyfile(seeded_duckdb, warehouse)
    add_waiver(f"duckdb:///{warehouse}")
    env = readiness_api_env(home, f"duckdb:///{warehouse}", USERS)
    with running_api_server(env, home) as base_url:
        yield base_url, warehouse


def bearer(base_url: str, user: str) -> dict[str, str]:
    return airflow_bearer(base_url, user, USERS[user][1], timeout=TIMEOUT)


def test_every_route_needs_airflows_login(server):
    base_url, _ = server
    assert requests.get(f"{base_url}{API}/scorecard", timeout=TIMEOUT).status_code == 401
    forged = requests.get(f"{base_url}{API}/scorecard", headers={"Authorization": "Bearer forged"}, timeout=TIMEOUT)
    assert forged.status_code == 403
    assert requests.post(f"{base_url}{API}/external-results", json=RESULT, timeout=TIMEOUT).status_code == 401
    as_viewer = requests.post(
        f"{base_url}{API}/external-results", json=RESULT, headers=bearer(base_url, "viewer"), timeout=TIMEOUT
    )
    assert as_viewer.status_code == 403  # reading the audit's runs is not enough to feed it


def test_the_latest_scorecard_and_a_teams_checks(server, history):
    base_url, _ = server
    headers = bearer(base_url, "viewer")
    card = requests.get(f"{base_url}{API}/scorecard", headers=headers, timeout=TIMEOUT).json()
    assert card["audit_date"] == "2026-11-16"
    assert sorted(team["team"] for team in card["teams"]) == sorted(history.TEAM_EMAILS)
    team = requests.get(f"{base_url}{API}/teams/notifications", headers=headers, timeout=TIMEOUT).json()
    rotation = next(check for check in team["checks"] if check["check_id"] == "rotation-sustainability")
    assert rotation["status"] == "fail" and rotation["findings"][0]["subject"] == "schedule:notifications-primary"
    script = requests.get(
        f"{base_url}{API}/teams/{requests.utils.quote(history.SCRIPT_TEAM, safe='')}", headers=headers, timeout=TIMEOUT
    )
    assert script.json()["team"] == history.SCRIPT_TEAM  # JSON: nothing to escape, nothing executed
    missing = requests.get(f"{base_url}{API}/teams/nobody", headers=headers, timeout=TIMEOUT)
    assert missing.status_code == 404 and "nobody" in missing.json()["detail"]


def test_the_gate_of_a_team_and_of_a_service(server):
    base_url, _ = server
    headers = bearer(base_url, "viewer")
    failing = requests.get(f"{base_url}{API}/gate/teams/notifications", headers=headers, timeout=TIMEOUT).json()
    assert failing["open"] is False and [c["check_id"] for c in failing["failing_checks"]] == [
        "rotation-sustainability"
    ]
    payments = requests.get(
        f"{base_url}{API}/gate/teams/payments?min_level=gold", headers=headers, timeout=TIMEOUT
    ).json()
    assert (payments["level"], payments["open"]) == ("gold", True)
    service = requests.get(f"{base_url}{API}/gate/services/checkout-api", headers=headers, timeout=TIMEOUT).json()
    assert (service["team"], service["service"], service["failing_checks"]) == ("checkout", "checkout-api", [])
    assert service["open"] is True and service["level"] in ("silver", "bronze")
    strict = requests.get(
        f"{base_url}{API}/gate/services/checkout-api?min_level=gold", headers=headers, timeout=TIMEOUT
    ).json()
    assert strict["open"] is False and "below gold" in strict["reason"]
    waivers = service["waivers"]
    assert waivers == [] or waivers[0]["reason"] == "Hiring two people in December."
    assert (
        requests.get(
            f"{base_url}{API}/gate/teams/payments?min_level=platinum", headers=headers, timeout=TIMEOUT
        ).status_code
        == 422
    )
    assert (
        requests.get(f"{base_url}{API}/gate/services/no-such-service", headers=headers, timeout=TIMEOUT).status_code
        == 404
    )


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"status": "green"}, "status"),
        ({"check_id": "chaos-day"}, "check_id"),
        ({"team": "nobody"}, "team"),
        ({"observed_at": "2026-11-15 10:00"}, "observed_at"),
        ({"observed_at": "2099-01-01T00:00:00Z"}, "observed_at"),
        ({"reason": ""}, "reason"),
    ],
)
def test_bad_input_gets_a_422_naming_the_field(server, change, field):
    base_url, _ = server
    response = requests.post(
        f"{base_url}{API}/external-results",
        json=RESULT | change,
        headers=bearer(base_url, "security-scanner"),
        timeout=TIMEOUT,
    )
    assert response.status_code == 422, response.text
    assert [error["loc"] for error in response.json()["detail"]] == [["body", field]]


def test_a_pushed_result_is_stored_once_and_joins_the_next_audit(server):
    base_url, warehouse_path = server
    headers = bearer(base_url, "security-scanner")
    created = requests.post(f"{base_url}{API}/external-results", json=RESULT, headers=headers, timeout=TIMEOUT)
    assert created.status_code == 201, created.text
    assert created.json()["stored"] is True and created.json()["received_by"] == "security-scanner"
    again = requests.post(f"{base_url}{API}/external-results", json=RESULT, headers=headers, timeout=TIMEOUT)
    assert again.status_code == 200 and again.json()["stored"] is False
    warehouse = Warehouse(f"duckdb:///{warehouse_path}")
    try:
        pushed = results_as_of(warehouse, pd.Timestamp("2026-11-17T00:00Z"))
    finally:
        warehouse.dispose()
    assert list(zip(pushed["team"], pushed["status"], pushed["received_by"], strict=True)) == [
        ("checkout", "fail", "security-scanner")
    ]


def test_the_openapi_schema_is_served_and_documented(server):
    base_url, _ = server
    served = requests.get(f"{base_url}/readiness/api/openapi.json", timeout=TIMEOUT).json()
    documented = json.loads((REPO / "docs" / "api-openapi.json").read_text())
    assert (served["paths"], served["components"]) == (documented["paths"], documented["components"])


def push(base_url: str, user: str, body: dict | str, **headers: str) -> requests.Response:
    data = body if isinstance(body, str) else json.dumps(body)
    headers = bearer(base_url, user) | {"Content-Type": "application/json"} | headers
    return requests.post(f"{base_url}{API}/external-results", data=data, headers=headers, timeout=TIMEOUT)


@pytest.mark.parametrize(
    ("user", "team", "subject", "status"),
    [
        ("intruder", "checkout", "service:checkout-api", 403),  # may trigger the audit, pushes nothing
        ("admin", "checkout", "service:checkout-api", 403),  # an admin is no pusher either
        ("payments-ci", "checkout", "service:checkout-api", 403),  # pushes for payments only
        ("payments-ci", "payments", None, 201),  # a result about the whole team (the history's payments has no service)
    ],
)
def test_only_the_checks_pushers_may_push_and_each_for_its_teams(server, user, team, subject, status):
    base_url, _ = server
    observed = f"2026-11-14T0{len(user) % 10}:00:00Z"  # a key of its own per case
    response = push(base_url, user, RESULT | {"team": team, "subject": subject, "observed_at": observed})
    assert response.status_code == status, response.text
    if status == 403:
        assert f"'{user}'" in response.json()["detail"] and "pushers" in response.json()["detail"]


def test_a_subject_must_be_the_teams_and_is_stored_in_the_registrys_spelling(server):
    base_url, _ = server
    other = push(base_url, "security-scanner", RESULT | {"subject": "service:search-api"})  # search's, not checkout's
    assert other.status_code == 422 and other.json()["detail"][0]["loc"] == ["body", "subject"]
    spelled = push(
        base_url,
        "security-scanner",
        RESULT | {"subject": "SERVICE:Checkout-API", "observed_at": "2026-11-13T10:00:00Z"},
    )
    assert spelled.status_code == 201 and spelled.json()["subject"] == "service:checkout-api"


@pytest.mark.parametrize(
    "body",
    [
        json.dumps(RESULT | {"observed_at": 1731664800}),  # an epoch number, not ISO 8601
        json.dumps(RESULT | {"observed_at": "0001-01-01T00:00:00+01:00"}),
        json.dumps(RESULT | {"observed_at": "9999-12-31T23:59:59-01:00"}),
        json.dumps(RESULT | {"reason": "Found\u0000it."}),
        json.dumps(RESULT).replace('"CVE-', '"\\ud800CVE-'),  # a lone surrogate
    ],
    ids=["epoch", "year-1", "year-9999", "nul", "lone-surrogate"],
)
def test_input_no_warehouse_can_hold_is_a_422_that_does_not_echo_it(server, body):
    base_url, _ = server
    response = push(base_url, "security-scanner", body)
    assert response.status_code == 422, response.text
    assert all("input" not in error for error in response.json()["detail"])


def test_a_body_over_64_kb_is_a_413(server):
    base_url, _ = server
    response = push(base_url, "security-scanner", RESULT | {"reason": "x" * 70_000})
    assert response.status_code == 413 and "65536" in response.text


def test_a_second_push_of_a_key_with_another_status_answers_the_stored_result(server):
    base_url, _ = server
    first = RESULT | {"observed_at": "2026-11-12T10:00:00Z"}
    assert push(base_url, "security-scanner", first).status_code == 201
    again = push(base_url, "security-scanner", first | {"status": "pass", "reason": "All fixed."})
    assert again.status_code == 200
    assert (again.json()["stored"], again.json()["status"], again.json()["reason"]) == (False, "fail", RESULT["reason"])
