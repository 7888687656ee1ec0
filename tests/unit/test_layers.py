"""The runtime's layers point one way, and nothing imports in a circle (imports inside functions count).

docs/architecture.md ("Layers") draws the same table; a module may import its own layer and the
layers below it. An import under ``if TYPE_CHECKING:`` is a type, not a dependency, and is skipped.
"""

from __future__ import annotations

import ast
import re
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
RUNTIME = REPO / "include" / "oncall_readiness"
PACKAGE = "oncall_readiness"

# Bottom first. Each entry is a top-level module or package of oncall_readiness.
LAYERS: dict[str, set[str]] = {
    "foundation": {
        "errors",
        "config",
        "config_files",
        "yaml_files",
        "masking",
        "schema",
        "reasons",
        "frames",
        "label_matchers",
        "slo_facts",
        "oncall_facts",
        "provider",
        "runbook_facts",
        "connections",
        "staging",
        "staging_retention",
    },
    "inputs": {"registry", "hr", "sources", "hooks", "quality", "source_catalogue"},
    "checks": {"checks"},
    "verdicts": {"scorecard", "rollup", "campaigns", "waivers"},
    "warehouse": {"warehouse", "warehouse_load", "warehouse_file", "ledger", "external_results"},
    "outputs": {"audit", "report", "api", "alerts", "incidents", "backstage_export"},
}
RANK = {entry: rank for rank, entries in enumerate(LAYERS.values()) for entry in entries}


def module_name(path: Path) -> str:
    name = ".".join(path.relative_to(RUNTIME.parent).with_suffix("").parts)
    return name.removesuffix(".__init__")


MODULES = {module_name(path): path for path in RUNTIME.rglob("*.py")}


def resolve(name: str) -> str | None:
    """The runtime module that ``name`` (a module, or a name inside one) is."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def imports(module: str) -> set[str]:
    """Every runtime module ``module`` imports, wherever the import statement is (TYPE_CHECKING aside)."""
    path = MODULES[module]
    tree = ast.parse(path.read_text())
    typing_only = {
        id(node)
        for block in ast.walk(tree)
        if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.unparse(block.test)
        for statement in block.body
        for node in ast.walk(statement)
    }
    names: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
                base = ".".join(parts[: len(parts) - node.level + 1] + ([node.module] if node.module else []))
            names.update(f"{base}.{alias.name}" for alias in node.names)
    found = {resolve(name) for name in names if name.startswith(PACKAGE + ".") or name == PACKAGE}
    return {name for name in found if name and name != module}


EDGES = {module: imports(module) for module in MODULES}


def top_level(module: str) -> str:
    return module.split(".")[1] if "." in module else ""


def test_every_top_level_entry_has_a_layer():
    entries = {top_level(module) for module in MODULES} - {""}
    assert entries == set(RANK), f"give each a layer: {sorted(entries ^ set(RANK))}"


def test_imports_point_down_the_layers():
    upward = sorted(
        f"{module} ({top_level(module)}: {_layer(module)}) imports {target} ({_layer(target)})"
        for module, targets in EDGES.items()
        if top_level(module)
        for target in targets
        if top_level(target) and RANK[top_level(target)] > RANK[top_level(module)]
    )
    assert not upward, "\n".join(upward)


def test_no_cycle_among_the_top_level_entries():
    graph: dict[str, set[str]] = {}
    for module, targets in EDGES.items():
        graph.setdefault(top_level(module), set()).update(
            top_level(t) for t in targets if top_level(t) != top_level(module)
        )
    _assert_acyclic(graph)


@pytest.mark.parametrize("package", sorted(m for m, p in MODULES.items() if p.name == "__init__.py"))
def test_no_cycle_inside_a_package(package):
    """Among a package's modules (its ``__init__`` may re-export its own submodules)."""
    members = {m for m in MODULES if m.rpartition(".")[0] == package or m == package}
    graph = {
        module: {
            target
            for target in EDGES[module]
            if target in members and not (module == package and target.rpartition(".")[0] == package)
        }
        for module in members
    }
    _assert_acyclic(graph)


def test_the_architecture_page_draws_these_layers():
    page = (REPO / "docs" / "architecture.md").read_text()
    section = page.split("## Layers", 1)[1].split("\n## ", 1)[0]
    rows = [line.strip("|").split("|") for line in section.splitlines() if line.startswith("| ") and "`" in line]
    drawn = {row[0].strip(" *"): set(re.findall(r"`([a-z_]+)`", row[1])) for row in rows}
    assert drawn == LAYERS


def _layer(module: str) -> str:
    return next(name for name, entries in LAYERS.items() if top_level(module) in entries)


def _assert_acyclic(graph: dict[str, set[str]]) -> None:
    try:
        tuple(TopologicalSorter(graph).static_order())
    except CycleError as error:
        pytest.fail(f"import cycle: {' -> '.join(error.args[1])}")
