"""
### readiness_alerts

Tells a team the same day when its readiness level drops or one of its checks turns `fail`,
not next Monday. Scheduled on the asset `readiness_scorecard`, which the `publish` task of
`readiness_audit` updates (its event names the audit date): it runs right after every publish.

1. **send_alerts**: for the audit date of each triggering event (a manual run: the latest
   published audit date), compares the scorecard and check results with the previous
   published audit date and tells each team its changes: an email to its Group's
   `spec.profile.email` through `smtp_default` (all of them in one SMTP session), and, where
   the connection `slack_webhook_default` is defined, one Slack message for the day listing
   every team's changes, through the Airflow Slack provider's webhook hook (split into
   "part i of n" only past Slack's limits; without the connection: email only). Once per
   change: the ledger `readiness.alert_ledger` records each change told per channel, so
   re-running the audit or this DAG tells nobody again; a retry after a refused email or a
   failed webhook sends only those. Only the latest published audit date alerts: a backfill
   of an older date is history.

See docs/alerts.md.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import Asset, dag, task

from oncall_readiness.alerts import SCORECARD_ASSET_NAME, SCORECARD_ASSET_URI

# The asset readiness_audit's publish updates (a constants-only module: cheap at parse time).
SCORECARD = Asset(name=SCORECARD_ASSET_NAME, uri=SCORECARD_ASSET_URI)

ALERT_DEFAULT_ARGS = {
    "owner": "oncall-readiness",
    "retries": 3,
    "retry_delay": timedelta(minutes=2),
    "retry_exponential_backoff": 2.0,  # a multiplier in Airflow 3 (True is 1: a constant delay)
}


@dag(
    schedule=[SCORECARD],
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args=ALERT_DEFAULT_ARGS,
    tags=["oncall-readiness", "alerts"],
    doc_md=__doc__,
)
def readiness_alerts():
    @task
    def send_alerts(triggering_asset_events=None) -> list[dict]:
        """Tell each team its level drops and newly failing checks, once per change and channel."""
        from oncall_readiness.alerts.run import alert_dates, send_for_dates
        from oncall_readiness.errors import failing_fast
        from oncall_readiness.report.message import readiness_page_url
        from oncall_readiness.warehouse import url_from_connection

        with failing_fast():  # a bad connection or setting: told once, not retried
            url = url_from_connection()
            dates = alert_dates(url, triggering_asset_events)
            return send_for_dates(url, dates, page_root=readiness_page_url())

    send_alerts()


readiness_alerts()
