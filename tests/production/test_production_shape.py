"""The production shape: scheduler, DAG processor, triggerer and API server as separate processes
on a PostgreSQL metadata database, the warehouse on PostgreSQL, with the LocalExecutor and then
with the CeleryExecutor (Redis as the broker, the metadata PostgreSQL as Celery's result backend,
two Celery workers, and the runs' staging in an S3 bucket, moto's server, instead of a local folder).

The audit of the demo date and that Monday's emails are triggered through the REST API, and the
scheduler runs them as it runs them in production, not ``airflow dags test``. The servers, the API
server, the DAG processor and the triggerer start once; each executor gets its own scheduler (and
workers) and an empty warehouse, mailbox and list of runs (tests/production/flow.py). Each Celery
worker records its own hostname on the task instances it runs (tests/production/worker_name.py):
the audit's mapped collect tasks must have run on both. docs/production-test.md.
"""

from __future__ import annotations

import pytest

from oncall_readiness.staging import run_folder_name
from tests.production.expectations import (
    assert_audit_published,
    assert_emails_sent_once,
    assert_ran_by_the_scheduler,
    assert_scorecard_exported_for_backstage,
)
from tests.production.flow import AUDIT_DATE, EXECUTORS, STAGING_PREFIX, Observed, run_flows

# The whole stack and both executors' runs happen in the first test's setup: give it more than the
# suite's 600 s.
pytestmark = [pytest.mark.integration, pytest.mark.e2e, pytest.mark.timeout(3000)]


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Observed | Exception]:
    return run_flows(tmp_path_factory.mktemp("production-shape"))


def observed(runs: dict[str, Observed | Exception], executor: str) -> Observed:
    """What the executor's runs left; the error that ended them, if they failed."""
    result = runs[executor]
    if isinstance(result, Exception):
        raise result
    return result


@pytest.mark.parametrize("executor", EXECUTORS)
def test_the_scheduled_audit_publishes_a_scorecard_row_for_every_sample_team(runs, executor):
    assert_audit_published(observed(runs, executor))


@pytest.mark.parametrize("executor", EXECUTORS)
def test_the_weekly_email_dag_sends_each_team_with_an_address_one_email(runs, executor):
    assert_emails_sent_once(observed(runs, executor))


@pytest.mark.parametrize("executor", EXECUTORS)
def test_the_audit_exports_each_teams_scorecard_for_backstage(runs, executor):
    assert_scorecard_exported_for_backstage(observed(runs, executor))


@pytest.mark.parametrize("executor", EXECUTORS)
def test_every_task_was_queued_by_the_scheduler_and_run_in_its_own_process(runs, executor):
    assert_ran_by_the_scheduler(observed(runs, executor))


def test_the_mapped_collect_tasks_ran_on_both_celery_workers(runs):
    celery = observed(runs, "CeleryExecutor")
    collect = [ti for ti in celery.audit_tasks if ti["task_id"] == "audit_source.collect"]
    workers = {ti["hostname"].rsplit("-", 1)[-1] for ti in collect}
    assert workers == {"worker1", "worker2"}, [(ti["rendered_map_index"], ti["hostname"]) for ti in collect]


def test_the_runs_staging_is_in_the_bucket(runs):
    celery = observed(runs, "CeleryExecutor")
    run_prefix = f"{STAGING_PREFIX}/{AUDIT_DATE}/{run_folder_name(celery.audit_run_id)}/"
    steps = {key.removeprefix(run_prefix).split("/")[0] for key in celery.staging_keys if key.startswith(run_prefix)}
    sources = {ti["rendered_map_index"] for ti in celery.audit_tasks if ti["task_id"] == "audit_source.collect"}
    assert {"registry", "checks", "scorecard", *sources} <= steps, sorted(celery.staging_keys)[:50]
    assert f"{run_prefix}scorecard/_status.json" in celery.staging_keys
