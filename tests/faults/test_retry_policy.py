"""The down-source policy: how long a source that is down is retried, set by the environment, with a stated bound.

Task level (read by the DAG file at parse time): ``READINESS_SOURCE_RETRIES`` and
``READINESS_SOURCE_RETRY_DELAY_SECONDS``. Request level (read when a client is built):
``READINESS_HTTP_MAX_RETRIES``, ``READINESS_HTTP_MAX_WAIT_SECONDS``, ``READINESS_HTTP_TIMEOUT_SECONDS``.
docs/reliability.md states the worst case of the defaults; the last test recomputes it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from urllib3 import HTTPResponse

from oncall_readiness import config
from oncall_readiness.errors import SettingError
from oncall_readiness.hooks.pagerduty import PagerDutyHook
from oncall_readiness.sources import http

REPO = Path(__file__).resolve().parents[2]
DAG_FILE = REPO / "dags" / "readiness_audit.py"
POLICY_ENV = tuple(setting.name for setting in config.SECTIONS["Reading the sources"])


@pytest.fixture
def policy(monkeypatch):
    """No policy setting unless the test sets one."""
    for name in POLICY_ENV:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def collect_task(monkeypatch, **env: str):
    """The audit DAG's collect task, parsed with ``env`` set (as a DAG processor would see it)."""
    from airflow.dag_processing.dagbag import DagBag

    for name, value in env.items():
        monkeypatch.setenv(name, value)
    bag = DagBag(dag_folder=str(DAG_FILE))
    assert bag.import_errors == {}
    return bag.dags["readiness_audit"].get_task("audit_source.collect")


def test_the_collect_task_retries_as_configured(policy):
    task = collect_task(policy, READINESS_SOURCE_RETRIES="4", READINESS_SOURCE_RETRY_DELAY_SECONDS="15")
    assert task.retries == 4 and task.retry_delay.total_seconds() == 15


def test_the_collect_task_defaults_to_one_retry_after_a_minute(policy):
    task = collect_task(policy)
    assert task.retries == 1 and task.retry_delay.total_seconds() == 60
    assert not task.retry_exponential_backoff or task.retry_exponential_backoff == 1  # the same delay each time


def test_a_client_from_a_hook_retries_waits_and_times_out_as_configured(policy):
    policy.setenv(config.HTTP_MAX_RETRIES.name, "2")
    policy.setenv(config.HTTP_MAX_WAIT_SECONDS.name, "7")
    policy.setenv(config.HTTP_TIMEOUT_SECONDS.name, "4")
    policy.setenv("AIRFLOW_CONN_PAGERDUTY_DEFAULT", json.dumps({"conn_type": "readiness_pagerduty",
                                                                 "host": "https://api.pagerduty.com",
                                                                 "password": "a-token"}))  # fmt: skip
    client = PagerDutyHook().get_conn()
    adapter = client.session.get_adapter("https://api.pagerduty.com")
    retry = adapter.max_retries
    assert client.max_retries == 2
    assert (retry.total, retry.connect, retry.read, retry.status) == (2, 2, 2, 2)
    assert retry.backoff_max == 7 and adapter.timeout == 4
    asked_an_hour = HTTPResponse(status=429, headers={"Retry-After": "3600"})
    assert retry.get_retry_after(asked_an_hour) == 7  # never the hour a server asks
    assert http.retrying_session().get_adapter("https://x").max_retries.total == 2


def test_a_request_never_waits_longer_than_the_timeout_for_the_server(policy):
    policy.setenv(config.HTTP_TIMEOUT_SECONDS.name, "4")
    adapter = http.retrying_session().get_adapter("https://x")
    assert http._bounded_timeout(None, adapter.timeout) == 4
    assert http._bounded_timeout((10, 60), adapter.timeout) == (4, 4)
    assert http._bounded_timeout(2, adapter.timeout) == 2  # a shorter one of the caller's stays


def test_a_setting_that_is_not_a_number_fails_naming_the_variable(policy):
    policy.setenv(config.HTTP_MAX_RETRIES.name, "many")
    with pytest.raises(SettingError, match="READINESS_HTTP_MAX_RETRIES must be a whole number"):
        http.retrying_session()


def worst_case_seconds(
    *, task_retries: int, task_delay: float, http_retries: int, wait: float, timeout: float
) -> float:
    """First request to the collect task's last failure, for a source that never answers in time.

    Each try: every attempt of the first request waits the whole timeout, with the longest wait
    between attempts; then the task's retries, each after its delay.
    """
    per_try = (http_retries + 1) * timeout + http_retries * wait
    return (task_retries + 1) * per_try + task_retries * task_delay


def test_the_documented_bound_holds_for_the_defaults(policy):
    task = collect_task(policy)
    bound = worst_case_seconds(
        task_retries=task.retries,
        task_delay=task.retry_delay.total_seconds(),
        http_retries=http.http_max_retries(),
        wait=http.max_retry_wait_seconds(),
        timeout=http.request_timeout_seconds(),
    )
    stated = re.search(r"at most (\d+) minutes", (REPO / "docs" / "reliability.md").read_text())
    assert stated, "docs/reliability.md states the worst case as 'at most N minutes'"
    assert bound <= int(stated.group(1)) * 60, f"the defaults allow {bound:.0f} s"
