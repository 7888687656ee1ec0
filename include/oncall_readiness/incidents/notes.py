"""PagerDuty's incident notes: ``POST /incidents/{id}/notes`` (as a named user) and ``GET`` them back.

They go through their own connection, ``pagerduty_notes`` (:class:`NotesAccount`): a key that may
write notes, used by ``incident_cost_watch`` alone, so the audit's ``pagerduty_default`` stays
read-only. The POST is the watch's only write. A POST is
never retried blindly: the client's session retries GETs only, so a 5xx (PagerDuty may have
added the note) fails the call, and the notes ledger decides on the next attempt by reading
the incident's notes. A 429 means PagerDuty did nothing: it is retried here, a few times, after
the wait the API asks for.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from oncall_readiness import config
from oncall_readiness.connections import get_connection
from oncall_readiness.errors import ConnectionConfigError, ConnectionMissingError
from oncall_readiness.hooks.pagerduty import PagerDutyNotesHook
from oncall_readiness.sources.http import raise_for_error
from oncall_readiness.sources.pagerduty import SOURCE, PagerDutyClient

log = logging.getLogger(__name__)

FROM_ENV_VAR = config.PAGERDUTY_FROM.name
FROM_EXTRA_FIELD = "from"
POST_ATTEMPTS = 4
MAX_RATE_LIMIT_WAIT_SECONDS = 30.0


@dataclass(frozen=True)
class NotesAccount:
    """Who writes the notes: a client whose key may write incident notes, and the user named in ``From``."""

    client: PagerDutyClient
    from_email: str


def notes_account(conn_id: str = PagerDutyNotesHook.default_conn_name) -> NotesAccount | None:
    """The notes account of connection ``pagerduty_notes``; None when it is not defined (no note is posted).

    A connection that is defined but incomplete (no token, no user to post as) raises ``ConnectionConfigError``.
    """
    hook = PagerDutyNotesHook(conn_id)
    try:
        conn = get_connection(hook.conn_id)
    except ConnectionMissingError:
        return None
    return NotesAccount(hook.client(conn), from_address(conn.extra_dejson, hook.conn_id))


def from_address(extra: dict[str, Any] | None, conn_id: str = PagerDutyNotesHook.default_conn_name) -> str:
    """The email of the PagerDuty user notes are posted as: ``READINESS_PAGERDUTY_FROM``, else the connection's extra.

    PagerDuty requires a ``From`` header naming a user of the account on every note; without
    one configured the watch stops here, saying where to set it.
    """
    configured = config.PAGERDUTY_FROM.get() or str((extra or {}).get(FROM_EXTRA_FIELD) or "").strip()
    if not configured:
        raise ConnectionConfigError(
            "No PagerDuty user to post incident notes as: set the environment variable "
            f"{FROM_ENV_VAR} to the email of a PagerDuty user, or add it to the extra of Airflow connection "
            f'{conn_id!r} as {{"{FROM_EXTRA_FIELD}": "oncall-bot@example.com"}}'
        )
    return configured


def post_note(client: PagerDutyClient, incident_id: str, content: str, *, from_email: str) -> dict[str, Any]:
    """Add a note to an incident; the note PagerDuty created (``id``, ``content``, ...)."""
    url = f"{client.base_url}/incidents/{incident_id}/notes"
    for attempt in range(1, POST_ATTEMPTS + 1):
        response = client.session.post(
            url, json={"note": {"content": content}}, headers={"From": from_email}, timeout=30
        )
        client.requests_made += 1
        if response.status_code != 429 or attempt == POST_ATTEMPTS:
            break
        client.retries += 1
        wait = _rate_limit_wait(response.headers)
        log.info("PagerDuty rate-limited the note on %s; posting again in %.0f s", incident_id, wait)
        time.sleep(wait)
    raise_for_error(response, SOURCE)
    note: dict[str, Any] = response.json()["note"]
    return note


def incident_notes(client: PagerDutyClient, incident_id: str) -> list[dict[str, Any]]:
    """Every note of an incident (``GET /incidents/{id}/notes``)."""
    return client.get(f"/incidents/{incident_id}/notes").get("notes") or []


def _rate_limit_wait(headers: Any) -> float:
    for header in ("Retry-After", "ratelimit-reset", "x-ratelimit-reset"):
        value = (headers.get(header) or "").strip()
        if value.isdigit():
            return min(float(value), MAX_RATE_LIMIT_WAIT_SECONDS)
    return 1.0
