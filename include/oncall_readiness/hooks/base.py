"""What every source's hook shares: one connection id, its token and base URL read safely,
the ready client, and a ``test_connection`` for the UI's Test button.

A hook resolves one Airflow connection and returns its source's client (``get_conn``), whose
session retries 429 and 5xx with the server's ``Retry-After`` (``sources.http``). Tokens are
stripped of the whitespace a secrets backend or a paste leaves around them and registered
with Airflow's secret masker; credentials written into a host are refused rather than used,
so no URL with a password ever reaches a message. A connection without its token, host or
login raises ``ConnectionConfigError`` naming the connection id and the field.

``test_connection`` (the UI's Test button, ``POST /api/v2/connections/test``) makes one cheap
authenticated call (``probe``), retried at most once so that a host that is down answers in
seconds, and returns ``(ok, message)``; a refusal names the source and the API's answer
(``401: Bad credentials``), never the token.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal, overload
from urllib.parse import urlsplit

from airflow.sdk.bases.hook import BaseHook

from oncall_readiness.connections import base_url, get_connection
from oncall_readiness.errors import ConnectionConfigError
from oncall_readiness.masking import redact
from oncall_readiness.sources.http import ApiClient, describe_failure, http_max_retries

# The Test button waits for an answer: one retry at most, not the audit's patient six.
TEST_RETRIES = 1


class ReadinessHook(BaseHook):
    """Base of the project's hooks; a subclass names its connection type and builds its client."""

    conn_name_attr = "conn_id"
    default_conn_name: ClassVar[str]
    conn_type: ClassVar[str]
    hook_name: ClassVar[str]  # the connection type's name in the UI: "<title> (oncall-readiness)"
    title: ClassVar[str]  # how people call the source: "PagerDuty" (its catalogue title)
    # The public API's base URL when the connection has no host; None when the host is required.
    api_url: ClassVar[str | None] = None
    host_hint: ClassVar[str] = "the API base URL"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.hook_name = f"{cls.title} (oncall-readiness)"

    def __init__(self, conn_id: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.conn_id = conn_id or self.default_conn_name

    def get_conn(self) -> ApiClient:
        """The source's client, ready to call, from the connection.

        Its retries per request are the operator's bound on a down source (``READINESS_HTTP_MAX_RETRIES``).
        """
        return self.client(get_connection(self.conn_id), max_retries=http_max_retries())

    def client(self, conn: Any, **options: Any) -> ApiClient:
        """The client of the connection ``conn``; ``options`` (``max_retries``, ...) go to its constructor."""
        raise NotImplementedError

    def probe(self, client: Any) -> None:
        """One cheap authenticated call; raises ``SourceError`` when the API refuses it."""
        raise NotImplementedError

    def test_connection(self) -> tuple[bool, str]:
        """(ok, message) for the UI's Test button: one authenticated call to the API."""
        try:
            client = self.client(get_connection(self.conn_id), max_retries=TEST_RETRIES)
            self.probe(client)
        except Exception as error:  # the Test button shows the message: never the raw client text
            message = describe_failure(self.title, error)
            return False, message if message.startswith(self.title) else f"{self.title} test failed: {message}"
        return True, f"{self.title} answered the test call at {client.base_url}."

    @overload
    def token(self, conn: Any, *, required: Literal[True] = True) -> str: ...
    @overload
    def token(self, conn: Any, *, required: bool) -> str | None: ...
    def token(self, conn: Any, *, required: bool = True) -> str | None:
        """The API token from the password field, without surrounding whitespace, masked in logs."""
        token = (conn.password or "").strip()
        if not token and required:
            raise ConnectionConfigError(f"Airflow connection {self.conn_id!r} has no API token in its password field")
        if any(character.isspace() for character in token):
            raise ConnectionConfigError(
                f"Airflow connection {self.conn_id!r} has a token with a line break or space inside it: paste the "
                "token again"
            )
        if token:
            _mask(token)
        return token or None

    def url(self, conn: Any) -> str:
        """The API base URL: the host (with schema and port) or the public API's URL."""
        url = base_url(conn, default=self.api_url or "")
        if not url:
            raise ConnectionConfigError(f"Airflow connection {self.conn_id!r} has no host ({self.host_hint})")
        parts = urlsplit(url)
        if parts.username or parts.password or redact(url) != url:  # user:pass@, or ?token= / ?api_key= ...
            raise ConnectionConfigError(
                f"Airflow connection {self.conn_id!r} has credentials in its host: put them in the login and "
                "password fields instead"
            )
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConnectionConfigError(
                f"Airflow connection {self.conn_id!r} has a host that is not an http(s) URL ({self.host_hint})"
            )
        return url


def _mask(secret: str) -> None:
    """Register a secret with Airflow's masker, so task logs show *** instead."""
    from airflow.sdk.log import mask_secret

    mask_secret(secret)
