"""
### readiness_weekly_email

Every Monday at 08:00 (timezone `READINESS_EMAIL_TIMEZONE`, default Europe/London), emails
each team its readiness scorecard and the leadership a digest of every team. It reads the
warehouse only: nothing is collected again.

1. **find_week**: the latest audit published on or before this run (its audit date names
   the week).
2. **build_emails**: one email per team, to its Group's `spec.profile.email` (a team without
   one is skipped with a warning), and the digest, to the `digest_recipients` param or
   `READINESS_DIGEST_RECIPIENTS`; written as `.eml` files to staging.
3. **send_emails**: through the `smtp_default` connection, exactly once per recipient and
   week: the send ledger (`readiness.email_ledger`) records each delivery as it happens, so a
   retry or a re-run sends only what is missing. Refused recipients fail the task, naming
   them; its retry tries only those.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from airflow.sdk import CronTriggerTimetable, Param, dag, task

TIMEZONE = os.environ.get("READINESS_EMAIL_TIMEZONE", "").strip() or "Europe/London"

EMAIL_DEFAULT_ARGS = {
    "owner": "oncall-readiness",
    "retries": 3,
    "retry_delay": timedelta(minutes=5),
    "retry_exponential_backoff": True,
}


@dag(
    schedule=CronTriggerTimetable("0 8 * * 1", timezone=TIMEZONE),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args=EMAIL_DEFAULT_ARGS,
    tags=["oncall-readiness", "email"],
    params={
        "digest_recipients": Param(
            "",
            type="string",
            description="Comma-separated addresses of the leadership digest; empty: READINESS_DIGEST_RECIPIENTS.",
        )
    },
    doc_md=__doc__,
)
def readiness_weekly_email():
    @task
    def find_week(data_interval_end=None, dag_run=None) -> str:
        """The audit date of the latest scorecard on or before this run."""
        from oncall_readiness.report.weekly import week_to_send
        from oncall_readiness.warehouse import Warehouse, url_from_connection

        run_at = data_interval_end or dag_run.run_after  # a manual run without logical date has no interval
        warehouse = Warehouse(url_from_connection())
        try:
            return week_to_send(warehouse, run_at.date()).isoformat()
        finally:
            warehouse.dispose()

    @task
    def build_emails(week: str, params=None) -> str:
        """Build every team's email and the digest as .eml files in staging."""
        import datetime as dt

        from oncall_readiness import staging
        from oncall_readiness.report.delivery import sender_from_connection
        from oncall_readiness.report.email import digest_recipients, write_emails
        from oncall_readiness.warehouse import url_from_connection

        folder = staging.step_dir(dt.date.fromisoformat(week), "emails")
        write_emails(
            url_from_connection(),
            folder,
            week=dt.date.fromisoformat(week),
            sender=sender_from_connection(),
            digest_to=digest_recipients((params or {}).get("digest_recipients")),
        )
        return str(folder)

    @task
    def send_emails(folder: str) -> dict[str, int]:
        """Send what the ledger does not hold yet, recording each delivery."""
        from pathlib import Path

        from oncall_readiness.report.delivery import send_emails as deliver
        from oncall_readiness.warehouse import url_from_connection

        return deliver(url_from_connection(), sorted(Path(folder).glob("*.eml"))).summary()

    send_emails(build_emails(find_week()))


readiness_weekly_email()
