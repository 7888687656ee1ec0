"""Runs ``airflow dags test incident_cost_watch <date>`` for each date given, in one process.

Used by test_incident_cost_watch.py (not a test module itself): one process saves Airflow's
start-up per run. ``--die-after-post DATE``: in the run of DATE, the first attempt of the
task "dies" right after PagerDuty accepted its note, before the ledger recorded it; Airflow
retries the task (same run, next try) after a one-second delay.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys

from airflow.cli import cli_parser
from airflow.cli.commands import dag_command
from airflow.dag_processing.dagbag import DagBag

from oncall_readiness.incidents.ledger import NotesLedger

DAG_ID = "incident_cost_watch"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("dags_folder")
    parser.add_argument("dates", nargs="+")
    parser.add_argument("--die-after-post")
    options = parser.parse_args(argv)
    dag = DagBag(dag_folder=f"{options.dags_folder}/{DAG_ID}.py").get_dag(DAG_ID)
    for task in dag.tasks:  # a quick retry, so the test does not wait for the production delay
        task.retry_delay, task.retry_exponential_backoff = dt.timedelta(seconds=1), False
    record = NotesLedger.mark_posted
    for date in options.dates:
        dying = [date == options.die_after_post]

        def mark_posted(self, *args, _dying=dying, **kwargs):
            if _dying[0]:
                _dying[0] = False
                raise RuntimeError("the worker died after posting the note")
            return record(self, *args, **kwargs)

        NotesLedger.mark_posted = mark_posted
        print(f"=== {DAG_ID} {date}", flush=True)
        args = cli_parser.get_parser().parse_args(["dags", "test", DAG_ID, date])
        dag_command.dag_test(args, dag=dag)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
