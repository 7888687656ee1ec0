"""The readiness API: JSON for deploy pipelines, portals and scanners, behind Airflow's authentication.

Mounted by the Readiness plugin at ``/readiness/api`` on the Airflow API server; its OpenAPI
schema is ``/readiness/api/openapi.json`` (docs/api.md). Every route needs Airflow's JWT (an
``Authorization: Bearer`` header from ``POST /auth/token``, or the UI's ``_token`` cookie),
validated by the configured auth manager, as the Readiness page does:

- reading (``GET``) needs the right to read the DAG runs of ``readiness_audit`` (whoever may
  see the audit's runs may see what they produced);
- pushing a result (``POST``) needs the right to create DAG runs of ``readiness_audit``
  (whoever may trigger the audit may feed it).

Without a valid token the answer is Airflow's own 401 (403 for a token that is not valid),
and 403 without the right. When the warehouse cannot be read the answer is 503 naming the
connection ``readiness_warehouse`` only (details go to the API server's log).

Imported by every Airflow component that loads plugins: FastAPI and pydantic only at module
level; the warehouse, pandas and Airflow's security are imported when a request arrives.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar

from fastapi import Depends, FastAPI, HTTPException, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import AfterValidator
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from oncall_readiness import schema
from oncall_readiness.api.models import ExternalResult, Gate, Scorecard, StoredExternalResult, TeamReport
from oncall_readiness.errors import ReadinessError

if TYPE_CHECKING:
    from oncall_readiness.warehouse import Warehouse

T = TypeVar("T")

log = logging.getLogger(__name__)

DAG_ID = "readiness_audit"
# A pushed result is a few hundred bytes; a body far larger is a mistake or an attack.
MAX_BODY_BYTES = 64 * 1024
WAREHOUSE_CONNECTION = "readiness_warehouse"
BUSY_RETRY_AFTER = 5  # seconds
BUSY = (
    "The warehouse is busy: its DuckDB file stayed held by another process (the audit's publish, or a "
    f"DuckDB session left open) past the wait. Try again in {BUSY_RETRY_AFTER} seconds; the API server's "
    "log names the process."
)
PREFIX = "/v1"


def _requires(method: Literal["GET", "POST"]) -> Callable[[Request], Awaitable[Any]]:
    """A dependency: Airflow's JWT validated, then ``method`` access to the runs of ``readiness_audit``."""

    async def authorize(request: Request) -> Any:
        from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity
        from airflow.api_fastapi.core_api.security import bearer_scheme, get_user, requires_access_dag

        user = await get_user(request, None, await bearer_scheme(request))
        check = requires_access_dag(method=method, access_entity=DagAccessEntity.RUN, param_dag_id=DAG_ID)
        await run_in_threadpool(check, request, user)  # reads the DAG's team from the metadata DB
        return user

    return authorize


Reader = Annotated[Any, Depends(_requires("GET"))]
Writer = Annotated[Any, Depends(_requires("POST"))]


def _a_level(level: str) -> str:
    if level not in schema.LEVELS:
        raise ValueError(f"must be one of {', '.join(schema.LEVELS)}, got {level!r}")
    return level


MinLevel = Annotated[
    str,
    AfterValidator(_a_level),
    Query(description="The lowest level that passes the gate.", json_schema_extra={"enum": list(schema.LEVELS)}),
]

app = FastAPI(
    title="On-call readiness API",
    version="1",
    description="The readiness scorecard, teams' checks and findings, a readiness gate, and pushed external results.",
    docs_url=None,
    redoc_url=None,
)


class WarehouseUnavailable(ReadinessError, RuntimeError):
    """The warehouse could not be read; the message is safe to show. ``retry_after``: seconds, when worth it."""

    def __init__(self, message: str, *, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@app.exception_handler(WarehouseUnavailable)
async def _unavailable(request: Request, exc: WarehouseUnavailable) -> Response:
    headers = None if exc.retry_after is None else {"Retry-After": str(exc.retry_after)}
    return JSONResponse({"detail": str(exc)}, status_code=503, headers=headers)


@contextmanager
def _warehouse(*, write: bool = False) -> Iterator[Warehouse]:
    """The warehouse of ``readiness_warehouse`` for this request (read-only unless ``write``)."""
    import sqlalchemy as sa

    from oncall_readiness.errors import ConnectionConfigError, WarehouseBusy
    from oncall_readiness.report import page
    from oncall_readiness.warehouse import Warehouse, url_from_connection
    from oncall_readiness.warehouse_file import REQUEST_WAIT

    safe = (
        f"The readiness API could not read the warehouse. Check the Airflow connection {WAREHOUSE_CONNECTION} "
        "and that the warehouse is up; the API server's log has the details."
    )
    try:
        url = url_from_connection(WAREHOUSE_CONNECTION)
        if not write and not page.warehouse_exists(url):
            raise HTTPException(404, "No audit has been published yet: run readiness_audit first.")
        # A DuckDB file: read-only for a read; every connection waits its turn up to REQUEST_WAIT (warehouse_file).
        warehouse = Warehouse(url if write else page.read_only_url(url), wait=REQUEST_WAIT)
    except (ConnectionConfigError, sa.exc.SQLAlchemyError, ValueError):
        log.exception("The readiness API cannot open the warehouse")
        raise WarehouseUnavailable(safe) from None
    try:
        yield warehouse
    except WarehouseBusy:
        log.exception("The readiness API waited too long for the warehouse")
        raise WarehouseUnavailable(BUSY, retry_after=BUSY_RETRY_AFTER) from None
    except sa.exc.SQLAlchemyError:
        log.exception("The readiness API cannot read the warehouse")
        raise WarehouseUnavailable(safe) from None
    finally:
        warehouse.dispose()


def _answer(read: Callable[[Warehouse], T]) -> T:
    from oncall_readiness.api.queries import NotFound

    with _warehouse() as warehouse:
        try:
            return read(warehouse)
        except NotFound as missing:
            raise HTTPException(404, str(missing)) from None


@app.get(f"{PREFIX}/scorecard", response_model=Scorecard, summary="The latest scorecard: every team")
def get_scorecard(user: Reader) -> Scorecard:
    from oncall_readiness.api import queries

    return _answer(queries.scorecard)


@app.get(f"{PREFIX}/teams/{{team:path}}", response_model=TeamReport, summary="A team's checks, findings and waivers")
def get_team(team: Annotated[str, Path(description="The team (Backstage Group name).")], user: Reader) -> TeamReport:
    from oncall_readiness.api import queries

    return _answer(lambda warehouse: queries.team_report(warehouse, team))


@app.get(f"{PREFIX}/gate/teams/{{team:path}}", response_model=Gate, summary="The readiness gate of a team")
def get_team_gate(team: str, user: Reader, min_level: MinLevel = "bronze") -> Gate:
    from oncall_readiness.api import queries

    return _answer(lambda warehouse: queries.team_gate(warehouse, team, min_level))


@app.get(f"{PREFIX}/gate/services/{{service:path}}", response_model=Gate, summary="The readiness gate of a service")
def get_service_gate(service: str, user: Reader, min_level: MinLevel = "bronze") -> Gate:
    from oncall_readiness.api import queries

    return _answer(lambda warehouse: queries.service_gate(warehouse, service, min_level))


@app.post(
    f"{PREFIX}/external-results",
    response_model=StoredExternalResult,
    status_code=201,
    summary="Push one result of an external check",
    responses={
        200: {"description": "A result with the same key (check, team, subject, observed_at) is stored: it stands."},
        403: {"description": "The user is not one of the check's pushers, or may not push for that team."},
        413: {"description": f"The body is larger than {MAX_BODY_BYTES} bytes."},
        422: {},
    },
)
def post_external_result(result: ExternalResult, user: Writer, response: Response) -> StoredExternalResult:
    """Checked (who may push it, a 422 naming the field), stored in ``external_results``; the next audit reads it."""
    from oncall_readiness import external_results
    from oncall_readiness.checks.catalogue import EXTERNAL, load_catalogue

    now = dt.datetime.now(dt.UTC)
    by = getattr(user, "get_name", lambda: None)()
    checks = {check.id: check for check in load_catalogue().implemented() if check.kind == EXTERNAL}
    check = checks.get(result.check_id)
    if check is not None and check.pushers is not None:
        refusal = check.pushers.refusal(by, result.team)
        if refusal:
            who = f"Results of {check.id} are pushed by its pushers (readiness-checks.yaml)"
            raise HTTPException(403, f"{who}: {refusal}.")
    with _warehouse(write=True) as warehouse:
        try:
            result = external_results.accepted(
                result, external_checks=checks, registry=external_results.registered(warehouse), now=now
            )
        except external_results.ExternalResultError as error:
            detail = [{"loc": ["body", error.field], "msg": error.message, "type": "value_error"}]
            raise HTTPException(422, detail) from None
        ledger = external_results.ExternalResults(warehouse)
        if ledger.record(result, received_at=now, received_by=by):
            return StoredExternalResult(**result.model_dump(), received_at=now, received_by=by, stored=True)
        held = ledger.held(result)
    response.status_code = 200  # the first push of this key stands, whatever this one says
    return StoredExternalResult.model_validate({**(held or result.model_dump()), "stored": False})


@app.exception_handler(RequestValidationError)
async def _invalid(request: Request, exc: RequestValidationError) -> Response:
    """422 naming each field and what is wrong with it, never quoting the input back."""
    detail = [{key: error[key] for key in ("loc", "msg", "type") if key in error} for error in exc.errors()]
    return JSONResponse({"detail": detail}, status_code=422)


class _BodyLimit:
    """413 for a request body over ``MAX_BODY_BYTES``, declared or streamed, before anything reads it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length", b"0")
        if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            await _too_large(send)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > MAX_BODY_BYTES:
                raise _TooLarge
            return message

        try:
            await self.app(scope, limited, send)
        except _TooLarge:
            await _too_large(send)


class _TooLarge(Exception):
    pass


async def _too_large(send: Send) -> None:
    response = JSONResponse({"detail": f"The body is larger than {MAX_BODY_BYTES} bytes."}, status_code=413)
    await send({"type": "http.response.start", "status": 413, "headers": response.raw_headers})
    await send({"type": "http.response.body", "body": response.body})


app.add_middleware(_BodyLimit)
