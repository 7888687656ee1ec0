"""A hostile organisation: HTML and script in every name the sources serve arrive as text, stored verbatim.

A copy of the sample organisation (``readiness_sandbox.sample_org``) in tmp, with a payload
injected into a name or text of each source: a person's name (catalog, HR export, PagerDuty,
Grafana: one text replacement across every file, so the joins still hold), a team's display
name, a PagerDuty schedule, a Grafana dashboard and a Grafana-managed alert rule's annotation,
a Prometheus rule's annotation (loaded by a real Prometheus), a Confluence runbook's title and
a Chaos Day calendar event's summary. The audit's steps run against the sandbox serving it;
then the Readiness page and the weekly emails are rendered from the warehouse.

Every payload must arrive escaped in HTML (no ``<script>`` element and no ``on*`` attribute
beyond the templates' own), be readable as text where it is shown, and be stored verbatim in
the warehouse: data is data. The team named ``<script>alert(1)</script>`` of the history
fixture (tests/integration/conftest.py) covers team names, which the catalog itself refuses.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import json
import re
import shutil
from html.parser import HTMLParser
from types import SimpleNamespace

import pytest

from oncall_readiness import audit
from oncall_readiness.errors import ConnectionConfigError, DataQualityError, SourceError
from oncall_readiness.report import page
from oncall_readiness.report.email import write_emails
from oncall_readiness.report.page.campaigns import campaigns_view, group_tree, render_campaigns_page, render_groups_page
from oncall_readiness.source_catalogue import SOURCES
from oncall_readiness.warehouse import Warehouse
from readiness_sandbox.demo import source_connections
from readiness_sandbox.process import running_sandbox
from readiness_sandbox.prometheus import find_prometheus, running_prometheus
from readiness_sandbox.sample_org import SAMPLE_ORG

pytestmark = pytest.mark.integration

AUDIT_DAY = "2026-11-16"
# (file or glob under the organisation, text replaced, by what): each payload distinct, so a failure names it.
INJECTIONS = {
    "person": ("**/*", "Noah Schulz", "Noah <img src=x onerror=alert(101)> Schulz"),
    "pagerduty user": ("**/*", "Jamal Wright", "Jamal <script>alert(102)</script> Wright"),
    "team display name": (
        "catalog/payments.yaml",
        "displayName: Payments",
        "displayName: Pay<script>alert(103)</script>",
    ),
    "pagerduty schedule": (
        "pagerduty.yaml",
        "name: Identity on-call",
        "name: Identity <svg onload=alert(104)> on-call",
    ),
    "grafana dashboard": ("grafana.yaml", "title: Payments overview", "title: Payments <script>alert(105)</script>"),
    "grafana rule annotation": (
        "grafana.yaml",
        "summary: More than 2% of catalog API requests fail",
        "summary: <img src=x onerror=alert(106)> catalog API requests fail",
    ),
    "prometheus rule annotation": (
        "prometheus/rules/*",
        "summary: More than 2% of payments-api requests fail.",
        "summary: <script>alert(107)</script> payments-api requests fail.",
    ),
    "confluence runbook title": (
        "confluence.yaml",
        "title: Payments Reconciler Runbook",
        "title: Payments <iframe src=javascript:alert(108)></iframe> Runbook",
    ),
    "chaos day summary": (
        "chaos_days.ics",
        "SUMMARY:Payments: kill the ledger primary",
        "SUMMARY:Payments: kill the <script>alert(109)</script> ledger primary",
    ),
    # Identity is on call in JSM Operations: its schedule there is the one the checks name.
    "jsm ops schedule": (
        "jsm_ops.yaml",
        "name: Identity on-call",
        "name: Identity <svg onload=alert(110)> on-call",
    ),
}
# The value a source serves: the replacement without its YAML key or iCalendar property name.
PAYLOADS = {name: re.sub(r"^(?:\w+: |SUMMARY:)", "", new) for name, (_, _, new) in INJECTIONS.items()}
MARKERS = {name: f"alert({100 + number})" for number, name in enumerate(INJECTIONS, start=1)}


def hostile_copy(folder):
    """The sample organisation copied to ``folder``, each injection applied (and found: else the test is void)."""
    org = folder / "org"
    shutil.copytree(SAMPLE_ORG, org)
    for name, (pattern, old, new) in INJECTIONS.items():
        hits = 0
        for path in sorted(
            p for p in org.glob(pattern) if p.is_file() and p.suffix in (".yaml", ".yml", ".ics", ".csv")
        ):
            text = path.read_text(encoding="utf-8")
            if old in text:
                path.write_text(text.replace(old, new), encoding="utf-8")
                hits += 1
        assert hits, f"{name}: {old!r} is no longer in the sample organisation; pick another string"
    return org


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    """The hostile organisation audited through the sandbox (and a real Prometheus), published to DuckDB."""
    if not find_prometheus():
        pytest.skip("a real Prometheus loads the hostile rule files")
    work = tmp_path_factory.mktemp("hostile")
    org = hostile_copy(work)
    url = f"duckdb:///{work / 'warehouse.duckdb'}"
    states = {"pagerduty": org / "pagerduty.yaml", "grafana": org / "grafana.yaml", "github": org / "github.yaml"}
    states |= {
        "confluence": org / "confluence.yaml",
        "chaos_calendar": org / "chaos_days.ics",
        "jsm_ops": org / "jsm_ops.yaml",
    }
    with (
        pytest.MonkeyPatch.context() as env,
        running_sandbox(states=states, timeout=120) as sandbox,  # a loaded CI machine starts it slowly
        running_prometheus(org / "prometheus" / "rules") as prometheus,
    ):
        env.setenv("READINESS_CATALOG", str(org / "catalog"))
        env.setenv("READINESS_HR_CSV", str(org / "hr_joiners.csv"))
        env.setenv("READINESS_STAGING_DIR", str(work / "staging"))
        for conn_id, connection in source_connections(sandbox).items():
            env.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(connection))
        prometheus_conn = {"conn_type": SOURCES["prometheus"].hook.conn_type, "host": prometheus.base_url}
        env.setenv(f"AIRFLOW_CONN_{SOURCES['prometheus'].conn_id.upper()}", json.dumps(prometheus_conn))
        run = audit.AuditRun(audit.audit_instant(f"{AUDIT_DAY}T00:00:00+00:00"), "manual__hostile")
        failed = run_audit(run, url)
    emails = write_emails(url, work / "emails", week=run.day, digest_to=["cto@example.com"])
    warehouse = Warehouse(url)
    yield SimpleNamespace(warehouse=warehouse, failed=failed, emails=emails, pages=rendered_pages(warehouse))
    warehouse.dispose()


def run_audit(run: audit.AuditRun, warehouse_url: str) -> dict[str, str]:
    """The DAG's steps in order; the sources whose collection or validation failed, and why."""
    failed = {}
    audit.stage_registry(run)
    audit.stage_quality("registry", run)
    for source in audit.sources_to_collect():
        try:
            audit.stage_source(source, run)
            audit.stage_quality(source, run)
        except (SourceError, DataQualityError, ConnectionConfigError) as error:
            failed[source] = str(error)
    audit.stage_checks(run, warehouse_url)
    audit.stage_scorecard(run, warehouse_url)
    audit.publish(run, warehouse_url)
    return failed


def rendered_pages(warehouse: Warehouse) -> dict[str, str]:
    """The Readiness page of the organisation, of each team, its campaigns and groups, as the plugin serves them."""
    card = page.organisation_scorecard(warehouse)
    pages = {"scorecard": page.render_scorecard_page(card, latest_runs=[])}
    for team in card.teams:
        pages[team.team] = page.render_team_page(page.team_report(warehouse, team.team), scorecard_href="../")
    day = dt.date.fromisoformat(AUDIT_DAY)
    pages["campaigns"] = render_campaigns_page(campaigns_view(warehouse, day), day)
    tree = group_tree(warehouse, day)
    if tree is not None:
        pages["groups"] = render_groups_page(tree)
    return pages


class Elements(HTMLParser):
    """What a browser would make of a document: its elements, their attributes, and its text."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[str] = []
        self.text: list[str] = []
        self._in_script = False
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_endtag(self, tag):
        self._in_script = False if tag == "script" else self._in_script

    def handle_data(self, data):
        (self.scripts if self._in_script else self.text).append(data)

    def text_content(self) -> str:
        return "".join(self.text)


def assert_inert(html: str, where: str) -> str:
    """No payload is live in ``html``: no injected element, no event handler, no script with a marker. Its text."""
    parsed = Elements(html)
    for tag, attributes in parsed.tags:
        assert tag != "iframe" and attributes.get("src") != "x", f"{where}: a live <{tag} {attributes}> element"
        handlers = [name for name in attributes if name.startswith("on")]
        assert not handlers, f"{where}: <{tag}> has event handler attributes {handlers}"
        assert not any("javascript:" in (value or "") for value in attributes.values()), f"{where}: javascript: URL"
    assert not any("alert(" in script for script in parsed.scripts), f"{where}: a payload runs as a script"
    for marker in MARKERS.values():
        assert f"<script>{marker}" not in html, f"{where}: raw {marker}"
    return "".join(parsed.text)


# The page ---------------------------------------------------------------------------------------------


def test_no_source_failed_on_the_hostile_names(hostile):
    assert hostile.failed == {}  # every source served its hostile names and met its data contract


def test_every_payload_on_the_readiness_page_is_escaped_text(hostile):
    shown = {where: assert_inert(html, f"the page of {where}") for where, html in hostile.pages.items()}
    text = "\n".join(shown.values())
    on_the_page = {name for name, payload in PAYLOADS.items() if payload in text}
    # What the page quotes by design: people and schedules named by checks, the Chaos Day named by chaos-day.
    assert {"person", "pagerduty user", "jsm ops schedule", "chaos day summary"} <= on_the_page, on_the_page


def test_the_team_named_script_of_the_history_is_escaped_text_on_its_page(history_url, history):
    """Team names: the catalog refuses HTML in a name, but the warehouse may hold one (the history's)."""
    warehouse = Warehouse(history_url)
    try:
        card = page.organisation_scorecard(warehouse)
        pages = {"scorecard": page.render_scorecard_page(card, latest_runs=[])}
        report = page.team_report(warehouse, history.SCRIPT_TEAM)
        pages["team"] = page.render_team_page(report, scorecard_href="../")
    finally:
        warehouse.dispose()
    for where, html in pages.items():
        # The scorecard page has a script of its own (its filters): the name is text, never markup,
        # and no script of the page holds it (assert_inert: none calls alert()).
        text = assert_inert(html, f"the {where} page")
        assert history.SCRIPT_TEAM not in html and history.SCRIPT_TEAM in text
    assert history.SCRIPT_SUBJECT.removeprefix("person:") in Elements(pages["team"]).text_content()


def test_every_payload_in_the_weekly_emails_is_escaped_html_and_plain_text(hostile):
    seen = set()
    for path in hostile.emails:
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        html = message.get_body(("html",)).get_content()
        text = assert_inert(html, f"the HTML of {path.name}")
        plain = message.get_body(("plain",)).get_content()
        seen |= {name for name, payload in PAYLOADS.items() if payload in text and payload in plain}
    quoted = {"person", "pagerduty user", "jsm ops schedule", "team display name", "chaos day summary"}
    assert quoted <= seen, seen  # shown, as text, in both parts


# The warehouse ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "table", "column"),
    [
        ("person", "facts_registry_people", "display_name"),
        ("pagerduty user", "facts_pagerduty_users", "name"),
        ("pagerduty schedule", "facts_pagerduty_schedules", "name"),
        ("jsm ops schedule", "facts_jsm_ops_schedules", "name"),
        ("grafana dashboard", "facts_grafana_dashboards", "title"),
        ("confluence runbook title", "facts_confluence_runbooks", "title"),
        ("chaos day summary", "facts_chaos_calendar_events", "summary"),
        ("team display name", "facts_registry_teams", "display_name"),
        ("grafana rule annotation", "facts_grafana_alert_rules", "annotations"),
        ("prometheus rule annotation", "facts_prometheus_alert_rules", "annotations"),
    ],
)
def test_the_warehouse_stores_each_payload_verbatim(hostile, name, table, column):
    values = hostile.warehouse.query(f'SELECT "{column}" AS v FROM readiness.{table}')["v"].dropna()
    assert values.str.contains(PAYLOADS[name], regex=False).any(), f"{PAYLOADS[name]!r} not in {table}.{column}"


def test_findings_built_from_hostile_names_keep_them_verbatim(hostile):
    messages = hostile.warehouse.query(
        "SELECT message FROM readiness.findings UNION ALL SELECT reason FROM readiness.check_results"
    )["message"].dropna()
    text = "\n".join(messages)
    assert PAYLOADS["person"] in text and PAYLOADS["pagerduty user"] in text
    assert "&lt;" not in text  # escaping is the renderer's job, never the data's
