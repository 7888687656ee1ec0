"""Runs ``airflow dags test readiness_audit`` once per bad configuration, in one process.

Used by test_bad_configuration.py (not a test module itself): one process saves Airflow's
start-up per run. Each argument is ``NAME=DATE=JSON``: the run of DATE gets the environment
JSON (the catalog and the files beside it) and prints ``=== NAME`` before its log. The tasks'
retry delay is one second, so a task that retries (rather than failing at once) shows as
several tries in the metadata database instead of holding the test for minutes.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import sys

from airflow.cli import cli_parser
from airflow.cli.commands import dag_command
from airflow.dag_processing.dagbag import DagBag

DAG_ID = "readiness_audit"


def main(argv: list[str]) -> int:
    dags_folder, *scenarios = argv
    dag = DagBag(dag_folder=f"{dags_folder}/{DAG_ID}.py").get_dag(DAG_ID)
    for task in dag.tasks:
        task.retry_delay, task.retry_exponential_backoff = dt.timedelta(seconds=1), False
    for scenario in scenarios:
        name, date, environment = scenario.split("=", 2)
        os.environ.update(json.loads(environment))
        print(f"=== {name}", flush=True)
        args = cli_parser.get_parser().parse_args(["dags", "test", DAG_ID, date])
        with contextlib.suppress(SystemExit):  # a failed run: the test reads its task instances from the database
            dag_command.dag_test(args, dag=dag)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
