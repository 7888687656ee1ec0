"""The production shape with the CeleryExecutor: the same flow as test_local_executor.py, with
Redis as the broker, the metadata PostgreSQL as Celery's result backend, two Celery workers,
and the runs' staging in an S3 bucket (moto's server) instead of a local folder.

Each worker records its own hostname on the task instances it runs (tests/production/worker_name.py):
the audit's mapped collect tasks must have run on both. docs/production-test.md.
"""

from __future__ import annotations

import pytest

from oncall_readiness.staging import run_folder_name
from tests.production.expectations import assert_audit_published, assert_emails_sent_once, assert_ran_by_the_scheduler
from tests.production.flow import AUDIT_DATE, STAGING_PREFIX, run_flow

# The whole stack and both runs happen in the first test's setup: give it more than the suite's 600 s.
pytestmark = [pytest.mark.integration, pytest.mark.timeout(1500)]


@pytest.fixture(scope="module")
def observed(tmp_path_factory):
    return run_flow(tmp_path_factory.mktemp("celery-executor"), celery=True)


def test_the_audit_publishes_a_scorecard_row_for_every_sample_team(observed):
    assert_audit_published(observed)


def test_the_weekly_email_dag_sends_each_team_with_an_address_one_email(observed):
    assert_emails_sent_once(observed)


def test_every_task_was_queued_by_the_scheduler_and_run_in_its_own_process(observed):
    assert_ran_by_the_scheduler(observed)


def test_the_mapped_collect_tasks_ran_on_both_celery_workers(observed):
    collect = [ti for ti in observed.audit_tasks if ti["task_id"] == "audit_source.collect"]
    workers = {ti["hostname"].rsplit("-", 1)[-1] for ti in collect}
    assert workers == {"worker1", "worker2"}, [(ti["rendered_map_index"], ti["hostname"]) for ti in collect]


def test_the_runs_staging_is_in_the_bucket(observed):
    run_prefix = f"{STAGING_PREFIX}/{AUDIT_DATE}/{run_folder_name(observed.audit_run_id)}/"
    steps = {key.removeprefix(run_prefix).split("/")[0] for key in observed.staging_keys if key.startswith(run_prefix)}
    sources = {ti["rendered_map_index"] for ti in observed.audit_tasks if ti["task_id"] == "audit_source.collect"}
    assert {"registry", "checks", "scorecard", *sources} <= steps, sorted(observed.staging_keys)[:50]
    assert f"{run_prefix}scorecard/_status.json" in observed.staging_keys
