"""Times in emulator state files: ISO 8601 with a zone, as UTC."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def utc_moment(value: Any, where: str, error: type[Exception]) -> datetime:
    """``value`` as an aware UTC datetime; ``error`` naming ``where`` when it is not one."""
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            raise error(f"{where}: not an ISO 8601 time: {value!r}") from None
    if moment.tzinfo is None:
        raise error(f"{where}: {value!r} has no time zone")
    return moment.astimezone(UTC)
