"""The Backstage catalog hook: connection type ``readiness_backstage``, the registry read from a running Backstage.

The host is Backstage's backend URL (``backend.baseUrl``, e.g. ``https://backstage.example.com``;
the client adds ``/api/catalog``), the password a static token as ``backend.auth.externalAccess``
issues it (``type: static``, sent as ``Authorization: Bearer <token>``). The connection's extra may
set ``page_size`` (entities a page, default 1,000: ``sources/backstage_catalog.py`` says why).
"""

from __future__ import annotations

from typing import Any

from oncall_readiness.connections import get_connection
from oncall_readiness.errors import ConnectionConfigError
from oncall_readiness.hooks.base import ReadinessHook
from oncall_readiness.sources.backstage_catalog import PAGE_SIZE, BackstageCatalogClient
from oncall_readiness.sources.http import http_max_retries

MAX_PAGE_SIZE = 10_000  # a page the backend materialises whole: a bigger one only risks its memory


class BackstageHook(ReadinessHook):
    """Backstage's catalog API: the backend URL in the host, a static external-access token in the password."""

    default_conn_name = "backstage_default"
    conn_type = "readiness_backstage"
    title = "Backstage catalog"
    host_hint = "Backstage's backend URL, e.g. https://backstage.example.com"

    def get_conn(self) -> BackstageCatalogClient:
        """The catalog client of the connection, with the audit's retries per request."""
        return self.client(get_connection(self.conn_id), max_retries=http_max_retries())

    def client(self, conn: Any, **options: Any) -> BackstageCatalogClient:
        options.setdefault("page_size", self.page_size(conn.extra_dejson))
        return BackstageCatalogClient(self.token(conn), base_url=self.url(conn), **options)

    def page_size(self, extra: dict[str, Any]) -> int:
        value = extra.get("page_size", PAGE_SIZE)
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_PAGE_SIZE:
            raise ConnectionConfigError(
                f"Airflow connection {self.conn_id!r} extra page_size must be a whole number from 1 to "
                f"{MAX_PAGE_SIZE}, not {value!r}"
            )
        return value

    def probe(self, client: BackstageCatalogClient) -> None:
        client.probe()
