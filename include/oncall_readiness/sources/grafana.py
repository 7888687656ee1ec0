"""Grafana HTTP API: dashboards, teams with their members, Grafana-managed alert rules and SLOs.

Collection costs one paged walk of ``GET /api/search?type=dash-db`` at the largest page
Grafana allows (``limit=5000``), one paged walk of ``GET /api/teams/search``
(``perpage=1000``), one ``GET /api/v1/provisioning/alert-rules`` (every rule, no
paging) and one ``GET /api/plugins/grafana-slo-app/resources/v1/slo`` (every SLO of Grafana
SLO, no paging; a 404, a Grafana without the SLO plugin, means no SLOs, while any other error
fails the read like every other call). Only two things cost a call each, and only where the audit needs them:

- ``GET /api/dashboards/uid/{uid}`` for a dashboard that carries a service's
  ``grafana/dashboard-selector`` tag but no tag that tells its kind (``logs`` or
  ``logging`` make it a logging dashboard, ``monitoring`` or ``metrics`` a monitoring one):
  it is a logging dashboard when it has a ``logs`` panel (collapsed rows included), else a
  monitoring one. Dashboards no service selects are listed but never opened;
- ``GET /api/teams/{id}/members`` for each Grafana team a registry team names in
  ``grafana/team`` (names compared exactly, as Grafana stores them).

Those per-item calls run concurrently, at most ``concurrency`` at once (``sources/pool.py``:
the connection extra ``concurrency``, ``READINESS_HTTP_CONCURRENCY``, default 8): Grafana has
no endpoint for many teams' members, so the pool is what brings 2,000 teams' member lists
from 2,000 round trips down to 250. A 429 pauses every worker (``sources/http.py``).

Facts tables (schema version 1):

- ``grafana_collections``: collection (the API path), reported_total (Grafana's own
  count: ``totalCount`` of the team search, ``memberCount`` of a team), collected (objects
  received): the evidence that no page or member went missing
- ``grafana_dashboards``: uid, title, tags (the dashboard's tags, comma-joined),
  folder_title (null in the General folder), kind (``monitoring`` or ``logging``; null
  when no service's selector tags it, so it was not classified), kind_from (``tag`` or
  ``panels``: how the kind was told)
- ``grafana_teams``: team_id, team_name, email, member_count
- ``grafana_team_members``: team_id, team_name, email (lower-cased: the join key), login;
  members of the teams the registry names only
- ``grafana_alert_rules``: uid, title, rule_group, folder_uid, labels and annotations
  (JSON object text with sorted keys, ``{}`` when none), is_paused
- ``grafana_links``: subject, name, url: Grafana's web page of each alert rule
  (``alert-rule:grafana/<uid>``: ``/alerting/grafana/<uid>/view``), dashboard
  (``dashboard:<uid>``: ``/d/<uid>``) and service's dashboards (``service:<name>``: the
  dashboard browser filtered by its selector tag), for the findings' links
- ``grafana_slos``: one row per Grafana SLO, the columns of ``slo_facts.SLO_COLUMNS``
  (source ``grafana``, slo_id its uuid, slo its name, labels its ``labels`` as a map, the
  strictest of its ``objectives`` as a percentage with its window). Its page alert is the
  fast-burn rule Grafana SLO generates: an unpaused alert rule labelled
  ``grafana_slo_uuid=<uuid>`` and ``grafana_slo_severity="critical"``.

Connection ``grafana_default``: the Grafana base URL in the host (required, e.g.
``https://grafana.example.com``), a service account token (Viewer role is enough, plus
``teams:read``, ``alert.provisioning:read`` and, on Grafana Cloud, the SLO plugin's
read access) in the password. The token is only ever
sent as ``Authorization: Bearer``; it never appears in an error or a log.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlencode

import pandas as pd

from oncall_readiness import schema
from oncall_readiness.errors import SourceError
from oncall_readiness.slo_facts import SLO_COLUMNS, label_map, match_services, window_days
from oncall_readiness.sources.facts import Facts, links_frame, typed_frame
from oncall_readiness.sources.http import ApiClient, raise_for_error
from oncall_readiness.sources.pool import DEFAULT_CONCURRENCY, bounded_map
from oncall_readiness.sources.window import AuditWindow

if TYPE_CHECKING:
    from oncall_readiness.hooks.base import ReadinessHook

log = logging.getLogger(__name__)

SOURCE = "grafana"
SEARCH_LIMIT = 5000  # Grafana refuses a larger limit (422)
TEAMS_PER_PAGE = 1000
LOGGING_TAGS = frozenset({"logs", "logging"})
MONITORING_TAGS = frozenset({"monitoring", "metrics"})
LOG_PANEL_TYPES = frozenset({"logs"})
KINDS = ("monitoring", "logging")
KIND_SOURCES = ("tag", "panels")
SLO_PATH = "/api/plugins/grafana-slo-app/resources/v1/slo"
SLO_PAGE_SEVERITY = "critical"  # grafana_slo_severity of the fast-burn rule; slow burn is "warning"
# Walking pages stops here whatever the server says: a server that ignores `page` must not loop forever.
MAX_PAGES = 1000

FACT_COLUMNS: dict[str, dict[str, str]] = {
    "grafana_collections": {"collection": "string", "reported_total": "integer", "collected": "integer"},
    "grafana_dashboards": {
        "uid": "string",
        "title": "string",
        "tags": "string",
        "folder_title": "string",
        "kind": "string",
        "kind_from": "string",
    },
    "grafana_teams": {"team_id": "integer", "team_name": "string", "email": "string", "member_count": "integer"},
    "grafana_team_members": {"team_id": "integer", "team_name": "string", "email": "string", "login": "string"},
    "grafana_alert_rules": {
        "uid": "string",
        "title": "string",
        "rule_group": "string",
        "folder_uid": "string",
        "labels": "string",
        "annotations": "string",
        "is_paused": "boolean",
    },
    "grafana_slos": SLO_COLUMNS,
    "grafana_links": dict(schema.LINK_COLUMNS),
    # A collection Grafana would not give while the rest read fine (the SLO plugin's API), and why.
    "grafana_unreadable": {"collection": "string", "reason": "string"},
}


class GrafanaClient(ApiClient):
    """A read-only Grafana HTTP API client: service-account token, Grafana's paging, retries."""

    def __init__(
        self,
        token: str,
        *,
        base_url: str,
        max_retries: int = 6,
        backoff_factor: float = 0.5,
        concurrency: int = DEFAULT_CONCURRENCY,
    ) -> None:
        if not token:
            raise SourceError(f"{SOURCE}: no service account token given")
        if not base_url:
            raise SourceError(f"{SOURCE}: no base URL given")
        super().__init__(base_url, max_retries=max_retries, backoff_factor=backoff_factor, concurrency=concurrency)
        self.session.headers.update({"Authorization": f"Bearer {token}", "Accept": "application/json"})
        # path -> [objects Grafana says there are, objects received]
        self.collections: dict[str, list[int]] = {}

    def get(self, path: str, params: Mapping[str, Any] | None = None, *, missing_ok: bool = False) -> Any:
        """The JSON body of ``GET path``; None for a 404 when ``missing_ok``."""
        response = self._send(path, params)
        self.count_request()
        if missing_ok and response.status_code == 404:
            return None
        raise_for_error(response, SOURCE)
        try:
            return response.json()
        except ValueError:
            raise SourceError(f"{SOURCE}: GET {path} answered {response.status_code} without JSON") from None

    def dashboards(self) -> list[dict[str, Any]]:
        """Every dashboard's search hit, page by page at ``limit=5000``."""
        hits: list[dict[str, Any]] = []
        for page in range(1, MAX_PAGES + 1):
            batch = self.get("/api/search", {"type": "dash-db", "limit": SEARCH_LIMIT, "page": page})
            if not isinstance(batch, list):
                raise SourceError(f"{SOURCE}: GET /api/search answered without a list of dashboards")
            hits += batch
            if len(batch) < SEARCH_LIMIT:
                return hits
        raise SourceError(f"{SOURCE}: GET /api/search kept answering full pages after {MAX_PAGES} pages")

    def dashboard(self, uid: str) -> dict[str, Any] | None:
        """The dashboard JSON model, or None when it was deleted since the search."""
        body = self.get(f"/api/dashboards/uid/{uid}", missing_ok=True)
        return None if body is None else body.get("dashboard") or {}

    def teams(self) -> list[dict[str, Any]]:
        """Every team of the organisation, page by page; the count is checked against ``totalCount``."""
        path = "/api/teams/search"
        teams: list[dict[str, Any]] = []
        counts = self.collections.setdefault(path, [0, 0])
        for page in range(1, MAX_PAGES + 1):
            body = self.get(path, {"perpage": TEAMS_PER_PAGE, "page": page})
            batch = body.get("teams") if isinstance(body, dict) else None
            if batch is None:
                raise SourceError(f"{SOURCE}: GET {path} answered without a 'teams' list")
            if page == 1:
                counts[0] = int(body.get("totalCount") or 0)
            teams += batch
            counts[1] += len(batch)
            if len(batch) < TEAMS_PER_PAGE or counts[1] >= counts[0]:
                return teams
        raise SourceError(f"{SOURCE}: GET {path} kept answering full pages after {MAX_PAGES} pages")

    def team_members(self, team: Mapping[str, Any]) -> list[dict[str, Any]]:
        path = f"/api/teams/{team['id']}/members"
        members = self.get(path)
        if not isinstance(members, list):
            raise SourceError(f"{SOURCE}: GET {path} answered without a list of members")
        self.collections[path] = [int(team.get("memberCount") or 0), len(members)]
        return members

    def alert_rules(self) -> list[dict[str, Any]]:
        rules = self.get("/api/v1/provisioning/alert-rules")
        if not isinstance(rules, list):
            raise SourceError(f"{SOURCE}: GET /api/v1/provisioning/alert-rules answered without a list of rules")
        return rules

    def slos(self) -> list[dict[str, Any]]:
        """Every Grafana SLO; none when the SLO plugin is not installed (404), an error for anything else."""
        body = self.get(SLO_PATH, missing_ok=True)
        if body is None:
            log.info("Grafana has no SLO plugin (GET %s answered 404): no Grafana SLOs", SLO_PATH)
            return []
        slos = body.get("slos") if isinstance(body, dict) else None
        if not isinstance(slos, list):
            raise SourceError(f"{SOURCE}: GET {SLO_PATH} answered without a 'slos' list")
        return slos


def collect(
    client: GrafanaClient,
    *,
    dashboard_selectors: Iterable[str] = (),
    team_names: Iterable[str] = (),
    services: pd.DataFrame | None = None,
) -> dict[str, pd.DataFrame]:
    """Read the Grafana instance and return its facts tables.

    ``dashboard_selectors`` are the services' ``grafana/dashboard-selector`` tags: only
    dashboards carrying one are classified (and opened, when their tags do not tell the
    kind). ``team_names`` are the registry's ``grafana/team`` names: only their members are read.
    ``services`` (registry_services) are what the SLOs are matched to.
    """
    selectors = {selector.strip().lower() for selector in dashboard_selectors if selector and selector.strip()}
    hits = client.dashboards()
    to_open = [hit for hit in hits if _kind_from_tags(hit, selectors) is None]
    opened = bounded_map(lambda hit: client.dashboard(hit["uid"]), to_open, workers=client.concurrency)
    models = {hit["uid"]: model for hit, model in zip(to_open, opened, strict=True)}
    dashboards = [_classified(hit, selectors, models) for hit in hits]
    teams = client.teams()
    wanted = {name for name in team_names if name}
    named = [team for team in teams if team.get("name") in wanted]
    member_lists = bounded_map(client.team_members, named, workers=client.concurrency)
    members = [(team, member) for team, listed in zip(named, member_lists, strict=True) for member in listed]
    rules = client.alert_rules()
    facts = normalise(dashboards=[d for d in dashboards if d], teams=teams, members=members, rules=rules)
    slos, unreadable = _read_slos(client)
    facts["grafana_slos"] = _frame("grafana_slos", slo_rows(slos, rules, services))
    facts["grafana_unreadable"] = _frame("grafana_unreadable", unreadable)
    registry_services = services if services is not None else pd.DataFrame(columns=["service", "dashboard_selector"])
    facts["grafana_links"] = grafana_links(client.base_url, facts, registry_services)
    # The member lists in the teams' order, not in the order the pool's workers finished them.
    listed = [f"/api/teams/{team['id']}/members" for team in named]
    member_paths = frozenset(listed)
    paths = [path for path in client.collections if path not in member_paths] + listed
    facts["grafana_collections"] = _frame(
        "grafana_collections",
        (
            {
                "collection": path,
                "reported_total": client.collections[path][0],
                "collected": client.collections[path][1],
            }
            for path in dict.fromkeys(paths)
        ),
    )
    return facts


def _kind_from_tags(hit: dict[str, Any], selectors: set[str]) -> tuple[str | None, str | None] | None:
    """(kind, "tag") when the tags tell it, (None, None) when no service selects it, None when it must be opened."""
    tags = {str(tag).strip().lower() for tag in hit.get("tags") or []}
    if tags & LOGGING_TAGS:
        return "logging", "tag"
    if tags & MONITORING_TAGS:
        return "monitoring", "tag"
    return None if tags & selectors else (None, None)


def _classified(
    hit: dict[str, Any], selectors: set[str], models: Mapping[str, dict[str, Any] | None]
) -> dict[str, Any] | None:
    """The hit with its kind: from its tags when they tell, else from its panels (``models``: the opened ones)."""
    told = _kind_from_tags(hit, selectors)
    if told is not None:
        kind, kind_from = told
    else:
        model = models.get(hit["uid"])
        if model is None:
            log.info("Grafana dashboard %s was deleted during the audit; left out", hit["uid"])
            return None
        kind = "logging" if any(p.get("type") in LOG_PANEL_TYPES for p in _panels(model)) else "monitoring"
        kind_from = "panels"
    return {**hit, "kind": kind, "kind_from": kind_from}


def _panels(model: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel of a dashboard model: top level, inside (collapsed) rows, and legacy ``rows``."""
    stack = list(model.get("panels") or [])
    stack += [panel for row in model.get("rows") or [] for panel in row.get("panels") or []]
    while stack:
        panel = stack.pop()
        if isinstance(panel, dict):
            yield panel
            stack += panel.get("panels") or []


def normalise(
    *,
    dashboards: list[dict[str, Any]],
    teams: list[dict[str, Any]],
    members: list[tuple[dict[str, Any], dict[str, Any]]],
    rules: list[dict[str, Any]],
) -> dict[str, pd.DataFrame]:
    """Turn raw API objects into the documented facts tables (``members`` are (team, member) pairs)."""
    return {
        "grafana_dashboards": _frame(
            "grafana_dashboards",
            (
                {
                    "uid": d.get("uid"),
                    "title": d.get("title"),
                    "tags": ",".join(str(tag).strip() for tag in d.get("tags") or []),
                    "folder_title": d.get("folderTitle") or None,
                    "kind": d.get("kind"),
                    "kind_from": d.get("kind_from"),
                }
                for d in dashboards
            ),
        ),
        "grafana_teams": _frame(
            "grafana_teams",
            (
                {
                    "team_id": t.get("id"),
                    "team_name": t.get("name"),
                    "email": (t.get("email") or "").strip().lower() or None,
                    "member_count": t.get("memberCount"),
                }
                for t in teams
            ),
        ),
        "grafana_team_members": _frame(
            "grafana_team_members",
            (
                {
                    "team_id": team.get("id"),
                    "team_name": team.get("name"),
                    "email": (member.get("email") or "").strip().lower() or None,
                    "login": member.get("login"),
                }
                for team, member in members
            ),
        ),
        "grafana_alert_rules": _frame(
            "grafana_alert_rules",
            (
                {
                    "uid": r.get("uid"),
                    "title": r.get("title"),
                    "rule_group": r.get("ruleGroup"),
                    "folder_uid": r.get("folderUID"),
                    "labels": _json_object(r.get("labels")),
                    "annotations": _json_object(r.get("annotations")),
                    "is_paused": bool(r.get("isPaused", False)),
                }
                for r in rules
            ),
        ),
    }


def _read_slos(client: GrafanaClient) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The SLOs, or none and why: the SLO plugin is an app of its own (its own permissions, its own
    faults), so a token that may not read it, or an error of its API, costs the SLOs, not the
    dashboards, teams and rules the other checks read; ``availability-target`` says unknown."""
    try:
        return client.slos(), []
    except SourceError as error:
        log.warning("Grafana SLOs could not be read, the rest of Grafana stands: %s", error)
        return [], [{"collection": SLO_PATH, "reason": f"Grafana SLOs could not be read: {error}"}]


def slo_rows(
    slos: list[dict[str, Any]], rules: list[dict[str, Any]], services: pd.DataFrame | None
) -> list[dict[str, Any]]:
    """One row per Grafana SLO (``slo_facts.SLO_COLUMNS``) with its enabled fast-burn rules, matched to services."""
    pages = _fast_burn_rules(rules)
    labels = [_slo_labels(slo) for slo in slos]
    matches = match_services(labels, services)
    return [
        _slo_row(slo, slo_labels, pages.get(str(slo.get("uuid")), [])) | match
        for slo, slo_labels, match in zip(slos, labels, matches, strict=True)
    ]


def _fast_burn_rules(rules: list[dict[str, Any]]) -> dict[str, list[str]]:
    """SLO uuid -> the uids of its unpaused page-severity burn-rate rules."""
    pages: dict[str, list[str]] = {}
    for rule in rules:
        labels = rule.get("labels")
        labels = labels if isinstance(labels, dict) else {}
        paging = labels.get("grafana_slo_uuid") and labels.get("grafana_slo_severity") == SLO_PAGE_SEVERITY
        if paging and not rule.get("isPaused", False):
            pages.setdefault(str(labels["grafana_slo_uuid"]), []).append(str(rule.get("uid")))
    return pages


def _slo_row(slo: Mapping[str, Any], labels: dict[str, str], page_rules: list[str]) -> dict[str, Any]:
    """The SLO's own columns; ``match_services`` adds the service it is matched to."""
    objective = _strictest_objective(slo)
    value, window = objective.get("value"), objective.get("window")
    return {
        "source": "grafana",
        "slo_id": slo.get("uuid"),
        "slo": slo.get("name"),
        "labels": json.dumps(labels, sort_keys=True, ensure_ascii=False),
        "objective_percent": round(value * 100, 6) if isinstance(value, (int, float)) else None,
        "window": window,
        "window_days": window_days(window),
        "page_alert": bool(page_rules),
        "page_alert_rules": ", ".join(page_rules) or None,
    }


def _slo_labels(slo: Mapping[str, Any]) -> dict[str, str]:
    """A Grafana SLO's labels (a list of ``{key, value}``) as a map."""
    pairs = slo.get("labels") or []
    return label_map(json.dumps({p.get("key"): p.get("value") for p in pairs if isinstance(p, dict)}))


def _strictest_objective(slo: Mapping[str, Any]) -> dict[str, Any]:
    """The highest of an SLO's objectives (Grafana allows several); {} when it has none."""
    objectives = [o for o in slo.get("objectives") or [] if isinstance(o, dict)]
    numeric = [o for o in objectives if isinstance(o.get("value"), (int, float))]
    return max(numeric, key=lambda o: o["value"]) if numeric else (objectives[0] if objectives else {})


def _json_object(value: Any) -> str | None:
    """A label or annotation map as JSON object text with sorted keys; ``{}`` when absent."""
    if value is None:
        return "{}"
    if not isinstance(value, dict):
        return None  # not a map: the data contract reports it
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def _frame(table: str, rows: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    return typed_frame(rows, FACT_COLUMNS[table])


def collect_for_audit(hook: ReadinessHook, registry: Mapping[str, pd.DataFrame], window: AuditWindow) -> Facts:
    """The audit's collection: the registry's dashboard selectors and Grafana teams (no time window:
    Grafana keeps no history of dashboards or memberships, so a backfill records today's state)."""
    client = cast(GrafanaClient, hook.get_conn())  # the source's hook builds its client
    facts = collect(
        client,
        dashboard_selectors=registry["registry_services"]["dashboard_selector"].dropna(),
        team_names=registry["registry_teams"]["grafana_team"].dropna(),
        services=registry["registry_services"],
    )
    log.info(
        "Grafana: %d requests (at most %d at once), %d retried after 429 or 5xx, %d rate-limit pauses",
        client.requests_made,
        client.concurrency,
        client.retries,
        client.gate.holds,
    )
    return facts


def grafana_links(base_url: str, facts: Mapping[str, pd.DataFrame], services: pd.DataFrame) -> pd.DataFrame:
    """``grafana_links``: each alert rule's page (``alert-rule:grafana/<uid>``), each dashboard's
    (``dashboard:<uid>``), and each service's dashboards: the dashboard browser filtered by its
    ``grafana/dashboard-selector`` tag (``service:<name>``), Grafana's own web addresses."""
    rules, dashboards = facts["grafana_alert_rules"], facts["grafana_dashboards"]
    rows = [
        {"subject": f"alert-rule:grafana/{uid}", "name": title, "url": f"{base_url}/alerting/grafana/{uid}/view"}
        for uid, title in zip(rules["uid"], rules["title"], strict=True)
    ]
    rows += [
        {"subject": f"dashboard:{uid}", "name": title, "url": f"{base_url}/d/{uid}"}
        for uid, title in zip(dashboards["uid"], dashboards["title"], strict=True)
    ]
    selected = services[["service", "dashboard_selector"]].dropna()
    rows += [
        {
            "subject": f"service:{service}",
            "name": f"{service} dashboards",
            "url": f"{base_url}/dashboards?{urlencode({'tag': selector})}",
        }
        for service, selector in zip(selected["service"], selected["dashboard_selector"], strict=True)
    ]
    return links_frame(rows)
