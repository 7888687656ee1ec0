"""End to end: the real readiness_audit DAG under `airflow dags test`, against the sandbox."""

from __future__ import annotations

import datetime as dt
import email
import json
from email import policy

import pytest
import yaml

from oncall_readiness import schema
from oncall_readiness.report import page
from oncall_readiness.report.email import write_emails
from oncall_readiness.source_catalogue import SOURCES, collected_sources
from oncall_readiness.warehouse import Warehouse
from readiness_sandbox.demo import DEMO_AUDIT_DATE, airflow_env, run_audit
from readiness_sandbox.external_results import seed_external_results
from readiness_sandbox.process import running_sandbox
from readiness_sandbox.prometheus import running_prometheus
from readiness_sandbox.sample_org import CATALOG as SAMPLE_CATALOG
from tests.secret_search import files, leaks, snapshot_sqlite, sqlite_columns, warehouse_columns

SECRET = "e2e-secret-token-4711"
# A distinctive token in every source's connection (the sandbox accepts them all), Prometheus's
# basic-auth password (the real Prometheus ignores it) and smtp_default's (never read by the audit).
TOKENS = {
    "pagerduty": "pd-e2e-secret-4701",
    "grafana": "grafana-e2e-secret-4702",
    "github": "github-e2e-secret-4703",
    "confluence": "confluence-e2e-secret-4704",
    "chaos_calendar": "chaos-e2e-secret-4705",
    "jsm_ops": "jsm-ops-e2e-secret-4708",
    "jira": "jira-e2e-secret-4708",
}
PROMETHEUS_PASSWORD = "prometheus-e2e-secret-4706"
SMTP_PASSWORD = "smtp-e2e-secret-4707"
SECRETS = (*TOKENS.values(), PROMETHEUS_PASSWORD, SMTP_PASSWORD, "e2e-secret-47")
SAMPLE_TEAMS = {"payments", "checkout", "search", "catalog", "identity", "notifications"}

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def audited(tmp_path_factory, airflow_metadata):
    """Run the audit of the demo date twice (the second run must replace, not add)."""
    tmp = tmp_path_factory.mktemp("e2e")
    warehouse_path = tmp / "warehouse.duckdb"
    airflow_metadata(tmp / "airflow" / "airflow.db")  # migrated (run_audit would migrate a missing one)
    # The audit's PagerDuty key is read-only (the emulator refuses a write with it): it never needs more.
    writers = " ".join(token for source, token in TOKENS.items() if source != "pagerduty")
    with (
        running_sandbox(token=writers, read_only_tokens=[TOKENS["pagerduty"]]) as sandbox,
        running_prometheus() as prometheus,
    ):
        env = airflow_env(
            airflow_home=tmp / "airflow",
            sandbox=sandbox,
            warehouse=warehouse_path,
            staging=tmp / "staging",
            prometheus_url=prometheus.base_url,
        )
        env.update(distinct_secrets(env))
        seed_external_results(f"duckdb:///{warehouse_path}")  # what the sample scanner pushed (make demo does too)
        run_audit(env, DEMO_AUDIT_DATE, tmp / "first.log")
        run_audit(env, DEMO_AUDIT_DATE, tmp / "second.log")
        snapshot_sqlite(tmp / "airflow" / "airflow.db", tmp / "metadata-after-second-run.db")  # a rerun replaces it
        # A third run of the date whose catalog is empty must fail and publish nothing.
        (tmp / "empty-catalog").mkdir()
        empty = {**env, "READINESS_CATALOG": str(tmp / "empty-catalog")}
        failed_exit = run_audit(empty, DEMO_AUDIT_DATE, tmp / "empty.log", check=False)
    assert failed_exit != 0
    # What make demo does next: the week's emails (which also creates the send ledger).
    emails = write_emails(f"duckdb:///{warehouse_path}", tmp / "emails", week=dt.date.fromisoformat(DEMO_AUDIT_DATE))
    assert len(emails) == len(SAMPLE_TEAMS) + 2  # one per team, the digest and the commerce department's digest
    warehouse = Warehouse(f"duckdb:///{warehouse_path}")
    yield warehouse, tmp
    warehouse.dispose()


def distinct_secrets(env: dict[str, str]) -> dict[str, str]:
    """The connections of ``env`` with a distinctive secret each, so a leak names its connection."""

    def conn(conn_id: str, **fields) -> tuple[str, str]:
        key = f"AIRFLOW_CONN_{conn_id.upper()}"
        return key, json.dumps(json.loads(env.get(key, "{}")) | fields)

    secrets = dict(conn(SOURCES[name].conn_id, password=token) for name, token in TOKENS.items())
    secrets.update([conn(SOURCES["prometheus"].conn_id, login="readiness", password=PROMETHEUS_PASSWORD)])
    smtp = {"conn_type": "smtp", "host": "127.0.0.1", "port": 9, "login": "mailer", "password": SMTP_PASSWORD}
    return secrets | dict([conn("smtp_default", **smtp)])


def test_the_documented_sql_runs_unchanged_on_the_demo_warehouse(audited, documented_queries):
    warehouse, _ = audited
    assert len(documented_queries) >= 5
    for sql in documented_queries.values():
        warehouse.query(sql)  # raises, naming the SQL, if a documented query does not run
    data_quality = warehouse.query("SELECT source, success FROM readiness.data_quality")
    assert set(data_quality["source"]) == {"registry", *(source.name for source in collected_sources())}
    assert data_quality["success"].all()  # every source meets its contract on the sample org


def test_every_sample_team_gets_a_scorecard_row(audited):
    warehouse, _ = audited
    card = warehouse.query("SELECT team, score, level, audit_date FROM readiness.scorecard")
    assert sorted(card["team"]) == sorted(SAMPLE_TEAMS)  # once each, after two runs
    assert {str(day)[:10] for day in card["audit_date"]} == {DEMO_AUDIT_DATE}


def test_a_run_with_an_empty_catalog_fails_and_leaves_the_days_scorecard(audited):
    warehouse, tmp = audited
    log = (tmp / "empty.log").read_text()
    assert "no teams: the catalog holds no Group entities" in log
    assert log.count("[DAG TEST] running task <TaskInstance: readiness_audit.load_registry") == 1  # not retried
    for task in ("evaluate_checks", "score", "publish"):
        assert f"running task <TaskInstance: readiness_audit.{task} " not in log, f"{task} ran after a failed registry"
    card = warehouse.query("SELECT team FROM readiness.scorecard")
    assert sorted(card["team"]) == sorted(SAMPLE_TEAMS)  # the earlier run's rows are intact


def test_rotation_sustainability_reasons_name_what_to_fix(audited):
    warehouse, _ = audited
    results = warehouse.query(
        "SELECT team, status, reason FROM readiness.check_results_latest WHERE check_id = 'rotation-sustainability'"
    ).set_index("team")
    assert "every 1 day" in results.at["search", "reason"]
    assert "Noah Schulz" in results.at["catalog", "reason"]
    assert "Oliver Bennett" in results.at["identity", "reason"]
    assert "has 2 people on call" in results.at["notifications", "reason"]


# What include/sample_org/README.md designs for every team and check on the demo date.
DESIGNED = {
    "rotation-sustainability": ["pass", "pass", "warn", "warn", "warn", "fail"],
    "runbook-freshness": ["pass", "fail", "warn", "warn", "pass", "fail"],
    "alert-definitions": ["pass", "warn", "fail", "warn", "pass", "fail"],
    "dashboard-coverage": ["pass", "warn", "fail", "warn", "pass", "fail"],
    "joiner-permissions": ["pass", "warn", "pass", "fail", "fail", "fail"],
    "escalation-path": ["pass", "warn", "warn", "fail", "fail", "fail"],
    # Commanders named up the Group tree, their workflows in pagerduty.yaml (include/sample_org/README.md).
    "incident-command": ["pass", "warn", "warn", "warn", "fail", "fail"],
    "oncall-load": ["pass", "warn", "warn", "pass", "fail", "fail"],
    # notifications' fail is waived (include/sample_org/catalog/readiness-waivers.yaml); catalog's waiver expired.
    "chaos-day": ["pass", "warn", "warn", "fail", "pass", "waived"],
    # Sloth and Pyrra rules in the sample Prometheus, Grafana SLOs in grafana.yaml (include/sample_org/README.md).
    "availability-target": ["pass", "warn", "fail", "warn", "pass", "fail"],
    # External: the results include/sample_org/external_results.yaml pushed (observed up to the instant).
    "security-scan": ["pass", "pass", "warn", "pass", "pass", "fail"],
    # Reviews in confluence.yaml, actions in jira.yaml (include/sample_org/README.md, post-incident-review).
    "post-incident-review": ["pass", "fail", "fail", "pass", "warn", "fail"],
}
IDENTITY_ALERT_73 = "a1e00000-1d00-4000-8000-000000000012"  # include/sample_org/jsm_ops.yaml
IDENTITY_ALERT_77 = "a1e00000-1d00-4000-8000-000000000001"
TEAM_ORDER = ["payments", "checkout", "search", "catalog", "identity", "notifications"]


def test_every_check_comes_out_as_the_sample_org_designs(audited):
    warehouse, _ = audited
    results = warehouse.query("SELECT team, check_id, status FROM readiness.check_results_latest")
    matrix = results.pivot(index="check_id", columns="team", values="status")[TEAM_ORDER]
    assert {check: list(row) for check, row in matrix.iterrows()} == DESIGNED
    for check, statuses in DESIGNED.items():
        assert {"pass", "warn", "fail"} <= set(statuses), check


def test_reviews_and_actions_reach_the_warehouse_and_every_email(audited):
    warehouse, tmp = audited
    reviews = warehouse.query(
        "SELECT incident_id, team, late, restricted FROM readiness.incident_reviews WHERE audit_date = :d"
        " AND review_url IS NOT NULL",
        d=DEMO_AUDIT_DATE,
    ).set_index("incident_id")
    assert set(reviews["team"]) == {"catalog", "identity", "payments"}
    # identity is on JSM Operations: its reviews are of its alerts (#73 late, #77 restricted).
    assert reviews.at[IDENTITY_ALERT_73, "late"] and reviews.at[IDENTITY_ALERT_77, "restricted"]
    actions = warehouse.query(
        "SELECT key, days_overdue FROM readiness.action_items WHERE audit_date = :d", d=DEMO_AUDIT_DATE
    ).set_index("key")
    assert actions.at["IDN-31", "days_overdue"] == 3
    for name in ("digest", "team-payments", "team-catalog"):
        message = email.message_from_bytes((tmp / "emails" / f"{name}.eml").read_bytes(), policy=policy.default)
        text = message.get_body(("plain",)).get_content()
        assert "WHAT WE LEARNED LAST WEEK" in text and "Product detail latency: what we learned" in text
        assert "Sign-in outage (P1): review" not in text  # restricted: not shared with everyone
    checkout = email.message_from_bytes((tmp / "emails" / "team-checkout.eml").read_bytes(), policy=policy.default)
    assert "- Incident #52 Checkout 5xx rate above 2%: review due 2026-11-02" in (
        checkout.get_body(("plain",)).get_content()
    )


def test_the_campaigns_and_the_department_roll_up_show_in_the_warehouse_and_the_emails(audited):
    warehouse, tmp = audited
    progress = warehouse.query(
        "SELECT campaign_id, team, meets, due FROM readiness.campaign_progress WHERE audit_date = :d",
        d=DEMO_AUDIT_DATE,
    )
    rotations = progress[progress["campaign_id"] == "sustainable-rotations"]
    assert sorted(rotations["team"]) == sorted(SAMPLE_TEAMS)  # once each, after two runs
    assert set(rotations.loc[rotations["meets"], "team"]) == {"payments", "checkout"}  # rotation-sustainability pass
    card = warehouse.query("SELECT team, score, level FROM readiness.scorecard_latest").set_index("team")
    commerce = ["payments", "checkout", "search", "catalog"]
    bronze = progress[progress["campaign_id"] == "commerce-bronze"].set_index("team")["meets"]
    assert sorted(bronze.index) == sorted(commerce)  # the department stands for its four teams
    assert bronze.to_dict() == {team: card.at[team, "level"] in ("gold", "silver", "bronze") for team in commerce}
    (rollup,) = warehouse.query("SELECT * FROM readiness.scorecard_rollup WHERE audit_date = :d", d=DEMO_AUDIT_DATE)[
        ["group_name", "group_type", "score", "level", "teams", "services"]
    ].to_dict("records")
    services = {"payments": 5, "checkout": 4, "search": 3, "catalog": 3}
    weighted = sum(card.at[team, "score"] * count for team, count in services.items()) / sum(services.values())
    assert rollup["group_name"] == "commerce" and rollup["teams"] == 4 and rollup["services"] == 15
    assert rollup["score"] == pytest.approx(weighted, abs=0.05)
    assert rollup["level"] == schema.lowest_level([card.at[team, "level"] for team in commerce])
    assert "commerce" not in set(card.index)  # scored through its roll-up, not as a team
    head = email.message_from_bytes((tmp / "emails" / "department-commerce.eml").read_bytes(), policy=policy.default)
    assert head["To"] == "head-commerce@example.com"
    notifications = (tmp / "emails" / "team-notifications.eml").read_bytes()
    text = email.message_from_bytes(notifications, policy=policy.default).get_body(("plain",)).get_content()
    assert "CAMPAIGNS YOU ARE BEHIND ON" in text and "Sustainable rotations before the holiday freeze" in text


def test_waivers_and_scopes_show_in_the_warehouse_and_the_emails(audited):
    warehouse, tmp = audited
    waivers = warehouse.query(
        "SELECT team, check_id, active, expires FROM readiness.waivers WHERE audit_date = :d", d=DEMO_AUDIT_DATE
    ).set_index("team")
    assert waivers["active"].to_dict() == {"notifications": True, "catalog": False}  # catalog's expired 2026-11-13
    waived = warehouse.query(
        "SELECT reason, score FROM readiness.check_results_latest WHERE team = :t AND check_id = 'chaos-day'",
        t="notifications",
    )
    assert waived["reason"].iloc[0].startswith("Waived until 2026-12-15 by dana.lee@example.com: The team is moving")
    assert waived["score"].isna().all()  # not counted in the score
    skipped = warehouse.query(
        "SELECT check_id, outcome, message FROM readiness.findings WHERE audit_date = :d AND subject = :s",
        d=DEMO_AUDIT_DATE,
        s="service:payments-sandbox",
    )
    scoped = {
        "runbook-freshness",
        "alert-definitions",
        "dashboard-coverage",
        "escalation-path",
        "incident-command",
        "availability-target",
    }
    assert set(skipped["check_id"]) == scoped
    assert (skipped["outcome"] == "pass").all() and skipped["message"].str.startswith("Out of scope:").all()

    def plain_text(team: str) -> str:
        message = email.message_from_bytes((tmp / "emails" / f"team-{team}.eml").read_bytes(), policy=policy.default)
        return message.get_body(("plain",)).get_content()

    assert "chaos-day: expired on 2026-11-13: it no longer applies" in plain_text("catalog")
    assert "chaos-day: in force until 2026-12-15" in plain_text("notifications")
    assert (
        "- service:payments-sandbox: lifecycle experimental (the check applies to lifecycle production); "
        "not counted by alert-definitions, availability-target, dashboard-coverage, escalation-path, "
        "incident-command, runbook-freshness"
    ) in plain_text("payments")


def test_an_external_result_joins_the_audit_as_of_its_instant(audited):
    warehouse, _ = audited
    findings = warehouse.query(
        "SELECT team, subject, outcome, message FROM readiness.findings WHERE check_id = 'security-scan'"
        " AND audit_date = :d ORDER BY team, subject",
        d=DEMO_AUDIT_DATE,
    )
    catalog = findings[findings["team"] == "catalog"]
    assert list(catalog["outcome"]) == ["pass"]  # its fail observed on 2026-11-20 is after the instant
    push = findings[findings["subject"] == "service:notifications-push"]
    assert list(push["outcome"]) == ["pass"]  # the latest result, not October's fail
    sms = findings[findings["subject"] == "service:notifications-sms"]
    assert sms["message"].iloc[0].startswith("CVE-2026-1234 (critical) in openssl 3.0.1")
    pushed = warehouse.query("SELECT COUNT(*) AS n FROM readiness.external_results")
    assert pushed["n"].iloc[0] == 10  # stored once although the audit ran twice


def test_escalation_path_reasons_name_the_window_and_the_person(audited):
    warehouse, _ = audited
    results = warehouse.query(
        "SELECT team, reason FROM readiness.check_results_latest WHERE check_id = 'escalation-path'"
    ).set_index("team")["reason"]
    assert "Nobody is on call in Identity on-call from 2026-11-21 18:00 to 2026-11-23 09:00 UTC" in results["identity"]
    assert "Olivia Turner" in results["notifications"] and "can be woken" in results["notifications"]
    assert (
        "Jamal Wright"
        in warehouse.query(
            "SELECT message FROM readiness.findings WHERE check_id = 'escalation-path' AND team = 'checkout'"
        )["message"].str.cat()
    )


def test_the_slos_of_all_three_tools_reach_the_warehouse_with_their_services(audited):
    warehouse, _ = audited
    slos = warehouse.query(
        "SELECT team, service, slo, objective, source, page_burn_rate_alert FROM readiness.slos WHERE audit_date = :d",
        d=DEMO_AUDIT_DATE,
    ).set_index("service")
    payments = slos[slos["team"] == "payments"]
    assert payments["source"].to_dict() == {
        "payments-api": "sloth",
        "payments-ledger": "pyrra",
        "payments-reconciler": "sloth",
        "payments-webhooks": "grafana",
    }  # read from the real Prometheus's recording rules and the Grafana SLO API
    assert payments["page_burn_rate_alert"].all()
    assert slos.at["checkout-api", "objective"] == pytest.approx(99.9)  # weaker than its 99.95% target: warns
    assert "Grafana availability" not in set(slos["slo"])  # matched to no service: only in the facts


def test_incident_command_reasons_name_the_service_the_person_and_the_gap(audited):
    warehouse, _ = audited
    reasons = warehouse.query(
        "SELECT team, reason FROM readiness.check_results_latest WHERE check_id = 'incident-command'"
    ).set_index("team")["reason"]
    assert "checkout-tax" in reasons["checkout"]
    assert "Arjun Mehta commands" in reasons["search"] and "for their own team" in reasons["search"]
    assert reasons["notifications"].startswith("Nobody is on call in Notifications incident commanders from")
    assert "readiness/incident-commander-schedule" in reasons["identity"]


def test_alert_definitions_reasons_name_the_rules(audited):
    warehouse, _ = audited
    results = warehouse.query(
        "SELECT team, status, reason FROM readiness.check_results_latest WHERE check_id = 'alert-definitions'"
    ).set_index("team")
    assert "CheckoutFraudScorerSlowDecisions" in results.at["checkout", "reason"]
    assert "1 paused Grafana rule does not count" in results.at["search", "reason"]
    rules = warehouse.query("SELECT COUNT(*) AS n FROM readiness.facts_prometheus_alert_rules")
    assert rules["n"].iloc[0] > 0


def test_findings_and_facts_are_published_without_secrets(audited):
    warehouse, tmp = audited
    findings = warehouse.query(
        "SELECT * FROM readiness.findings WHERE team = 'identity' AND outcome = 'warn' AND check_id = :c",
        c="rotation-sustainability",
    )
    assert list(findings["subject"]) == ["person:oliver-bennett"]
    shifts = warehouse.query("SELECT COUNT(*) AS n FROM readiness.facts_pagerduty_oncall_shifts")
    assert shifts["n"].iloc[0] > 0
    for log in ("first.log", "second.log"):
        assert not leaks({log: (tmp / log).read_text()}, SECRETS)
    assert not leaks(warehouse_columns(warehouse.query), SECRETS)


def test_no_connection_secret_in_airflow_logs_xcom_rendered_fields_or_any_output(audited):
    """Every connection's secret, searched in all Airflow wrote (task logs, its metadata DB: XCom,
    rendered templates, notes, the audit log) and all the audit wrote (staging, warehouse, emails, page)."""
    warehouse, tmp = audited
    metadata = sqlite_columns(tmp / "metadata-after-second-run.db")  # the published run's XComs
    metadata |= {f"{where} (last run)": text for where, text in sqlite_columns(tmp / "airflow" / "airflow.db").items()}
    texts = {
        **{log: (tmp / log).read_text() for log in ("first.log", "second.log", "empty.log")},  # `dags test` output
        **files(tmp / "airflow" / "logs"),  # task log files, where the configured handler writes them
        **metadata,
        **files(tmp / "staging"),
        **files(tmp / "emails"),
        **warehouse_columns(warehouse.query),
        **page_html(warehouse),
    }
    assert not leaks(texts, SECRETS)
    # The search read what it should: the XComs (staging paths, row counts), the staged facts, the page.
    assert str(tmp / "staging") in metadata["metadata DB xcom.value"]
    assert "running task <TaskInstance: readiness_audit.publish" in texts["first.log"]
    assert any(where.endswith("pagerduty_users.parquet (values)") for where in texts)
    assert "rotation-sustainability" in texts["page of checkout"]


def page_html(warehouse: Warehouse) -> dict[str, str]:
    """The Readiness page of the organisation and of each team, as the plugin renders them."""
    card = page.organisation_scorecard(warehouse)
    pages = {"page scorecard": page.render_scorecard_page(card, latest_runs=[])}
    for team in card.teams:
        pages[f"page of {team.team}"] = page.render_team_page(
            page.team_report(warehouse, team.team), scorecard_href="../"
        )
    return pages


@pytest.fixture(scope="module")
def corrupted(tmp_path_factory, airflow_metadata):
    """The audit while PagerDuty answers with two users sharing one email (a broken read)."""
    tmp = tmp_path_factory.mktemp("e2e-corrupted")
    airflow_metadata(tmp / "airflow" / "airflow.db")
    state = yaml.safe_load((SAMPLE_CATALOG.parent / "pagerduty.yaml").read_text())
    state["users"][1]["email"] = state["users"][0]["email"]
    warehouse_path = tmp / "warehouse.duckdb"
    seed_external_results(f"duckdb:///{warehouse_path}")  # as the demo: the external check is not PagerDuty's
    with running_sandbox(states={"pagerduty": state}, token=SECRET) as sandbox, running_prometheus() as prometheus:
        env = airflow_env(
            airflow_home=tmp / "airflow",
            sandbox=sandbox,
            warehouse=warehouse_path,
            staging=tmp / "staging",
            prometheus_url=prometheus.base_url,
        )
        run_audit(env, DEMO_AUDIT_DATE, tmp / "run.log", check=False)
    warehouse = Warehouse(f"duckdb:///{warehouse_path}")
    yield warehouse, (tmp / "run.log").read_text()
    warehouse.dispose()


def test_a_corrupted_source_fails_its_validation_task_and_its_checks_are_unknown(corrupted):
    warehouse, log = corrupted
    assert "pagerduty data failed validation" in log  # the failed task says why
    results = warehouse.query("SELECT team, check_id, status, reason FROM readiness.check_results_latest")
    reads_pagerduty = results["check_id"].isin(
        [
            "rotation-sustainability",
            "joiner-permissions",
            "escalation-path",
            "incident-command",
            "oncall-load",
            "post-incident-review",
        ]
    )
    dependent, rest = results[reads_pagerduty], results[~reads_pagerduty]
    assert sorted(dependent["team"].unique()) == sorted(SAMPLE_TEAMS)
    # identity is on call in JSM Operations: PagerDuty's broken read leaves it judged, as designed
    on_pagerduty = dependent["team"] != "identity"
    assert set(dependent.loc[on_pagerduty, "status"]) == {"unknown"}
    assert (
        dependent.loc[on_pagerduty, "reason"]
        .str.contains("expect_column_values_to_be_unique(column=email)", regex=False)
        .all()
    )
    identity = dependent[~on_pagerduty].set_index("check_id")["status"].to_dict()
    assert identity == {check: DESIGNED[check][TEAM_ORDER.index("identity")] for check in identity}
    rest_matrix = rest.pivot(index="check_id", columns="team", values="status")[TEAM_ORDER]
    assert {check: list(row) for check, row in rest_matrix.iterrows()} == {
        check: statuses for check, statuses in DESIGNED.items() if check in set(rest["check_id"])
    }  # the rest of the scorecard is intact
    card = warehouse.query("SELECT team, level, fully_assessed FROM readiness.scorecard_latest")
    assert len(card) == len(SAMPLE_TEAMS) and not card.loc[card["team"] != "identity", "fully_assessed"].any()
    failed = warehouse.query("SELECT facts_table FROM readiness.data_quality WHERE NOT success")
    assert list(failed["facts_table"]) == ["pagerduty_users"]
