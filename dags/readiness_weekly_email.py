"""
### readiness_weekly_email

Every Monday at 08:00 (timezone `READINESS_EMAIL_TIMEZONE`, default Europe/London), emails
each team its readiness scorecard and the leadership a digest of every team. It reads the
warehouse only: nothing is collected again.

**The week a run covers** is the Monday-to-Sunday week (in that timezone) holding the run's
data interval end; a manual run without a logical date covers the week holding its
`run_after`. The scheduled run opens its week; a manual trigger later that week (say on
Thursday, after newer daily audits) finishes *the same week*: it reports the same audit and
sends only what the ledger does not hold yet (a team added to the registry, a recipient the
server refused), never the whole week again. To report another week, trigger with a logical
date in that week (read in the DAG's timezone); to send an email again, delete its ledger row.

1. **find_week**: the audit the week reports: the one the send ledger already holds
   deliveries of for that week, else the latest audit published on or before the week's
   Monday (its audit date names the week in every email).
2. **build_emails**: one email per team, to its Group's `spec.profile.email` (a team without
   one is skipped with a warning), the digest, to the `digest_recipients` param or
   `READINESS_DIGEST_RECIPIENTS`, and a digest per parent group (department) to its Group's
   `spec.profile.email` (docs/campaigns.md); staged as `.eml` files in this run's own staging
   (`<READINESS_STAGING_DIR>/<audit date>/<run id>/emails`, a shared disk or bucket, so
   send_emails may run on another worker): a retry replaces them whole and no other run ever
   picks them up.
3. **send_emails**: through the `smtp_default` connection, exactly once per recipient and
   week: the send ledger (`readiness.email_ledger`, unique on week, kind, team and
   recipient) records each delivery as it happens, so a retry or a re-run sends only what is
   missing. Refused recipients fail the task, naming them; its retry tries only those.

See docs/emails.md.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import CronTriggerTimetable, Param, dag, task

from oncall_readiness import config

TIMEZONE = config.EMAIL_TIMEZONE.require()

EMAIL_DEFAULT_ARGS = {
    "owner": "oncall-readiness",
    "retries": 3,
    "retry_delay": timedelta(minutes=5),
    "retry_exponential_backoff": 2.0,  # a multiplier in Airflow 3 (True is 1: a constant delay)
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
        """The audit date the emails of the week this run covers report."""
        from oncall_readiness.errors import failing_fast
        from oncall_readiness.report.weekly import week_covered, week_to_send
        from oncall_readiness.warehouse import Warehouse, url_from_connection

        moment = data_interval_end or dag_run.run_after  # a manual run without logical date has no interval
        with failing_fast():
            warehouse = Warehouse(url_from_connection())
        try:
            return week_to_send(warehouse, week_covered(moment, TIMEZONE)).isoformat()
        finally:
            warehouse.dispose()

    @task
    def build_emails(week: str, params=None, dag_run=None) -> str:
        """Build every team's email and the digest as .eml files in this run's staging."""
        import datetime as dt

        from oncall_readiness.errors import failing_fast
        from oncall_readiness.report.delivery import sender_from_connection
        from oncall_readiness.report.email import digest_recipients, stage_emails
        from oncall_readiness.report.message import readiness_page_url
        from oncall_readiness.staging import RunStaging
        from oncall_readiness.warehouse import url_from_connection

        day = dt.date.fromisoformat(week)
        with failing_fast():
            return stage_emails(
                url_from_connection(),
                RunStaging(day, dag_run.run_id),
                week=day,
                sender=sender_from_connection(),
                digest_to=digest_recipients((params or {}).get("digest_recipients")),
                page_url=readiness_page_url(),
            )

    @task(multiple_outputs=False)
    def send_emails(step: str) -> dict[str, int]:
        """Send what the ledger does not hold yet, recording each delivery."""
        from oncall_readiness.errors import failing_fast
        from oncall_readiness.report.delivery import send_staged_emails
        from oncall_readiness.warehouse import url_from_connection

        with failing_fast():
            return send_staged_emails(url_from_connection(), step).summary()

    send_emails(build_emails(find_week()))


readiness_weekly_email()
