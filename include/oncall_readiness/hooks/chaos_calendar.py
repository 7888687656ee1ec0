"""The Chaos Day calendar hook: connection type ``readiness_chaos_calendar``, an iCalendar feed."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from oncall_readiness.errors import ConnectionConfigError
from oncall_readiness.hooks.base import ReadinessHook
from oncall_readiness.sources.chaos_calendar import ChaosCalendarClient

# A password that is a whole URL is the feed's secret address (Google's "secret address in iCal format").
SECRET_ADDRESS = re.compile(r"^https?://\S+$", re.IGNORECASE)


class ChaosCalendarHook(ReadinessHook):
    """An iCalendar feed: its URL in the host, with optional basic auth; or its secret address in the password."""

    default_conn_name = "chaos_calendar_default"
    conn_type = "readiness_chaos_calendar"
    title = "Chaos Day calendar"
    host_hint = "the feed's URL, e.g. https://calendar.example.com/chaos-days.ics, or a secret address as password"

    def client(self, conn: Any, **options: Any) -> ChaosCalendarClient:
        password = self.token(conn, required=False)
        login = (conn.login or "").strip() or None
        if password and SECRET_ADDRESS.match(password):
            _mask_secret_path(password)
            return ChaosCalendarClient(password, secret_address=True, **options)
        if password and not login:
            raise ConnectionConfigError(
                f"Airflow connection {self.conn_id!r} has a password but no login: give the basic-auth user in "
                "the login field, or put the feed's whole secret address (https://...) in the password"
            )
        return ChaosCalendarClient(self.url(conn), login=login, password=password, **options)

    def probe(self, client: ChaosCalendarClient) -> None:
        client.calendar()


def _mask_secret_path(address: str) -> None:
    """The address is masked whole by ``token``; HTTP debug logs show only its path, so mask that too."""
    from airflow.sdk.log import mask_secret

    parts = urlsplit(address)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    if len(path) > 1:
        mask_secret(path)
