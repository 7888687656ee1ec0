"""Incident notes: ``POST`` and ``GET /incidents/{id}/notes``, kept in memory per emulator.

Creating a note needs a key that may write (a read-only key gets ``403 Access Denied``, code
2010, as PagerDuty answers it) and the ``From`` header with the email of a user of the account, as the
spec requires (400 with PagerDuty's error body without it, or with an unknown email); the
body is ``{"note": {"content": "..."}}``; the answer is ``201`` with the note
(``IncidentNote``: id, user reference, channel, content, created_at, updated_at). Notes are
listed oldest first. At most 2000 notes per incident, as PagerDuty allows.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from .model import PagerDutyState
from .protocol import Query, access_denied, invalid, json_body, not_found
from .render import Renderer
from .schedules import UTC, format_time

MAX_NOTES = 2000
API_CHANNEL = {"summary": "The PagerDuty website or APIs"}


class Notes:
    """The notes of every incident, created through the API since the emulator started."""

    def __init__(self, state: PagerDutyState, now: Callable[[], datetime], renderer: Callable[[Request], Renderer]):
        self.state, self.now, self.renderer = state, now, renderer
        self.notes: dict[str, list[dict[str, Any]]] = {}
        self._next = 1

    def _incident(self, incident_id: str) -> str:
        if incident_id not in self.state.incidents:
            raise not_found()
        return incident_id

    async def create(self, request: Request, id: str) -> JSONResponse:
        incident_id = self._incident(id)
        if getattr(request.state, "read_only", False):
            raise access_denied("This API key is read-only: it cannot create incident notes")
        sender = (request.headers.get("from") or "").strip()
        if not sender:
            raise invalid("The From header is required: the email address of a valid user of the account")
        user = next((u for u in self.state.users.values() if u.email.casefold() == sender.casefold()), None)
        if user is None:
            raise invalid(f"From: {sender!r} is not the email address of a user of this account")
        body = await json_body(request)
        note = body.get("note")
        content = note.get("content") if isinstance(note, dict) else None
        if not isinstance(content, str) or not content.strip():
            raise invalid('note.content is required: {"note": {"content": "..."}}')
        stored = self.notes.setdefault(incident_id, [])
        if len(stored) >= MAX_NOTES:
            raise invalid(f"an incident has at most {MAX_NOTES} notes")
        created = self.now()
        record = {"id": f"PNT{self._next:04d}", "user": user.id, "content": content, "created_at": created}
        self._next += 1
        stored.append(record)
        return JSONResponse({"note": self._json(request, record, UTC)}, status_code=201)

    def list(self, request: Request, id: str) -> dict[str, Any]:
        incident_id = self._incident(id)
        tz = Query(request).zone(UTC)
        return {"notes": [self._json(request, record, tz) for record in self.notes.get(incident_id, [])]}

    def _json(self, request: Request, record: dict[str, Any], tz) -> dict[str, Any]:
        when = format_time(record["created_at"], tz)
        return {
            "id": record["id"],
            "user": self.renderer(request).ref("user", record["user"]),
            "channel": dict(API_CHANNEL),
            "content": record["content"],
            "created_at": when,
            "updated_at": when,
        }
