"""
### incident_cost_watch

Every 5 minutes, posts the running loss estimate on each open high-urgency PagerDuty
incident, as a note on the incident: "Estimated loss so far: 62 min x GBP 200/min = GBP
12,400 (checkout-api)", so the responders and their stakeholders see what the outage costs
while it runs.

- **Which incidents**: one `GET /incidents?statuses[]=triggered&statuses[]=acknowledged&urgencies[]=high`
  listing through the `pagerduty_default` connection. Resolved incidents are never listed, so
  never get a note.
- **The estimate**: minutes since the incident triggered, as of the run's data interval end
  (never the wall clock), times the `readiness/cost-per-minute` of the registry component
  whose `pagerduty.com/service-id` is the incident's service (catalog: `READINESS_CATALOG`;
  currency: `READINESS_CURRENCY`, default GBP). A service without a price gets no note (the
  log says why).
- **When**: a note when a milestone is crossed, every `READINESS_NOTE_EVERY_MINUTES` (default
  30) minutes; one per run and incident, for the latest milestone.
- **Exactly once**, across retries and overlapping runs: each (incident, milestone) is
  claimed in the warehouse ledger `readiness.incident_cost_notes` (unique) before posting and
  marked posted after; a retry that finds its claim unposted looks for the note on the
  incident before posting again.
- **With which key**: the listing reads through the audit's read-only `pagerduty_default`; the
  notes are read and posted through `pagerduty_notes`, a key that may write notes, used by this
  DAG alone. Without `pagerduty_notes` the run prices the open incidents for the page and posts
  no note (the log says so).
- **As whom**: PagerDuty requires a `From` header with a user's email: `READINESS_PAGERDUTY_FROM`,
  or the `pagerduty_notes` connection's extra `{"from": "..."}`.
- **Also**: replaces `readiness.open_incident_costs` with what the run saw (the Readiness
  page lists it).

See docs/incidents.md.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import dag, task

WATCH_DEFAULT_ARGS = {
    "owner": "oncall-readiness",
    "retries": 3,
    "retry_delay": timedelta(seconds=30),
    "retry_exponential_backoff": 2.0,  # a multiplier in Airflow 3 (True is 1: a constant delay)
    "max_retry_delay": timedelta(minutes=4),
}


@dag(
    schedule="*/5 * * * *",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=2,  # overlapping runs are safe: the notes ledger keeps each note to one post
    dagrun_timeout=timedelta(minutes=15),
    default_args=WATCH_DEFAULT_ARGS,
    tags=["oncall-readiness", "incidents"],
    doc_md=__doc__,
)
def incident_cost_watch():
    @task(execution_timeout=timedelta(minutes=10), multiple_outputs=False)
    def watch_open_incidents(data_interval_end=None, dag_run=None) -> dict[str, int]:
        """Post the running loss on each open high-urgency incident at its milestones, exactly once."""
        from oncall_readiness.audit import load_configured_registry
        from oncall_readiness.connections import get_connection
        from oncall_readiness.errors import failing_fast
        from oncall_readiness.hooks.pagerduty import PagerDutyHook
        from oncall_readiness.incidents import watch
        from oncall_readiness.incidents.notes import notes_account
        from oncall_readiness.warehouse import url_from_connection

        hook = PagerDutyHook()
        with failing_fast():  # configuration that no retry can fix
            conn = get_connection(hook.conn_id)
            account = notes_account()
            every = watch.note_every_minutes()
            services = load_configured_registry()[0].to_facts()["registry_services"]  # files or Backstage's API
            warehouse_url = url_from_connection()
        report = watch.run(
            hook.client(conn),
            warehouse_url,
            instant=data_interval_end or dag_run.run_after,  # a manual run without a logical date: its run_after
            services=services,
            notes_account=account,
            run_id=dag_run.run_id,
            note_every_minutes=every,
        )
        return report.summary()

    watch_open_incidents()


incident_cost_watch()
