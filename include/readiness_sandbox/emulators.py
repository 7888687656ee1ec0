"""The sandbox's emulators, one record per emulated source: the only place the sandbox names them.

Each record says how to read a state file into the emulator's state, how to build its app,
which sample-organisation file it serves by default, and which connection fields point a
client at it. The server (``server.py``), the subprocess launcher (``process.py``), the demo's
and ``make airflow``'s connections and the compose file's sandbox settings all derive from
``EMULATORS``. Its keys are the names of the runtime sources (``oncall_readiness.sources.
catalogue.SOURCES``); a test fails when a registered source has no emulator here.
Prometheus is not emulated: the sandbox runs the real one (``prometheus.py``, listed in
``REAL_SERVERS``).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from . import chaos_calendar
from .backstage import app as backstage
from .backstage import state as backstage_state
from .confluence import app as confluence
from .github import app as github
from .grafana import app as grafana
from .grafana import state as grafana_state
from .jira import app as jira
from .jsm_ops import app as jsm_ops
from .pagerduty import app as pagerduty
from .pagerduty import state as pagerduty_state
from .rate_limit import RateLimit
from .sample_org import CATALOG, state_file


class StateError(ValueError):
    """An emulator's state file does not load; the message names the emulator and the file."""


@dataclass(frozen=True)
class Emulator:
    source: str  # the runtime source it stands in for, and its URL prefix
    title: str
    read_state: Callable[[Path], Any]  # raises on a bad file, naming it
    build_app: Callable[..., FastAPI]  # (state, *, tokens, rate_limit, fail_next) -> app
    sample_state: Path
    errors: tuple[type[Exception], ...]
    # Connection fields besides host and token (Confluence wants the account's email as login).
    extra_fields: Callable[[], dict[str, str]] = dict
    # What the connection's host names below the prefix: "" for an API's root, a file for a feed.
    path: str = ""
    # Whether the API has writes a read-only key is refused (PagerDuty's incident notes).
    writes: bool = False
    # The URL prefix when it is not the source's name (the registry's catalog API: /backstage).
    mount: str = ""

    @property
    def prefix(self) -> str:
        return f"/{self.mount or self.source}"

    def load(self, path: Path | None = None) -> Any:
        path = path or self.sample_state
        try:
            return self.read_state(path)
        except (OSError, *self.errors) as error:
            raise StateError(f"cannot load the {self.title} state {path}: {error}") from None

    def app(
        self,
        state: Any,
        *,
        tokens: Collection[str],
        read_only_tokens: Collection[str] = (),
        rate_limit: RateLimit | None,
        fail_next: int,
    ) -> FastAPI:
        """The emulator's app; a read-only key reads everywhere, and is refused only where the API writes."""
        if self.writes:
            return self.build_app(
                state, tokens=tokens, read_only_tokens=read_only_tokens, rate_limit=rate_limit, fail_next=fail_next
            )
        return self.build_app(state, tokens=[*tokens, *read_only_tokens], rate_limit=rate_limit, fail_next=fail_next)

    def connection(self, url: str, token: str) -> dict[str, str]:
        """The fields of the Airflow connection that aims the source's hook at this emulator."""
        return {"host": url + self.path, "password": token, **self.extra_fields()}


def _pagerduty_state(path: Path):
    return pagerduty_state.parse_state(pagerduty_state.load_pagerduty_state(path), source=str(path))


def _grafana_state(path: Path):
    return grafana_state.parse_state(grafana_state.load_grafana_state(path), source=str(path))


EMULATORS: dict[str, Emulator] = {
    emulator.source: emulator
    for emulator in (
        Emulator(
            source="pagerduty",
            title="PagerDuty",
            read_state=_pagerduty_state,
            build_app=pagerduty.create_app,
            sample_state=state_file("pagerduty.yaml"),
            errors=(pagerduty_state.StateError,),
            writes=True,
        ),
        Emulator(
            source="grafana",
            title="Grafana",
            read_state=_grafana_state,
            build_app=grafana.create_app,
            sample_state=state_file("grafana.yaml"),
            errors=(grafana_state.StateError,),
        ),
        Emulator(
            source="github",
            title="GitHub",
            read_state=github.load_github_state,
            build_app=github.create_app,
            sample_state=state_file("github.yaml"),
            errors=(github.GitHubStateError,),
        ),
        Emulator(
            source="confluence",
            title="Confluence",
            read_state=confluence.load_confluence_state,
            build_app=confluence.create_app,
            sample_state=state_file("confluence.yaml"),
            errors=(confluence.ConfluenceStateError,),
            extra_fields=lambda: {"login": confluence.SANDBOX_EMAIL},
        ),
        Emulator(
            source="registry",  # the team registry's second way: a running Backstage's catalog API
            title="Backstage catalog",
            read_state=backstage_state.load_catalog,
            build_app=backstage.create_app,
            sample_state=CATALOG,
            errors=(backstage_state.CatalogStateError,),
            mount="backstage",
        ),
        Emulator(
            source="chaos_calendar",
            title="Chaos Day calendar",
            read_state=chaos_calendar.load_feed,
            build_app=chaos_calendar.create_app,
            sample_state=state_file("chaos_days.ics"),
            errors=(chaos_calendar.FeedStateError,),
            extra_fields=lambda: {"login": chaos_calendar.SANDBOX_LOGIN},
            path=chaos_calendar.FEED_PATH,
        ),
        Emulator(
            source="jsm_ops",
            title="JSM Operations",
            read_state=jsm_ops.load_jsm_state,
            build_app=jsm_ops.create_app,
            sample_state=state_file("jsm_ops.yaml"),
            errors=(jsm_ops.JsmStateError,),
            # The site is the host; the operations API is served below it (the client's api_url
            # may be a path for that: https://api.atlassian.com/jsm/ops/api in real life).
            extra_fields=lambda: {"login": jsm_ops.SANDBOX_EMAIL, "extra": jsm_ops.SANDBOX_EXTRA},
        ),
        Emulator(
            source="jira",
            title="Jira",
            read_state=jira.load_jira_state,
            build_app=jira.create_app,
            sample_state=state_file("jira.yaml"),
            errors=(jira.JiraStateError,),
            extra_fields=lambda: {"login": jira.SANDBOX_EMAIL},
        ),
    )
}


# Sources whose real server the sandbox runs instead of an emulator, and with what.
REAL_SERVERS: dict[str, str] = {
    "prometheus": "a real Prometheus with the sample rule files (readiness_sandbox.prometheus)"
}


def connections(base_url: str, token: str) -> dict[str, dict[str, str]]:
    """Source name -> the connection fields that aim its hook at a sandbox served at ``base_url``."""
    return {source: emulator.connection(base_url + emulator.prefix, token) for source, emulator in EMULATORS.items()}
