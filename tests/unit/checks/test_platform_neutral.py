"""The on-call checks know no platform: they read the platform-neutral on-call facts (``oncall_facts``) only.

A check that imported a platform's source, or read one of its facts tables, would judge the
teams of every other platform (JSM Operations, a third one) on nothing.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

CHECKS = Path(__file__).resolve().parents[3] / "include" / "oncall_readiness" / "checks"
ONCALL_CHECKS = [
    "rotation_sustainability.py",
    "escalation_path.py",
    "oncall_load.py",
    "joiner_permissions.py",
    "incident_command.py",
    "oncall_timeline.py",
    "post_incident_review.py",
]
# What only a platform's own code may name: its source and hook modules, its facts tables.
PLATFORM_MODULES = re.compile(r"^oncall_readiness\.(sources|hooks|quality|source_catalogue)\b")
PLATFORM_NAMES = re.compile(r"pagerduty|jsm|opsgenie_api|atlassian", re.IGNORECASE)


def imported_modules(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.append(node.module)
    return found


def code_strings(path: Path) -> list[str]:
    """Every string in the module's code but its docstrings (which may say which platform does what)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
    ]


@pytest.mark.parametrize("module", [path.name for path in sorted(CHECKS.glob("*.py"))])
def test_no_check_module_imports_a_source_or_a_hook(module):
    platform_specific = [name for name in imported_modules(CHECKS / module) if PLATFORM_MODULES.match(name)]
    assert platform_specific == [], f"checks/{module} imports {platform_specific}"


@pytest.mark.parametrize("module", ONCALL_CHECKS)
def test_on_call_checks_name_no_platform_or_its_facts(module):
    named = [text for text in code_strings(CHECKS / module) if PLATFORM_NAMES.search(text)]
    assert named == [], f"checks/{module} names a platform or its facts: {named}"


def test_the_test_sees_a_platform_name_where_there_is_one(tmp_path):
    sneaky = tmp_path / "sneaky.py"
    sneaky.write_text(
        '"""Reads PagerDuty."""\nfrom oncall_readiness.sources.pagerduty import normalise\nTABLE = "pagerduty_users"\n',
        encoding="utf-8",
    )
    assert imported_modules(sneaky) == ["oncall_readiness.sources.pagerduty"]
    assert code_strings(sneaky) == ["pagerduty_users"]
