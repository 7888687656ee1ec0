"""The data-quality gate: a Great Expectations suite per facts table, run before any check.

Each source has a module here whose ``suites(facts, context)`` returns, per facts table,
the expectations that make up that source's data contract; the source catalogue
(``sources.catalogue``) names it. :func:`validate_source` runs
them in an ephemeral GX context and returns one row per expectation for the warehouse
table ``data_quality``. A source with a failed expectation is not trusted: every check
that reads it becomes ``unknown`` with the failed expectations as the reason.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

QUALITY_COLUMNS = ["source", "facts_table", "expectation", "success", "observed_value", "details"]
MAX_EXAMPLES = 5


# (facts, context) -> facts table -> GX expectations: a source's data contract
Suites = Callable[[Mapping[str, pd.DataFrame], "QualityContext"], dict[str, list]]


class DataQualityError(RuntimeError):
    """A source's facts broke their contract; the message names the failed expectations."""


@dataclass(frozen=True)
class QualityContext:
    """What a contract may compare facts with: the audit instant and the registry."""

    audit_instant: pd.Timestamp
    registry: Mapping[str, pd.DataFrame]


def validate_source(
    source: str, suites: Suites, facts: Mapping[str, pd.DataFrame], context: QualityContext
) -> pd.DataFrame:
    """Run a source's suites (its catalogue entry's) over its facts; one row per expectation (QUALITY_COLUMNS)."""
    gx = _great_expectations()
    suites = suites(facts, context)
    # A suite may also hold the registry up against the source (is anyone missing?).
    frames = {**context.registry, **facts}
    from great_expectations.data_context.types.base import ProgressBarsConfig

    gx_context = gx.get_context(mode="ephemeral")
    gx_context.variables.progress_bars = ProgressBarsConfig(globally=False)
    datasource = gx_context.data_sources.add_pandas(f"readiness_{source}")
    rows = []
    for table, expectations in suites.items():
        batch = (
            datasource.add_dataframe_asset(name=table)
            .add_batch_definition_whole_dataframe("audit")
            .get_batch(batch_parameters={"dataframe": frames[table]})
        )
        suite = gx_context.suites.add(gx.ExpectationSuite(name=table, expectations=expectations))
        validation = batch.validate(suite, result_format={"result_format": "SUMMARY"})
        rows += [_row(source, table, result) for result in validation.results]
    return pd.DataFrame(rows, columns=QUALITY_COLUMNS)


def failure_summary(report: pd.DataFrame) -> str | None:
    """One sentence naming the failed expectations, or None when all passed."""
    failed = report[~report["success"]]
    if failed.empty:
        return None
    parts = [f"{row.facts_table}: {row.expectation} ({row.observed_value})" for row in failed.itertuples()]
    return f"{len(parts)} failed expectation{'s' if len(parts) > 1 else ''}: " + "; ".join(parts)


def _row(source: str, table: str, result: Any) -> dict:
    config = result.expectation_config
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


def _great_expectations():
    """Import GX quietly: no analytics calls, no docs-registration chatter, no progress bars."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    import great_expectations as gx

    return gx
