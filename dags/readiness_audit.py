"""
### readiness_audit

Audits every product team's on-call readiness once a day and publishes the scorecard.

1. **load_registry**: teams, people and services from the Backstage catalog: its files
   (`READINESS_CATALOG`) or a running Backstage's catalog API (connection `backstage_default`),
   one of the two, with the HR export, the waivers and the campaigns. Bad
   configuration (a malformed or empty catalog, a bad per-team threshold, waiver, campaign or
   HR row) stops the run at once, without retries, naming the file, the line or entity and
   the field, and nothing is published.
2. **audit_source.collect**: one mapped group per source (PagerDuty, ...), reading it through
   its Airflow connection (`pagerduty_default`, ...).
3. **validate_registry**, **audit_source.validate**: the Great Expectations suite of each
   source's facts (its data contract). A source that stays down after retries, or whose
   facts fail validation (the task fails and names the failed expectations), turns the
   checks that read it `unknown`; the others still publish.
4. **evaluate_checks**: every check of `checks.yaml` over all teams at once, once every source
   is done (`sources_done`) and only if the registry was validated.
5. **score**: score (0 to 100) and level per team, with the change over seven days.
6. **publish**: check results, findings, scorecard, data-quality results and facts to
   `readiness_warehouse`, replacing the audit date's rows in one transaction; it updates the
   asset `readiness_scorecard`, on which `readiness_alerts` tells teams their level drops and
   newly failing checks the same day. External checks read the results pushed through the
   readiness API (observed up to the audit instant) in **evaluate_checks**.
7. **export_to_backstage**: when `READINESS_BACKSTAGE_EXPORT` is set, every Group's and
   Component's score-card JSON for Backstage's score-card plugin (docs/backstage.md).

The audit instant is the data interval end (a manual run without a logical date: its
`run_after`); rerunning a date recomputes it as of then. Each run stages its data under its
own run id, so a rerun, or a backfill overlapping the scheduled run of the same date, never
reads another run's files (see docs/reliability.md).

Every task fails at once, without retries, on configuration that retrying cannot fix (a
`ConfigError`: a bad setting, file or connection); settings are in docs/configuration.md.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import Asset, dag, task, task_group

from oncall_readiness import config
from oncall_readiness.alerts import SCORECARD_ASSET_NAME, SCORECARD_ASSET_URI

# What publish updates (the warehouse's scorecard); readiness_alerts is scheduled on it. A DAG file
# imports only constants of ours while parsing (config and alerts import the standard library alone).
# The x- scheme is Airflow's for schemes of one's own: no provider normalises it, so defining the
# asset does not import every provider's URI handlers (the amazon provider's pull in boto3) at parse.
SCORECARD = Asset(name=SCORECARD_ASSET_NAME, uri=SCORECARD_ASSET_URI)

# How long a down source is retried before its checks turn unknown (docs/reliability.md states the
# worst case): the collect task's retries and the delay before each, read at parse time (config
# imports only the standard library); each request's own retries are READINESS_HTTP_*.
SOURCE_RETRIES = config.SOURCE_RETRIES.require()
SOURCE_RETRY_DELAY = timedelta(seconds=config.SOURCE_RETRY_DELAY_SECONDS.require())

AUDIT_DEFAULT_ARGS = {
    "owner": "oncall-readiness",
    "retries": 2,
    "retry_delay": timedelta(minutes=2),
    # A multiplier in Airflow 3 (True is 1.0: a constant delay): 2 doubles it, 2 then 4 minutes.
    "retry_exponential_backoff": 2.0,
}


@dag(
    schedule="@daily",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args=AUDIT_DEFAULT_ARGS,
    tags=["oncall-readiness", "audit"],
    doc_md=__doc__,
)
def readiness_audit():
    @task
    def load_registry(data_interval_end=None, dag_run=None) -> str:
        """Load and validate the team registry."""
        from oncall_readiness import audit
        from oncall_readiness.errors import failing_fast

        with failing_fast():  # retrying cannot fix a bad catalog, waiver, campaign or HR export
            return audit.stage_registry(audit.AuditRun.of(data_interval_end, dag_run))

    @task
    def plan_sources() -> list[str]:
        """The sources the implemented checks read."""
        from oncall_readiness import audit
        from oncall_readiness.errors import failing_fast

        with failing_fast():
            return audit.sources_to_collect()

    @task(
        retries=SOURCE_RETRIES,
        retry_delay=SOURCE_RETRY_DELAY,
        retry_exponential_backoff=0,  # the same delay before every retry: the bound stays plain
        map_index_template="{{ source }}",
    )
    def collect(source: str, data_interval_end=None, dag_run=None) -> str:
        """Collect one source into staging; skipped when its connection is not defined."""
        from airflow.sdk import get_current_context
        from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

        from oncall_readiness import audit
        from oncall_readiness.errors import ConfigError, ConnectionMissingError

        get_current_context()["source"] = source  # names the mapped task instance in the UI
        try:
            return audit.stage_source(source, audit.AuditRun.of(data_interval_end, dag_run))
        except ConnectionMissingError as error:  # retrying cannot create a connection
            raise AirflowSkipException(f"{error}: {source} is not audited, its checks are unknown") from error
        except ConfigError as error:  # nor fix a malformed one, or a bad setting
            raise AirflowFailException(f"{error}: {source} is not audited, its checks are unknown") from error

    # Retrying cannot fix data that breaks its contract: fail at once, with the reason.
    @task(retries=0, map_index_template="{{ source }}")
    def validate(source: str, data_interval_end=None, dag_run=None) -> str:
        """Validate one source's facts with its Great Expectations suite."""
        from airflow.sdk import get_current_context

        from oncall_readiness import audit
        from oncall_readiness.errors import failing_fast

        get_current_context()["source"] = source
        with failing_fast():
            return audit.stage_quality(source, audit.AuditRun.of(data_interval_end, dag_run))

    @task_group
    def audit_source(source: str):
        """Collect, then validate, one source."""
        collect(source) >> validate(source)

    # A source that is down or fails validation makes its checks unknown; the audit goes on.
    sources_done = EmptyOperator(task_id="sources_done", trigger_rule="all_done")

    @task
    def evaluate_checks(data_interval_end=None, dag_run=None) -> str:
        """Evaluate every check (external ones with the results pushed to the warehouse)."""
        from oncall_readiness import audit
        from oncall_readiness.errors import failing_fast
        from oncall_readiness.warehouse import url_from_connection

        with failing_fast():
            return audit.stage_checks(audit.AuditRun.of(data_interval_end, dag_run), url_from_connection())

    @task
    def score(data_interval_end=None, dag_run=None) -> str:
        """Score and level every team."""
        from oncall_readiness import audit
        from oncall_readiness.errors import failing_fast
        from oncall_readiness.warehouse import url_from_connection

        with failing_fast():
            return audit.stage_scorecard(audit.AuditRun.of(data_interval_end, dag_run), url_from_connection())

    # Updates the scorecard asset: readiness_alerts runs on it (the event names the audit date).
    # multiple_outputs=False: a dict return would be pushed as one XCom per table as well (1.3 s).
    @task(outlets=[SCORECARD], multiple_outputs=False)
    def publish(data_interval_end=None, dag_run=None, outlet_events=None) -> dict[str, int]:
        """Publish to the warehouse in one transaction."""
        from oncall_readiness import audit
        from oncall_readiness.alerts import EVENT_AUDIT_DATE
        from oncall_readiness.errors import failing_fast
        from oncall_readiness.warehouse import url_from_connection

        run = audit.AuditRun.of(data_interval_end, dag_run)
        with failing_fast():
            written = audit.publish(run, url_from_connection())
        outlet_events[SCORECARD].extra = {EVENT_AUDIT_DATE: run.day.isoformat()}
        return written

    # The scorecard on each Group's and Component's page in Backstage (docs/backstage.md), from this run's
    # staging; skipped unless READINESS_BACKSTAGE_EXPORT says where the score-card plugin reads it.
    @task
    def export_to_backstage(data_interval_end=None, dag_run=None) -> int:
        """Write every Group's and Component's score-card JSON for Backstage."""
        from airflow.sdk.exceptions import AirflowSkipException

        from oncall_readiness import audit
        from oncall_readiness.backstage_export import export_location
        from oncall_readiness.errors import failing_fast

        with failing_fast():
            location = export_location()
            if location is None:
                raise AirflowSkipException("READINESS_BACKSTAGE_EXPORT is not set: no score-card export")
            return audit.export_to_backstage(audit.AuditRun.of(data_interval_end, dag_run), location)

    # Staging older than READINESS_STAGING_RETENTION_DAYS (default 7) goes, never this run's. A
    # teardown: it runs whatever publish did (all done), and its outcome never decides the run's state.
    @task(multiple_outputs=False)
    def clean_staging(data_interval_end=None, dag_run=None) -> dict[str, int]:
        """Delete the staging of earlier runs past the retention (docs/reliability.md)."""
        import datetime as dt

        from oncall_readiness import audit
        from oncall_readiness.errors import failing_fast
        from oncall_readiness.staging_retention import clean_staging as clean
        from oncall_readiness.staging_retention import retention_days

        run = audit.AuditRun.of(data_interval_end, dag_run)
        with failing_fast():
            return clean(keep_days=retention_days(), now=dt.datetime.now(dt.UTC), current=run.staging)

    registry = load_registry()
    sources = audit_source.expand(source=plan_sources())
    registry_validated = validate.override(task_id="validate_registry", map_index_template=None)("registry")
    checked = evaluate_checks()
    registry >> [sources, registry_validated]
    sources >> sources_done
    # evaluate_checks needs the registry validated (all_success): a failed registry publishes nothing.
    [registry_validated, sources_done] >> checked
    published = checked >> score() >> publish()
    published >> export_to_backstage()  # reads this run's staging, which clean_staging never deletes
    published >> clean_staging().as_teardown()


readiness_audit()
