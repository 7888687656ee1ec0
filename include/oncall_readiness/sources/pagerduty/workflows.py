"""The way a major incident brings in its commander: priorities, incident workflows and their triggers.

Three reads, each one walk, made only when the registry names an incident-commander schedule:

- ``GET /priorities`` (classic pagination): the account's priorities, most severe first;
- ``GET /incident_workflows?include[]=steps`` (classic pagination): every workflow with its
  steps; an "Add Responders" step (action ``pagerduty.com:incident-workflows:add-responders:<n>``)
  names its responders in its ``Responders`` input, a JSON list of references (escalation
  policies, users; each given as an object or as JSON text of one, as PagerDuty's UI and
  Terraform write it), also inside a step's inline steps;
- ``GET /incident_workflows/triggers`` (cursor pagination): when each workflow starts
  (``trigger_type``, its PCL ``condition``) and for which services.

Incident workflows and priorities depend on the account's plan: PagerDuty answers 402 (the
plan lacks the feature) or 403 (the key or the plan may not read it). Such an answer, or any
other error once retries are spent, is not "no workflows": the collection is recorded in
``pagerduty_unreadable`` with why, and the check that needs it says ``unknown``; the rest of
the PagerDuty facts stand.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from oncall_readiness.errors import SourceError
from oncall_readiness.sources.pagerduty.client import PagerDutyClient, RefusedRequest

ADD_RESPONDERS = "pagerduty.com:incident-workflows:add-responders:"
RESPONDERS_INPUT = "responders"
WHAT = {
    "/priorities": "priorities",
    "/incident_workflows": "incident workflows",
    "/incident_workflows/triggers": "incident workflow triggers",
}


class WorkflowReads:
    """The raw objects of the three reads, and the collections PagerDuty would not give (with why)."""

    def __init__(self) -> None:
        self.priorities: list[dict[str, Any]] = []
        self.workflows: list[dict[str, Any]] = []
        self.triggers: list[dict[str, Any]] = []
        self.unreadable: list[dict[str, Any]] = []

    def read(self, path: str, walk: Callable[[], Iterable[dict[str, Any]]]) -> list[dict[str, Any]]:
        """Every object ``walk`` yields, or none and a row of ``unreadable`` saying why."""
        try:
            return list(walk())
        except RefusedRequest as refused:
            self.unreadable.append({"collection": path, "status": refused.status, "reason": _why(path, refused)})
        except SourceError as error:  # down past its retries, or an answer without its list
            self.unreadable.append({"collection": path, "status": None, "reason": f"{WHAT[path]}: {error}"})
        return []


def read_workflows(client: PagerDutyClient) -> WorkflowReads:
    """Priorities, incident workflows with their steps, and their triggers: one walk each."""
    reads = WorkflowReads()
    reads.priorities = reads.read("/priorities", lambda: client.iter_all("/priorities", "priorities"))
    reads.workflows = reads.read(
        "/incident_workflows",
        lambda: client.iter_all("/incident_workflows", "incident_workflows", {"include[]": ["steps"]}),
    )
    reads.triggers = reads.read(
        "/incident_workflows/triggers", lambda: client.iter_cursor("/incident_workflows/triggers", "triggers")
    )
    return reads


def _why(path: str, refused: RefusedRequest) -> str:
    what = WHAT[path]
    if refused.status == 402:
        return f"the PagerDuty account's plan does not include {what} (402 Payment Required)"
    if refused.status == 403:
        return f"the API key may not read {what} (403 Forbidden: the account's plan or the key's role lacks them)"
    return f"{what} could not be read: {refused}"


# --- facts rows --------------------------------------------------------------------------------


def priority_rows(priorities: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """PagerDuty lists priorities most severe first: position 1 is the top priority."""
    for position, priority in enumerate(priorities, start=1):
        yield {"priority_id": priority.get("id"), "name": priority.get("name"), "position": position}


def workflow_rows(workflows: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for workflow in workflows:
        enabled = workflow.get("is_enabled")
        yield {
            "workflow_id": workflow.get("id"),
            "name": workflow.get("name"),
            "is_enabled": True if enabled is None else bool(enabled),  # the spec's default
        }


def responder_rows(workflows: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """One row per responder an "Add Responders" step adds, nested steps included."""
    for workflow in workflows:
        for step in _steps(workflow.get("steps") or []):
            configuration = step.get("action_configuration") or {}
            if not str(configuration.get("action_id") or "").startswith(ADD_RESPONDERS):
                continue
            for target in _responders(configuration.get("inputs") or []):
                yield {
                    "workflow_id": workflow.get("id"),
                    "step_id": step.get("id"),
                    "target_type": target.get("type"),
                    "target_id": target.get("id"),
                }


def _steps(steps: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Steps in order, each followed by the steps inlined in its inputs (a loop's or a condition's)."""
    for step in steps:
        yield step
        for inline in (step.get("action_configuration") or {}).get("inline_steps_inputs") or []:
            yield from _steps(((inline or {}).get("value") or {}).get("steps") or [])


def _responders(inputs: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for given in inputs:
        if str(given.get("name") or "").strip().casefold() != RESPONDERS_INPUT:
            continue
        for reference in _json_list(given.get("value")):
            target = _json_object(reference)
            if target is not None:
                yield target


def _json_list(value: Any) -> list[Any]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return []  # not a list of references: it adds nobody we can name
    return value if isinstance(value, list) else []


def _json_object(value: Any) -> dict[str, Any] | None:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    return value if isinstance(value, dict) and value.get("id") else None


def trigger_rows(triggers: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """One row per trigger and service it covers (one row without a service when it names none)."""
    for trigger in triggers:
        base = {
            "trigger_id": trigger.get("id"),
            "workflow_id": trigger.get("workflow_id") or (trigger.get("workflow") or {}).get("id"),
            "trigger_type": trigger.get("trigger_type"),
            "condition": trigger.get("condition"),
            "all_services": bool(trigger.get("is_subscribed_to_all_services")),
            "is_disabled": bool(trigger.get("is_disabled")),
        }
        services = [service.get("id") for service in trigger.get("services") or [] if service.get("id")]
        for service_id in services or [None]:
            yield {**base, "service_id": service_id}
