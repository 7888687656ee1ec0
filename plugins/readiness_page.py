"""The Readiness page of the Airflow UI: the organisation's latest scorecard and one page per team.

A FastAPI app mounted on the Airflow API server under ``/readiness`` and a top-level entry in the
UI's navigation that shows it (in an iframe, at ``/plugin/readiness``). It reads the warehouse of
the ``readiness_warehouse`` connection and the runs of ``readiness_audit`` from Airflow's metadata
DB; the data shaping and the templates live in ``oncall_readiness.report.page``.

Authentication is Airflow's own: every page requires the JWT that Airflow issues at login (the
``_token`` cookie the UI sets, or an ``Authorization: Bearer`` header), validated by the
configured auth manager through ``airflow.api_fastapi.core_api.security.get_user``, and the
right to read the runs of ``readiness_audit`` (``requires_access_dag``): whoever may see the
audit's DAG runs may see what they produced. A browser without a valid login is sent to the
auth manager's login page and comes back here afterwards; other clients get 401, or 403 when
the user lacks that right.

This module is imported by every Airflow component that loads plugins (scheduler, workers,
...): it imports only FastAPI at module level; the API server's security, the metadata DB and
the warehouse are imported when a request arrives.
"""

from __future__ import annotations

import datetime as dt
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

if TYPE_CHECKING:
    from oncall_readiness.report.page import AuditRun
    from oncall_readiness.warehouse import Warehouse

URL_PREFIX = "/readiness"
DAG_ID = "readiness_audit"
UI_ROOT = urlsplit(conf.get("api", "base_url", fallback="") or "/").path or "/"
ICON = """<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" fill="none" stroke="#017cee" stroke-width="2"
 stroke-linecap="round" stroke-linejoin="round"><path d="M12 22s8-4 8-10V5l-8-3-8 3v7c0 6 8 10 8 10z"/>
<path d="m9 12 2 2 4-4"/></svg>"""


class WarehouseUnavailable(RuntimeError):
    """The warehouse could not be read; the message is safe to show (no password)."""


async def require_audit_reader(request: Request) -> Any:
    """Airflow's own authentication and authorization, as its REST API applies them.

    ``get_user`` validates the JWT (bearer header first, else the UI's ``_token`` cookie) with the
    auth manager; ``requires_access_dag`` asks the auth manager whether that user may read the
    runs of ``readiness_audit``. Imported here, not at module level: only the API server needs them.
    """
    from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity
    from airflow.api_fastapi.core_api.security import bearer_scheme, get_user, requires_access_dag

    user = await get_user(request, None, await bearer_scheme(request))
    authorize = requires_access_dag(method="GET", access_entity=DagAccessEntity.RUN, param_dag_id=DAG_ID)
    await run_in_threadpool(authorize, request, user)  # reads the DAG's team from the metadata DB
    return user


pages = APIRouter(dependencies=[Depends(require_audit_reader)])


@pages.get("/", response_class=HTMLResponse)
def scorecard_page(sort: str = "score", order: str = "desc") -> HTMLResponse:
    """Every team of the latest audit: score, level, counts, change over 7 days, trend.

    Routes are sync functions: FastAPI runs them in a thread pool, so the blocking reads are fine.
    """
    from oncall_readiness.report import page

    with _warehouse() as warehouse:
        card = page.organisation_scorecard(warehouse, sort=sort, descending=order != "asc") if warehouse else None
    if card is None:
        return HTMLResponse(page.render_message(page.EMPTY_HEADLINE, page.EMPTY_DETAIL, ui_root=UI_ROOT))
    runs = _audit_runs([card.audit_date]).get(card.audit_date, [])
    return HTMLResponse(page.render_scorecard_page(card, latest_runs=runs, ui_root=UI_ROOT))


@pages.get("/teams/{team:path}", response_class=HTMLResponse)
def team_page(team: str) -> HTMLResponse:
    """One team: its checks, the findings that need action, its history and the DAG runs behind it."""
    from oncall_readiness.report import page

    with _warehouse() as warehouse:
        report = page.team_report(warehouse, team) if warehouse else None
    if report is None:
        detail = f"The warehouse has no scorecard for a team named “{team}”." if warehouse else page.EMPTY_DETAIL
        body = page.render_message("Team not found", detail, scorecard_href="../", ui_root=UI_ROOT)
        return HTMLResponse(body, status_code=404)
    report = page.attach_runs(report, _audit_runs([row.audit_date for row in report.history]))
    return HTMLResponse(page.render_team_page(report, scorecard_href="../", ui_root=UI_ROOT))


app = FastAPI(title="On-call readiness", docs_url=None, redoc_url=None, openapi_url=None)
app.include_router(pages)


@app.get("/icon.svg", include_in_schema=False)
def icon() -> Response:
    """The navigation icon (public, like the UI's own static files)."""
    return Response(ICON, media_type="image/svg+xml")


@app.exception_handler(StarletteHTTPException)
async def login_first(request: Request, exc: StarletteHTTPException) -> Response:
    """Send a browser that is not logged in to Airflow's login page, and back here afterwards."""
    if exc.status_code == 401 and "text/html" in request.headers.get("accept", ""):
        from airflow.api_fastapi.app import get_auth_manager

        back = request.url.path + (f"?{request.url.query}" if request.url.query else "")  # relative: proxy-safe
        return RedirectResponse(get_auth_manager().get_url_login(next_url=back), status_code=303)
    return await http_exception_handler(request, exc)


@app.exception_handler(WarehouseUnavailable)
async def warehouse_unavailable(request: Request, exc: WarehouseUnavailable) -> Response:
    from oncall_readiness.report import page

    body = page.render_message("The warehouse cannot be read", str(exc), ui_root=UI_ROOT)
    return HTMLResponse(body, status_code=503)


@contextmanager
def _warehouse() -> Iterator[Warehouse | None]:
    """The warehouse of ``readiness_warehouse``, opened for this request only (a DuckDB file read-only,
    so the audit's publish task is never locked out for long); None when it was never written."""
    import sqlalchemy as sa

    from oncall_readiness.report import page
    from oncall_readiness.warehouse import Warehouse, url_from_connection

    url = url_from_connection()
    if not page.warehouse_exists(url):
        yield None
        return
    warehouse = Warehouse(page.read_only_url(url))
    try:
        yield warehouse
    except sa.exc.SQLAlchemyError as error:
        message = str(getattr(error, "orig", None) or error).splitlines()[0]
        raise WarehouseUnavailable(f"{page.describe_url(url)}: {message}") from error
    finally:
        warehouse.dispose()


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


def _state(state: object) -> str | None:
    return None if state is None else str(getattr(state, "value", state))


class ReadinessPagePlugin(AirflowPlugin):
    """Adds the Readiness page (and its navigation entry) to the Airflow UI."""

    name = "readiness_page"
    fastapi_apps = [{"app": app, "url_prefix": URL_PREFIX, "name": "On-call readiness"}]
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
