"""The production shape with the LocalExecutor: scheduler, DAG processor, triggerer and API server
as separate processes on a PostgreSQL metadata database, the warehouse on PostgreSQL.

The audit of the demo date and that Monday's emails are triggered through the REST API, and the
scheduler runs them as it runs them in production, not ``airflow dags test``. docs/production-test.md.
"""

from __future__ import annotations

import pytest

from tests.production.expectations import assert_audit_published, assert_emails_sent_once, assert_ran_by_the_scheduler
from tests.production.flow import run_flow

# The whole stack and both runs happen in the first test's setup: give it more than the suite's 600 s.
pytestmark = [pytest.mark.integration, pytest.mark.timeout(1500)]


@pytest.fixture(scope="module")
def observed(tmp_path_factory):
    return run_flow(tmp_path_factory.mktemp("local-executor"), celery=False)


def test_the_scheduled_audit_publishes_a_scorecard_row_for_every_sample_team(observed):
    assert_audit_published(observed)


def test_the_weekly_email_dag_sends_each_team_with_an_address_one_email(observed):
    assert_emails_sent_once(observed)


def test_every_task_was_queued_by_the_scheduler_and_run_in_its_own_process(observed):
    assert_ran_by_the_scheduler(observed)
