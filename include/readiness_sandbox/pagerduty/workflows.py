"""Priorities and incident workflows: how a major incident brings its responders in.

- ``GET /priorities``: the account's priorities, most severe first (classic pagination);
- ``GET /incident_workflows`` (``query``, ``include[]=steps``/``team``; classic pagination) and
  ``GET /incident_workflows/{id}`` (always with its steps, as the spec's example shows);
- ``GET /incident_workflows/triggers`` (filters ``workflow_id``, ``service_id`` (a trigger on all
  services matches every service), ``incident_id`` (its service's; not with ``service_id``),
  ``trigger_type``, ``workflow_name_contains``, ``is_disabled``, ``sort_by``; cursor
  pagination) and ``GET /incident_workflows/triggers/{id}``.

A feature the state's ``refusals`` names answers every request of it with 402 (the plan lacks
it) or 403 (the key may not), with PagerDuty's error body: incident workflows cover the four
workflow paths, priorities ``/priorities``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Request

from .model import PagerDutyState, WorkflowTrigger
from .protocol import Query, cursor_page, invalid, matches, not_found, refused
from .render import Renderer

TRIGGER_SORTS = {"workflow_id": "id", "workflow_name": "name"}


class IncidentWorkflows:
    """The priorities, workflows and triggers of the state, as PagerDuty lists them."""

    def __init__(self, state: PagerDutyState, renderer: Callable[[Request], Renderer]):
        self.state, self.renderer = state, renderer

    def _allowed(self, feature: str) -> None:
        status = self.state.refusals.get(feature)
        if status is not None:
            raise refused(status, feature.replace("_", " "))

    def list_priorities(self, request: Request) -> dict[str, Any]:
        self._allowed("priorities")
        q, render = Query(request), self.renderer(request)
        page, meta = q.paginate(list(self.state.priorities.values()))
        return {"priorities": [render.priority_object(p) for p in page], **meta}

    def list_workflows(self, request: Request) -> dict[str, Any]:
        self._allowed("incident_workflows")
        q, render = Query(request), self.renderer(request)
        query = q.text("query")
        found = [w for w in self.state.incident_workflows.values() if matches(query, w.name)]
        page, meta = q.paginate(sorted(found, key=lambda w: w.name.casefold()))
        include = q.includes()
        return {"incident_workflows": [render.workflow(w, include) for w in page], **meta}

    def get_workflow(self, request: Request, id: str) -> dict[str, Any]:
        self._allowed("incident_workflows")
        if id not in self.state.incident_workflows:
            raise not_found()
        workflow = self.state.incident_workflows[id]
        return {"incident_workflow": self.renderer(request).workflow(workflow, ("steps", "team"))}

    def list_triggers(self, request: Request) -> dict[str, Any]:
        self._allowed("incident_workflows")
        q, render = Query(request), self.renderer(request)
        page, meta = cursor_page(q, self._triggers(q))
        return {"triggers": [render.trigger(t) for t in page], **meta}

    def get_trigger(self, request: Request, id: str) -> dict[str, Any]:
        self._allowed("incident_workflows")
        if id not in self.state.incident_workflow_triggers:
            raise not_found()
        return {"trigger": self.renderer(request).trigger(self.state.incident_workflow_triggers[id])}

    def _triggers(self, q: Query) -> list[WorkflowTrigger]:
        service = self._service_filter(q)
        workflow_id, kind = q.text("workflow_id"), q.text("trigger_type")
        name_part, disabled = q.text("workflow_name_contains"), q.text("is_disabled")
        workflows = self.state.incident_workflows
        found = [
            t
            for t in self.state.incident_workflow_triggers.values()
            if (workflow_id is None or t.workflow == workflow_id)
            and (kind is None or t.trigger_type == kind)
            and (service is None or t.all_services or service in t.services)
            and matches(name_part, workflows[t.workflow].name)
            and (disabled is None or (disabled.lower() == "true") == (not workflows[t.workflow].is_enabled))
        ]
        return self._sorted(q, found)

    def _service_filter(self, q: Query) -> str | None:
        service, incident = q.text("service_id"), q.text("incident_id")
        if service is not None and incident is not None:
            raise invalid("service_id cannot be given with incident_id")
        if incident is None:
            return service
        if incident not in self.state.incidents:
            raise not_found()
        return self.state.incidents[incident].service

    def _sorted(self, q: Query, found: list[WorkflowTrigger]) -> list[WorkflowTrigger]:
        order = q.text("sort_by")
        if order is None:
            return found
        field, _, direction = order.partition(" ")
        if field not in TRIGGER_SORTS or direction not in ("", "asc", "desc"):
            raise invalid(f"sort_by: {order!r} is not workflow_id or workflow_name, with asc or desc")
        workflows = self.state.incident_workflows
        key = (lambda t: t.workflow) if field == "workflow_id" else (lambda t: workflows[t.workflow].name.casefold())
        return sorted(found, key=key, reverse=direction == "desc")
