"""The GitHub REST API emulator: auth, commits with Link pagination, contents, errors, rate limits.

The repository below has five commits, one a day from 2026-11-01 to 11-05 (10:00Z):
a.md is added, changed twice, then deleted; b.md is added on day 2; docs/c.md on day 4.
"""

from __future__ import annotations

import base64
import hashlib

import pytest
from fastapi.testclient import TestClient

from readiness_sandbox.github.app import GitHubStateError, create_app, parse_state
from readiness_sandbox.rate_limit import RateLimit

TOKEN = "test-token"
HEADERS = {
    "Authorization": f"Bearer {TOKEN}",
    "Accept": "application/vnd.github+json",
    "X-GitHub-Api-Version": "2022-11-28",
}
REPO = "/repos/example-org/runbooks"


def state(**emulator) -> dict:
    commits = [
        {"date": "2026-11-01T10:00:00Z", "message": "add a", "files": {"a.md": "# A\n\nversion 1\n"}},
        {"date": "2026-11-02T10:00:00Z", "message": "add b", "files": {"b.md": "# B\n"}},
        {
            "date": "2026-11-03T10:00:00Z",
            "authored": "2026-10-20T08:00:00Z",
            "author": {"name": "Ada Lovelace", "email": "ada@example.com", "login": "ada"},
            "message": "change a",
            "files": {"a.md": "# A\n\nversion 2\n"},
        },
        {"date": "2026-11-04T10:00:00Z", "message": "add docs/c", "files": {"docs/c.md": "# C\n"}},
        {"date": "2026-11-05T10:00:00Z", "message": "delete a", "files": {"a.md": None}},
    ]
    return {
        "emulator": emulator,
        "repositories": [
            {"name": "example-org/runbooks", "commits": commits},
            {"name": "example-org/empty", "commits": []},
        ],
    }


def make_client(*, tokens=(TOKEN,), headers=HEADERS, clock=None, **emulator) -> TestClient:
    options = {"clock": clock} if clock else {}
    return TestClient(create_app(state(**emulator), tokens=tokens, **options), headers=headers)


@pytest.fixture
def client() -> TestClient:
    return make_client()


def dates(response) -> list[str]:
    return [c["commit"]["committer"]["date"][:10] for c in response.json()]


# --- authentication and headers -------------------------------------------------------------


def test_requests_without_a_token_are_refused():
    response = make_client(headers={}).get(f"{REPO}/commits")
    assert response.status_code == 401
    assert response.json()["message"] == "Requires authentication"


def test_a_wrong_token_is_bad_credentials_with_githubs_error_body():
    response = make_client(headers={**HEADERS, "Authorization": "Bearer nope"}).get(f"{REPO}/commits")
    assert response.status_code == 401
    body = response.json()
    assert body["message"] == "Bad credentials" and body["documentation_url"].startswith("https://docs.github.com")


@pytest.mark.parametrize("scheme", ["Bearer", "token"])
def test_both_token_schemes_are_accepted(scheme):
    response = make_client(headers={"Authorization": f"{scheme} {TOKEN}"}).get(f"{REPO}/commits")
    assert response.status_code == 200


def test_an_unsupported_api_version_is_refused(client):
    response = client.get(f"{REPO}/commits", headers={"X-GitHub-Api-Version": "2099-01-01"})
    assert response.status_code == 400 and "2099-01-01" in response.json()["message"]


def test_unknown_paths_answer_404_json(client):
    response = client.get("/nowhere")
    assert response.status_code == 404 and response.json()["message"] == "Not Found"


# --- commits ----------------------------------------------------------------------------------


def test_commits_are_newest_first_with_committer_and_author_dates(client):
    response = client.get(f"{REPO}/commits")
    assert response.status_code == 200
    assert dates(response) == ["2026-11-05", "2026-11-04", "2026-11-03", "2026-11-02", "2026-11-01"]
    change = response.json()[2]
    assert change["commit"]["author"]["date"] == "2026-10-20T08:00:00Z"
    assert change["commit"]["committer"]["date"] == "2026-11-03T10:00:00Z"
    assert change["author"]["login"] == "ada" and change["parents"][0]["sha"] == response.json()[3]["sha"]
    assert len(change["sha"]) == 40


def test_path_filters_to_commits_that_touched_it_and_folders_match_their_files(client):
    assert dates(client.get(f"{REPO}/commits", params={"path": "a.md"})) == ["2026-11-05", "2026-11-03", "2026-11-01"]
    assert dates(client.get(f"{REPO}/commits", params={"path": "docs"})) == ["2026-11-04"]


def test_until_and_since_filter_on_the_committer_date_inclusively(client):
    params = {"path": "a.md", "until": "2026-11-03T10:00:00Z", "per_page": 1}
    assert dates(client.get(f"{REPO}/commits", params=params)) == ["2026-11-03"]
    params = {"since": "2026-11-02T10:00:00Z", "until": "2026-11-04T00:00:00Z"}
    assert dates(client.get(f"{REPO}/commits", params=params)) == ["2026-11-03", "2026-11-02"]


def test_a_path_without_history_is_an_empty_list(client):
    response = client.get(f"{REPO}/commits", params={"path": "missing.md"})
    assert response.status_code == 200 and response.json() == []
    assert dates(client.get(f"{REPO}/commits", params={"path": "b.md", "until": "2026-11-01T23:00:00Z"})) == []


def test_sha_starts_the_history_at_a_branch_or_commit(client):
    third = client.get(f"{REPO}/commits").json()[2]["sha"]
    assert dates(client.get(f"{REPO}/commits", params={"sha": third})) == ["2026-11-03", "2026-11-02", "2026-11-01"]
    assert len(client.get(f"{REPO}/commits", params={"sha": "main"}).json()) == 5


def test_unknown_repository_ref_and_empty_repository(client):
    missing = client.get("/repos/example-org/nope/commits")
    assert missing.status_code == 404 and missing.json()["message"] == "Not Found"
    assert client.get("/repos/EXAMPLE-ORG/Runbooks/commits").status_code == 200  # names are case-insensitive
    bad_ref = client.get(f"{REPO}/commits", params={"sha": "release"})
    assert bad_ref.status_code == 404 and bad_ref.json()["message"] == "No commit found for SHA: release"
    empty = client.get("/repos/example-org/empty/commits")
    assert empty.status_code == 409 and empty.json()["message"] == "Git Repository is empty."


def test_link_header_pagination_walks_every_commit_once(client):
    response = client.get(f"{REPO}/commits", params={"per_page": 2})
    link = response.headers["link"]
    assert 'page=2>; rel="next"' in link and 'page=3>; rel="last"' in link and "/repos/" in link
    seen, url = [], f"{REPO}/commits?per_page=2"
    while url:
        page = client.get(url)
        seen += [c["sha"] for c in page.json()]
        links = {
            part.split(";")[1].strip(): part.split(";")[0].strip()[1:-1]
            for part in page.headers.get("link", "").split(",")
            if part
        }
        url = links.get('rel="next"')
    assert len(seen) == 5 == len(set(seen))
    middle = client.get(f"{REPO}/commits", params={"per_page": 2, "page": 2}).headers["link"]
    assert all(f'rel="{rel}"' in middle for rel in ("next", "last", "prev", "first"))


def test_per_page_is_capped_at_100_and_defaults_to_30():
    many = {"repositories": [{"name": "o/r", "commits": [
        {"date": f"2026-01-01T00:{i // 60:02d}:{i % 60:02d}Z", "message": f"c{i}", "files": {"x.md": str(i)}}
        for i in range(150)
    ]}]}  # fmt: skip
    client = TestClient(create_app(many, tokens=[TOKEN]), headers=HEADERS)
    assert len(client.get("/repos/o/r/commits", params={"per_page": 500}).json()) == 100
    response = client.get("/repos/o/r/commits")
    assert len(response.json()) == 30 and 'page=5>; rel="last"' in response.headers["link"]
    assert "link" not in client.get("/repos/o/r/commits", params={"path": "nothing"}).headers


def test_a_bad_time_parameter_is_refused(client):
    assert client.get(f"{REPO}/commits", params={"until": "yesterday"}).status_code == 422


# --- contents ---------------------------------------------------------------------------------


def test_contents_of_a_file_are_base64_with_its_blob_sha(client):
    body = client.get(f"{REPO}/contents/b.md").json()
    assert body["type"] == "file" and body["encoding"] == "base64" and body["path"] == "b.md"
    assert base64.b64decode(body["content"]).decode() == "# B\n"
    assert body["sha"] == hashlib.sha1(b"blob 4\0# B\n").hexdigest()  # what `git hash-object` gives
    assert body["html_url"] == "https://github.com/example-org/runbooks/blob/main/b.md"


def test_contents_at_a_ref_show_the_file_as_it_was(client):
    history = client.get(f"{REPO}/commits", params={"path": "a.md"}).json()
    deleted, changed, added = (c["sha"] for c in history)
    text = base64.b64decode(client.get(f"{REPO}/contents/a.md", params={"ref": changed}).json()["content"]).decode()
    assert "version 2" in text
    text = base64.b64decode(client.get(f"{REPO}/contents/a.md", params={"ref": added}).json()["content"]).decode()
    assert "version 1" in text
    gone = client.get(f"{REPO}/contents/a.md", params={"ref": deleted})
    assert gone.status_code == 404 and gone.json()["message"] == "Not Found"
    assert client.get(f"{REPO}/contents/a.md").status_code == 404  # deleted on main


def test_contents_of_a_folder_are_a_list_and_raw_media_type_gives_the_text(client):
    listing = client.get(f"{REPO}/contents").json()
    assert [(e["name"], e["type"]) for e in listing] == [("b.md", "file"), ("docs", "dir")]
    raw = client.get(f"{REPO}/contents/docs/c.md", headers={"Accept": "application/vnd.github.raw+json"})
    assert raw.status_code == 200 and raw.text == "# C\n"
    assert client.get(f"{REPO}/contents/b.md", params={"ref": "nope"}).status_code == 404


def test_files_over_one_megabyte_come_without_content():
    big = one_repo(commit("2026-01-01T00:00:00Z", **{"big.md": "x" * 1_100_000}))
    client = TestClient(create_app(big, tokens=[TOKEN]), headers=HEADERS)
    body = client.get("/repos/o/r/contents/big.md").json()
    assert body["encoding"] == "none" and body["content"] == "" and body["size"] == 1_100_000


# --- rate limits and faults -------------------------------------------------------------------


class FakeClock:
    def __init__(self, now: float = 1_800_000_000.25):
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_every_answer_carries_the_rate_limit_headers():
    clock = FakeClock()
    client = make_client(clock=clock)
    headers = client.get(f"{REPO}/commits").headers
    assert headers["x-ratelimit-limit"] == "5000" and headers["x-ratelimit-remaining"] == "4999"
    assert headers["x-ratelimit-used"] == "1" and headers["x-ratelimit-resource"] == "core"
    assert int(headers["x-ratelimit-reset"]) == 1_800_003_601  # epoch seconds, a whole second after the hour


@pytest.mark.parametrize(("status", "retry_after"), [(403, False), (429, True)])
def test_over_the_limit_answers_403_or_429_until_the_reset(status, retry_after):
    clock = FakeClock()
    client = make_client(clock=clock, rate_limit="2/10", rate_limit_status=status, retry_after=retry_after)
    assert [client.get(f"{REPO}/commits").status_code for _ in range(2)] == [200, 200]
    over = client.get(f"{REPO}/commits")
    assert over.status_code == status
    assert over.json()["message"].startswith("API rate limit exceeded")
    assert over.headers["x-ratelimit-remaining"] == "0"
    assert ("retry-after" in over.headers) is retry_after
    if retry_after:
        assert over.headers["retry-after"] == "11"
    assert client.get("/rate_limit").json()["resources"]["core"]["remaining"] == 0  # not counted itself
    clock.now = int(over.headers["x-ratelimit-reset"])
    assert client.get(f"{REPO}/commits").status_code == 200


def test_rate_limits_are_per_token():
    client = TestClient(create_app(state(rate_limit="1/60"), tokens=[TOKEN, "other"]), headers=HEADERS)
    assert client.get(f"{REPO}/commits").status_code == 200
    assert client.get(f"{REPO}/commits").status_code == 403
    assert client.get(f"{REPO}/commits", headers={"Authorization": "Bearer other"}).status_code == 200


def test_injected_faults_answer_503_then_recover():
    client = make_client(fail_next=1)
    assert client.get(f"{REPO}/commits").status_code == 503
    assert client.get(f"{REPO}/commits").status_code == 200


def test_explicit_rate_limit_and_faults_override_the_state():
    client = TestClient(create_app(state(), tokens=[TOKEN], rate_limit=RateLimit(1, 60), fail_next=1), headers=HEADERS)
    assert [client.get(f"{REPO}/commits").status_code for _ in range(3)] == [503, 403, 403]


# --- state validation -------------------------------------------------------------------------


def one_repo(*commits: dict) -> dict:
    return {"repositories": [{"name": "o/r", "commits": list(commits)}]}


def commit(date: str, **files) -> dict:
    return {"date": date, "files": files}


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"repositories": [{"name": "no-owner"}]}, "owner/repository"),
        ({"repositories": [{"name": "o/r"}, {"name": "O/R"}]}, "defined twice"),
        (one_repo(commit("2026-01-01T00:00:00Z", x=None)), "does not exist"),
        (one_repo(commit("2026-01-01T00:00:00", x="y")), "no time zone"),
        (one_repo(commit("2026-01-02T00:00:00Z", x="y"), commit("2026-01-01T00:00:00Z", x="z")), "oldest first"),
        ({"emulator": {"rate_limit_status": 500}}, "403 or 429"),
    ],
)
def test_a_malformed_state_is_refused_saying_where(document, message):
    with pytest.raises(GitHubStateError, match=message):
        parse_state(document)
