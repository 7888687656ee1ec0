"""The Readiness page as HTML: the templates ``page_*.html.j2``.

Jinja2 with autoescape: every value from the warehouse arrives as text.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from oncall_readiness.report.page.incidents import OpenIncidents

if TYPE_CHECKING:
    from jinja2 import Template
from oncall_readiness.report.page.views import (
    DAG_ID,
    TREND_POINTS,
    AuditRun,
    OrgScorecard,
    Site,
    TeamReport,
    dag_url,
    sort_links,
    team_href,
)

EMPTY_HEADLINE = "No audit in the warehouse yet"
EMPTY_DETAIL = (
    f"The warehouse holds no scorecard yet: run the {DAG_ID} DAG first (trigger it in Airflow, or run "
    "`make demo` for the sample organisation), then reload this page."
)


def render_scorecard_page(
    card: OrgScorecard,
    *,
    latest_runs: list[AuditRun],
    ui_root: str = "/",
    open_incidents: OpenIncidents | None = None,
    site: Site | None = None,
) -> str:
    """``site``: how links to the other pages are written (served by the plugin, or static files)."""
    return _template("page_scorecard.html.j2").render(
        card=card,
        site=site or Site(),
        team_href=team_href,
        open_incidents=open_incidents,
        latest_runs=latest_runs,
        sort_links=sort_links(card.sort, descending=card.descending),
        trend_points=TREND_POINTS,
        dag_id=DAG_ID,
        dag_url=None if site and site.static else dag_url(ui_root=ui_root),
    )


def render_team_page(
    report: TeamReport,
    *,
    scorecard_href: str,
    ui_root: str = "/",
    incidents: dict[str, Any] | None = None,
    open_incidents: OpenIncidents | None = None,
    static: bool = False,
) -> str:
    """``incidents``: the team's last week (``page.team_insights``); ``open_incidents``: the cost watch's list.

    ``static``: a file beside the others (``page.static``), without links into Airflow.
    """
    return _template("page_team.html.j2").render(
        report=report,
        scorecard_href=scorecard_href,
        dag_url=None if static else dag_url(ui_root=ui_root),
        incidents=incidents,
        open_incidents=open_incidents,
    )


def render_message(headline: str, detail: str, *, scorecard_href: str | None = None, ui_root: str = "/") -> str:
    """A page that explains why there is nothing to show (empty warehouse, unknown team, unreachable warehouse)."""
    return _template("page_message.html.j2").render(
        headline=headline,
        detail=detail,
        scorecard_href=scorecard_href,
        dag_id=DAG_ID,
        dag_url=dag_url(ui_root=ui_root),
    )


def _template(name: str) -> Template:
    from oncall_readiness.report.html import TEMPLATES

    return TEMPLATES.get_template(name)
