"""Distinctive secrets planted in the connections never reach an output: warehouse, staging, emails, page.

One audit of the sample organisation, its steps called without a scheduler, with four planted
secrets: a PagerDuty token with a trailing newline (as a secrets backend or a paste leaves it:
the hook strips it, so PagerDuty is audited), a GitHub token with a newline in the middle (not a
valid header value: GitHub fails), a Grafana host with a password in it and a Confluence host
with an API key in its query string (both refused before any call). Every output is then
searched for every fragment of them: every text column of every table of the DuckDB
warehouse, every file of the run's staging (Parquet read back as text, ``_status.json``), the
week's emails (headers and decoded parts) and the Readiness page's HTML. The sources that
failed say which source and what kind of failure, in the checks' reasons. The same search over
a real Airflow run (task logs, XCom, rendered fields): tests/dags/test_readiness_audit_e2e.py.
"""

from __future__ import annotations

import email
import email.policy
import json
from types import SimpleNamespace

import duckdb
import pandas as pd
import pytest

from oncall_readiness import audit
from oncall_readiness.errors import ConnectionConfigError, DataQualityError, SourceError
from oncall_readiness.oncall_facts import team_platforms
from oncall_readiness.report import page
from oncall_readiness.report.email import write_emails
from oncall_readiness.warehouse import Warehouse
from readiness_sandbox.process import running_sandbox
from readiness_sandbox.sample_org import CATALOG

pytestmark = pytest.mark.integration

PAGERDUTY_TOKEN = "pd-secret-4711"
GITHUB_TOKEN = "gh-secret-4711\ngh-second-line-4711"
GRAFANA_PASSWORD = "grafana-pw-4711"
GRAFANA_HOST = f"htps://admin:{GRAFANA_PASSWORD}@grafana.example.com"
GRAFANA_TOKEN = "grafana-token-4711"
CONFLUENCE_KEY = "confluence-key-4711"
# Every fragment that must never appear: the tokens, each line of the GitHub one, the hosts' credentials.
SECRETS = (
    PAGERDUTY_TOKEN,
    *GITHUB_TOKEN.splitlines(),
    GRAFANA_PASSWORD,
    GRAFANA_TOKEN,
    "admin:grafana",
    CONFLUENCE_KEY,
)
AUDIT_DAY = "2026-11-16"


def connection(conn_type: str, **fields) -> str:
    return json.dumps({"conn_type": conn_type, **fields})


@pytest.fixture(scope="module")
def audited(tmp_path_factory):
    """The audit with the planted secrets, published to a DuckDB warehouse; what each failed step raised."""
    work = tmp_path_factory.mktemp("secrets")
    warehouse_url = f"duckdb:///{work / 'warehouse.duckdb'}"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("READINESS_CATALOG", str(CATALOG))
        env.setenv("READINESS_STAGING_DIR", str(work / "staging"))
        env.delenv("READINESS_HR_CSV", raising=False)
        for source in audit.sources_to_collect():  # only what this test configures
            env.delenv(f"AIRFLOW_CONN_{source.upper()}_DEFAULT", raising=False)
        with running_sandbox(token=PAGERDUTY_TOKEN) as sandbox:
            env.setenv(
                "AIRFLOW_CONN_PAGERDUTY_DEFAULT",
                connection("readiness_pagerduty", host=sandbox.url("pagerduty"), password=PAGERDUTY_TOKEN + "\n"),
            )
            env.setenv(
                "AIRFLOW_CONN_GITHUB_DEFAULT",
                connection("readiness_github", host=sandbox.url("github"), password=GITHUB_TOKEN),
            )
            env.setenv(
                "AIRFLOW_CONN_GRAFANA_DEFAULT",
                connection("readiness_grafana", host=GRAFANA_HOST, password=GRAFANA_TOKEN),
            )
            env.setenv(
                "AIRFLOW_CONN_CONFLUENCE_DEFAULT",
                connection(
                    "readiness_confluence",
                    host=f"{sandbox.url('confluence')}?api_key={CONFLUENCE_KEY}",
                    login="readiness-audit@example.com",
                    password=PAGERDUTY_TOKEN,
                ),
            )
            run = audit.AuditRun(audit.audit_instant(f"{AUDIT_DAY}T00:00:00+00:00"), "manual__secrets")
            raised = run_audit(run, warehouse_url)
            staging = run.staging  # its folder, under READINESS_STAGING_DIR as set here
    return SimpleNamespace(run=run, staging=staging, warehouse_url=warehouse_url, raised=raised)


def run_audit(run: audit.AuditRun, warehouse_url: str) -> dict[str, str]:
    """The DAG's steps in order; source → the message of what its collection or validation raised."""
    raised = {}
    audit.stage_registry(run)
    audit.stage_quality("registry", run)
    for source in audit.sources_to_collect():
        try:  # Airflow marks these tasks failed (or skipped); the checks still run
            audit.stage_source(source, run)
            audit.stage_quality(source, run)
        except (SourceError, DataQualityError, ConnectionConfigError) as error:
            raised[source] = str(error)
    audit.stage_checks(run)
    audit.stage_scorecard(run, warehouse_url)
    audit.publish(run, warehouse_url)
    return raised


def assert_no_secret(text: str, where: str) -> None:
    assert text, f"{where}: nothing was read, so nothing was searched"
    for secret in SECRETS:
        assert secret not in text, f"{secret!r} leaked into {where}"


# What the failures say ------------------------------------------------------------------------------


def test_the_stripped_pagerduty_token_works_and_the_bad_github_and_grafana_connections_fail(audited):
    staging, raised = audited.staging, audited.raised
    assert staging.status("pagerduty")["ok"] is True  # the trailing newline was stripped
    github, grafana = staging.status("github"), staging.status("grafana")
    assert github["ok"] is False and grafana["ok"] is False
    assert names_github_token_failure(github["reason"]), github["reason"]
    assert names_grafana_host_failure(grafana["reason"]), grafana["reason"]
    confluence = staging.status("confluence")
    assert confluence["ok"] is False and "'confluence_default' has credentials in its host" in confluence["reason"]
    assert set(raised) >= {"github", "grafana", "confluence"} and "pagerduty" not in raised
    for source, message in raised.items():
        assert_no_secret(message, f"the error the {source} task raised")


def test_the_check_reasons_name_the_source_and_the_kind_of_failure(audited):
    warehouse = Warehouse(audited.warehouse_url)
    try:
        results = warehouse.query("SELECT team, check_id, status, reason FROM readiness.check_results")
        findings = warehouse.query("SELECT check_id, outcome, message FROM readiness.findings")
    finally:
        warehouse.dispose()

    dashboards = results[results["check_id"] == "dashboard-coverage"]
    assert set(dashboards["status"]) == {"unknown"}
    assert dashboards["reason"].str.startswith("grafana data is unavailable: ").all()
    assert dashboards["reason"].map(names_grafana_host_failure).all()
    # PagerDuty was read: its teams are judged. This test configures no JSM Operations connection, so
    # the team on it (identity) is unknown, the reason naming that source, and only that team.
    platforms = team_platforms(audited.staging.read("registry")["registry_teams"])
    rotation = results[results["check_id"] == "rotation-sustainability"].set_index("team")
    on_jsm = {team for team, platform in platforms.items() if platform == "jsm_ops" and team in rotation.index}
    assert on_jsm and set(rotation["status"].drop(index=list(on_jsm))) <= {"pass", "warn", "fail"}
    assert set(rotation.loc[list(on_jsm), "status"]) == {"unknown"}
    assert rotation.loc[list(on_jsm), "reason"].str.startswith("jsm_ops data is unavailable: ").all()
    on_github = findings[findings["message"].str.contains("is on GitHub, whose data is unavailable", na=False)]
    assert not on_github.empty and set(on_github["outcome"]) == {"unknown"}
    assert on_github["message"].map(names_github_token_failure).all()


def names_github_token_failure(reason: str) -> bool:
    """Says it is GitHub's connection, and that its token is what is wrong (a line break in it)."""
    kind = "line break" in reason or "not a valid header value" in reason
    return ("GitHub" in reason or "'github_default'" in reason) and "token" in reason and kind


def names_grafana_host_failure(reason: str) -> bool:
    """Says it is Grafana's connection, and that its host holds credentials."""
    return "'grafana_default'" in reason and "credentials in its host" in reason


# Every output ------------------------------------------------------------------------------------------


def test_no_secret_in_any_text_column_of_any_warehouse_table(audited):
    database = audited.warehouse_url.removeprefix("duckdb:///")
    with duckdb.connect(database, read_only=True) as conn:
        columns = conn.execute(
            "SELECT table_schema, table_name, column_name FROM information_schema.columns "
            "WHERE data_type = 'VARCHAR' ORDER BY ALL"
        ).fetchall()
        searched, reasons_read = 0, False
        for schema, table, column in columns:
            values = conn.execute(
                f'SELECT "{column}" FROM "{schema}"."{table}" WHERE "{column}" IS NOT NULL'
            ).fetchall()
            text = "\n".join(value for (value,) in values)
            for secret in SECRETS:
                assert secret not in text, f"{secret!r} leaked into {schema}.{table}.{column}"
            searched += len(values)
            reasons_read = reasons_read or "credentials in its host" in text
    assert searched > 1000 and reasons_read  # the search did read the reasons of the failures


def test_no_secret_in_any_staging_file(audited):
    files = sorted(path for path in audited.staging.folder.rglob("*") if path.is_file())
    assert {path.name for path in files} >= {"_status.json", "check_results.parquet", "pagerduty_users.parquet"}
    texts = []
    for path in files:
        texts.append(path.read_bytes().decode("utf-8", errors="replace"))
        if path.suffix == ".parquet":  # compressed on disk: read back the values too
            texts.append(pd.read_parquet(path).to_csv(index=False))
        for text in texts[-2:]:
            assert_no_secret(text, str(path))
    assert "credentials in its host" in "".join(texts)  # the search did read the reasons


def test_no_secret_in_the_weekly_emails(audited, tmp_path):
    paths = write_emails(
        audited.warehouse_url, tmp_path / "emails", week=audited.run.day, digest_to=["cto@example.com"]
    )
    assert len(paths) > 1
    decoded = []
    for path in paths:
        raw = path.read_bytes()
        assert_no_secret(raw.decode("utf-8", errors="replace"), str(path))
        message = email.message_from_bytes(raw, policy=email.policy.default)
        parts = [part.get_content() for part in message.walk() if part.get_content_maintype() == "text"]
        decoded.append("\n".join(parts))
        assert_no_secret(decoded[-1], f"the decoded text of {path.name}")
    assert "credentials in its host" in "".join(decoded)  # the reasons are in the emails, the secrets are not


def test_no_secret_on_the_readiness_page(audited):
    warehouse = Warehouse(page.read_only_url(audited.warehouse_url))
    try:
        card = page.organisation_scorecard(warehouse)
        pages = {"scorecard": page.render_scorecard_page(card, latest_runs=[])}
        for team in card.teams:
            report = page.team_report(warehouse, team.team)
            pages[team.team] = page.render_team_page(report, scorecard_href="../")
    finally:
        warehouse.dispose()
    assert len(pages) > 2
    for name, html in pages.items():
        assert_no_secret(html, f"the Readiness page of {name}")
    assert "credentials in its host" in "".join(pages.values())  # the reasons are shown, the secrets are not
