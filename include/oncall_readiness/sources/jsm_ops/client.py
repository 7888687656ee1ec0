"""The Jira Service Management Operations REST API client: Basic auth, the cloud id, paging, retries.

Atlassian documents the API at developer.atlassian.com/cloud/jira/service-desk-ops (the excerpt
of its OpenAPI the contract tests read: ``tests/reference/jsm_ops/``):

- every call goes to ``https://api.atlassian.com/jsm/ops/api/{cloudId}/v1/...`` with HTTP Basic
  auth, an Atlassian account's email and API token (service accounts cannot call it);
- the cloud id is the site's: ``GET https://<site>/_edge/tenant_info`` answers ``{"cloudId": ...}``
  (read once, unless the connection's extra names it);
- collections page by ``offset``/``size`` (``size`` at most 50 for schedules and rotations, 100
  elsewhere) and say the next page in ``links.next``, absent or null on the last page, relative
  (``/v1/schedules?offset=50&size=25``) or absolute; alert logs page by an ``after`` cursor, in
  ``links.next`` too. A server that repeats a page or never ends is stopped (``MAX_PAGES``);
- errors answer ``{"errors": [{"title": ..., "code": ...}]}`` (401: ``{"code", "message"}``); 429
  "when the number of requests has exceeded the rate limit", retried after ``Retry-After``
  (``sources/http.py``).

The people's emails (the join key with the registry) are not in the operations API: they come
from the site's Jira platform API, ``GET https://<site>/rest/api/3/user/bulk?accountId=..``
(at most 200 ids a call, paged by ``startAt``/``maxResults``); a person whose profile hides
their email has none.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests

from oncall_readiness.errors import SourceError
from oncall_readiness.sources.http import ApiClient, raise_for_error, request_timeout_seconds

SOURCE = "jsm_ops"
API_URL = "https://api.atlassian.com/jsm/ops/api"
TENANT_INFO_PATH = "/_edge/tenant_info"
USERS_PATH = "/rest/api/3/user/bulk"
# The largest page each collection allows (the OpenAPI's maximum for ``size``).
SCHEDULE_PAGE = 50
PAGE_SIZE = 100
# "More than 20000 alerts cannot be retrieved. Sum of offset and size should be lower than 20K."
ALERT_WINDOW = 20_000
USERS_PER_CALL = 200
# Following links.next stops here whatever the server says: a server that never ends must not loop forever.
MAX_PAGES = 1_000


# Query parameters: a mapping, or pairs where a name repeats (``accountId=a&accountId=b``).
Params = Mapping[str, Any] | Sequence[tuple[str, Any]] | None


class RefusedRequest(SourceError):
    """JSM answered with an error status (``status``): 403 says the account may not read it."""

    def __init__(self, message: str, *, status: int):
        super().__init__(message)
        self.status = status


class JsmOpsClient(ApiClient):
    """A read-only JSM Operations client: one site, its cloud id, Basic auth with an account's API token."""

    def __init__(
        self,
        email: str,
        token: str,
        *,
        site_url: str,
        api_url: str = API_URL,
        cloud_id: str | None = None,
        max_retries: int = 6,
        backoff_factor: float = 0.5,
    ) -> None:
        if not email or not token:
            raise SourceError(f"{SOURCE}: an account email and an API token are both needed")
        if not site_url:
            raise SourceError(f"{SOURCE}: no site URL given (e.g. https://your-site.atlassian.net)")
        super().__init__(site_url, max_retries=max_retries, backoff_factor=backoff_factor)
        # A path (``/jsm/ops/api``) is below the site: a proxy, or the sandbox, that serves both.
        self.api_url = (self.base_url + api_url if api_url.startswith("/") else api_url).rstrip("/")
        self.email = email.strip()
        self.session.auth = (self.email, token)
        self.session.headers.update({"Accept": "application/json", "User-Agent": "oncall-readiness"})
        self._cloud_id = (cloud_id or "").strip() or None

    # --- requests ---------------------------------------------------------------------------

    def fetch(self, url: str, params: Params = None, *, absent: Sequence[int] = ()) -> requests.Response:
        """One ``GET`` of an absolute URL; an error status other than ``absent`` raises ``RefusedRequest``."""
        with self._borrowed_session() as session:
            self.gate.wait()
            response = session.get(url, params=params, timeout=request_timeout_seconds())
        self.count_retries(response)
        self.count_request()
        if response.status_code not in absent:
            try:
                raise_for_error(response, SOURCE)
            except SourceError as error:
                raise RefusedRequest(str(error), status=response.status_code) from None
        return response

    def site(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """The JSON of ``GET <site><path>`` (the tenant info, the Jira platform's users)."""
        return _json(self.fetch(f"{self.base_url}{path}", params))

    @property
    def cloud_id(self) -> str:
        """The site's cloud id: from the connection, else ``GET /_edge/tenant_info`` (once)."""
        if self._cloud_id is None:
            body = self.site(TENANT_INFO_PATH)
            cloud_id = body.get("cloudId") if isinstance(body, dict) else None
            if not isinstance(cloud_id, str) or not cloud_id.strip():
                raise SourceError(f"{SOURCE}: {self.base_url}{TENANT_INFO_PATH} did not answer a cloudId")
            self._cloud_id = cloud_id.strip()
        return self._cloud_id

    @property
    def ops_base(self) -> str:
        """``<api_url>/<cloudId>``: below it, ``/v1/...``."""
        return f"{self.api_url}/{self.cloud_id}"

    def get(self, path: str, params: Mapping[str, Any] | None = None, *, absent: Sequence[int] = ()) -> Any:
        """The JSON of one operations call, ``path`` from ``/v1/...``."""
        return _json(self.fetch(f"{self.ops_base}{path}", params, absent=absent))

    def pages(self, path: str, params: Mapping[str, Any] | None = None) -> Iterator[dict[str, Any]]:
        """Every page of a collection, following ``links.next`` until it is absent or null."""
        url: str | None = f"{self.ops_base}{path}"
        query: Params = params
        seen: set[str] = set()
        for _ in range(MAX_PAGES):
            assert url is not None
            body = _json(self.fetch(url, query))
            if not isinstance(body, dict) or not isinstance(body.get("values", []), list):
                raise SourceError(f"{SOURCE}: {urlsplit(url).path} answered a page without a values list")
            yield body
            following = (body.get("links") or {}).get("next") if isinstance(body.get("links"), dict) else None
            if not following:
                return
            url, query = self._next_url(str(following)), None
            if url in seen:
                raise SourceError(f"{SOURCE}: {path} links.next repeats a page ({following})")
            seen.add(url)
        raise SourceError(f"{SOURCE}: {path} still had more pages after {MAX_PAGES}")

    def values(self, path: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """Every object of a collection (all its pages' ``values``)."""
        return [value for page in self.pages(path, params) for value in page.get("values") or []]

    def _next_url(self, following: str) -> str:
        """``links.next`` as an absolute URL: relative links (``/v1/...``) are below ``<api_url>/<cloudId>``."""
        if "://" in following:
            return following
        if following.startswith("/v1/"):
            return f"{self.ops_base}{following}"
        marker = f"/{self.cloud_id}/v1/"
        if marker in following:  # "/api/{cloudId}/v1/..." or "/jsm/ops/api/{cloudId}/v1/..."
            return f"{self.ops_base}/v1/{following.split(marker, 1)[1]}"
        return urljoin(self.ops_base + "/", following.lstrip("/"))

    # --- what the collector reads -----------------------------------------------------------

    def users(self, account_ids: Sequence[str]) -> list[dict[str, Any]]:
        """The Jira platform's accounts among ``account_ids`` (``accountId``, ``displayName``,
        ``emailAddress`` when the profile shows it, ``timeZone``)."""
        accounts: list[dict[str, Any]] = []
        ids = sorted(set(account_ids))
        for first in range(0, len(ids), USERS_PER_CALL):
            batch = ids[first : first + USERS_PER_CALL]
            start = 0
            while True:
                params: list[tuple[str, Any]] = [("accountId", account) for account in batch]
                params += [("startAt", start), ("maxResults", USERS_PER_CALL)]
                body = _json(self.fetch(f"{self.base_url}{USERS_PATH}", params))
                values = body.get("values") if isinstance(body, dict) else None
                if not isinstance(values, list):
                    raise SourceError(f"{SOURCE}: {USERS_PATH} answered without a values list")
                accounts += [value for value in values if isinstance(value, dict)]
                start += len(values)
                if body.get("isLast", True) or not values:
                    break
        return accounts


def _json(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        raise SourceError(
            f"{SOURCE}: {urlsplit(response.url).path} answered {response.status_code} without JSON"
        ) from None
