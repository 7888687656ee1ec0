"""The Readiness page of the Airflow UI, as plain data: the organisation's scorecard and one page per team.

Pure functions over a :class:`~oncall_readiness.warehouse.Warehouse` (and over the DAG runs the
plugin reads from Airflow's metadata DB); the plugin in ``plugins/readiness_page.py`` only wires
routes, authentication and these functions to the templates ``page_*.html.j2``.

- :mod:`.queries`: reading the warehouse (``organisation_scorecard``, ``team_report``, URLs);
- :mod:`.views`: the view models (dataclasses) and their shaping from rows and DAG runs;
- :mod:`.incidents`: a team's last week of incidents and the open incidents' running cost;
- :mod:`.render`: the HTML.
"""

from __future__ import annotations

from oncall_readiness.report.page.incidents import (
    WATCH_DAG_ID,
    OpenIncident,
    OpenIncidents,
    open_incidents,
    team_insights,
)
from oncall_readiness.report.page.queries import (
    CHECK_COLUMNS,
    FINDING_COLUMNS,
    HISTORY_LIMIT,
    NO_ACTION_OUTCOMES,
    SCORECARD_COLUMNS,
    describe_url,
    latest_audit_date,
    organisation_scorecard,
    read_only_url,
    team_report,
    warehouse_exists,
)
from oncall_readiness.report.page.render import (
    EMPTY_DETAIL,
    EMPTY_HEADLINE,
    render_message,
    render_scorecard_page,
    render_team_page,
)
from oncall_readiness.report.page.views import (
    DAG_ID,
    SORT_KEYS,
    TREND_POINTS,
    AuditRun,
    CheckRow,
    DagRunRecord,
    FindingRow,
    HistoryRow,
    OrgScorecard,
    Sparkline,
    TeamReport,
    TeamRow,
    attach_runs,
    dag_url,
    level_counts,
    run_url,
    runs_by_audit_date,
    sort_links,
    sort_teams,
    sparkline,
    team_href,
)

__all__ = [
    "CHECK_COLUMNS",
    "DAG_ID",
    "EMPTY_DETAIL",
    "EMPTY_HEADLINE",
    "FINDING_COLUMNS",
    "HISTORY_LIMIT",
    "NO_ACTION_OUTCOMES",
    "SCORECARD_COLUMNS",
    "SORT_KEYS",
    "TREND_POINTS",
    "WATCH_DAG_ID",
    "AuditRun",
    "CheckRow",
    "DagRunRecord",
    "FindingRow",
    "HistoryRow",
    "OpenIncident",
    "OpenIncidents",
    "OrgScorecard",
    "Sparkline",
    "TeamReport",
    "TeamRow",
    "attach_runs",
    "dag_url",
    "describe_url",
    "latest_audit_date",
    "level_counts",
    "open_incidents",
    "organisation_scorecard",
    "read_only_url",
    "render_message",
    "render_scorecard_page",
    "render_team_page",
    "run_url",
    "runs_by_audit_date",
    "sort_links",
    "sort_teams",
    "sparkline",
    "team_href",
    "team_insights",
    "team_report",
    "warehouse_exists",
]
