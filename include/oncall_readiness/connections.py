"""Airflow connections: where each source lives and the secret it needs.

The hooks (``oncall_readiness.hooks``) read tokens through these and hand them straight to a
client's session; a token is never returned in an error, logged, or passed through XCom. Every
connection read here has its secrets registered with Airflow's masker (``masking.py``).
"""

from __future__ import annotations

from typing import Any

from oncall_readiness.errors import ConnectionMissingError
from oncall_readiness.masking import mask_connection


def get_connection(conn_id: str) -> Any:
    """The Airflow connection ``conn_id`` (from the metadata DB, env vars or a secrets backend)."""
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException, AirflowRuntimeError

    try:
        conn = BaseHook.get_connection(conn_id)
    except (AirflowNotFoundException, AirflowRuntimeError) as error:
        raise ConnectionMissingError(f"Airflow connection {conn_id!r} is not defined") from error
    mask_connection(conn)  # Airflow masks the password and the whole extra; this adds the parts of the extra
    return conn


def base_url(conn: Any, *, default: str) -> str:
    """The API base URL: the connection's host when set (so any source can point at an emulator)."""
    host = (conn.host or "").strip()
    if not host:
        return default
    if "://" not in host:
        host = f"{conn.schema or 'https'}://{host}"
    if conn.port and host.count(":") < 2:
        scheme, rest = host.split("://", 1)
        hostname, _, path = rest.partition("/")
        host = f"{scheme}://{hostname}:{conn.port}" + (f"/{path}" if path else "")
    return host.rstrip("/")
