"""`make demo`: weeks of daily audits, through real Airflow, on the built-in sample organisation.

Dates the sample organisation for the audit date (``sample_times``: the sample, authored
against 2026-11-16, moved to the latest Monday by default, so that nothing reads weeks old
under today's clock), starts the sandbox (emulated PagerDuty, Grafana, GitHub, Confluence and
the Chaos Day calendar serving it) and a real Prometheus with the sample org's alerting rules
(both on loopback), and runs ``readiness_audit`` for the audit date and the ``--weeks`` - 1
Mondays before it, oldest first, each date as ``airflow dags test`` in one Airflow process
(``audit_dates``; SQLite metadata, DuckDB warehouse). Each date reads every source as of its
instant, so the history is the pipeline's, not made up. Then it writes
``out/warehouse.duckdb``, ``out/scorecard.html``, the week's emails in ``out/emails/`` and the
day's same-day alerts in ``out/alerts/``, prints the scorecard, and stops what it started.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from oncall_readiness.alerts.changes import changes_on, team_addresses
from oncall_readiness.alerts.messages import build_email
from oncall_readiness.hooks.pagerduty import PagerDutyNotesHook
from oncall_readiness.report.email import sender_address, write_emails
from oncall_readiness.report.html import load_audit, write_scorecard
from oncall_readiness.report.message import format_score, page_link
from oncall_readiness.report.page.static import write_static_pages
from oncall_readiness.source_catalogue import REGISTRY, REGISTRY_API_HOOK, SOURCES
from oncall_readiness.warehouse import Warehouse
from readiness_sandbox import sample_org
from readiness_sandbox.emulators import EMULATORS
from readiness_sandbox.external_results import seed_external_results
from readiness_sandbox.process import SandboxHandle, running_sandbox
from readiness_sandbox.prometheus import INSTALL_HINT, find_prometheus, running_prometheus
from readiness_sandbox.sample_times import shifted_sample_org

REPO = Path(__file__).resolve().parents[2]
DEMO_AUDIT_DATE = "2026-11-16"  # the sample's anchor (sample_times.ANCHOR): the tests audit it unshifted
DEMO_WEEKS = 6
DAG_ID = "readiness_audit"
DEMO_DIGEST_RECIPIENTS = ["engineering-leadership@example.com"]
# The files the audit finds beside a catalog of files; read through the catalog API, they are named.
SAMPLE_CATALOG_FILES = {
    "READINESS_WAIVERS": "readiness-waivers.yaml",
    "READINESS_CAMPAIGNS": "readiness-campaigns.yaml",
    "READINESS_CHECKS": "readiness-checks.yaml",
}
# Where `make airflow` serves the Readiness page (its default port): the emails and alerts link there.
DEMO_PAGE_URL = "http://localhost:8080/readiness"


def airflow_env(
    *,
    airflow_home: Path,
    sandbox: SandboxHandle,
    warehouse: Path,
    staging: Path,
    prometheus_url: str | None = None,
    registry_api: bool = False,
    sample: Path = sample_org.SAMPLE_ORG,
) -> dict[str, str]:
    """An embedded Airflow aimed at the sandbox: SQLite metadata, every connection from env vars.

    ``registry_api``: the registry read from the sandbox's Backstage catalog API (connection
    ``backstage_default``) instead of the catalog's files (``READINESS_CATALOG`` unset: one way
    only), the waivers, campaigns and external checks files named by their settings.

    These are the embedded defaults, and only the demo, ``make airflow`` and the tests use them:
    the sample organisation's catalog and HR export, a DuckDB warehouse file, and a connection
    of each source's own type (its hook's) aimed at the sandbox. Without ``prometheus_url``
    there is no ``prometheus_default``: that source is skipped and its checks are unknown.
    ``sample``: the sample organisation's folder (a dated copy, ``sample_times``).
    """
    connections = source_connections(sandbox)
    # incident_cost_watch's notes go through their own connection (a key that may write notes), posted
    # as the sandbox user the sample organisation names (PagerDuty requires a From header).
    connections[PagerDutyNotesHook.default_conn_name] = {
        "conn_type": PagerDutyNotesHook.conn_type,
        **sandbox.connections()["pagerduty"],
        "extra": {"from": sample_org.NOTES_FROM},
    }
    connections["readiness_warehouse"] = {"conn_type": "generic", "extra": {"url": f"duckdb:///{warehouse}"}}
    if prometheus_url:  # a real Prometheus (no auth) serving the sample rule files
        hook = SOURCES["prometheus"].hook
        connections[hook.default_conn_name] = {"conn_type": hook.conn_type, "host": prometheus_url}
    env = dict(os.environ)
    env.update(
        {
            "AIRFLOW_HOME": str(airflow_home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{airflow_home / 'airflow.db'}",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            "READINESS_STAGING_DIR": str(staging),
            "READINESS_CATALOG": str(sample / sample_org.CATALOG.relative_to(sample_org.SAMPLE_ORG)),
            "READINESS_HR_CSV": str(sample / sample_org.HR_EXPORT.relative_to(sample_org.SAMPLE_ORG)),
        }
    )
    if registry_api:
        _read_registry_from_api(env, connections, sandbox)
    env.update({f"AIRFLOW_CONN_{conn_id.upper()}": json.dumps(conn) for conn_id, conn in connections.items()})
    return env


def source_connections(sandbox: SandboxHandle) -> dict[str, dict[str, Any]]:
    """Connection id -> the Airflow connection (its hook's type) of every source read through one, aimed at the sandbox.

    The sandbox's Backstage emulator serves the registry, which has no hook in ``SOURCES``: it is
    read from the catalog's files unless asked for the catalog API (``airflow_env``'s
    ``registry_api``), so it is left out here. The demo, ``make airflow`` and the tests share this.
    """
    return {
        source.conn_id: {"conn_type": source.hook.conn_type, **fields}
        for name, fields in sandbox.connections().items()
        if (source := SOURCES[name]).hook
    }


def _read_registry_from_api(env: dict[str, str], connections: dict[str, Any], sandbox: SandboxHandle) -> None:
    """The sample registry through the sandbox's Backstage catalog API; the files beside the catalog named."""
    hook = REGISTRY_API_HOOK
    connections[hook.default_conn_name] = {"conn_type": hook.conn_type, **sandbox.connections()[REGISTRY]}
    env.pop("READINESS_CATALOG")
    for variable, name in SAMPLE_CATALOG_FILES.items():
        if (sample_org.CATALOG / name).is_file():
            env[variable] = str(sample_org.CATALOG / name)


def run_audit(env: dict[str, str], audit_date: str, log_path: Path, *, check: bool = True) -> int:
    """``airflow dags test`` the audit, echoing task progress and keeping the full log; its exit code."""
    airflow = str(Path(sys.executable).with_name("airflow"))
    _migrated(env)
    _step(f"Running {DAG_ID} for {audit_date} with `airflow dags test`")
    return _run([airflow, "dags", "test", DAG_ID, audit_date], env, log_path, check=check)


def run_audits(env: dict[str, str], audit_dates: list[str], log_path: Path, *, check: bool = True) -> int:
    """Every date's ``airflow dags test``, oldest first, in one Airflow process (``audit_dates``)."""
    _migrated(env)
    _step(f"Running {DAG_ID} for {len(audit_dates)} dates ({', '.join(audit_dates)}), one `dags test` each")
    return _run([sys.executable, "-m", "readiness_sandbox.audit_dates", *audit_dates], env, log_path, check=check)


def weekly_dates(last: dt.date, weeks: int) -> list[str]:
    """``last`` and the ``weeks`` - 1 same weekdays before it, oldest first."""
    return [(last - dt.timedelta(weeks=back)).isoformat() for back in range(weeks - 1, -1, -1)]


def latest_monday(today: dt.date | None = None) -> dt.date:
    """The Monday on or before ``today`` (UTC): the weekly emails' day."""
    today = today or dt.datetime.now(dt.UTC).date()
    return today - dt.timedelta(days=today.weekday())


def _migrated(env: dict[str, str]) -> None:
    if not (Path(env["AIRFLOW_HOME"]) / "airflow.db").exists():
        _step("Creating the Airflow metadata database (first run only)")
        airflow = str(Path(sys.executable).with_name("airflow"))
        subprocess.run([airflow, "db", "migrate"], env=env, check=True, capture_output=True)


def _run(command: list[str], env: dict[str, str], log_path: Path, *, check: bool) -> int:
    with (
        log_path.open("w") as log,
        subprocess.Popen(
            command,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        ) as process,
    ):
        for line in process.stdout:
            log.write(line)
            progress = _progress(line)
            if progress:
                print(f"    {progress}", flush=True)
    if check and process.returncode:
        raise SystemExit(f"{' '.join(command[-3:])} failed (exit {process.returncode}); full log: {log_path}")
    return process.returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--audit-date",
        type=dt.date.fromisoformat,
        default=latest_monday(),
        help="the last audit date (the data interval end); default: the latest Monday (UTC)",
    )
    parser.add_argument("--weeks", type=int, default=DEMO_WEEKS, help=f"weekly audit dates (default {DEMO_WEEKS})")
    parser.add_argument("--out", type=Path, default=REPO / "out", help="where the warehouse and page go")
    args = parser.parse_args(argv)

    started = time.monotonic()
    out, work = args.out.resolve(), REPO / ".demo"
    out.mkdir(parents=True, exist_ok=True)
    warehouse_path = out / "warehouse.duckdb"
    warehouse_path.unlink(missing_ok=True)  # the history is this run's dates only
    if not find_prometheus():
        raise SystemExit(f"The demo runs a real Prometheus with the sample alerting rules: {INSTALL_HINT}.")
    _step(
        "Starting the sandbox (emulated PagerDuty, Grafana, GitHub, Confluence and the Chaos Day calendar serving "
        "the sample organisation)"
    )
    print(f"    embedded defaults: catalog {sample_org.CATALOG}, SQLite metadata, DuckDB warehouse", flush=True)
    sample = shifted_sample_org(work / "sample_org", args.audit_date)
    print(f"    the sample organisation dated for {args.audit_date}: {sample}", flush=True)
    states = {source: sample / emulator.sample_state.name for source, emulator in EMULATORS.items()}
    with running_sandbox(states=states) as sandbox, running_prometheus() as prometheus:
        print(f"    sandbox at {sandbox.base_url} (pid {sandbox.pid})", flush=True)
        print(f"    Prometheus (sample alerting rules) at {prometheus.base_url} (pid {prometheus.pid})", flush=True)
        env = airflow_env(
            airflow_home=work / "airflow",
            sandbox=sandbox,
            warehouse=warehouse_path,
            staging=work / "staging",
            prometheus_url=prometheus.base_url,
            sample=sample,
        )
        env["READINESS_BACKSTAGE_EXPORT"] = str(out / "backstage")  # the score-card files (docs/backstage.md)
        # What the sample security scanner pushed through the readiness API (external check security-scan).
        seeded = seed_external_results(f"duckdb:///{warehouse_path}", sample / "external_results.yaml")
        print(f"    external check results stored (as the readiness API would): {seeded} new", flush=True)
        run_audits(env, weekly_dates(args.audit_date, args.weeks), out / "airflow-dags-test.log")
    _step("Sandbox and Prometheus stopped; rendering the scorecard page, the week's emails and the day's alerts")
    day = args.audit_date
    print_scorecard(warehouse_path, day, out / "scorecard.html")
    emails = write_emails(
        f"duckdb:///{warehouse_path}",
        out / "emails",
        week=day,
        digest_to=DEMO_DIGEST_RECIPIENTS,
        page_url=DEMO_PAGE_URL,
    )
    dates = [dt.date.fromisoformat(audit) for audit in weekly_dates(day, args.weeks)]
    alerts = write_alerts(f"duckdb:///{warehouse_path}", out / "alerts", dates)
    print(f"\nDone in {time.monotonic() - started:.0f} s.")
    print(f"  warehouse:   {warehouse_path}  (tables in schema readiness; see docs/warehouse.md)")
    print(f"  page:        {out / 'index.html'} (the Readiness page as files: teams/, campaigns.html, groups.html)")
    print(f"  emails:      {len(emails)} .eml files in {out / 'emails'}")
    print(f"  Backstage:   {out / 'backstage'} (score-card JSON per Group and Component; docs/backstage.md)")
    print(f"  alerts:      {len(alerts)} .eml files in {out / 'alerts'} (each audit's level drops and new fails)")
    print(f"  Airflow log: {out / 'airflow-dags-test.log'}")
    return 0


def write_alerts(warehouse_url: str, out_dir: Path, days: list[dt.date]) -> list[Path]:
    """The same-day alerts ``readiness_alerts`` would send after each audit: ``<date>-<team>.eml``."""
    warehouse = Warehouse(warehouse_url)
    try:
        by_day = {day: (changes_on(warehouse, day), team_addresses(warehouse, day)) for day in days}
    finally:
        warehouse.dispose()
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob("*.eml"):
        old.unlink()
    written = []
    for day, (changes, addresses) in by_day.items():
        for team in sorted({change.team for change in changes}):
            message = build_email(
                team,
                [change for change in changes if change.team == team],
                recipient=addresses.get(team, team),
                sender=sender_address(),
                date=dt.datetime.combine(day, dt.time(6), tzinfo=dt.UTC),
                page_url=page_link(DEMO_PAGE_URL, team),
            )
            path = out_dir / f"{day.isoformat()}-{team}.eml"
            path.write_bytes(bytes(message))
            written.append(path)
    return written


def print_scorecard(warehouse_path: Path, day: dt.date, page: Path) -> None:
    """The audit of ``day``: scores, a team × check grid, and why each check did not pass."""
    warehouse = Warehouse(f"duckdb:///{warehouse_path}")
    try:
        audit = load_audit(warehouse, day)
        rollup = warehouse.query("SELECT * FROM readiness.scorecard_rollup WHERE audit_date = :day", day=day)
        campaigns = warehouse.query("SELECT * FROM readiness.campaign_progress WHERE audit_date = :day", day=day)
        # The Readiness page as files (index.html, teams/, campaigns.html, groups.html), links between them.
        write_static_pages(warehouse, page.parent)
    finally:
        warehouse.dispose()
    write_scorecard(audit, page)
    counts = [c for c in ("passed", "warned", "failed", "unknown", "waived") if c in audit["scorecard"]]
    card = audit["scorecard"][["team", "score", "level", *counts]]
    card = card.assign(score=card["score"].map(format_score))  # as the page and the emails show it
    print(f"\nReadiness scorecard, audit date {audit['audit_date']}\n")
    print(card.to_string(index=False))
    grid = audit["results"].pivot(index="team", columns="check_id", values="status").loc[card["team"]]
    print(f"\n{grid.to_string()}")
    print("\nParent groups, rolled up from their teams (service-weighted score, lowest level):")
    rollup = rollup.assign(score=rollup["score"].map(format_score))
    print(rollup[["group_name", "group_type", "score", "level", "teams", "services"]].to_string(index=False))
    print("\nCampaigns:")
    for campaign_id, rows in campaigns.groupby("campaign_id", sort=False):
        behind = ", ".join(sorted(rows.loc[~rows["meets"].astype(bool), "team"])) or "nobody"
        meeting = f"{int(rows['meets'].sum())} of {len(rows)} teams meet it"
        print(f"  {campaign_id}: {meeting}, due {rows['due'].iloc[0]}; behind: {behind}")
    print("\nWhat needs action:")
    for row in audit["results"][audit["results"]["status"] != "pass"].itertuples(index=False):
        print(f"  {row.team:<14} {row.check_id:<24} {row.status:<7} {row.reason}")


RUNNING_TASK = re.compile(r"\[DAG TEST\] running task <TaskInstance: [\w.]+?\.(\w+) .*?(map_index=\d+)?\s*\[")
NEW_STATE = re.compile(r"new_state=(\w+)")


def _progress(line: str) -> str | None:
    """A short line for each task start, state change and error of ``airflow dags test``."""
    if match := RUNNING_TASK.search(line):
        task, map_index = match.groups()
        return f"running {task}" + (f" [{map_index.split('=')[1]}]" if map_index else "")
    if (match := NEW_STATE.search(line)) and match.group(1) != "running":
        return f"  -> {match.group(1)}"
    if "[error" in line:
        return line.strip()[:200]
    return None


def _step(message: str) -> None:
    print(f"==> {message}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
