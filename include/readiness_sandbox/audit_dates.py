"""Several audit dates of ``readiness_audit`` in one Airflow process: ``airflow dags test`` per date.

``python -m readiness_sandbox.audit_dates DATE [DATE ...]`` runs the real DAG once per date,
oldest first, through Airflow's own ``dags test`` command, in one process that imports
Airflow and parses the DAG once (a ``dags test`` process per date spends most of its time
starting). Each run is a real run in the metadata database, so ``make airflow`` on the same
database shows the history.

``dags test`` records a run's start as its logical date, which for a past date makes the
Airflow grid show a run of days ("Total 21d 4h"), and its ``run_after`` as now, which makes
every past date the "latest run". Each run is then recorded as a scheduled run of that date
would be: started when its first task started, due after its data interval's end (the audit
instant). Exit status: the number of runs that failed.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Sequence

DAG_ID = "readiness_audit"


def run_dates(dates: Sequence[str], dag_id: str = DAG_ID) -> int:
    """Run ``dag_id`` for each date; the number of runs that did not succeed."""
    from airflow.cli.cli_parser import get_parser

    parser = get_parser()
    failed = 0
    for day in sorted(dates, key=dt.date.fromisoformat):
        args = parser.parse_args(["dags", "test", dag_id, day])
        try:
            args.func(args)
        except SystemExit:  # "DagRun failed": the next date still runs
            failed += 1
        _start_with_first_task(dag_id, day)
        print(f"[audit_dates] {dag_id} {day} done", flush=True)
    return failed


def _start_with_first_task(dag_id: str, day: str) -> None:
    """The run of ``day`` started when its first task did, and is due at its audit instant."""
    from airflow.models import DagRun, TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import func, select

    logical = dt.datetime.fromisoformat(day).replace(tzinfo=dt.UTC)
    with create_session() as session:
        run = session.scalars(select(DagRun).where(DagRun.dag_id == dag_id, DagRun.logical_date == logical)).first()
        if run is None:
            return
        first = session.scalar(
            select(func.min(TaskInstance.start_date)).where(
                TaskInstance.dag_id == dag_id, TaskInstance.run_id == run.run_id
            )
        )
        if first is not None:
            run.start_date = first
            run.queued_at = first
        if run.data_interval_end is not None:
            run.run_after = run.data_interval_end


def main(argv: Sequence[str] | None = None) -> int:
    dates = list(sys.argv[1:] if argv is None else argv)
    if not dates:
        print("usage: python -m readiness_sandbox.audit_dates DATE [DATE ...]", file=sys.stderr)
        return 2
    return min(run_dates(dates), 100)


if __name__ == "__main__":
    sys.exit(main())
