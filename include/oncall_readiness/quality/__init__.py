"""The data-quality gate: a Great Expectations suite per facts table, run before any check.

Each source has a module here whose ``suites(facts, context)`` returns, per facts table,
the expectations that make up that source's data contract; the source catalogue
(``source_catalogue``) names it. :func:`validate_source` runs
them in an ephemeral GX context and returns one row per expectation for the warehouse
table ``data_quality``. A source with a failed expectation is not trusted: every check
that reads it becomes ``unknown`` with the failed expectations as the reason.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any, Literal, TypeAlias, TypedDict, cast

import pandas as pd

from oncall_readiness.schema import LINKS_SUFFIX

if TYPE_CHECKING:
    from great_expectations.core.expectation_validation_result import ExpectationValidationResult
    from great_expectations.expectations import Expectation, ExpectColumnValuesToBeInSet
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

QUALITY_COLUMNS = ["source", "facts_table", "expectation", "success", "observed_value", "details"]
MAX_EXAMPLES = 5
# An expect_column_values_to_be_in_set with more values than this is tested in pandas (see _validate_table).
LARGE_VALUE_SET = 100
_IN_VALUE_SET = "\x00in the value set"  # the marker: no identifier, email or name holds a NUL
_POSITION = "readiness_position"  # each expectation's place in its suite, kept in its meta


# A facts table's GX expectations
Expectations: TypeAlias = list["Expectation"]


class RowCondition(TypedDict):
    """An expectation's pandas row condition, passed as its keyword arguments."""

    row_condition: str
    condition_parser: Literal["pandas"]


# (facts, context) -> facts table -> GX expectations: a source's data contract
Suites = Callable[[Mapping[str, pd.DataFrame], "QualityContext"], dict[str, Expectations]]


@dataclass(frozen=True)
class QualityContext:
    """What a contract may compare facts with: the audit instant, the registry, how far ahead the source was read."""

    audit_instant: pd.Timestamp
    registry: Mapping[str, pd.DataFrame]
    look_ahead_days: int = 0  # how far past the instant the source was read (shifts ahead may end there)


def link_expectations() -> Expectations:
    """A ``<source>_links`` table: one row per subject, each with a web URL to open."""
    import great_expectations.expectations as gxe  # imported on use: GX is slow to import

    return [
        gxe.ExpectColumnValuesToNotBeNull(column="subject"),
        gxe.ExpectColumnValuesToBeUnique(column="subject"),
        gxe.ExpectColumnValuesToNotBeNull(column="url"),
        gxe.ExpectColumnValuesToMatchRegex(column="url", regex=r"^https?://"),
    ]


def validate_source(
    source: str, suites: Suites, facts: Mapping[str, pd.DataFrame], context: QualityContext
) -> pd.DataFrame:
    """Run a source's suites (its catalogue entry's) over its facts; one row per expectation (QUALITY_COLUMNS)."""
    gx = _great_expectations()
    contract = suites(facts, context)
    links = f"{source}{LINKS_SUFFIX}"  # the source's links table (findings' links): the same contract everywhere
    if links in facts and links not in contract:
        contract[links] = link_expectations()
    # A suite may also hold the registry up against the source (is anyone missing?).
    frames = {**context.registry, **facts}
    from great_expectations.data_context.types.base import ProgressBarsConfig

    gx_context = gx.get_context(mode="ephemeral")
    gx_context.variables.progress_bars = ProgressBarsConfig(globally=False)
    datasource = gx_context.data_sources.add_pandas(f"readiness_{source}")

    def run(name: str, frame: pd.DataFrame, expectations: Expectations) -> list[ExpectationValidationResult]:
        batch = (
            datasource.add_dataframe_asset(name=name)
            .add_batch_definition_whole_dataframe("audit")
            .get_batch(batch_parameters={"dataframe": frame})
        )
        suite = gx_context.suites.add(gx.ExpectationSuite(name=name, expectations=expectations))
        results: list[ExpectationValidationResult] = batch.validate(
            suite, result_format={"result_format": "SUMMARY"}
        ).results
        return results

    rows = []
    for table, expectations in contract.items():
        rows += [_row(source, table, result) for result in _validate_table(table, frames[table], expectations, run)]
    return pd.DataFrame(rows, columns=QUALITY_COLUMNS)


def _validate_table(
    table: str,
    frame: pd.DataFrame,
    expectations: Expectations,
    run: Callable[[str, pd.DataFrame, Expectations], list[ExpectationValidationResult]],
) -> list[ExpectationValidationResult]:
    """One table's results, in the order one suite run gives them (grouped by column, as GX orders them).

    GX copies an expectation's arguments each time it reads its configuration, about a hundred
    times per expectation: a value set of 20,000 user ids made each such expectation cost
    seconds (PagerDuty's suite took about 50 s at 2,000 teams). So a large value set is tested
    once here, in pandas: the values in the set become one marker, the others stay as they are,
    and GX checks the marked column against the marker alone, in a second batch. Counts,
    unexpected values, their rows and the outcome are the same; only the set GX copies is small.
    """
    tagged = [e.copy(update={"meta": {**(e.meta or {}), _POSITION: i}}) for i, e in enumerate(expectations)]
    direct, in_marked, marked = [], [], {}
    for expectation in tagged:
        column = _large_value_set_column(expectation, frame)
        if column is None or column in marked:
            direct.append(expectation)
            continue
        # As objects: isin hashes (the str dtype's isin takes 4x as long), and a numeric column
        # (Grafana's Int64 ids) can hold the marker. GX leaves nulls out of the test.
        values = frame[column].astype(object)
        in_set = cast("ExpectColumnValuesToBeInSet", expectation)  # its type checked by _large_value_set_column
        known = values.notna() & values.isin(in_set.value_set)
        marked[column] = values.where(~known, _IN_VALUE_SET)
        in_marked.append(expectation.copy(update={"value_set": [_IN_VALUE_SET]}))
    results = run(table, frame, direct) if direct else []
    if in_marked:
        results += run(f"{table} (large value sets)", pd.DataFrame(marked, index=frame.index), in_marked)
    order = _suite_order(expectations)
    return sorted(results, key=lambda result: order[_config(result).meta[_POSITION]])


def _large_value_set_column(expectation: Any, frame: pd.DataFrame) -> str | None:
    """The column of an ``expect_column_values_to_be_in_set`` with a large set, tested in pandas; else None."""
    from great_expectations.expectations import ExpectColumnValuesToBeInSet

    if type(expectation) is not ExpectColumnValuesToBeInSet or expectation.row_condition:
        return None
    if not isinstance(expectation.value_set, list) or len(expectation.value_set) <= LARGE_VALUE_SET:
        return None
    return expectation.column if expectation.column in frame.columns else None


def _suite_order(expectations: Expectations) -> list[int]:
    """Each expectation's place in one suite run's results: GX groups them by column, first seen first."""
    columns: dict[str, int] = {}
    keys = []
    for position, expectation in enumerate(expectations):
        column = getattr(expectation, "column", None)
        group = columns.setdefault(column if isinstance(column, str) else "", len(columns))
        keys.append((group, position))
    ranked = sorted(range(len(keys)), key=keys.__getitem__)
    order = [0] * len(keys)
    for place, position in enumerate(ranked):
        order[position] = place
    return order


def failure_summary(report: pd.DataFrame) -> str | None:
    """One sentence naming the failed expectations, or None when all passed."""
    failed = report[~report["success"]]
    if failed.empty:
        return None
    parts = [f"{row.facts_table}: {row.expectation} ({row.observed_value})" for row in failed.itertuples()]
    return f"{len(parts)} failed expectation{'s' if len(parts) > 1 else ''}: " + "; ".join(parts)


def _config(result: ExpectationValidationResult) -> ExpectationConfiguration:
    """The expectation a result is of (GX names it in every result of a suite run)."""
    if result.expectation_config is None:
        raise ValueError(f"a GX validation result without its expectation: {result}")
    return result.expectation_config


def _row(source: str, table: str, result: ExpectationValidationResult) -> dict[str, Any]:
    config = _config(result)
    hidden = ("batch_id", "value_set", "value_pairs_set", "result_format", "condition_parser", "row_condition")
    kwargs = {k: v for k, v in config.kwargs.items() if k not in hidden}
    condition = config.kwargs.get("row_condition")
    if isinstance(condition, dict):  # GX keeps a pandas row condition as a pass-through filter
        condition = condition.get("pass_through_filter")
    if condition:
        kwargs["where"] = condition
    described = ", ".join(f"{k}={v}" for k, v in kwargs.items())
    outcome = result.result or {}
    if outcome.get("unexpected_count") is not None:
        observed = f"{outcome['unexpected_count']} unexpected of {outcome.get('element_count')}"
    else:
        observed = str(outcome.get("observed_value"))
    examples = outcome.get("partial_unexpected_list") or []
    error = (result.exception_info or {}).get("exception_message")
    details = error or (f"e.g. {', '.join(map(str, examples[:MAX_EXAMPLES]))}" if examples else "")
    return {
        "source": source,
        "facts_table": table,
        "expectation": f"{config.type}({described})",
        "success": bool(result.success),
        "observed_value": observed,
        "details": details,
    }


def _great_expectations() -> ModuleType:
    """Import GX quietly: no analytics calls, no docs-registration chatter, no progress bars."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    import great_expectations as gx

    return gx
