"""The Backstage catalog emulator served in this process, over the sample organisation or a catalog of its own."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml

from readiness_sandbox.backstage.app import create_app
from readiness_sandbox.backstage.state import load_catalog
from readiness_sandbox.in_thread import serving_in_thread
from readiness_sandbox.sample_org import CATALOG

REFERENCE = Path(__file__).resolve().parents[2] / "reference" / "backstage_catalog" / "openapi.yaml"
TOKEN = "static-token-1234"  # a static token of backend.auth.externalAccess (8 characters at least)


@pytest.fixture(scope="session")
def openapi() -> dict[str, Any]:
    return yaml.safe_load(REFERENCE.read_text())


@pytest.fixture
def serve() -> Callable[..., AbstractContextManager[str]]:
    """``with serve(catalog=..., **create_app options) as url:`` the emulator on a loopback port."""

    @contextmanager
    def serving(catalog: Path = CATALOG, *, without_spec_links: bool = False, **options: Any) -> Iterator[str]:
        app = create_app(load_catalog(catalog, without_spec_links=without_spec_links), tokens=[TOKEN], **options)
        with serving_in_thread(app) as url:
            yield url

    return serving


def write_users(folder: Path, count: int) -> Path:
    """A catalog of one Group and ``count`` Users in it, plus a System (a kind the registry does not read)."""
    docs: list[dict[str, Any]] = [
        {
            "apiVersion": "backstage.io/v1alpha1",
            "kind": "Group",
            "metadata": {"name": "crowd"},
            "spec": {"type": "team"},
        },
        {"apiVersion": "backstage.io/v1alpha1", "kind": "System", "metadata": {"name": "platform"}, "spec": {}},
    ]
    docs += [
        {
            "apiVersion": "backstage.io/v1alpha1",
            "kind": "User",
            "metadata": {"name": f"user-{i:05d}"},
            "spec": {"profile": {"email": f"user-{i:05d}@example.com"}, "memberOf": ["crowd"]},
        }
        for i in range(count)
    ]
    path = folder / "catalog.yaml"
    path.write_text(yaml.safe_dump_all(docs))
    return path
