"""HTTP plumbing shared by the sources: one session per source with retries that honour rate limits.

Retries are urllib3's: 429 and 5xx on idempotent requests, exponential backoff, and the
server's ``Retry-After``. PagerDuty and GitHub announce the wait in ``ratelimit-reset`` /
``x-ratelimit-reset`` as well, so a 429 without ``Retry-After`` still waits as long as asked.
"""

from __future__ import annotations

import time

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from oncall_readiness.connections import ConnectionConfigError

RETRY_STATUSES = (429, 500, 502, 503, 504)
# Never sleep longer than this for one retry, whatever a server asks: a task must not hang.
MAX_RETRY_WAIT_SECONDS = 120.0


class SourceError(RuntimeError):
    """A source answered with an error that retrying cannot fix (bad token, bad request, gone)."""


class RateLimitAwareRetry(Retry):
    """urllib3 ``Retry`` that also understands the ``ratelimit-reset`` family of headers."""

    RESET_HEADERS = ("ratelimit-reset", "x-ratelimit-reset")

    def get_retry_after(self, response) -> float | None:  # type: ignore[override]
        retry_after = super().get_retry_after(response)
        if retry_after is not None or response.status != 429:
            return _capped(retry_after)
        for header in self.RESET_HEADERS:
            value = response.headers.get(header)
            if value and value.strip().isdigit():
                seconds = int(value)
                # x-ratelimit-reset is an epoch timestamp on GitHub, a delay on PagerDuty.
                if seconds > 10**9:
                    seconds = max(0, seconds - int(time.time()))
                return _capped(float(seconds))
        return None


def _capped(seconds: float | None) -> float | None:
    return None if seconds is None else min(seconds, MAX_RETRY_WAIT_SECONDS)


def retrying_session(
    *, max_retries: int = 6, backoff_factor: float = 0.5, methods: frozenset[str] = frozenset({"GET", "HEAD"})
) -> requests.Session:
    """A ``requests.Session`` that retries 429 and 5xx ``methods`` with backoff and ``Retry-After``.

    Only requests that change nothing may be retried blindly: GETs, and the POSTs of query
    APIs (PagerDuty's analytics) through a session of their own.
    """
    retry = RateLimitAwareRetry(
        total=max_retries,
        connect=max_retries,
        read=max_retries,
        status=max_retries,
        backoff_factor=backoff_factor,
        status_forcelist=RETRY_STATUSES,
        allowed_methods=methods,
        respect_retry_after_header=True,
        raise_on_status=False,
    )
    session = requests.Session()
    adapter = HTTPAdapter(max_retries=retry)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def raise_for_error(response: requests.Response, source: str) -> None:
    """Raise ``SourceError`` naming the source, the path and the API's own message; never the token."""
    if response.ok:
        return
    try:
        body = response.json()
    except ValueError:
        body = None
    message = _error_message(body) or response.reason or "no message"
    path = requests.utils.urlparse(response.url).path
    method = response.request.method if response.request is not None else "GET"
    raise SourceError(f"{source}: {method} {path} answered {response.status_code}: {message}")


def _error_message(body: object) -> str | None:
    if not isinstance(body, dict):
        return None
    error = body.get("error", body)
    if isinstance(error, dict):
        message = error.get("message")
        details = error.get("errors")
        if message and details:
            return f"{message} ({'; '.join(map(str, details))})"
        return message
    return str(error)


class ApiClient:
    """What every source's client shares: a retrying session below a base URL, and counts.

    ``requests_made`` counts API calls (once each, however often retried); ``retries`` the
    requests repeated after a 429, a 5xx or a connection error.
    """

    def __init__(self, base_url: str, *, max_retries: int = 6, backoff_factor: float = 0.5) -> None:
        self.base_url = base_url.rstrip("/")
        self.max_retries = max_retries
        self.session = retrying_session(max_retries=max_retries, backoff_factor=backoff_factor)
        self.requests_made = 0
        self.retries = 0

    def _send(self, path: str, params=None, **kwargs) -> requests.Response:
        """``GET`` a path below the base URL, adding the retries urllib3 made to ``retries``."""
        kwargs.setdefault("timeout", 30)
        response = self.session.get(f"{self.base_url}{path}", params=params, **kwargs)
        retry_state = getattr(response.raw, "retries", None)
        self.retries += len(retry_state.history) if retry_state else 0
        return response


def describe_failure(source_title: str, error: BaseException) -> str:
    """What went wrong, in words safe to store and show: never a client's raw exception text.

    Our own errors (``SourceError``, ``ConnectionConfigError``) are built without secrets; any
    other exception (a header with a stray newline, a URL with a password in it) is named by
    its kind only. The full error belongs in the task log, where Airflow masks secrets.
    """
    if isinstance(error, SourceError | ConnectionConfigError):
        return str(error)
    if isinstance(error, requests.Timeout):
        why = "timed out"
    elif isinstance(error, requests.exceptions.RetryError):
        why = "kept answering with errors after every retry"
    elif isinstance(error, requests.ConnectionError):
        why = "could not be reached (connection failed)"
    elif isinstance(error, requests.exceptions.InvalidHeader):
        why = "could not be called: the connection's token is not a valid header value"
    elif isinstance(error, requests.exceptions.InvalidURL | requests.exceptions.InvalidSchema | ValueError):
        why = "could not be called: the connection's host or token is malformed"
    else:
        why = f"could not be read ({type(error).__name__})"
    return f"{source_title} {why}."
