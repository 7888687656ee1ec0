"""The registry read through Backstage's catalog API, against the emulator: the same tables as the files,
the fewest pages, a partial read refused, refusals named, the hook's connection and Test button."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest
from fastapi import FastAPI

from oncall_readiness.audit import registry_catalog
from oncall_readiness.errors import RegistryError, SourceError
from oncall_readiness.hooks.backstage import BackstageHook
from oncall_readiness.quality import QualityContext, failure_summary, validate_source
from oncall_readiness.quality import registry as registry_suite
from oncall_readiness.registry import load_registry
from oncall_readiness.sources.backstage_catalog import BackstageCatalogClient, load_registry_from_api
from readiness_sandbox.backstage.app import QUERY_PATH, RESTRICTED_TOKEN
from readiness_sandbox.in_thread import serving_in_thread
from readiness_sandbox.sample_org import CATALOG

from .conftest import TOKEN, write_users

CONN_ID = "backstage_default"


def read(url: str, *, token: str = TOKEN, page_size: int = 1000) -> tuple[object, BackstageCatalogClient]:
    client = BackstageCatalogClient(token, base_url=url, page_size=page_size, max_retries=0)
    return load_registry_from_api(client), client


@pytest.mark.parametrize("without_spec_links", [False, True], ids=["spec-and-relations", "relations-only"])
def test_the_sample_catalog_gives_the_same_tables_both_ways(serve, without_spec_links):
    """Every table, row for row and column for column; the API's source_file is Backstage's location of the file."""
    files = load_registry(CATALOG)
    with serve(without_spec_links=without_spec_links) as url:
        api, client = read(url, page_size=20)
    assert client.requests_made == math.ceil(72 / 20)  # 7 Groups, 44 Users, 21 Components; 20 a page
    for table, expected in files.to_facts().items():
        got = api.to_facts()[table]
        if "source_file" in expected:
            assert [
                got_file.endswith(f"/{file}")
                for got_file, file in zip(got["source_file"], expected["source_file"], strict=True)
            ] == [True] * len(expected), table
            got, expected = got.drop(columns="source_file"), expected.drop(columns="source_file")
        pd.testing.assert_frame_equal(got, expected, check_exact=True, obj=table)
    assert api.waiver_approvers == files.waiver_approvers
    assert [(team, text) for team, _, _, text in api.waiver_annotations] == [
        (team, text) for team, _, _, text in files.waiver_annotations
    ]


def test_the_api_registry_meets_the_files_data_contract(serve):
    with serve() as url:
        api, _ = read(url)
    facts = api.to_facts()
    context = QualityContext(audit_instant=pd.Timestamp("2026-11-16T00:00:00Z"), registry=facts, look_ahead_days=0)
    report = validate_source("registry", registry_suite.suites, facts, context)
    assert failure_summary(report) is None and len(report) > 10


def test_one_query_reads_the_three_kinds_in_the_fewest_pages(serve, tmp_path):
    catalog = write_users(tmp_path, 450)  # 451 Groups and Users, and a System the registry does not ask for
    with serve(catalog) as url:
        registry, client = read(url, page_size=200)
    assert client.requests_made == 3 == math.ceil(451 / 200)
    assert len(registry.people) == 450 and set(registry.people["team"]) == {"crowd"}


def test_a_server_that_caps_pages_costs_more_pages_never_a_short_read(serve, tmp_path):
    catalog = write_users(tmp_path, 120)
    with serve(catalog, max_limit=50) as url:
        registry, client = read(url, page_size=1000)
    assert client.requests_made == 3 and len(registry.people) == 120


def lying_catalog(pages: list[dict]) -> FastAPI:
    """A catalog whose pages are given: the first without a cursor, then one page per cursor ``1``, ``2``..."""
    app = FastAPI()

    @app.get(QUERY_PATH)
    def by_query(cursor: str = "0") -> dict:
        return pages[int(cursor)]

    return app


def user(name: str) -> dict:
    return {
        "kind": "User",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"profile": {"email": f"{name}@x.io"}},
    }


GROUP = {"kind": "Group", "metadata": {"name": "crowd", "namespace": "default"}, "spec": {"members": ["ann", "bob"]}}


@pytest.mark.parametrize(
    ("pages", "message"),
    [
        ([{"items": [GROUP, user("ann")], "totalItems": 4, "pageInfo": {}}], "partial read: 2 of the 4 entities"),
        (
            [
                {"items": [GROUP, user("ann")], "totalItems": 3, "pageInfo": {"nextCursor": "1"}},
                {"items": [user("ann")], "totalItems": 3, "pageInfo": {}},
            ],
            "user:default/ann came twice",
        ),
        (
            [
                {"items": [GROUP], "totalItems": 3, "pageInfo": {"nextCursor": "1"}},
                {"items": [user("ann"), user("bob")], "totalItems": 4, "pageInfo": {}},
            ],
            "the catalog changed while it was read (totalItems 3, then 4)",
        ),
        (
            [
                {"items": [GROUP], "totalItems": 3, "pageInfo": {"nextCursor": "1"}},
                {"items": [], "totalItems": 3, "pageInfo": {"nextCursor": "1"}},
            ],
            "partial read: 1 of the 3",
        ),
        ([{"items": [GROUP], "pageInfo": {}}], "without items, totalItems and pageInfo"),
    ],
    ids=["cursors-end-early", "entity-twice", "total-changes", "empty-page-loop", "no-total"],
)
def test_a_partial_or_changing_read_is_refused(pages, message):
    with serving_in_thread(lying_catalog(pages)) as url, pytest.raises(SourceError, match="backstage: ") as raised:
        read(url)
    assert message in str(raised.value)


@pytest.mark.parametrize(
    ("token", "answer"),
    [("wrong-token-123", "401: Illegal token"), (RESTRICTED_TOKEN, "403: This token's access is restricted")],
)
def test_a_refused_token_is_named_never_shown(serve, token, answer):
    with serve() as url, pytest.raises(SourceError) as raised:
        read(url, token=token)
    assert f"GET {QUERY_PATH} answered {answer}" in str(raised.value) and token not in str(raised.value)


def test_a_bad_entity_names_the_catalog_the_location_the_entity_and_the_field(serve, tmp_path):
    (tmp_path / "team.yaml").write_text(
        "apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata: {name: crowd}\nspec: {type: team, members: [ann]}\n"
        "---\napiVersion: backstage.io/v1alpha1\nkind: User\nmetadata: {name: ann}\nspec: {profile: {}}\n"
    )
    with serve(tmp_path) as url, pytest.raises(RegistryError) as raised:
        read(url)
    assert f"Backstage catalog {url} (file:{tmp_path / 'team.yaml'}): User 'ann' spec.profile.email: missing" in str(
        raised.value
    )


def test_relations_complete_what_spec_leaves_implicit_and_a_dangling_one_is_named_once(tmp_path, serve):
    # ann names her team only in memberOf; bob only through the Group's members; the service's owner is in spec.
    (tmp_path / "team.yaml").write_text(
        "apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata: {name: crowd}\nspec: {type: team, members: [bob]}\n"
        "---\napiVersion: backstage.io/v1alpha1\nkind: User\nmetadata: {name: ann}\n"
        "spec: {profile: {email: ann@x.io}, memberOf: [crowd, ghosts]}\n"
        "---\napiVersion: backstage.io/v1alpha1\nkind: User\nmetadata: {name: bob}\n"
        "spec: {profile: {email: bob@x.io}}\n"
    )
    with serve(tmp_path, without_spec_links=True) as url, pytest.raises(RegistryError) as raised:
        read(url)
    problems = str(raised.value)
    assert problems.count("unknown group") == 1 and "group:default/ghosts" in problems
    (tmp_path / "team.yaml").write_text((tmp_path / "team.yaml").read_text().replace(", ghosts", ""))
    with serve(tmp_path, without_spec_links=True) as url:
        registry, _ = read(url)
    assert sorted(registry.people[["person", "team"]].itertuples(index=False, name=None)) == [
        ("ann", "crowd"),
        ("bob", "crowd"),
    ]


# --- the hook and the choice of catalog ------------------------------------------------------------


def use_connection(monkeypatch, url: str, token: str = TOKEN, **extra) -> None:
    conn = {"conn_type": BackstageHook.conn_type, "host": url, "password": token, "extra": extra}
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", json.dumps(conn))


def test_the_test_button_calls_the_catalog_once(serve, monkeypatch):
    with serve() as url:
        use_connection(monkeypatch, url)
        assert BackstageHook().test_connection() == (True, f"Backstage catalog answered the test call at {url}.")
        use_connection(monkeypatch, url, token="wrong-token-123")
        ok, message = BackstageHook().test_connection()
    assert not ok and "401: Illegal token" in message and "wrong-token-123" not in message


def test_the_connection_page_size_is_checked(monkeypatch):
    use_connection(monkeypatch, "https://backstage.example.com", page_size=0)
    with pytest.raises(Exception, match="extra page_size must be a whole number from 1 to 10000"):
        BackstageHook().get_conn()
    use_connection(monkeypatch, "https://backstage.example.com", page_size=500)
    assert BackstageHook().get_conn().page_size == 500


def test_the_registry_is_read_one_way(monkeypatch, tmp_path: Path):
    monkeypatch.delenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", raising=False)
    monkeypatch.setenv("READINESS_CATALOG", str(CATALOG))
    assert registry_catalog() == CATALOG
    use_connection(monkeypatch, "https://backstage.example.com")
    with pytest.raises(
        RegistryError, match="READINESS_CATALOG is set .* and the Airflow connection 'backstage_default'"
    ):
        registry_catalog()
    monkeypatch.delenv("READINESS_CATALOG")
    assert registry_catalog() is None  # the API
    monkeypatch.delenv(f"AIRFLOW_CONN_{CONN_ID.upper()}")
    with pytest.raises(RegistryError, match="no catalog: set READINESS_CATALOG .* or define the Airflow connection"):
        registry_catalog()
