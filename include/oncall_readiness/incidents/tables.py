"""The incident tables of the warehouse: their columns and kinds (as ``schema.RESULT_TABLES``).

Plain data, read by the warehouse (which creates the tables) and by the cost model and the
watch (which build their rows). The analysts' contract: docs/warehouse.md.

- ``incidents`` and ``incident_costs``: partitioned by ``audit_date`` (the warehouse adds that
  column), cleared and rewritten with the rest of an audit date by the audit's publish.
- ``open_incident_costs``: what the last ``incident_cost_watch`` run saw; each run replaces it.
- ``incident_cost_notes``: the watch's notes ledger (``incidents.ledger``), one row per
  (incident, milestone) ever claimed; never cleared.
"""

from __future__ import annotations

INCIDENT_COLUMNS: dict[str, str] = {
    "incident_id": "string",
    "incident_number": "integer",
    "title": "string",
    "team": "string",
    "service": "string",
    "pagerduty_service_id": "string",
    "urgency": "string",
    "priority": "string",
    "status": "string",
    "created_at": "timestamp",
    "acknowledged_at": "timestamp",
    "resolved_at": "timestamp",
    "seconds_to_first_ack": "integer",
    "seconds_to_resolve": "integer",
    "minutes": "float",
    "cost_per_minute": "float",
    "currency": "string",
    "estimated_loss": "float",
    "priced": "boolean",
}

INCIDENT_COST_COLUMNS: dict[str, str] = {
    "team": "string",
    "iso_week": "string",
    "incidents": "integer",
    "high_urgency_incidents": "integer",
    "minutes": "float",
    "estimated_loss": "float",
    "unpriced_incidents": "integer",
    "currency": "string",
}

OPEN_INCIDENT_COST_COLUMNS: dict[str, str] = {
    "checked_at": "timestamp",
    "incident_id": "string",
    "incident_number": "integer",
    "title": "string",
    "team": "string",
    "service": "string",
    "urgency": "string",
    "status": "string",
    "created_at": "timestamp",
    "minutes": "integer",
    "cost_per_minute": "float",
    "currency": "string",
    "estimated_loss": "float",
    "priced": "boolean",
}

# Partitioned by audit_date: written by the audit's publish.
AUDIT_INCIDENT_TABLES: dict[str, dict[str, str]] = {
    "incidents": INCIDENT_COLUMNS,
    "incident_costs": INCIDENT_COST_COLUMNS,
}
# Written by the watch, not partitioned.
OPEN_INCIDENT_COSTS = "open_incident_costs"
