"""Every DAG imports cleanly, fast, with retries, tags and docs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DAG_FILES = sorted((REPO / "dags").glob("*.py"))


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(REPO / "dags"))


def test_no_import_errors(dagbag):
    assert dagbag.import_errors == {}
    assert {Path(f).stem for f in map(str, DAG_FILES)} == set(dagbag.dag_ids)  # file stem = dag_id


def test_every_dag_has_docs_tags_owner_and_retries(dagbag):
    for dag_id, dag in dagbag.dags.items():
        assert dag.doc_md, dag_id
        assert "oncall-readiness" in dag.tags, dag_id
        assert dag.catchup is False, dag_id
        for task in dag.tasks:
            if "validate" not in task.task_id:
                assert task.retries >= 1, f"{dag_id}.{task.task_id} has no retries"
            assert task.owner == "oncall-readiness", f"{dag_id}.{task.task_id}"


def test_retries_back_off_or_wait_a_stated_constant(dagbag):
    # Airflow 3's retry_exponential_backoff is a multiplier: True (1) silently means a constant delay.
    # 0 is the audit's collect task, whose constant delay is the documented down-source bound.
    for dag_id, dag in dagbag.dags.items():
        for task in dag.tasks:
            if task.retries:
                assert task.retry_exponential_backoff != 1, f"{dag_id}.{task.task_id} backs off by x1"


def test_a_task_returning_a_dict_pushes_one_xcom(dagbag):
    # A -> dict[...] annotation makes a @task push each key as an XCom of its own too: publish's
    # 40 tables cost 40 XCom writes (1.3 s a run) that nothing reads.
    for dag_id, dag in dagbag.dags.items():
        for task in dag.tasks:
            assert not getattr(task, "multiple_outputs", False), f"{dag_id}.{task.task_id} pushes one XCom per key"


def test_audit_dag_shape(dagbag):
    dag = dagbag.dags["readiness_audit"]
    assert set(dag.task_ids) == {
        "load_registry",
        "plan_sources",
        "audit_source.collect",
        "audit_source.validate",
        "validate_registry",
        "sources_done",
        "evaluate_checks",
        "score",
        "publish",
        "export_to_backstage",
        "clean_staging",
    }
    assert dag.get_task("audit_source.validate").retries == 0  # bad data is not fixed by retrying
    # A source that is down still lets the checks run (its checks are unknown)...
    assert dag.get_task("sources_done").trigger_rule == "all_done"
    # ...but a registry that failed to load or validate stops everything after it: nothing is published.
    evaluate = dag.get_task("evaluate_checks")
    assert evaluate.trigger_rule == "all_success"
    assert evaluate.upstream_task_ids == {"validate_registry", "sources_done"}
    assert dag.get_task("score").downstream_task_ids == {"publish"}
    # Old staging is cleaned after publish whatever its outcome, without deciding the run's state.
    clean = dag.get_task("clean_staging")
    assert clean.is_teardown and clean.upstream_task_ids == {"publish"}
    # The score-card files for Backstage are written from what was published.
    assert dag.get_task("export_to_backstage").upstream_task_ids == {"publish"}
    assert clean.trigger_rule == "all_done_setup_success"  # all done: no setup task precedes it


PARSE_TIME_MODULES = {
    "oncall_readiness.provider",
    "oncall_readiness.config",
    "oncall_readiness.errors",
    "oncall_readiness.masking",
    "oncall_readiness.alerts",
}


@pytest.mark.parametrize("dag_file", DAG_FILES, ids=lambda p: p.stem)
def test_dag_file_parses_fast_without_heavy_imports(dag_file):
    """Parsing imports airflow.sdk and nothing heavy: no pandas, GX, clients or network."""
    code = (
        "import sys, time, runpy; import airflow.sdk; t = time.perf_counter(); "
        f"runpy.run_path({str(dag_file)!r}); print(time.perf_counter() - t); "
        "heavy = {'pandas', 'great_expectations', 'requests', 'duckdb'} & set(sys.modules); "
        # Airflow's provider discovery reads oncall_readiness.provider (plain data); the DAG files read their
        # settings (config, with the errors it raises and the masking those use) and the scorecard asset's
        # name (alerts): modules of the standard library alone. Nothing else of ours loads.
        f"ours = {{m for m in sys.modules if m.startswith('oncall_readiness.')}} - {PARSE_TIME_MODULES!r}; "
        "print(sorted(heavy | ours))"
    )
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split("\n")
    assert output[1] == "[]", f"{dag_file.name} imports {output[1]} at parse time"
    parse_seconds = float(output[0])
    assert parse_seconds < 1.0, f"{dag_file.name} took {parse_seconds:.2f} s to parse (after importing airflow.sdk)"
