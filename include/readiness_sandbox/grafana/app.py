"""A local emulator of Grafana's HTTP API (read-only), serving a YAML-described instance.

``create_app(state, tokens=...)`` returns a FastAPI app answering the GET endpoints the
readiness audit uses, with the shapes of Grafana's HTTP API docs:

- ``GET /api/search?type=dash-db&tag=&query=&folderUIDs=&limit=&page=``: a bare array of
  hits, sorted by title; ``limit`` defaults to 1000 and above 5000 is refused (422, as
  Grafana does), ``page`` counts from 1;
- ``GET /api/dashboards/uid/{uid}``: ``{dashboard, meta}``, 404 when unknown;
- ``GET /api/teams/search?perpage=&page=&query=&name=``: ``{totalCount, teams, page,
  perPage}``; ``perpage`` defaults to 1000 (Grafana sets no maximum);
- ``GET /api/teams/{id}/members``: a bare array, no paging;
- ``GET /api/v1/provisioning/alert-rules``: a bare array of every alert rule;
- ``GET /api/plugins/grafana-slo-app/resources/v1/slo``: Grafana SLO's list, ``{"slos": [...]}``
  (no paging), and ``.../v1/slo/{uuid}`` one SLO, in the shapes of Grafana SLO's OpenAPI
  (``slo.v0_0.Slo``: objectives as ratios, labels as ``{key, value}`` pairs, ``alerting.fastBurn``
  and ``slowBurn``); an unknown uuid is 404 ``{"code": 404, "error": ...}``, the plugin's error
  body. With ``slo_plugin: false`` in the state both answer Grafana's own 404 ``{"message":
  "Plugin not found"}``, as a Grafana without the plugin does; with ``slo_access: false``, 403,
  as Grafana's access control answers a service account that may not view SLOs.

Auth is ``Authorization: Bearer <service account token>`` (401 otherwise); every error
body is ``{"message": ...}``. Each token gets a rate limit (429 with ``Retry-After``), and
``fail_next`` answers the next N authenticated requests with 503, for retry tests.
``load_grafana_state(path)`` reads the state file (see ``state``).
"""

from __future__ import annotations

import re
import time as _time
from collections.abc import Callable, Collection, Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..json_answers import answered_as_json
from ..rate_limit import DEFAULT_RATE_LIMIT, RateLimit
from ..rate_limit import RateLimiter as _RateLimiter
from .state import Dashboard, GrafanaState, Panel, Slo, StateError, load_grafana_state, parse_state

__all__ = ["GrafanaState", "StateError", "create_app", "load_grafana_state", "parse_state"]

SEARCH_DEFAULT_LIMIT = 1000
SEARCH_MAX_LIMIT = 5000
SEARCHES_KEPT = 64
TEAMS_DEFAULT_PERPAGE = 1000
ORG_ID = 1
SLO_API = "/api/plugins/grafana-slo-app/resources"
_BEARER = re.compile(r"Bearer\s+(\S+)", re.IGNORECASE)


class ApiError(Exception):
    """An error answered with Grafana's body ``{"message": ...}``."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message

    def response(self, headers: Mapping[str, str] | None = None) -> JSONResponse:
        return JSONResponse({"message": self.message}, status_code=self.status, headers=headers)


def _integer(request: Request, name: str) -> int:
    """Grafana's ``QueryInt``: a missing or unparsable value is 0."""
    try:
        return int(request.query_params.get(name, ""))
    except ValueError:
        return 0


def _iso(moment) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


class _GrafanaEmulator:
    def __init__(self, state: GrafanaState, fail_next: int):
        self.state = state
        self.fail_next = fail_next
        self.dashboard_ids = {d.uid: i for i, d in enumerate(state.dashboards, start=1)}
        self.dashboards_by_uid = {d.uid: d for d in state.dashboards}
        self.dashboards_by_title = sorted(state.dashboards, key=lambda d: d.title.casefold())
        self.folder_ids = {f.uid: i for i, f in enumerate(state.folders, start=len(state.dashboards) + 1)}
        self.teams_by_id = {t.id: t for t in state.teams}
        self.folders_by_uid = {f.uid: f for f in state.folders}
        # The hits of a search, kept for its next pages: a client pages through one search.
        self._searches: dict[tuple, list[tuple[str, Any]]] = {}

    def folder(self, uid: str | None):
        """``GrafanaState.folder`` by a dict: a search hit per dashboard looked its folder up in a list."""
        return self.folders_by_uid.get(uid) if uid is not None else None

    # --- /api/search
    def search(self, request: Request) -> list[dict]:
        limit = _integer(request, "limit")
        if limit > SEARCH_MAX_LIMIT:
            raise ApiError(
                422,
                f"Limit is above maximum allowed ({SEARCH_MAX_LIMIT}), use page parameter to access hits beyond limit",
            )
        limit = limit if limit > 0 else SEARCH_DEFAULT_LIMIT
        page = max(_integer(request, "page"), 1)
        kind = request.query_params.get("type") or None
        query = (request.query_params.get("query") or "").casefold()
        tags = request.query_params.getlist("tag")
        folder_uids = {uid for value in request.query_params.getlist("folderUIDs") for uid in value.split(",") if uid}
        key = (kind, query, tuple(tags), frozenset(folder_uids))
        if key not in self._searches:
            if len(self._searches) >= SEARCHES_KEPT:
                self._searches.clear()
            self._searches[key] = self._matches(kind, query, tags, folder_uids)
        hits = self._searches[key][(page - 1) * limit : page * limit]
        return [self._folder_hit(item) if kind == "folder" else self._dashboard_hit(item) for kind, item in hits]

    def _matches(self, kind: str | None, query: str, tags: list[str], folder_uids: set[str]) -> list[tuple[str, Any]]:
        """The folders, then the dashboards, that a search matches, in the order Grafana lists them."""
        hits: list[tuple[str, Any]] = []
        if kind in (None, "dash-folder") and not tags:
            hits += [
                ("folder", f)
                for f in self.state.folders
                if query in f.title.casefold() and (not folder_uids or f.uid in folder_uids)
            ]
        if kind in (None, "dash-db"):
            hits += [
                ("dashboard", d)
                for d in self.dashboards_by_title
                if query in d.title.casefold()
                and all(tag in d.tags for tag in tags)
                and (not folder_uids or (d.folder or "general") in folder_uids)
            ]
        return hits

    def _folder_hit(self, folder) -> dict:
        return {
            "id": self.folder_ids[folder.uid],
            "uid": folder.uid,
            "title": folder.title,
            "uri": f"db/{_slug(folder.title)}",
            "url": f"/dashboards/f/{folder.uid}/{_slug(folder.title)}",
            "slug": "",
            "type": "dash-folder",
            "tags": [],
            "isStarred": False,
            "sortMeta": 0,
        }

    def _dashboard_hit(self, dashboard: Dashboard) -> dict:
        hit = {
            "id": self.dashboard_ids[dashboard.uid],
            "uid": dashboard.uid,
            "title": dashboard.title,
            "uri": f"db/{_slug(dashboard.title)}",
            "url": f"/d/{dashboard.uid}/{_slug(dashboard.title)}",
            "slug": "",
            "type": "dash-db",
            "tags": list(dashboard.tags),
            "isStarred": False,
            "sortMeta": 0,
        }
        folder = self.folder(dashboard.folder)
        if folder is not None:  # dashboards in the General folder carry no folder fields
            hit |= {
                "folderId": self.folder_ids[folder.uid],
                "folderUid": folder.uid,
                "folderTitle": folder.title,
                "folderUrl": f"/dashboards/f/{folder.uid}/{_slug(folder.title)}",
            }
        return hit

    # --- /api/dashboards/uid/{uid}
    def dashboard(self, uid: str) -> dict:
        dashboard = self.dashboards_by_uid.get(uid)
        if dashboard is None:
            raise ApiError(404, "Dashboard not found")
        folder = self.folder(dashboard.folder)
        ids = iter(range(1, 10_000))
        return {
            "dashboard": {
                "id": self.dashboard_ids[uid],
                "uid": uid,
                "title": dashboard.title,
                "tags": list(dashboard.tags),
                "timezone": "browser",
                "schemaVersion": 39,
                "version": dashboard.version,
                "panels": [_panel(panel, ids) for panel in dashboard.panels],
            },
            "meta": {
                "type": "db",
                "canSave": False,
                "canEdit": False,
                "canAdmin": False,
                "canStar": True,
                "slug": _slug(dashboard.title),
                "url": f"/d/{uid}/{_slug(dashboard.title)}",
                "expires": "0001-01-01T00:00:00Z",
                "created": _iso(dashboard.created),
                "updated": _iso(dashboard.updated),
                "updatedBy": dashboard.updated_by,
                "createdBy": dashboard.updated_by,
                "version": dashboard.version,
                "hasAcl": False,
                "isFolder": False,
                "folderId": self.folder_ids[folder.uid] if folder else 0,
                "folderUid": folder.uid if folder else "",
                "folderTitle": folder.title if folder else "General",
                "folderUrl": f"/dashboards/f/{folder.uid}/{_slug(folder.title)}" if folder else "",
                "provisioned": False,
                "provisionedExternalId": "",
            },
        }

    # --- /api/teams/search
    def teams_search(self, request: Request) -> dict:
        perpage = _integer(request, "perpage")
        perpage = perpage if perpage > 0 else TEAMS_DEFAULT_PERPAGE
        page = max(_integer(request, "page"), 1)
        query = (request.query_params.get("query") or "").casefold()
        name = request.query_params.get("name")
        teams = [
            team
            for team in sorted(self.state.teams, key=lambda t: t.name.casefold())
            if query in team.name.casefold() and (name is None or team.name == name)
        ]
        return {
            "totalCount": len(teams),
            "teams": [
                {
                    "id": team.id,
                    "uid": f"team-{team.id}",
                    "orgId": ORG_ID,
                    "name": team.name,
                    "email": team.email,
                    "avatarUrl": f"/avatar/{team.id}",
                    "memberCount": len(team.members),
                    "permission": 0,
                }
                for team in teams[(page - 1) * perpage : page * perpage]
            ],
            "page": page,
            "perPage": perpage,
        }

    # --- /api/teams/{id}/members
    def team_members(self, team_id: str) -> list[dict]:
        if not team_id.isdigit():
            raise ApiError(400, "teamId is invalid")
        team = self.teams_by_id.get(int(team_id))
        if team is None:
            raise ApiError(404, "Team not found")
        members = []
        for email in team.members:
            user = self.state.users[email.lower()]
            members.append(
                {
                    "orgId": ORG_ID,
                    "teamId": team.id,
                    "teamUID": f"team-{team.id}",
                    "userId": user.id,
                    "auth_module": "",
                    "email": email,
                    "name": user.name,
                    "login": user.login,
                    "avatarUrl": f"/avatar/u{user.id}",
                    "labels": [],
                    "permission": 0,
                }
            )
        return members

    # --- /api/v1/provisioning/alert-rules
    def alert_rules(self) -> list[dict]:
        return [
            {
                "id": index,
                "uid": rule.uid,
                "orgID": ORG_ID,
                "folderUID": rule.folder,
                "ruleGroup": rule.rule_group,
                "title": rule.title,
                "condition": "C",
                "data": [
                    {
                        "refId": "A",
                        "queryType": "",
                        "relativeTimeRange": {"from": 600, "to": 0},
                        "datasourceUid": "prometheus",
                        "model": {"refId": "A", "expr": f"up{{{_matchers(rule.labels)}}}"},
                    }
                ],
                "updated": _iso(rule.updated),
                "noDataState": "NoData",
                "execErrState": "Error",
                "for": rule.for_,
                "annotations": dict(rule.annotations),
                "labels": dict(rule.labels),
                "provenance": "",
                "isPaused": rule.is_paused,
            }
            for index, rule in enumerate(self.state.alert_rules, start=1)
        ]

    # --- /api/plugins/grafana-slo-app/resources/v1/slo
    def slos(self) -> dict:
        self._require_slo_plugin()
        return {"slos": [_slo(slo) for slo in self.state.slos]}

    def slo(self, uuid: str) -> Any:
        self._require_slo_plugin()
        found = next((slo for slo in self.state.slos if slo.uuid == uuid), None)
        if found is None:
            return JSONResponse({"code": 404, "error": f"slo {uuid} not found"}, status_code=404)
        return _slo(found)

    def _require_slo_plugin(self) -> None:
        if not self.state.slo_plugin:
            raise ApiError(404, "Plugin not found")
        if not self.state.slo_access:  # Grafana's access control: no basic role and no SLO role to view SLOs
            raise ApiError(403, "You'll need additional permissions to perform this action.")


def _slo(slo: Slo) -> dict:
    """An SLO as Grafana SLO's API answers it (``slo.v0_0.Slo``)."""
    alerting: dict[str, Any] = {}
    for key, enabled, name in (("fastBurn", slo.fast_burn, "Very High"), ("slowBurn", slo.slow_burn, "High")):
        if enabled:
            alerting[key] = {"annotations": [{"key": "name", "value": f"SLO Burn Rate {name}"}], "labels": []}
    return {
        "uuid": slo.uuid,
        "name": slo.name,
        "description": slo.description,
        "query": {"type": "freeform", "freeform": {"query": slo.query}},
        "objectives": [{"value": o.value, "window": o.window} for o in slo.objectives],
        "labels": [{"key": key, "value": value} for key, value in slo.labels.items()],
        "alerting": alerting,
        "destinationDatasource": {"uid": "grafanacloud-prom", "type": "prometheus"},
        "readOnly": {"creationTimestamp": int(slo.created.timestamp()), "status": {"type": "created"}},
    }


def _panel(panel: Panel, ids) -> dict:
    body: dict[str, Any] = {"id": next(ids), "type": panel.type, "title": panel.title}
    if panel.type == "row":
        body |= {"collapsed": bool(panel.panels), "panels": [_panel(child, ids) for child in panel.panels]}
    return body


def _matchers(labels: Mapping[str, str]) -> str:
    return ",".join(f'{name}="{value}"' for name, value in labels.items() if name == "service")


def create_app(
    state: Mapping[str, Any] | GrafanaState,
    *,
    tokens: Collection[str],
    rate_limit: RateLimit | None = None,
    fail_next: int = 0,
    clock: Callable[[], float] = _time.monotonic,
) -> FastAPI:
    """The Grafana HTTP API emulator over ``state`` (a state mapping or parsed state).

    - ``tokens``: the service account tokens accepted in ``Authorization: Bearer <token>``;
    - ``rate_limit``: requests per window for each token (default 960 per 60 s);
    - ``fail_next``: answer the next N authenticated requests with 503 (retry tests);
      change it later through ``app.state.grafana.fail_next``.
    """
    parsed = state if isinstance(state, GrafanaState) else parse_state(state)
    emulator = _GrafanaEmulator(parsed, fail_next)
    limiter = _RateLimiter(rate_limit or DEFAULT_RATE_LIMIT, clock)
    allowed_tokens = frozenset(tokens)

    app = FastAPI(title="Grafana HTTP API emulator", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.grafana = emulator
    app.add_api_route("/api/search", answered_as_json(emulator.search), methods=["GET"])
    app.add_api_route("/api/dashboards/uid/{uid}", answered_as_json(emulator.dashboard), methods=["GET"])
    app.add_api_route("/api/teams/search", answered_as_json(emulator.teams_search), methods=["GET"])
    app.add_api_route("/api/teams/{team_id}/members", answered_as_json(emulator.team_members), methods=["GET"])
    app.add_api_route("/api/v1/provisioning/alert-rules", answered_as_json(emulator.alert_rules), methods=["GET"])
    app.add_api_route(f"{SLO_API}/v1/slo", answered_as_json(emulator.slos), methods=["GET"])
    app.add_api_route(f"{SLO_API}/v1/slo/{{uuid}}", emulator.slo, methods=["GET"])

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return exc.response()

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = "Not found" if exc.status_code == 404 else str(exc.detail)
        return ApiError(exc.status_code, message).response()

    @app.middleware("http")
    async def _guard(request: Request, call_next):
        match = _BEARER.fullmatch(request.headers.get("authorization", "").strip())
        if not match or match.group(1) not in allowed_tokens:
            return ApiError(401, "Unauthorized").response()
        allowed, headers = limiter.hit(match.group(1))
        if not allowed:
            return ApiError(429, "Too many requests").response({"Retry-After": headers["Retry-After"]})
        if emulator.fail_next > 0:
            emulator.fail_next -= 1
            return ApiError(503, "Service Unavailable (fault injected by the emulator)").response()
        return await call_next(request)

    return app
