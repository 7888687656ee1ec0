"""The Readiness page of the Airflow UI: the organisation's latest scorecard and one page per team.

A FastAPI app mounted on the Airflow API server under ``/readiness`` and a top-level entry in the
UI's navigation that shows it (in an iframe, at ``/plugin/readiness``). It reads the warehouse of
the ``readiness_warehouse`` connection and the runs of ``readiness_audit`` from Airflow's metadata
DB; the data shaping and the templates live in ``oncall_readiness.report.page``.

Authentication is Airflow's own: every page requires the JWT that Airflow issues at login (the
``_token`` cookie the UI sets, or an ``Authorization: Bearer`` header), validated by the
configured auth manager through ``airflow.api_fastapi.core_api.security.get_user``, and the
right to read the runs of ``readiness_audit`` (``requires_access_dag``): whoever may see the
audit's DAG runs may see what they produced. A browser whose login cookie is missing, expired,
or not valid (forged, signed with another secret) is sent to the auth manager's login page and
comes back here afterwards; a client that sent a bearer token gets Airflow's JSON answer (401,
or 403 for a token that is not valid), and so does everyone when the user lacks that right (403).

When the warehouse cannot be read the page answers 503 naming the connection to check,
``readiness_warehouse``, and nothing else: its host, login and the driver's error go to the
API server's log only.

This module is imported by every Airflow component that loads plugins (scheduler, workers,
...): it imports only FastAPI at module level; the API server's security, the metadata DB and
the warehouse are imported when a request arrives.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from airflow.configuration import conf
from airflow.plugins_manager import AirflowPlugin
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from oncall_readiness.api import app as readiness_api  # FastAPI and pydantic only at import
from oncall_readiness.api.connection_test import PortlessConnectionTest

if TYPE_CHECKING:
    from oncall_readiness.report.page import AuditRun
    from oncall_readiness.warehouse import Warehouse

log = logging.getLogger(__name__)

URL_PREFIX = "/readiness"
API_PREFIX = "/api"
DAG_ID = "readiness_audit"
WAREHOUSE_CONNECTION = "readiness_warehouse"
UI_ROOT = urlsplit(conf.get("api", "base_url", fallback="") or "/").path or "/"
ICON = """<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" fill="none" stroke="#017cee" stroke-width="2"
 stroke-linecap="round" stroke-linejoin="round"><path d="M12 22s8-4 8-10V5l-8-3-8 3v7c0 6 8 10 8 10z"/>
<path d="m9 12 2 2 4-4"/></svg>"""


class WarehouseUnavailable(RuntimeError):
    """The warehouse could not be read; the message is safe to show (no host, login or driver error)."""


class NotLoggedIn(StarletteHTTPException):
    """Authentication failed (no JWT, or an expired or invalid one); Airflow's status and detail kept.

    ``browser_session``: the credential was the UI's ``_token`` cookie, not a bearer header, so
    logging in again is the remedy.
    """

    def __init__(self, error: StarletteHTTPException, *, browser_session: bool) -> None:
        super().__init__(error.status_code, error.detail, headers=error.headers)
        self.browser_session = browser_session


async def require_audit_reader(request: Request) -> Any:
    """Airflow's own authentication and authorization, as its REST API applies them.

    ``get_user`` validates the JWT (bearer header first, else the UI's ``_token`` cookie) with the
    auth manager; ``requires_access_dag`` asks the auth manager whether that user may read the
    runs of ``readiness_audit``. Imported here, not at module level: only the API server needs them.
    """
    from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity
    from airflow.api_fastapi.core_api.security import bearer_scheme, get_user, requires_access_dag

    bearer = await bearer_scheme(request)
    try:
        user = await get_user(request, None, bearer)
    except StarletteHTTPException as error:  # 401 without or with an expired JWT, 403 with an invalid one
        raise NotLoggedIn(error, browser_session=not (bearer and bearer.scheme.lower() == "bearer")) from error
    authorize = requires_access_dag(method="GET", access_entity=DagAccessEntity.RUN, param_dag_id=DAG_ID)
    await run_in_threadpool(authorize, request, user)  # reads the DAG's team from the metadata DB
    return user


pages = APIRouter(dependencies=[Depends(require_audit_reader)])


@pages.get("/", response_class=HTMLResponse)
def scorecard_page(sort: str = "score", order: str = "desc") -> HTMLResponse:
    """Every team of the latest audit: score, level, counts, change over 7 days, trend; the open incidents.

    Routes are sync functions: FastAPI runs them in a thread pool, so the blocking reads are fine.
    """
    from oncall_readiness.report import page

    last_run = _last_watch_run()
    with _warehouse() as warehouse:
        card = page.organisation_scorecard(warehouse, sort=sort, descending=order != "asc") if warehouse else None
        open_incidents = page.open_incidents(warehouse, last_run=last_run) if card else None
    if card is None:
        return HTMLResponse(page.render_message(page.EMPTY_HEADLINE, page.EMPTY_DETAIL, ui_root=UI_ROOT))
    runs = _audit_runs([card.audit_date]).get(card.audit_date, [])
    return HTMLResponse(
        page.render_scorecard_page(card, latest_runs=runs, ui_root=UI_ROOT, open_incidents=open_incidents)
    )


@pages.get("/teams/{team:path}", response_class=HTMLResponse)
def team_page(team: str) -> HTMLResponse:
    """One team: its checks, findings, open incidents, last week's incidents, history and the DAG runs behind it."""
    from oncall_readiness.report import page

    last_run = _last_watch_run()
    with _warehouse() as warehouse:
        report = page.team_report(warehouse, team) if warehouse else None
        if report is not None:
            incidents = page.team_insights(warehouse, team, report.audit_date)
            open_incidents = page.open_incidents(warehouse, team, last_run=last_run)
    if report is None:
        detail = f"The warehouse has no scorecard for a team named “{team}”." if warehouse else page.EMPTY_DETAIL
        body = page.render_message("Team not found", detail, scorecard_href="../", ui_root=UI_ROOT)
        return HTMLResponse(body, status_code=404)
    report = page.attach_runs(report, _audit_runs([row.audit_date for row in report.history]))
    body = page.render_team_page(
        report, scorecard_href="../", ui_root=UI_ROOT, incidents=incidents, open_incidents=open_incidents
    )
    return HTMLResponse(body)


@pages.get("/campaigns", response_class=HTMLResponse)
def campaigns_page() -> HTMLResponse:
    """Every campaign of the latest audit: burn-up chart, days left, the teams behind and why."""
    from oncall_readiness.report import page
    from oncall_readiness.report.page import campaigns

    with _warehouse() as warehouse:
        day = page.latest_audit_date(warehouse) if warehouse else None
        views = campaigns.campaigns_view(warehouse, day) if day else []
    if day is None:
        return HTMLResponse(page.render_message(page.EMPTY_HEADLINE, page.EMPTY_DETAIL, ui_root=UI_ROOT))
    return HTMLResponse(campaigns.render_campaigns_page(views, day))


@pages.get("/groups", response_class=HTMLResponse)
@pages.get("/groups/{group:path}", response_class=HTMLResponse)
def groups_page(group: str | None = None) -> HTMLResponse:
    """The group tree (departments and their teams, rolled up), or one group's drill-down."""
    from oncall_readiness.report import page
    from oncall_readiness.report.page import campaigns

    root = "" if group is None else "../"  # /groups/ and /groups/<name> are one level down
    with _warehouse() as warehouse:
        day = page.latest_audit_date(warehouse) if warehouse else None
        tree = campaigns.group_tree(warehouse, day, focus=group or None) if day else None
    if day is None:
        return HTMLResponse(page.render_message(page.EMPTY_HEADLINE, page.EMPTY_DETAIL, ui_root=UI_ROOT))
    if tree is None:
        detail = f"The latest audit has no parent group named “{group}”."
        return HTMLResponse(page.render_message("Group not found", detail, scorecard_href=root, ui_root=UI_ROOT), 404)
    return HTMLResponse(campaigns.render_groups_page(tree, root=root))


app = FastAPI(title="On-call readiness", docs_url=None, redoc_url=None, openapi_url=None)
app.include_router(pages)
# The JSON API (oncall_readiness.api, docs/api.md) at /readiness/api, with its own OpenAPI schema.
app.mount(API_PREFIX, readiness_api)


@app.get("/icon.svg", include_in_schema=False)
def icon() -> Response:
    """The navigation icon (public, like the UI's own static files)."""
    return Response(ICON, media_type="image/svg+xml")


@app.exception_handler(StarletteHTTPException)
async def login_first(request: Request, exc: StarletteHTTPException) -> Response:
    """Send a browser that is not logged in to Airflow's login page, and back here afterwards.

    Any failed login through the cookie counts: none, expired (401) or not valid (403); a
    bearer token's failure, and a logged-in user's lack of rights, keep Airflow's JSON answer.
    """
    browser = "text/html" in request.headers.get("accept", "")
    if browser and isinstance(exc, NotLoggedIn) and exc.browser_session:
        from airflow.api_fastapi.app import get_auth_manager

        back = request.url.path + (f"?{request.url.query}" if request.url.query else "")  # relative: proxy-safe
        return RedirectResponse(get_auth_manager().get_url_login(next_url=back), status_code=303)
    return await http_exception_handler(request, exc)


@app.exception_handler(WarehouseUnavailable)
async def warehouse_unavailable(request: Request, exc: WarehouseUnavailable) -> Response:
    from oncall_readiness.report import page

    body = page.render_message("The warehouse cannot be read", str(exc), ui_root=UI_ROOT)
    return HTMLResponse(body, status_code=503)


def _unavailable(why: str) -> WarehouseUnavailable:
    """What the 503 page says: what failed and which connection to check, never its host, login or error."""
    return WarehouseUnavailable(
        f"The Readiness page could not {why}. Check the Airflow connection {WAREHOUSE_CONNECTION} "
        "(its URL, the server it names and its login) and that the warehouse is up; the API server's "
        "log has the details."
    )


@contextmanager
def _warehouse() -> Iterator[Warehouse | None]:
    """The warehouse of ``readiness_warehouse``, opened for this request only (a DuckDB file read-only,
    taking its turn with the audit's publish: ``warehouse_file``); None when it was never written.

    A connection that is missing, or a warehouse that cannot be read, raises ``WarehouseUnavailable``
    with a message safe to show; the details (the URL without its password, the driver's error)
    are logged here.
    """
    import sqlalchemy as sa

    from oncall_readiness.errors import ConnectionConfigError, WarehouseBusy
    from oncall_readiness.report import page
    from oncall_readiness.warehouse import Warehouse, url_from_connection
    from oncall_readiness.warehouse_file import REQUEST_WAIT

    try:
        url = url_from_connection(WAREHOUSE_CONNECTION)
    except ConnectionConfigError:
        log.exception("The Readiness page cannot find its warehouse")
        raise _unavailable("find the warehouse's connection") from None
    try:
        exists = page.warehouse_exists(url)
        warehouse = Warehouse(page.read_only_url(url), wait=REQUEST_WAIT) if exists else None
    except (sa.exc.SQLAlchemyError, ValueError):
        log.exception("The Readiness page cannot open the warehouse %s", _safe_url(url))
        raise _unavailable("open the warehouse") from None
    if warehouse is None:
        yield None
        return
    try:
        yield warehouse
    except WarehouseBusy:
        log.exception("The Readiness page waited too long for the warehouse %s", _safe_url(url))
        raise _unavailable("read the warehouse in time: another process (the audit's publish) held it") from None
    except sa.exc.SQLAlchemyError:
        log.exception("The Readiness page cannot read the warehouse %s", _safe_url(url))
        raise _unavailable("read the warehouse") from None
    finally:
        warehouse.dispose()


def _safe_url(url: str) -> str:
    """The URL for the log: its password hidden (the log may keep host and user; the page never does)."""
    from oncall_readiness.report import page

    try:
        return page.describe_url(url)
    except Exception:  # an unparsable URL: say so, without echoing it
        return "(a URL that does not parse)"


def _audit_runs(dates: list[dt.date]) -> dict[dt.date, list[AuditRun]]:
    """The runs of ``readiness_audit`` whose data interval ends on one of ``dates``, from Airflow's metadata DB."""
    if not dates:
        return {}
    from airflow.models import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    from oncall_readiness.report.page import DagRunRecord, runs_by_audit_date

    start = dt.datetime.combine(min(dates), dt.time.min, tzinfo=dt.UTC)
    end = dt.datetime.combine(max(dates) + dt.timedelta(days=1), dt.time.min, tzinfo=dt.UTC)
    query = select(DagRun).where(
        DagRun.dag_id == DAG_ID, DagRun.data_interval_end >= start, DagRun.data_interval_end < end
    )
    with create_session() as session:
        records = [
            DagRunRecord(run.run_id, run.data_interval_end, _state(run.state), run.run_after)
            for run in session.scalars(query)
        ]
    wanted = set(dates)
    return {day: runs for day, runs in runs_by_audit_date(records, ui_root=UI_ROOT).items() if day in wanted}


def _last_watch_run() -> dt.datetime | None:
    """When ``incident_cost_watch`` last succeeded (it dates an empty list of open incidents); None if never."""
    from airflow.models import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import func, select

    from oncall_readiness.report.page import WATCH_DAG_ID

    query = select(func.max(DagRun.end_date)).where(DagRun.dag_id == WATCH_DAG_ID, DagRun.state == "success")
    try:
        with create_session() as session:
            return session.scalar(query)
    except Exception:  # the page still shows the list, only undated
        log.exception("The Readiness page cannot read the runs of %s", WATCH_DAG_ID)
        return None


def _state(state: object) -> str | None:
    return None if state is None else str(getattr(state, "value", state))


class ReadinessPagePlugin(AirflowPlugin):
    """Adds the Readiness page (and its navigation entry) to the Airflow UI."""

    name = "readiness_page"
    fastapi_apps = [{"app": app, "url_prefix": URL_PREFIX, "name": "On-call readiness"}]
    # The UI's Test button for a saved readiness connection, until Airflow has apache/airflow#73298.
    fastapi_root_middlewares = [{"middleware": PortlessConnectionTest, "name": "readiness_connection_test"}]
    external_views = [
        {
            "name": "Readiness",
            "href": f"{UI_ROOT.rstrip('/')}{URL_PREFIX}/",
            "icon": f"{UI_ROOT.rstrip('/')}{URL_PREFIX}/icon.svg",
            "url_route": "readiness",
            "destination": "nav",
            "nav_top_level": True,
        }
    ]
