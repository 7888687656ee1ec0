"""HTTP plumbing shared by the sources: one session per source with retries that honour rate limits.

Retries are urllib3's: 429 and 5xx on idempotent requests, exponential backoff, and the
server's ``Retry-After``. PagerDuty and GitHub announce the wait in ``ratelimit-reset`` /
``x-ratelimit-reset`` as well, so a 429 without ``Retry-After`` still waits as long as asked.

A client may be called from several threads at once (``sources/pool.py``): a
``requests.Session`` is not safe to share between threads (its cookie jar and adapters are
mutated per request), so each worker thread borrows a session of its own, a copy of the
client's headers and auth. A 429 is the whole client's business, not one worker's: every
session of a client shares one :class:`RateLimitGate`, which the first 429 closes for the
server's ``Retry-After``; no worker sends a request until it reopens. So a pool of eight
meeting a rate limit costs at most the requests already in flight, not eight workers each
retrying on their own.

How long a client insists on a source that is down is bounded and set by the environment
(read when a client is built; docs/reliability.md states the worst case):
``READINESS_HTTP_MAX_RETRIES`` (default 3) retries per request, ``READINESS_HTTP_MAX_WAIT_SECONDS``
(default 20) the longest wait before one retry, whatever ``Retry-After`` asks, and
``READINESS_HTTP_TIMEOUT_SECONDS`` (default 30) the longest a request waits for the server.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Self
from urllib.parse import urlparse

import requests
from requests.adapters import HTTPAdapter
from urllib3.response import BaseHTTPResponse
from urllib3.util.retry import Retry

from oncall_readiness import config
from oncall_readiness.errors import ConnectionConfigError, SourceError
from oncall_readiness.masking import redact

RETRY_STATUSES = (429, 500, 502, 503, 504)


def http_max_retries() -> int:
    """Retries per request (``READINESS_HTTP_MAX_RETRIES``, default 3): every client's, over its own default."""
    return config.HTTP_MAX_RETRIES.require()


def max_retry_wait_seconds() -> float:
    """The longest wait before one retry (``READINESS_HTTP_MAX_WAIT_SECONDS``, default 20)."""
    return config.HTTP_MAX_WAIT_SECONDS.require()


def request_timeout_seconds() -> float:
    """The longest a request waits to connect or for the next bytes (``READINESS_HTTP_TIMEOUT_SECONDS``, default 30)."""
    return config.HTTP_TIMEOUT_SECONDS.require()


class RateLimitGate:
    """When a client may send again: closed by a 429 for the wait it asks, shared by the client's workers.

    ``hold(seconds)`` closes it until at least ``seconds`` from now (a later hold only
    extends it); ``wait()`` returns once it is open. Thread-safe.
    """

    def __init__(self, *, clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep):
        self._clock, self._sleep = clock, sleep
        self._open_at = 0.0
        self._lock = threading.Lock()
        self.holds = 0  # how many 429s closed (or extended) it: for logs and tests

    def hold(self, seconds: float) -> None:
        with self._lock:
            self._open_at = max(self._open_at, self._clock() + max(0.0, seconds))
            self.holds += 1

    def wait(self) -> None:
        while True:
            with self._lock:
                remaining = self._open_at - self._clock()
            if remaining <= 0:
                return
            self._sleep(remaining)


class RateLimitAwareRetry(Retry):
    """urllib3 ``Retry`` that also understands the ``ratelimit-reset`` family of headers.

    With a ``gate``, a 429 closes the gate for the wait instead of putting only this request
    to sleep, so the client's other workers stop sending too.
    """

    RESET_HEADERS = ("ratelimit-reset", "x-ratelimit-reset")

    def __init__(self, *args: Any, gate: RateLimitGate | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.gate = gate

    def new(self, **kw: Any) -> Self:
        retry = super().new(**kw)
        retry.gate = self.gate  # urllib3 rebuilds the Retry after each attempt: keep the shared gate
        return retry

    def sleep_for_retry(self, response: BaseHTTPResponse) -> bool:
        if self.gate is None or response.status != 429:
            return super().sleep_for_retry(response)
        wait = self.get_retry_after(response)
        self.gate.hold(self.get_backoff_time() if wait is None else wait)
        self.gate.wait()
        return True

    def get_retry_after(self, response: BaseHTTPResponse) -> float | None:
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
    return None if seconds is None else min(seconds, max_retry_wait_seconds())


# What requests takes as a timeout: one for both, or (connect, read), either None for no limit.
Timeout = float | tuple[float, float] | tuple[float, None] | None


class BoundedAdapter(HTTPAdapter):
    """An adapter whose requests never wait longer than ``READINESS_HTTP_TIMEOUT_SECONDS`` for the server.

    A caller's own (connect, read) timeout is kept where shorter; none at all becomes the bound.
    """

    def __init__(self, *args: Any, timeout: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.timeout = timeout

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Timeout = None,
        verify: bool | str = True,
        cert: bytes | str | tuple[bytes | str, bytes | str] | None = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        bounded = _bounded_timeout(timeout, self.timeout)
        return super().send(request, stream=stream, timeout=bounded, verify=verify, cert=cert, proxies=proxies)


def _bounded_timeout(given: Timeout, bound: float) -> float | tuple[float, float]:
    if given is None:
        return bound
    if isinstance(given, tuple):
        connect, read = given
        return (bound if connect is None else min(connect, bound), bound if read is None else min(read, bound))
    return min(given, bound)


def retrying_session(
    *,
    max_retries: int | None = None,
    backoff_factor: float = 0.5,
    methods: frozenset[str] = frozenset({"GET", "HEAD"}),
    gate: RateLimitGate | None = None,
) -> requests.Session:
    """A ``requests.Session`` that retries 429 and 5xx ``methods`` with backoff and ``Retry-After``.

    Only requests that change nothing may be retried blindly: GETs, and the POSTs of query
    APIs (PagerDuty's analytics) through a session of their own. Sessions given the same
    ``gate`` pause together on a 429. ``max_retries`` defaults to ``READINESS_HTTP_MAX_RETRIES``.
    """
    max_retries = http_max_retries() if max_retries is None else max_retries
    retry = RateLimitAwareRetry(
        total=max_retries,
        connect=max_retries,
        read=max_retries,
        status=max_retries,
        backoff_factor=backoff_factor,
        backoff_max=max_retry_wait_seconds(),
        status_forcelist=RETRY_STATUSES,
        allowed_methods=methods,
        respect_retry_after_header=True,
        raise_on_status=False,
        gate=gate,
    )
    session = requests.Session()
    adapter = BoundedAdapter(max_retries=retry, timeout=request_timeout_seconds())
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def settle_environment(session: requests.Session, url: str) -> None:
    """Read the environment's proxies, CA bundle and ``.netrc`` login for ``url``'s host once, not per request.

    With ``trust_env`` (the default) requests looks them up again for every request: a scan of
    ``os.environ`` for proxies and two ``stat`` calls for ``.netrc``, a sizeable share of the
    client's own time per request of a 700-request PagerDuty collection, and each ``stat`` lets
    another thread take the interpreter (``sources.pagerduty.pages``). Every ``ApiClient`` settles its
    session for the one host it calls, and they apply as before: ``no_proxy`` is honoured for that
    host, and a ``.netrc`` login still wins over a token header, as requests would have it.
    """
    settings = session.merge_environment_settings(url, {}, None, None, None)
    session.proxies.update(settings["proxies"])
    session.verify = settings["verify"]
    login = requests.utils.get_netrc_auth(url) if session.auth is None else None
    if login:
        session.auth = login
    session.trust_env = False


def raise_for_error(response: requests.Response, source: str) -> None:
    """Raise ``SourceError`` naming the source, the path and the API's own message; never the token."""
    if response.ok:
        return
    try:
        body = response.json()
    except ValueError:
        body = None
    message = _error_message(body) or response.reason or "no message"
    path = urlparse(response.url).path
    method = response.request.method if response.request is not None else "GET"
    raise SourceError(f"{source}: {method} {path} answered {response.status_code}: {message}")


def _error_message(body: object) -> str | None:
    if not isinstance(body, dict):
        return None
    if isinstance(body.get("errorMessages"), list) and body["errorMessages"]:  # Jira: {"errorMessages": [...]}
        return "; ".join(map(str, body["errorMessages"]))
    error = body.get("error", body)
    if isinstance(error, dict):
        message = error.get("message")
        details = error.get("errors")
        if message and details:
            return f"{message} ({'; '.join(map(str, details))})"
        if not message and isinstance(details, list):  # Confluence v2: {"errors": [{"title": ..., "detail": ...}]}
            titles = [str(d.get("title") or d.get("detail") or "") for d in details if isinstance(d, dict)]
            return "; ".join(title for title in titles if title) or None
        return message
    return str(error)


class ApiClient:
    """What every source's client shares: a retrying session below a base URL, and counts.

    ``requests_made`` counts API calls (once each, however often retried); ``retries`` the
    requests repeated after a 429, a 5xx or a connection error. ``concurrency`` is how many
    calls the client may have in flight at once (``sources/pool.py``); ``_send`` and
    ``count_request`` are safe to call from that many threads. A hook's ``get_conn`` passes
    ``max_retries`` from ``READINESS_HTTP_MAX_RETRIES`` (``hooks/base.py``).
    """

    def __init__(
        self, base_url: str, *, max_retries: int = 6, backoff_factor: float = 0.5, concurrency: int = 1
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.max_retries = max_retries
        self.backoff_factor = backoff_factor
        self.concurrency = concurrency
        self.gate = RateLimitGate()
        self.session = retrying_session(max_retries=max_retries, backoff_factor=backoff_factor, gate=self.gate)
        settle_environment(self.session, self.base_url)
        self.requests_made = 0
        self.retries = 0
        self._owner = threading.get_ident()
        self._idle_sessions: list[requests.Session] = []
        self._lock = threading.Lock()

    def count_request(self) -> None:
        """Count one API call (thread-safe: workers of a pool count into the same client)."""
        with self._lock:
            self.requests_made += 1

    @contextmanager
    def _borrowed_session(self) -> Iterator[requests.Session]:
        """The client's own session in the thread that made it; a worker's own copy in any other thread."""
        if threading.get_ident() == self._owner:
            yield self.session
            return
        with self._lock:
            session = self._idle_sessions.pop() if self._idle_sessions else None
        if session is None:
            session = retrying_session(max_retries=self.max_retries, backoff_factor=self.backoff_factor, gate=self.gate)
            session.headers = requests.structures.CaseInsensitiveDict(self.session.headers)
            session.auth = self.session.auth
            # The environment as the client's own session settled it (``settle_environment``).
            session.proxies, session.verify = dict(self.session.proxies), self.session.verify
            session.trust_env = self.session.trust_env
        try:
            yield session
        finally:
            with self._lock:
                self._idle_sessions.append(session)

    def _send(self, path: str, params: Mapping[str, Any] | str | None = None, **kwargs: Any) -> requests.Response:
        """``GET`` a path below the base URL, adding the retries urllib3 made to ``retries``.

        Waits first while a 429 of any of the client's workers holds the gate.
        """
        kwargs.setdefault("timeout", request_timeout_seconds())
        with self._borrowed_session() as session:
            self.gate.wait()
            response = session.get(f"{self.base_url}{path}", params=params, **kwargs)
        self.count_retries(response)
        return response

    def count_retries(self, response: requests.Response) -> None:
        """Add the retries urllib3 made for ``response`` to ``retries`` (thread-safe, like ``count_request``)."""
        retry_state = getattr(response.raw, "retries", None)
        if retry_state and retry_state.history:
            with self._lock:
                self.retries += len(retry_state.history)


def describe_failure(source_title: str, error: BaseException) -> str:
    """What went wrong, in words safe to store and show: never a client's raw exception text.

    Our own errors (``SourceError``, ``ConnectionConfigError``) are built without secrets; any
    other exception (a header with a stray newline, a URL with a password in it) is named by
    its kind only. The full error belongs in the task log, where Airflow masks secrets.
    """
    if isinstance(error, SourceError | ConnectionConfigError):
        return redact(str(error))
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
