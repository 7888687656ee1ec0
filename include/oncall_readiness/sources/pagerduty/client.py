"""PagerDuty's REST API v2 client: token auth, classic pagination read one page ahead, retries."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlencode

from requests import Response

from oncall_readiness.errors import SourceError
from oncall_readiness.sources.http import ApiClient, raise_for_error, retrying_session, settle_environment
from oncall_readiness.sources.pagerduty.pages import ahead, decode, page_head

SOURCE = "pagerduty"
API_URL = "https://api.pagerduty.com"
ACCEPT = "application/vnd.pagerduty+json;version=2"
PAGE_LIMIT = 100
# PagerDuty refuses offset + limit beyond this with classic pagination.
MAX_OFFSET_WINDOW = 10_000
USER_INCLUDES = ["teams", "contact_methods", "notification_rules"]
SCHEDULE_TARGETS = ("schedule_reference", "schedule")
USER_TARGETS = ("user_reference", "user")
QUERY_POSTS = frozenset({"POST"})


class BeyondOffsetCap(SourceError):
    """A classic-paginated query holds more objects than offset + limit can reach (``total``: how many, if said)."""

    def __init__(self, message: str, *, total: int | None = None):
        super().__init__(message)
        self.total = total


class RefusedRequest(SourceError):
    """PagerDuty answered a request with an error status (``status``): 402 and 403 say the plan or the key lacks it."""

    def __init__(self, message: str, *, status: int):
        super().__init__(message)
        self.status = status


def _raise_for_error(response: Response) -> None:
    """``raise_for_error``, keeping the status: a caller may tell a feature the account lacks from a failure."""
    try:
        raise_for_error(response, SOURCE)
    except SourceError as error:
        raise RefusedRequest(str(error), status=response.status_code) from None


class PagerDutyClient(ApiClient):
    """A read-only PagerDuty REST API v2 client: token auth, classic pagination, retries."""

    def __init__(
        self,
        token: str,
        *,
        base_url: str = API_URL,
        max_retries: int = 6,
        backoff_factor: float = 0.5,
    ) -> None:
        if not token:
            raise SourceError(f"{SOURCE}: no API token given")
        super().__init__(base_url, max_retries=max_retries, backoff_factor=backoff_factor)
        self.session.headers.update({"Authorization": f"Token token={token}", "Accept": ACCEPT})
        # The analytics API reads through POSTs: safe to retry, unlike a POST that changes something.
        self.queries = retrying_session(max_retries=max_retries, backoff_factor=backoff_factor, methods=QUERY_POSTS)
        self.queries.headers.update(self.session.headers)
        settle_environment(self.queries, self.base_url)  # the client's own session settled it in ApiClient
        # path -> [objects PagerDuty says there are, objects received]: a truncated read shows here
        self.collections: dict[str, list[int]] = {}

    def query(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """One ``POST`` of a query API (analytics): it reads, so it is retried like a GET.

        Counted under the client's lock: the responders' weeks are asked from a thread of their own.
        """
        response = self.queries.post(f"{self.base_url}{path}", json=dict(body), timeout=30)
        self.count_retries(response)
        self.count_request()
        _raise_for_error(response)
        answer: dict[str, Any] = decode(response.content)
        return answer

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        response = self._send(path, params)
        self.count_request()
        _raise_for_error(response)
        answer: dict[str, Any] = response.json()
        return answer

    def find(self, path: str, params: Mapping[str, Any] | None = None) -> dict[str, Any] | None:
        """``get`` for an object that may not exist (an id the registry names): None on 404."""
        response = self._send(path, params)
        self.count_request()
        if response.status_code == 404:
            return None
        _raise_for_error(response)
        found: dict[str, Any] = response.json()
        return found

    def iter_all(self, path: str, key: str, params: Mapping[str, Any] | None = None) -> Iterator[dict[str, Any]]:
        """Every object of a classic-paginated collection, following ``more`` page by page.

        Raises ``BeyondOffsetCap`` before yielding anything when PagerDuty's own ``total`` says
        the collection cannot be read whole: the caller narrows the query. The pages are read
        one ahead of the caller (:mod:`.pages`): still one request at a time.
        """
        for body in ahead(self._pages(path, key, params)):
            yield from decode(body)[key]

    def iter_cursor(self, path: str, key: str, params: Mapping[str, Any] | None = None) -> Iterator[dict[str, Any]]:
        """Every object of a cursor-paginated collection (``limit``, ``cursor``, ``next_cursor``), in order.

        Cursor pagination has no ``total`` and no offset cap: the walk ends when ``next_cursor`` is
        null (or ``more`` is false), and an answer without the ``key`` list is an error, never an
        empty collection.
        """
        cursor: str | None = None
        while True:
            paging: dict[str, Any] = {"limit": PAGE_LIMIT} | ({"cursor": cursor} if cursor else {})
            page = self.get(path, {**(params or {}), **paging})
            objects = page.get(key)
            if not isinstance(objects, list):
                raise SourceError(f"{SOURCE}: GET {path} answered without a {key!r} list")
            yield from objects
            cursor = page.get("next_cursor")
            if not cursor or page.get("more") is False:
                return

    def _pages(self, path: str, key: str, params: Mapping[str, Any] | None) -> Iterator[bytes]:
        """The bodies of the collection's pages in order; what the next request needs comes from each one's head."""
        offset = 0
        counts = self.collections.setdefault(path, [0, 0])
        # The query's own parameters (a slice's 100 ids) encoded once, as requests would, for all its pages.
        query = urlencode(params or {}, doseq=True)
        while True:
            paging = urlencode({"limit": PAGE_LIMIT, "offset": offset, "total": "true"})
            body = self._page(path, f"{query}&{paging}" if query else paging)
            head = page_head(body, key)
            if head.count is None:
                raise SourceError(f"{SOURCE}: GET {path} answered without a {key!r} list")
            if offset == 0:
                if head.total > MAX_OFFSET_WINDOW:
                    raise BeyondOffsetCap(
                        f"{SOURCE}: GET {path} has {head.total} objects, beyond the {MAX_OFFSET_WINDOW} that classic "
                        "pagination can reach; narrow the query",
                        total=head.total,
                    )
                counts[0] += head.total
            counts[1] += head.count
            yield body
            if not head.more:
                return
            offset += head.count
            if not head.count or offset + PAGE_LIMIT > MAX_OFFSET_WINDOW:
                raise BeyondOffsetCap(
                    f"{SOURCE}: GET {path} has more than {offset} objects, beyond the "
                    f"{MAX_OFFSET_WINDOW} that classic pagination can reach; narrow the query"
                )

    def _page(self, path: str, params: str) -> bytes:
        """One page's body, undecoded (from the page-reading thread: counted under the client's lock)."""
        response = self._send(path, params)
        self.count_request()
        _raise_for_error(response)
        return response.content
