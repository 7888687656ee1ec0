"""No SQL is built from data: every value reaches the warehouse as a bound parameter.

The names, titles and messages the sources serve are hostile input (tests/integration/
test_hostile_input.py stores them verbatim). This test reads the code: every string of SQL
built by formatting (an f-string, ``.format``, ``%`` or ``+``) under include/, dags/ and
plugins/ may interpolate only identifiers that come from the code itself (the warehouse's
schema, a table's or a column's name from its metadata, quoted by the dialect where a keyword
could clash). Each such interpolation is listed below with why it is safe; a new one fails
the test until it is either a bound parameter (``:name`` with ``warehouse.query(sql, name=...)``
or SQLAlchemy Core) or, when it truly is an identifier from code, added here.
"""

from __future__ import annotations

import ast
import functools
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCANNED = ("include/oncall_readiness", "dags", "plugins")
SQL = re.compile(r"\b(?:SELECT|INSERT INTO|UPDATE|DELETE FROM|CREATE|DROP|ALTER TABLE|COPY|WHERE|VALUES)\b")
SQL_NAMED = re.compile(r"sql|query|statement", re.IGNORECASE)  # a variable holding SQL to format

# file → the expressions interpolated into SQL there, each an identifier from code (why, per file).
IDENTIFIERS_FROM_CODE = {
    # The warehouse's own schema ("readiness", or none on SQLite) and its tables' names from its metadata.
    "include/oncall_readiness/warehouse.py": {
        "self.schema",
        "prefix",
        "view",
        "source",  # a table of VIEWS: the one each *_latest view selects from
        "LATEST.format(schema=prefix, table=source)",
        "self._qualified(table.name)",
        "column.name",  # a column of the declared schema (schema.py, the source catalogue's facts)
        "kind",  # the column's type compiled by the dialect
    },
    # Quoted by the dialect's identifier preparer (_names); the view is a counter-numbered name.
    "include/oncall_readiness/warehouse_load.py": {"qualified", "columns", "view"},
    "include/oncall_readiness/report/html.py": {"schema"},
    "include/oncall_readiness/api/queries.py": {"{table: prefix + table for table in tables}"},
    "include/oncall_readiness/alerts/changes.py": {
        "_qualified(warehouse, 'scorecard')",
        "_qualified(warehouse, 'facts_registry_teams')",
        "_qualified(warehouse, 'check_results')",
    },
}


def sql_text(node: ast.AST) -> str:
    """The literal parts of a string expression: what tells whether it is SQL."""
    if isinstance(node, ast.JoinedStr):
        return "".join(part.value for part in node.values if isinstance(part, ast.Constant))
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return ""


def interpolations(node: ast.AST, sql_names: set[str]) -> list[ast.AST]:
    """The expressions ``node`` formats into SQL, if it builds SQL by formatting."""
    if isinstance(node, ast.JoinedStr) and SQL.search(sql_text(node)):
        return [part.value for part in node.values if isinstance(part, ast.FormattedValue)]
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format":
        base = node.func.value
        if SQL.search(sql_text(base)) or (isinstance(base, ast.Name) and base.id in sql_names):
            return [*node.args, *(keyword.value for keyword in node.keywords)]
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod | ast.Add):
        if SQL.search(sql_text(node.left)):
            return [node.right]
        if isinstance(node.op, ast.Add) and SQL.search(sql_text(node.right)):
            return [node.left]
    return []


def names_holding_sql(tree: ast.AST) -> set[str]:
    """Variables assigned SQL text, or named as SQL (``sql``, ``query``): what ``.format`` on them builds."""
    names = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and SQL_NAMED.search(node.id)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and SQL.search(sql_text(node.value)):
            names |= {target.id for target in node.targets if isinstance(target, ast.Name)}
    return names


@functools.cache  # both tests read the same scan
def formatted_sql() -> dict[str, set[str]]:
    """File → every expression formatted into SQL there."""
    found: dict[str, set[str]] = {}
    for folder in SCANNED:
        for path in sorted((REPO / folder).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            sql_names = names_holding_sql(tree)
            for node in ast.walk(tree):
                for expression in interpolations(node, sql_names):
                    found.setdefault(path.relative_to(REPO).as_posix(), set()).add(ast.unparse(expression))
    return found


def test_sql_is_formatted_only_with_identifiers_from_code():
    found = formatted_sql()
    unexpected = {
        f"{path}: {{{expression}}}"
        for path, expressions in found.items()
        for expression in expressions - IDENTIFIERS_FROM_CODE.get(path, set())
    }
    assert not unexpected, (
        "SQL built with values: bind them (:name parameters or SQLAlchemy Core), or, for an identifier "
        "that comes from code, list it in IDENTIFIERS_FROM_CODE with why: " + "; ".join(sorted(unexpected))
    )


def test_the_scan_finds_sql_built_by_formatting_and_the_allowlist_is_current():
    probe = ast.parse(
        "team = 'x'\n"
        "a = f\"SELECT * FROM t WHERE team = '{team}'\"\n"
        "b = 'DELETE FROM t WHERE id = %s' % team\n"
        "c = 'SELECT * FROM t WHERE team = ' + team\n"
        "sql = 'SELECT {col} FROM t'\n"
        "d = sql.format(col=team)\n"
        "e = f'The rule {team} has no runbook'  # a message, not SQL\n"
    )
    names = names_holding_sql(probe)
    caught = [ast.unparse(e) for node in ast.walk(probe) for e in interpolations(node, names)]
    assert sorted(caught) == ["team"] * 4
    found = formatted_sql()
    stale = {
        f"{path}: {e}" for path, allowed in IDENTIFIERS_FROM_CODE.items() for e in allowed - found.get(path, set())
    }
    assert not stale, f"allowed interpolations no longer in the code (remove them): {sorted(stale)}"
