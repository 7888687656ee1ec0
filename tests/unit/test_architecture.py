"""The architecture's promises: one registration per source, and production apart from the sandbox.

A registered source must bring everything docs/architecture.md's "Adding a source" lists: a
hook, a data-quality suite, facts tables named after it, an emulator (or a real server) with
sample data in the sandbox, and a reference page that names its facts tables.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from oncall_readiness.checks.catalogue import load_catalogue
from oncall_readiness.hooks.base import ReadinessHook
from oncall_readiness.source_catalogue import REGISTRY, SOURCES, collected_sources
from readiness_sandbox.emulators import EMULATORS, REAL_SERVERS

REPO = Path(__file__).resolve().parents[2]
RUNTIME = REPO / "include" / "oncall_readiness"
DOCS = REPO / "docs"


@pytest.mark.parametrize("name", list(SOURCES))
def test_a_registered_source_has_its_tables_suite_and_docs(name):
    source = SOURCES[name]
    assert source.fact_columns, f"{name} declares no facts tables"
    assert all(table.startswith(f"{name}_") for table in source.fact_columns), "facts tables start with the source"
    assert callable(source.suites) and source.suites.__module__.startswith("oncall_readiness.quality.")
    page = DOCS / source.docs
    assert source.docs and page.is_file(), f"{name} has no reference page under docs/"
    text = page.read_text()
    missing = [table for table in source.fact_columns if table not in text]
    assert not missing, f"docs/{source.docs} does not describe {missing}"


@pytest.mark.parametrize("source", collected_sources(), ids=lambda source: source.name)
def test_a_collected_source_has_a_hook_and_an_emulator_with_sample_data(source):
    assert issubclass(source.hook, ReadinessHook) and source.hook.conn_type.startswith("readiness_")
    module = f"oncall_readiness.sources.{source.name}"
    assert source.collect.__module__ in (module, f"{module}.collect"), "a source's collector lives in its own module"
    assert source.name in EMULATORS or source.name in REAL_SERVERS, f"the sandbox cannot serve {source.name}"
    if source.name in EMULATORS:
        emulator = EMULATORS[source.name]
        assert emulator.sample_state.is_file(), f"no sample data for {source.name}"
        emulator.load()  # the sample state loads


def test_every_source_a_check_reads_is_registered():
    read = {source for check in load_catalogue().checks.values() for source in check.sources}
    assert read <= set(SOURCES), f"checks read unregistered sources: {sorted(read - set(SOURCES))}"
    assert REGISTRY in SOURCES and SOURCES[REGISTRY].hook is None


def test_the_emulators_stand_for_registered_sources_only():
    assert set(EMULATORS) | set(REAL_SERVERS) <= set(SOURCES)


def test_the_runtime_package_never_imports_the_sandbox():
    """Statically, in every module, and at run time: importing every runtime module loads no sandbox."""
    offenders = []
    for path in RUNTIME.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            offenders += [f"{path.relative_to(REPO)}: {name}" for name in names if name.startswith("readiness_sandbox")]
    assert not offenders
    modules = sorted(
        ".".join(path.relative_to(RUNTIME.parent).with_suffix("").parts).removesuffix(".__init__")
        for path in RUNTIME.rglob("*.py")
        if path.name != "__main__.py"
    )
    code = (
        f"import importlib, sys\nfor m in {modules!r}: importlib.import_module(m)\n"
        "print(sorted(m for m in sys.modules if m.startswith('readiness_sandbox')))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "[]"


def test_no_runtime_code_finds_a_module_from_a_string():
    """Sources and suites are named by the catalogue's objects; only checks.yaml names a function, explicitly."""
    for path in RUNTIME.rglob("*.py"):
        text = path.read_text()
        assert "importlib.import_module" not in text, f"{path.relative_to(REPO)} looks a module up by name"


def test_checks_read_facts_never_clients():
    for path in (RUNTIME / "checks").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                assert not node.module.startswith(("oncall_readiness.sources", "oncall_readiness.hooks")), (
                    f"{path.name} imports {node.module}: a check only reads facts"
                )
