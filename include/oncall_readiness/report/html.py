"""The static scorecard page: every team's score, level and checks, from the warehouse."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import jinja2
import markupsafe
import pandas as pd

from oncall_readiness.report.message import format_score
from oncall_readiness.warehouse import Warehouse

TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("oncall_readiness.report", "templates"),
    autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
TEMPLATES.filters["score"] = format_score  # the emails' rule: one decimal, "–" when unknown


def markdown(text: str | None) -> markupsafe.Markup:
    """Remediation text (Markdown, from checks.yaml and the checks) as HTML: CommonMark without raw HTML.

    markdown-it-py escapes any HTML in the text and refuses ``javascript:``, ``vbscript:``, ``file:``
    and ``data:`` links, so a value from a source cannot inject markup.
    """
    from markdown_it import MarkdownIt

    return markupsafe.Markup(MarkdownIt("commonmark", {"html": False}).disable("image").render(text or ""))


TEMPLATES.filters["markdown"] = markdown


def load_audit(warehouse: Warehouse, day: dt.date | None = None) -> dict[str, Any]:
    """The scorecard, results and findings of ``day`` (default: the latest audit) as plain data."""
    schema = f"{warehouse.schema}." if warehouse.schema else ""
    if day is None:
        card = warehouse.query(f"SELECT * FROM {schema}scorecard_latest ORDER BY score DESC, team")
    else:
        card = warehouse.query(
            f"SELECT * FROM {schema}scorecard WHERE audit_date = :day ORDER BY score DESC, team", day=day
        )
    if card.empty:
        raise LookupError("the warehouse holds no scorecard for that date: run the readiness_audit DAG first")
    day = pd.Timestamp(card["audit_date"].iloc[0]).date()
    results = warehouse.query(
        f"SELECT * FROM {schema}check_results WHERE audit_date = :day ORDER BY team, check_id", day=day
    )
    findings = warehouse.query(
        f"SELECT * FROM {schema}findings WHERE audit_date = :day AND outcome <> 'pass' "
        "ORDER BY team, check_id, subject",
        day=day,
    )
    return {"audit_date": day, "scorecard": card, "results": results, "findings": findings}


def render_scorecard(audit: dict[str, Any], *, generated_at: dt.datetime | None = None) -> str:
    teams = []
    for row in audit["scorecard"].to_dict("records"):
        team_results = audit["results"][audit["results"]["team"] == row["team"]].to_dict("records")
        team_findings = audit["findings"][audit["findings"]["team"] == row["team"]].to_dict("records")
        teams.append(
            {**_clean(row), "checks": [_clean(r) for r in team_results], "findings": [_clean(f) for f in team_findings]}
        )
    return TEMPLATES.get_template("scorecard.html.j2").render(
        audit_date=audit["audit_date"], teams=teams, generated_at=generated_at or dt.datetime.now(dt.UTC)
    )


def write_scorecard(audit: dict[str, Any], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_scorecard(audit))
    return path


def _clean(record: dict[str, Any]) -> dict[str, Any]:
    return {
        key: (None if value is None or (isinstance(value, float) and pd.isna(value)) else value)
        for key, value in record.items()
    }
