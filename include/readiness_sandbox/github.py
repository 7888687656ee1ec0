"""A local emulator of the GitHub REST API (read-only): the commits and contents of runbook repositories.

``create_app(state, tokens=...)`` answers, like ``api.github.com`` (REST API version
2022-11-28, docs.github.com/rest):

- ``GET /repos/{owner}/{repo}/commits?sha=&path=&since=&until=&per_page=&page=``: newest
  first, ``per_page`` at most 100 (default 30), pagination in the ``Link`` header
  (``rel="next"``, ``"last"``, and ``"first"``/``"prev"`` past page 1), ``[]`` when the
  path has no history, 404 ``{"message": "Not Found"}`` for an unknown repository,
  404 ``No commit found for SHA`` for an unknown ref, 409 for an empty repository;
  ``since``/``until`` filter on the committer date (both inclusive);
- ``GET /repos/{owner}/{repo}/contents/{path}?ref=``: a file as ``{"type": "file",
  "encoding": "base64", "content", "sha", ...}`` (files over 1 MB come with ``encoding:
  "none"`` and empty content, as on GitHub; ``Accept: application/vnd.github.raw+json``
  gives the raw text), a folder as a list of entries, 404 for a missing path;
- ``GET /rate_limit``: the token's quota (not counted against it, as on GitHub).

Authentication is ``Authorization: Bearer <token>`` or ``token <token>``: a missing header
answers 401 ``Requires authentication`` (every sandbox repository is private; GitHub
itself would answer 404 for a private repository), a wrong token 401 ``Bad credentials``.
``X-GitHub-Api-Version`` other than 2022-11-28 answers 400. Every answer carries
``x-ratelimit-limit``, ``-remaining``, ``-used``, ``-reset`` (epoch seconds) and
``-resource``; over the limit the answer is 403 (or 429) ``API rate limit exceeded``
with ``x-ratelimit-remaining: 0``, plus ``retry-after`` when configured.

State (YAML, see ``include/sample_org/github.yaml``)::

    emulator:                  # optional behaviour (tests set it)
      rate_limit: 5000/3600    # requests per window for each token (GitHub: 5,000 an hour)
      rate_limit_status: 403   # 403 (GitHub's usual) or 429
      retry_after: false       # send retry-after with the rate-limit answer
      fail_next: 0             # answer the first N authenticated requests with 503
    repositories:
      - name: example-org/payments-runbooks
        default_branch: main   # optional, default main
        commits:               # oldest first, a linear history of the default branch
          - date: "2026-11-12T10:15:00Z"   # committer date (authored: optional author date)
            author: {name: Amara Okafor, email: amara.okafor@example.com, login: amara-okafor}
            message: "payments-api: card network outage scenario"
            files: {payments-api.md: "# Payments API runbook ...", old.md: null}  # null deletes

Commit shas are derived from the repository, position, date and message (stable).
"""

from __future__ import annotations

import base64
import hashlib
import math
import re
import threading
import time as _time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from readiness_sandbox.times import utc_moment

from .rate_limit import RateLimit

API_VERSION = "2022-11-28"
DEFAULT_RATE_LIMIT = RateLimit(5000, 3600)
DEFAULT_PER_PAGE = 30
MAX_PER_PAGE = 100
MAX_CONTENT_BYTES = 1024 * 1024  # larger files come without content (encoding "none")
DOCS = "https://docs.github.com/rest"
DOCS_COMMITS = f"{DOCS}/commits/commits#list-commits"
DOCS_CONTENTS = f"{DOCS}/repos/contents#get-repository-content"
DOCS_RATE_LIMITS = f"{DOCS}/using-the-rest-api/rate-limits-for-the-rest-api"
HTML_BASE = "https://github.com"
RAW_MEDIA_TYPES = ("application/vnd.github.raw+json", "application/vnd.github.raw", "application/vnd.github.v3.raw")


class GitHubStateError(ValueError):
    """The state file is malformed; the message says where."""


class ApiError(Exception):
    """An error answered with GitHub's body ``{"message", "documentation_url", "status"}``."""

    def __init__(self, status: int, message: str, documentation_url: str = DOCS):
        super().__init__(message)
        self.status, self.message, self.documentation_url = status, message, documentation_url

    def response(self, headers: Mapping[str, str] | None = None) -> JSONResponse:
        body = {"message": self.message, "documentation_url": self.documentation_url, "status": str(self.status)}
        return JSONResponse(body, status_code=self.status, headers=dict(headers or {}))


# --- state -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    name: str
    email: str
    login: str | None


@dataclass(frozen=True)
class Commit:
    sha: str
    parent: str | None
    author: Person
    authored_at: datetime
    committed_at: datetime
    message: str
    changed: frozenset[str]  # paths added, modified or deleted
    tree: Mapping[str, str]  # every file (path -> text) after this commit


@dataclass(frozen=True)
class Repository:
    owner: str
    name: str
    default_branch: str
    commits: tuple[Commit, ...]  # oldest first

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    def resolve(self, ref: str | None) -> int | None:
        """Index of the commit a branch name or (abbreviated) sha points at; None if unknown."""
        if not self.commits:
            return None
        if ref is None or ref in (self.default_branch, f"refs/heads/{self.default_branch}", "HEAD"):
            return len(self.commits) - 1
        if re.fullmatch(r"[0-9a-f]{4,40}", ref):
            for index, commit in enumerate(self.commits):
                if commit.sha.startswith(ref):
                    return index
        return None


@dataclass(frozen=True)
class EmulatorSettings:
    rate_limit: RateLimit = DEFAULT_RATE_LIMIT
    rate_limit_status: int = 403
    retry_after: bool = False
    fail_next: int = 0


@dataclass(frozen=True)
class GitHubState:
    repositories: Mapping[str, Repository]  # lower-cased "owner/name" -> repository
    settings: EmulatorSettings = field(default_factory=EmulatorSettings)

    def repository(self, owner: str, name: str) -> Repository | None:
        return self.repositories.get(f"{owner}/{name}".lower())


def load_github_state(path: str | Path) -> GitHubState:
    """Read and validate a state file (see the module docstring)."""
    text = Path(path).read_text(encoding="utf-8")
    try:
        document = yaml.safe_load(text) or {}
    except yaml.YAMLError as error:
        raise GitHubStateError(f"{path}: not valid YAML: {error}") from None
    return parse_state(document, source=str(path))


def parse_state(document: Mapping[str, Any], *, source: str = "state") -> GitHubState:
    if not isinstance(document, Mapping):
        raise GitHubStateError(f"{source}: the state must be a mapping")
    repositories: dict[str, Repository] = {}
    for i, entry in enumerate(document.get("repositories") or []):
        where = f"{source}: repositories[{i}]"
        repository = _repository(entry, where)
        key = repository.full_name.lower()
        if key in repositories:
            raise GitHubStateError(f"{where}: repository {repository.full_name!r} is defined twice")
        repositories[key] = repository
    return GitHubState(repositories=repositories, settings=_settings(document.get("emulator") or {}, source))


def _settings(entry: Mapping[str, Any], source: str) -> EmulatorSettings:
    try:
        limit = entry.get("rate_limit")
        settings = EmulatorSettings(
            rate_limit=RateLimit.parse(str(limit)) if limit else DEFAULT_RATE_LIMIT,
            rate_limit_status=int(entry.get("rate_limit_status", 403)),
            retry_after=bool(entry.get("retry_after", False)),
            fail_next=int(entry.get("fail_next", 0)),
        )
    except (TypeError, ValueError) as error:
        raise GitHubStateError(f"{source}: emulator: {error}") from None
    if settings.rate_limit_status not in (403, 429):
        raise GitHubStateError(f"{source}: emulator.rate_limit_status must be 403 or 429")
    return settings


def _repository(entry: Any, where: str) -> Repository:
    if not isinstance(entry, Mapping) or not re.fullmatch(r"[\w.-]+/[\w.-]+", str(entry.get("name", ""))):
        raise GitHubStateError(f"{where}: needs a name like owner/repository")
    owner, name = str(entry["name"]).split("/")
    tree: dict[str, str] = {}
    commits: list[Commit] = []
    previous_date = None
    for j, raw in enumerate(entry.get("commits") or []):
        at = f"{where} ({entry['name']}) commits[{j}]"
        if not isinstance(raw, Mapping) or not isinstance(raw.get("files"), Mapping) or not raw["files"]:
            raise GitHubStateError(f"{at}: a commit needs files (path: text, or null to delete)")
        committed_at = utc_moment(raw.get("date"), f"{at}.date", GitHubStateError)
        authored_at = (
            utc_moment(raw.get("authored"), f"{at}.authored", GitHubStateError) if raw.get("authored") else committed_at
        )
        if previous_date and committed_at < previous_date:
            raise GitHubStateError(f"{at}: commits must be listed oldest first")
        previous_date = committed_at
        for path, text in raw["files"].items():
            if text is None:
                if path not in tree:
                    raise GitHubStateError(f"{at}: deletes {path!r}, which does not exist")
                del tree[path]
            else:
                tree[str(path).strip("/")] = str(text)
        author = raw.get("author") or {}
        message = str(raw.get("message") or "Update runbook")
        sha = hashlib.sha1(f"{owner}/{name}\n{j}\n{committed_at.isoformat()}\n{message}".encode()).hexdigest()
        commits.append(
            Commit(
                sha=sha,
                parent=commits[-1].sha if commits else None,
                author=Person(
                    name=str(author.get("name") or "Sandbox Bot"),
                    email=str(author.get("email") or "bot@example.com"),
                    login=author.get("login"),
                ),
                authored_at=authored_at,
                committed_at=committed_at,
                message=message,
                changed=frozenset(str(p).strip("/") for p in raw["files"]),
                tree=dict(tree),
            )
        )
    return Repository(
        owner=owner, name=name, default_branch=str(entry.get("default_branch") or "main"), commits=tuple(commits)
    )


# --- rate limiting ---------------------------------------------------------------------------


class _RateLimiter:
    """GitHub's primary rate limit: a fixed window per token that resets at a whole epoch second."""

    def __init__(self, limit: RateLimit, clock: Callable[[], float]):
        self.limit, self.clock = limit, clock
        self._windows: dict[str, tuple[int, int]] = {}  # token -> (reset epoch, used)
        self._lock = threading.Lock()

    def _window(self, token: str, now: float) -> tuple[int, int]:
        reset, used = self._windows.get(token, (0, 0))
        if now >= reset:
            reset, used = math.ceil(now + self.limit.per_seconds), 0
        return reset, used

    def hit(self, token: str) -> tuple[bool, dict[str, str]]:
        with self._lock:
            now = self.clock()
            reset, used = self._window(token, now)
            allowed = used < self.limit.requests
            used += 1 if allowed else 0
            self._windows[token] = (reset, used)
        return allowed, self._headers(reset, used)

    def peek(self, token: str) -> dict[str, Any]:
        with self._lock:
            reset, used = self._window(token, self.clock())
        return {"limit": self.limit.requests, "used": used, "remaining": self.limit.requests - used, "reset": reset}

    def _headers(self, reset: int, used: int) -> dict[str, str]:
        return {
            "x-ratelimit-limit": str(self.limit.requests),
            "x-ratelimit-remaining": str(max(0, self.limit.requests - used)),
            "x-ratelimit-used": str(used),
            "x-ratelimit-reset": str(reset),
            "x-ratelimit-resource": "core",
        }


# --- rendering -------------------------------------------------------------------------------


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _blob_sha(text: str) -> str:
    data = text.encode("utf-8")
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _user(person: Person, api: str) -> dict[str, Any] | None:
    if not person.login:
        return None  # an author GitHub cannot match to an account
    return {
        "login": person.login,
        "id": int(hashlib.sha1(person.login.encode()).hexdigest()[:7], 16),
        "type": "User",
        "site_admin": False,
        "url": f"{api}/users/{person.login}",
        "html_url": f"{HTML_BASE}/{person.login}",
    }


def _commit_json(repository: Repository, commit: Commit, api: str) -> dict[str, Any]:
    repo_api = f"{api}/repos/{repository.full_name}"
    signature = {"name": commit.author.name, "email": commit.author.email}
    return {
        "sha": commit.sha,
        "node_id": base64.b64encode(f"C_{commit.sha}".encode()).decode(),
        "commit": {
            "author": {**signature, "date": _iso(commit.authored_at)},
            "committer": {**signature, "date": _iso(commit.committed_at)},
            "message": commit.message,
            "tree": {"sha": hashlib.sha1(f"tree {commit.sha}".encode()).hexdigest(), "url": f"{repo_api}/git/trees"},
            "url": f"{repo_api}/git/commits/{commit.sha}",
            "comment_count": 0,
            "verification": {
                "verified": False,
                "reason": "unsigned",
                "signature": None,
                "payload": None,
                "verified_at": None,
            },
        },
        "url": f"{repo_api}/commits/{commit.sha}",
        "html_url": f"{HTML_BASE}/{repository.full_name}/commit/{commit.sha}",
        "comments_url": f"{repo_api}/commits/{commit.sha}/comments",
        "author": _user(commit.author, api),
        "committer": _user(commit.author, api),
        "parents": (
            [
                {
                    "sha": commit.parent,
                    "url": f"{repo_api}/commits/{commit.parent}",
                    "html_url": f"{HTML_BASE}/{repository.full_name}/commit/{commit.parent}",
                }
            ]
            if commit.parent
            else []
        ),
    }


def _entry_json(repository: Repository, path: str, kind: str, ref: str, api: str, text: str | None) -> dict:
    repo_api = f"{api}/repos/{repository.full_name}"
    size = len(text.encode("utf-8")) if text is not None else 0
    sha = _blob_sha(text) if text is not None else hashlib.sha1(f"tree {path}".encode()).hexdigest()
    html_kind = "blob" if kind == "file" else "tree"
    self_url = f"{repo_api}/contents/{path}?ref={ref}"
    git_url = f"{repo_api}/git/{'blobs' if kind == 'file' else 'trees'}/{sha}"
    html_url = f"{HTML_BASE}/{repository.full_name}/{html_kind}/{ref}/{path}"
    download = f"https://raw.githubusercontent.com/{repository.full_name}/{ref}/{path}" if kind == "file" else None
    return {
        "type": kind,
        "size": size,
        "name": path.rsplit("/", 1)[-1],
        "path": path,
        "sha": sha,
        "url": self_url,
        "git_url": git_url,
        "html_url": html_url,
        "download_url": download,
        "_links": {"self": self_url, "git": git_url, "html": html_url},
    }


def _wrapped_base64(data: bytes) -> str:
    encoded = base64.b64encode(data).decode()
    return "".join(encoded[i : i + 60] + "\n" for i in range(0, len(encoded), 60))


# --- the emulator ----------------------------------------------------------------------------


class _GitHubEmulator:
    def __init__(self, state: GitHubState, *, fail_next: int):
        self.state, self.fail_next = state, fail_next

    @staticmethod
    def api_base(request: Request) -> str:
        base = request.url.replace(path=request.scope.get("root_path", ""), query="", fragment="")
        return str(base).rstrip("/")

    def _repository(self, owner: str, repo: str, docs: str) -> Repository:
        repository = self.state.repository(owner, repo)
        if repository is None:
            raise ApiError(404, "Not Found", docs)
        return repository

    def list_commits(self, request: Request, owner: str, repo: str) -> Response:
        repository = self._repository(owner, repo, DOCS_COMMITS)
        params = request.query_params
        if not repository.commits:
            raise ApiError(409, "Git Repository is empty.", DOCS_COMMITS)
        head = repository.resolve(params.get("sha") or None)
        if head is None:
            raise ApiError(404, f"No commit found for SHA: {params.get('sha')}", DOCS_COMMITS)
        path = (params.get("path") or "").strip("/")
        since, until = _time_param(params, "since"), _time_param(params, "until")
        history = [
            commit
            for commit in reversed(repository.commits[: head + 1])
            if (not path or any(p == path or p.startswith(path + "/") for p in commit.changed))
            and (since is None or commit.committed_at >= since)
            and (until is None or commit.committed_at <= until)
        ]
        per_page = min(max(_int_param(params, "per_page", DEFAULT_PER_PAGE), 1), MAX_PER_PAGE)
        page = max(_int_param(params, "page", 1), 1)
        last = max(1, math.ceil(len(history) / per_page))
        chunk = history[(page - 1) * per_page : page * per_page]
        api = self.api_base(request)
        headers = {}
        link = _link_header(request, page, last)
        if link:
            headers["Link"] = link
        return JSONResponse([_commit_json(repository, c, api) for c in chunk], headers=headers)

    def get_contents(self, request: Request, owner: str, repo: str, path: str = "") -> Response:
        repository = self._repository(owner, repo, DOCS_CONTENTS)
        ref = request.query_params.get("ref") or None
        index = repository.resolve(ref)
        if index is None:
            if not repository.commits:
                raise ApiError(404, "This repository is empty.", DOCS_CONTENTS)
            raise ApiError(404, f"No commit found for the ref {ref}", DOCS_CONTENTS)
        tree = repository.commits[index].tree
        path = path.strip("/")
        ref_name = ref or repository.default_branch
        api = self.api_base(request)
        if path in tree:
            return self._file(request, repository, path, tree[path], ref_name, api)
        prefix = f"{path}/" if path else ""
        children = sorted({p[len(prefix) :].split("/", 1)[0] for p in tree if p.startswith(prefix)})
        if not children:
            raise ApiError(404, "Not Found", DOCS_CONTENTS)
        entries = []
        for child in children:
            child_path = prefix + child
            kind = "file" if child_path in tree else "dir"
            entries.append(_entry_json(repository, child_path, kind, ref_name, api, tree.get(child_path)))
        return JSONResponse(entries)

    def _file(self, request: Request, repository: Repository, path: str, text: str, ref: str, api: str) -> Response:
        accept = request.headers.get("accept", "")
        if any(media in accept for media in RAW_MEDIA_TYPES):
            return Response(text.encode("utf-8"), media_type="text/plain; charset=utf-8")
        body = _entry_json(repository, path, "file", ref, api, text)
        data = text.encode("utf-8")
        if len(data) > MAX_CONTENT_BYTES:
            body.update(encoding="none", content="")
        else:
            body.update(encoding="base64", content=_wrapped_base64(data))
        return JSONResponse(body)


def _time_param(params: Mapping[str, str], name: str) -> datetime | None:
    value = params.get(name)
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(422, f"Invalid value for parameter '{name}': {value!r} is not an ISO 8601 timestamp") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def _int_param(params: Mapping[str, str], name: str, default: int) -> int:
    value = params.get(name)
    if value in (None, ""):
        return default
    try:
        return int(value)
    except ValueError:
        raise ApiError(422, f"Invalid value for parameter '{name}': {value!r} is not an integer") from None


def _link_header(request: Request, page: int, last: int) -> str | None:
    """GitHub's ``Link``: next and last while there are more pages, prev and first after page 1."""
    if last <= 1:
        return None

    def url(n: int) -> str:
        return str(request.url.include_query_params(page=n))

    links = []
    if page < last:
        links += [f'<{url(page + 1)}>; rel="next"', f'<{url(last)}>; rel="last"']
    if page > 1:
        links += [f'<{url(min(page - 1, last))}>; rel="prev"', f'<{url(1)}>; rel="first"']
    return ", ".join(links)


_TOKEN_HEADER = re.compile(r"(?:Bearer|token)\s+(\S+)", re.IGNORECASE)


def create_app(
    state: Mapping[str, Any] | GitHubState,
    *,
    tokens: Collection[str],
    rate_limit: RateLimit | None = None,
    fail_next: int = 0,
    clock: Callable[[], float] = _time.time,
) -> FastAPI:
    """The GitHub REST API emulator over ``state`` (a state mapping or a parsed state).

    ``tokens`` are the accepted tokens; rate limit and injected 503s come from the state's
    ``emulator`` section unless ``rate_limit`` or ``fail_next`` (the sandbox's
    ``--rate-limit``/``--fail-next``) are given (``app.state.github.fail_next`` may be
    changed later); ``clock`` (epoch seconds) can be replaced in tests.
    """
    parsed = state if isinstance(state, GitHubState) else parse_state(state)
    settings = parsed.settings
    emulator = _GitHubEmulator(parsed, fail_next=fail_next or settings.fail_next)
    limiter = _RateLimiter(rate_limit or settings.rate_limit, clock)
    allowed_tokens = frozenset(tokens)

    app = FastAPI(title="GitHub REST API emulator", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.github = emulator
    app.add_api_route("/repos/{owner}/{repo}/commits", emulator.list_commits, methods=["GET"])
    app.add_api_route("/repos/{owner}/{repo}/contents", emulator.get_contents, methods=["GET"])
    app.add_api_route("/repos/{owner}/{repo}/contents/{path:path}", emulator.get_contents, methods=["GET"])

    @app.get("/rate_limit")
    def rate_limit(request: Request) -> dict[str, Any]:
        core = limiter.peek(_token(request) or "")
        return {"resources": {"core": core}, "rate": core}

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return exc.response()

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return ApiError(exc.status_code, "Not Found" if exc.status_code == 404 else str(exc.detail)).response()

    @app.middleware("http")
    async def _guard(request: Request, call_next):
        token = _token(request)
        if token is None:
            return ApiError(401, "Requires authentication").response()
        if token not in allowed_tokens:
            return ApiError(401, "Bad credentials").response()
        if request.url.path.endswith("/rate_limit"):
            return await call_next(request)
        allowed, headers = limiter.hit(token)
        if not allowed:
            if settings.retry_after:
                headers["retry-after"] = str(max(1, int(headers["x-ratelimit-reset"]) - int(clock())))
            message = (
                "API rate limit exceeded for user ID 1. If you reach out to GitHub Support for help, "
                "please include the request ID."
            )
            return ApiError(settings.rate_limit_status, message, DOCS_RATE_LIMITS).response(headers)
        if emulator.fail_next > 0:
            emulator.fail_next -= 1
            return ApiError(503, "Service Unavailable (fault injected by the emulator)").response(headers)
        version = request.headers.get("x-github-api-version")
        if version and version != API_VERSION:
            message = f"API version '{version}' is not supported. Supported versions: {API_VERSION}."
            return ApiError(400, message, f"{DOCS}/about-the-rest-api/api-versions").response(headers)
        response = await call_next(request)
        response.headers.update(headers)
        response.headers["x-github-api-version-selected"] = API_VERSION
        return response

    return app


def _token(request: Request) -> str | None:
    match = _TOKEN_HEADER.fullmatch(request.headers.get("authorization", "").strip())
    return match.group(1) if match else None
