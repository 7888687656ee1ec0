"""A local emulator of the Jira Service Management Operations REST API (read-only) and the two site
calls the collector makes, following Atlassian's OpenAPI (tests/reference/jsm_ops/):

Below the site (the connection's host, ``https://<site>.atlassian.net``):

- ``GET /_edge/tenant_info``: ``{"cloudId": ...}`` (no authentication, as on a real site);
- ``GET /rest/api/3/user/bulk?accountId=..&startAt=&maxResults=``: Jira's ``PageBeanUser``
  (``values`` of ``{accountId, accountType, displayName, emailAddress, active, timeZone}``,
  ``startAt``, ``maxResults`` at most 200, ``total``, ``isLast``).

Below ``/jsm/ops/api/{cloudId}`` (``https://api.atlassian.com/jsm/ops/api/{cloudId}`` in real life;
any other cloud id answers 404):

- ``GET /v1/teams``: ``{"platformTeams": [{teamId, teamName}]}`` (no paging, as published);
- ``GET /v1/schedules?offset&size&expand=rotation``: size 1..50 (default 25);
- ``GET /v1/schedules/{id}/rotations?offset&size``: size 1..50;
- ``GET /v1/schedules/{id}/timeline?date&interval&intervalUnit``: the final timeline from the
  start of the ``intervalUnit`` (day, week from Monday, month) containing ``date``, ``interval``
  units long, each rotation's turns with its overrides cut in (``type`` base or override);
- ``GET /v1/teams/{id}/escalations``, ``/v1/teams/{id}/routing-rules``: offset, size 1..100
  (default 20); an unknown team is 404;
- ``GET /v1/notification-rules``: the calling account's own rules, size 1..100;
- ``GET /v1/alerts?offset&size&sort&order``: size 1..100, offset + size below 20,000 (else 422),
  ``count`` the total; ``GET /v1/alerts/{id}/logs?after&size``: oldest first, ``after`` the last
  log's key.

Paging: ``links.next`` relative (``/v1/schedules?offset=25&size=25``) while more remain, absent
on the last page. Auth: HTTP Basic, an account's email (``api: true`` in the state) and one of
``tokens``; else 401 ``{"code": 401, "message": ...}``. Errors: ``{"errors": [{"title", "code"}]}``.
Over the rate limit (per account, ``emulator.rate_limit``, default 100 a minute) 429 with
``Retry-After`` in seconds and ``X-RateLimit-Limit``/``-Remaining``/``-Reset``.
"""

from __future__ import annotations

import math
import threading
import time as _time
from collections.abc import Callable, Collection, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..atlassian import basic_account
from ..rate_limit import RateLimit
from .state import JsmState, JsmStateError, final_periods, load_jsm_state, parse_state

__all__ = ["SANDBOX_EMAIL", "SANDBOX_EXTRA", "JsmState", "JsmStateError", "create_app", "load_jsm_state", "parse_state"]

SANDBOX_EMAIL = "readiness-audit@example.com"
# The connection extra that aims a client at this emulator: the operations API below the site.
SANDBOX_EXTRA = '{"api_url": "/jsm/ops/api"}'
API_PREFIX = "/jsm/ops/api/{cloud_id}"
ALERT_WINDOW = 20_000
METHOD_NAMES = {"voice": "Voice", "sms": "SMS", "mobile": "Mobile", "email": "Email"}


class ApiError(Exception):
    def __init__(self, status: int, title: str, code: str = "BAD_REQUEST"):
        super().__init__(title)
        self.status, self.title, self.code = status, title, code

    def response(self, headers: Mapping[str, str] | None = None) -> JSONResponse:
        if self.status == 401:
            body: dict[str, Any] = {"code": 401, "message": self.title}
        else:
            body = {"errors": [{"title": self.title, "code": self.code}]}
        return JSONResponse(body, status_code=self.status, headers=dict(headers or {}))


class _RateLimiter:
    """Fixed windows per account, with Atlassian's headers."""

    def __init__(self, limit: RateLimit, clock: Callable[[], float]):
        self.limit, self.clock = limit, clock
        self._windows: dict[str, tuple[float, int]] = {}
        self._lock = threading.Lock()

    def hit(self, account: str) -> tuple[bool, dict[str, str]]:
        with self._lock:
            now = self.clock()
            start, count = self._windows.get(account, (now, 0))
            if now - start >= self.limit.per_seconds:
                start, count = now, 0
            count += 1
            self._windows[account] = (start, count)
        reset_at = start + self.limit.per_seconds
        headers = {
            "X-RateLimit-Limit": str(self.limit.requests),
            "X-RateLimit-Remaining": str(max(0, self.limit.requests - count)),
            "X-RateLimit-Reset": datetime.fromtimestamp(_time.time() + (reset_at - now), UTC).strftime(
                "%Y-%m-%dT%H:%MZ"
            ),
        }
        allowed = count <= self.limit.requests
        if not allowed:
            headers["Retry-After"] = str(max(1, math.ceil(round(reset_at - now, 6))))
        return allowed, headers


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _int(request: Request, name: str, default: int, low: int, high: int | None) -> int:
    text = request.query_params.get(name)
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        raise ApiError(422, f"{name} must be an integer") from None
    if value < low or (high is not None and value > high):
        raise ApiError(422, f"{name} must be between {low} and {high}" if high else f"{name} must be at least {low}")
    return value


def _page(
    request: Request,
    items: list[Any],
    path: str,
    *,
    max_size: int,
    default: int,
    extra: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    offset = _int(request, "offset", 0, 0, None)
    size = _int(request, "size", default, 1, max_size)
    body: dict[str, Any] = {"values": items[offset : offset + size]}
    if offset + size < len(items):
        body["links"] = {"next": f"{path}?{urlencode({**(extra or {}), 'offset': offset + size, 'size': size})}"}
    else:
        body["links"] = {}
    return body


class _Emulator:
    def __init__(self, state: JsmState, *, fail_next: int):
        self.state, self.fail_next = state, fail_next

    def _cloud(self, cloud_id: str) -> None:
        if cloud_id != self.state.cloud_id:
            raise ApiError(404, f"No site found for cloud id {cloud_id}", "NOT_FOUND")

    # --- site --------------------------------------------------------------------------------

    def tenant_info(self) -> dict[str, str]:
        return {"cloudId": self.state.cloud_id}

    def users(self, request: Request) -> dict[str, Any]:
        ids = request.query_params.getlist("accountId")
        start = _int(request, "startAt", 0, 0, None)
        most = _int(request, "maxResults", 10, 1, 200)
        found = [ident for ident in ids if ident in self.state.accounts]
        values = [
            {
                "accountId": ident,
                "accountType": "atlassian",
                "displayName": account["name"],
                "emailAddress": account["email"],
                "active": True,
                "timeZone": account["time_zone"],
            }
            for ident in found[start : start + most]
            for account in [self.state.accounts[ident]]
        ]
        return {
            "maxResults": most,
            "startAt": start,
            "total": len(found),
            "isLast": start + most >= len(found),
            "values": values,
        }

    # --- operations ----------------------------------------------------------------------------

    def teams(self, cloud_id: str) -> dict[str, Any]:
        self._cloud(cloud_id)
        return {"platformTeams": [{"teamId": ident, "teamName": name} for ident, name in self.state.teams.items()]}

    def _rotation(self, rotation: Any) -> dict[str, Any]:
        body = {
            "id": rotation.id,
            "name": rotation.name,
            "startDate": _iso(rotation.start),
            "type": rotation.type,
            "length": rotation.length,
            "participants": [{"type": "user", "id": who} for who in rotation.participants],
        }
        if rotation.end:
            body["endDate"] = _iso(rotation.end)
        return body

    def schedules(self, request: Request, cloud_id: str) -> dict[str, Any]:
        self._cloud(cloud_id)
        expand = ",".join(request.query_params.getlist("expand")).split(",")
        items = []
        for schedule in self.state.schedules:
            item = {
                "id": schedule.id,
                "name": schedule.name,
                "description": "",
                "timezone": schedule.timezone,
                "enabled": schedule.enabled,
                "teamId": schedule.team,
            }
            if "rotation" in expand:
                item["rotations"] = [self._rotation(r) for r in schedule.rotations]
            items.append(item)
        extra = {"expand": "rotation"} if "rotation" in expand else None
        body = _page(request, items, "/v1/schedules", max_size=50, default=25, extra=extra)
        body["_expands"] = ["rotation"]
        return body

    def _schedule(self, schedule_id: str) -> Any:
        for schedule in self.state.schedules:
            if schedule.id == schedule_id:
                return schedule
        raise ApiError(404, f"Schedule with id [{schedule_id}] not found", "NOT_FOUND")

    def rotations(self, request: Request, cloud_id: str, schedule_id: str) -> dict[str, Any]:
        self._cloud(cloud_id)
        schedule = self._schedule(schedule_id)
        return _page(
            request,
            [self._rotation(r) for r in schedule.rotations],
            f"/v1/schedules/{schedule_id}/rotations",
            max_size=50,
            default=25,
        )

    def timeline(self, request: Request, cloud_id: str, schedule_id: str) -> dict[str, Any]:
        self._cloud(cloud_id)
        schedule = self._schedule(schedule_id)
        unit = request.query_params.get("intervalUnit", "weeks")
        if unit not in ("days", "weeks", "months"):
            raise ApiError(422, "intervalUnit must be one of days, weeks, months")
        interval = _int(request, "interval", 1, 1, None)
        text = request.query_params.get("date")
        try:
            date = datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC) if text else datetime.now(UTC)
        except ValueError:
            raise ApiError(422, "date must be an ISO 8601 date-time") from None
        start = date.replace(hour=0, minute=0, second=0, microsecond=0)
        if unit == "weeks":
            start -= timedelta(days=start.weekday())
            end = start + timedelta(weeks=interval)
        elif unit == "months":
            start = start.replace(day=1)
            month = start.month - 1 + interval
            end = start.replace(year=start.year + month // 12, month=month % 12 + 1)
        else:
            end = start + timedelta(days=interval)
        rotations = []
        for order, rotation in enumerate(schedule.rotations, start=1):
            periods = [
                {"startDate": _iso(a), "endDate": _iso(b), "type": kind, "responder": {"id": who, "type": "user"}}
                for a, b, who, kind in final_periods(schedule, rotation, start, end)
            ]
            rotations.append(
                {"id": rotation.id, "name": rotation.name, "order": float(order), "deleted": False, "periods": periods}
            )
        return {
            "startDate": _iso(start),
            "endDate": _iso(end),
            "finalTimeline": {"rotations": rotations},
            "_expands": ["base", "forwarding", "override"],
        }

    def _team(self, team_id: str) -> None:
        if team_id not in self.state.teams:
            raise ApiError(404, f"Team with id [{team_id}] not found", "NOT_FOUND")

    def escalations(self, request: Request, cloud_id: str, team_id: str) -> dict[str, Any]:
        self._cloud(cloud_id)
        self._team(team_id)
        items = [
            {k: v for k, v in e.items() if k != "team"} for e in self.state.escalations if e.get("team") == team_id
        ]
        return _page(request, items, f"/v1/teams/{team_id}/escalations", max_size=100, default=20)

    def routing_rules(self, request: Request, cloud_id: str, team_id: str) -> dict[str, Any]:
        self._cloud(cloud_id)
        self._team(team_id)
        items = [
            {k: v for k, v in r.items() if k != "team"} for r in self.state.routing_rules if r.get("team") == team_id
        ]
        return _page(request, items, f"/v1/teams/{team_id}/routing-rules", max_size=100, default=20)

    def notification_rules(self, request: Request, cloud_id: str) -> dict[str, Any]:
        self._cloud(cloud_id)
        caller = self.state.by_email.get(request.state.email)
        items = []
        for rule in self.state.notification_rules:
            if rule.get("account") != caller:
                continue
            steps = [
                {
                    "id": f"{rule['id']}-{n}",
                    "sendAfter": int(step.get("sendAfter", 0)),
                    "contact": {"method": step["method"], "to": str(step.get("to", ""))},
                    "enabled": bool(step.get("enabled", True)),
                }
                for n, step in enumerate(rule.get("steps") or [])
            ]
            items.append(
                {
                    "id": rule["id"],
                    "name": rule.get("name", ""),
                    "actionType": rule.get("actionType", "create-alert"),
                    "criteria": {"type": "match-all"},
                    "order": 0,
                    "steps": steps,
                    "enabled": bool(rule.get("enabled", True)),
                }
            )
        return _page(request, items, "/v1/notification-rules", max_size=100, default=20)

    def _alert(self, alert: Mapping[str, Any]) -> dict[str, Any]:
        keys = (
            "id",
            "tinyId",
            "createdAt",
            "message",
            "entity",
            "status",
            "priority",
            "ackTime",
            "closeTime",
            "responders",
            "tags",
        )
        body = {key: alert[key] for key in keys if alert.get(key) is not None}
        body.setdefault("tags", [])
        body["acknowledged"] = bool(alert.get("ackTime"))
        body["updatedAt"] = alert.get("closeTime") or alert.get("ackTime") or alert["createdAt"]
        body["count"] = 1
        return body

    def alerts(self, request: Request, cloud_id: str) -> dict[str, Any]:
        self._cloud(cloud_id)
        sort = request.query_params.get("sort", "insertedAt")
        order = request.query_params.get("order", "desc")
        if sort not in ("createdAt", "insertedAt", "lastOccurredAt", "priority") or order not in ("asc", "desc"):
            raise ApiError(422, "sort or order is not valid")
        offset = _int(request, "offset", 0, 0, None)
        size = _int(request, "size", 20, 1, 100)
        if offset + size >= ALERT_WINDOW:
            raise ApiError(422, f"Sum of offset and size should be lower than {ALERT_WINDOW}")
        key = "priority" if sort == "priority" else "createdAt"
        items = sorted(self.state.alerts, key=lambda a: str(a.get(key)), reverse=order == "desc")
        body = _page(
            request,
            [self._alert(a) for a in items],
            "/v1/alerts",
            max_size=100,
            default=20,
            extra={"sort": sort, "order": order},
        )
        body["count"] = len(items)
        return body

    def alert_logs(self, request: Request, cloud_id: str, alert_id: str) -> dict[str, Any]:
        self._cloud(cloud_id)
        alert = next((a for a in self.state.alerts if a["id"] == alert_id), None)
        if alert is None:
            raise ApiError(404, f"Alert with id [{alert_id}] not found", "NOT_FOUND")
        logs = self._logs(alert)
        after = request.query_params.get("after")
        size = _int(request, "size", 20, 1, 100)
        keys = [f"{n:06d}" for n in range(len(logs))]
        first = keys.index(after) + 1 if after in keys else 0
        body: dict[str, Any] = {"values": logs[first : first + size], "links": {}}
        if first + size < len(logs):
            body["links"] = {
                "next": f"/v1/alerts/{alert_id}/logs?{urlencode({'after': keys[first + size - 1], 'size': size})}"
            }
        return body

    def _logs(self, alert: Mapping[str, Any]) -> list[dict[str, Any]]:
        entries = [(str(alert["createdAt"]), "system", f"Alert created: {alert['message']}")]
        for note in alert.get("notifications") or []:
            email = self.state.accounts[note["user"]]["email"]
            entries.append(
                (
                    str(note["at"]),
                    "system",
                    f"Sent [{METHOD_NAMES[note['method']]}] notification to [{email}] successfully",
                )
            )
        if alert.get("ackTime"):
            entries.append((str(alert["ackTime"]), "alertAction", "Alert acknowledged"))
        if alert.get("closeTime"):
            entries.append((str(alert["closeTime"]), "alertAction", "Alert closed"))
        entries.sort(key=lambda entry: entry[0])
        return [{"logTime": at, "logType": kind, "log": text, "owner": "System"} for at, kind, text in entries]


def create_app(
    state: Mapping[str, Any] | JsmState,
    *,
    tokens: Collection[str],
    rate_limit: RateLimit | None = None,
    fail_next: int = 0,
    clock: Callable[[], float] = _time.monotonic,
) -> FastAPI:
    """The JSM Operations emulator over ``state``; ``tokens`` are the accepted API tokens of the ``api`` accounts."""
    parsed = state if isinstance(state, JsmState) else parse_state(state)
    emulator = _Emulator(parsed, fail_next=fail_next or parsed.fail_next)
    limiter = _RateLimiter(rate_limit or parsed.rate_limit, clock)
    allowed_tokens = frozenset(tokens)
    callers = {account["email"] for account in parsed.accounts.values() if account["api"]}

    app = FastAPI(title="JSM Operations REST API emulator", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.jsm_ops = emulator
    ops = API_PREFIX + "/v1"
    app.add_api_route("/_edge/tenant_info", emulator.tenant_info, methods=["GET"])
    app.add_api_route("/rest/api/3/user/bulk", emulator.users, methods=["GET"])
    app.add_api_route(ops + "/teams", emulator.teams, methods=["GET"])
    app.add_api_route(ops + "/schedules", emulator.schedules, methods=["GET"])
    app.add_api_route(ops + "/schedules/{schedule_id}/rotations", emulator.rotations, methods=["GET"])
    app.add_api_route(ops + "/schedules/{schedule_id}/timeline", emulator.timeline, methods=["GET"])
    app.add_api_route(ops + "/teams/{team_id}/escalations", emulator.escalations, methods=["GET"])
    app.add_api_route(ops + "/teams/{team_id}/routing-rules", emulator.routing_rules, methods=["GET"])
    app.add_api_route(ops + "/notification-rules", emulator.notification_rules, methods=["GET"])
    app.add_api_route(ops + "/alerts", emulator.alerts, methods=["GET"])
    app.add_api_route(ops + "/alerts/{alert_id}/logs", emulator.alert_logs, methods=["GET"])

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return exc.response()

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return ApiError(exc.status_code, str(exc.detail), "NOT_FOUND" if exc.status_code == 404 else "ERROR").response()

    @app.middleware("http")
    async def _guard(request: Request, call_next):
        if request.url.path.endswith("/_edge/tenant_info"):
            return await call_next(request)
        email = _basic_email(request, allowed_tokens)
        if email is None or email not in callers:
            return ApiError(401, "Unauthorized").response({"WWW-Authenticate": 'Basic realm="atlassian"'})
        request.state.email = email
        allowed, headers = limiter.hit(email)
        if not allowed:
            return ApiError(429, "Too many requests", "TOO_MANY_REQUESTS").response(headers)
        if emulator.fail_next > 0:
            emulator.fail_next -= 1
            return ApiError(
                503, "Service Unavailable (fault injected by the emulator)", "SERVICE_UNAVAILABLE"
            ).response(headers)
        response = await call_next(request)
        response.headers.update(headers)
        return response

    return app


def _basic_email(request: Request, tokens: frozenset[str]) -> str | None:
    """The account's email of a Basic ``email:token`` header whose token is accepted, else None."""
    account = basic_account(request)
    return account[0] if account and account[1] in tokens else None
