"""The PagerDuty hooks: ``readiness_pagerduty`` (a read-only key, the audit's) and ``readiness_pagerduty_notes``
(a key that may write incident notes, ``incident_cost_watch``'s only), as Airflow's own provider keeps
its events hook apart from its REST hook."""

from __future__ import annotations

from typing import Any

from oncall_readiness.hooks.base import ReadinessHook
from oncall_readiness.sources.pagerduty import API_URL, PagerDutyClient


class PagerDutyHook(ReadinessHook):
    """PagerDuty REST API v2: a read-only API token (User or Account token) in the password."""

    default_conn_name = "pagerduty_default"
    conn_type = "readiness_pagerduty"
    title = "PagerDuty"
    api_url = API_URL
    host_hint = "the API base URL, https://api.pagerduty.com by default"

    def client(self, conn: Any, **options: Any) -> PagerDutyClient:
        return PagerDutyClient(self.token(conn), base_url=self.url(conn), **options)

    def probe(self, client: PagerDutyClient) -> None:
        client.get("/users", {"limit": 1})


class PagerDutyNotesHook(PagerDutyHook):
    """PagerDuty REST API v2 for ``incident_cost_watch``'s notes: a token that may write incident notes
    (a User token of the user the notes are posted as, or a full-access key) and, in the extra,
    ``{"from": "<that user's email>"}``. The audit never uses it: its own key stays read-only."""

    default_conn_name = "pagerduty_notes"
    conn_type = "readiness_pagerduty_notes"
    title = "PagerDuty notes"
