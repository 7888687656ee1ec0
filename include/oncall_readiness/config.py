"""Every setting the project reads from the environment: its name, default, type and meaning.

The one place a ``READINESS_*`` variable is named and parsed. Each is read when it is used
(``SETTING.get()``), so a test or an operator may change it between runs; a value it cannot
use raises :class:`~oncall_readiness.errors.SettingError` naming the variable, and the
DAGs fail at once on it. ``docs/configuration.md`` is generated from :data:`SETTINGS`
(``make docs``; a test fails while it is stale).

Only the standard library is imported here: the DAG files read their settings at parse time.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from oncall_readiness.errors import SettingError

T = TypeVar("T")

# Where a setting is read: set it in the environment of every Airflow component that does.
WORKERS = "workers"
DAG_PROCESSOR = "DAG processor"  # read while a DAG file is parsed


@dataclass(frozen=True)
class Setting(Generic[T]):
    """One environment variable: blank or unset is its default; anything else is parsed or refused."""

    name: str
    default: T | None
    parse: Callable[[str], T]
    kind: str  # what a valid value is, in words (the docs' "type" column and the error message)
    meaning: str  # one line
    default_text: str = ""  # the default as the docs say it, when ``default`` alone does not
    read_by: str = WORKERS

    def get(self) -> T | None:
        """The value from the environment, or the default; a value that does not parse raises ``SettingError``."""
        text = os.environ.get(self.name, "").strip()
        if not text:
            return self.default
        try:
            return self.parse(text)
        except ValueError:
            raise SettingError(f"{self.name} must be {self.kind}, not {text!r}") from None

    def require(self) -> T:
        """The value; a setting without a default that is not set raises ``SettingError``."""
        value = self.get()
        if value is None:
            raise SettingError(f"{self.name} is not set: it must be {self.kind} ({self.meaning})")
        return value

    def declared_default(self) -> T:
        """The default this module declares, for a setting that has one (the signature's default of its reader)."""
        if self.default is None:
            raise SettingError(f"{self.name} has no default")
        return self.default

    @property
    def documented_default(self) -> str:
        return self.default_text or ("none" if self.default is None else str(self.default))


def _text(value: str) -> str:
    return value


def _path(value: str) -> Path:
    return Path(value)


def _whole(minimum: int, maximum: int | None = None) -> Callable[[str], int]:
    def parse(value: str) -> int:
        if not re.fullmatch(r"\d+", value) or int(value) < minimum or (maximum is not None and int(value) > maximum):
            raise ValueError(value)
        return int(value)

    return parse


def _number(minimum: float) -> Callable[[str], float]:
    def parse(value: str) -> float:
        number = float(value)
        if not number >= minimum or number == float("inf"):  # NaN and infinity refused too
            raise ValueError(value)
        return number

    return parse


def _currency(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z]{3}", value):
        raise ValueError(value)
    return value.upper()


def _email(value: str) -> str:
    if not re.fullmatch(r"[^@\s,;]+@[^@\s,;]+", value):
        raise ValueError(value)
    return value


def _sender(value: str) -> str:
    """An address for a From header: ``readiness@example.com`` or ``Readiness Bot <readiness@example.com>``."""
    from email.utils import parseaddr

    _email(parseaddr(value)[1])
    return value


def _emails(value: str) -> tuple[str, ...]:
    addresses = tuple(dict.fromkeys(item.strip() for item in re.split(r"[,;]", value) if item.strip()))
    for address in addresses:
        _email(address)
    return addresses


def _web_url(value: str) -> str:
    if not re.fullmatch(r"https?://[^\s/]+(/\S*)?", value):
        raise ValueError(value)
    return value.rstrip("/")


def _timezone(value: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(value) from None
    return value


# The registry and the audit's own files.
CATALOG = Setting(
    "READINESS_CATALOG",
    None,
    _path,
    "a path to a Backstage entity YAML file or a folder of them",
    "the team registry: Groups are teams, Users people, Components services; required unless the "
    "registry is read from Backstage's catalog API (connection `backstage_default`), never both "
    "([registry.md](sources/registry.md))",
    default_text="none: this or `backstage_default`",
)
WAIVERS = Setting(
    "READINESS_WAIVERS",
    None,
    _path,
    "a path to an existing YAML file",
    "the waivers file ([waivers.md](waivers.md))",
    default_text="`readiness-waivers.yaml` beside the catalog, when there is one",
)
CAMPAIGNS = Setting(
    "READINESS_CAMPAIGNS",
    None,
    _path,
    "a path to an existing YAML file",
    "the campaigns file ([campaigns.md](campaigns.md))",
    default_text="`readiness-campaigns.yaml` beside the catalog, when there is one",
)
CHECKS = Setting(
    "READINESS_CHECKS",
    None,
    _path,
    "a path to an existing YAML file",
    "the organisation's external checks and who may push their results ([api.md](api.md#external-checks))",
    default_text="`readiness-checks.yaml` beside the catalog, when there is one",
)
HR_CSV = Setting(
    "READINESS_HR_CSV",
    None,
    _path,
    "a path to a CSV file",
    "the HR export of joiners and their start dates ([registry.md](sources/registry.md))",
    default_text="none: start dates come from the catalog alone",
)

# Reading the sources (docs/reliability.md: how long a down source is retried).
SOURCE_RETRIES = Setting(
    "READINESS_SOURCE_RETRIES",
    1,
    _whole(0),
    "a whole number, 0 or more",
    "retries of a source's collect task before its checks turn unknown",
    read_by=DAG_PROCESSOR,
)
SOURCE_RETRY_DELAY_SECONDS = Setting(
    "READINESS_SOURCE_RETRY_DELAY_SECONDS",
    60.0,
    _number(0),
    "a number of seconds, 0 or more",
    "the wait before each retry of a source's collect task",
    default_text="60",
    read_by=DAG_PROCESSOR,
)
HTTP_MAX_RETRIES = Setting(
    "READINESS_HTTP_MAX_RETRIES",
    3,
    _whole(0),
    "a whole number, 0 or more",
    "retries of one API request (429, 5xx, a timeout, a dropped connection)",
)
HTTP_MAX_WAIT_SECONDS = Setting(
    "READINESS_HTTP_MAX_WAIT_SECONDS",
    20.0,
    _number(0),
    "a number of seconds, 0 or more",
    "the longest wait before one retry, whatever the API asks (Retry-After)",
    default_text="20",
)
HTTP_TIMEOUT_SECONDS = Setting(
    "READINESS_HTTP_TIMEOUT_SECONDS",
    30.0,
    _number(0.1),
    "a number of seconds, at least 0.1",
    "the longest a request waits to connect, or for the next bytes of an answer",
    default_text="30",
)
HTTP_CONCURRENCY = Setting(
    "READINESS_HTTP_CONCURRENCY",
    8,
    _whole(1, 64),
    "a whole number from 1 to 64",
    "requests a source may have in flight at once (Grafana's member lists, Confluence's pages); "
    "a connection's `concurrency` extra overrides it",
)

# Staging: how the audit's tasks hand data to each other (docs/deploy.md).
STAGING_DIR = Setting(
    "READINESS_STAGING_DIR",
    None,
    _text,
    "a local folder, `file://...`, `s3://bucket/prefix` or `gs://bucket/prefix`",
    "where each run stages its data; every worker must reach it",
    default_text="`$AIRFLOW_HOME/readiness-staging` (one host only)",
)
STAGING_CONN_ID = Setting(
    "READINESS_STAGING_CONN_ID",
    None,
    _text,
    "an Airflow connection id",
    "the connection of the object store that holds the staging",
    default_text="`aws_default` for s3, `google_cloud_default` for gs",
)
STAGING_RETENTION_DAYS = Setting(
    "READINESS_STAGING_RETENTION_DAYS",
    7,
    _whole(1),
    "a whole number of days, at least 1",
    "the audit's `clean_staging` deletes the staging of runs older than this",
)

# Emails and alerts (docs/emails.md, docs/alerts.md).
EMAIL_FROM = Setting(
    "READINESS_EMAIL_FROM",
    None,
    _sender,
    "an email address, or a name and an address (`Readiness Bot <readiness@example.com>`)",
    "the sender of the weekly emails and the alerts",
    default_text="the `smtp_default` connection's `from_email` extra, else `oncall-readiness@localhost`",
)
DIGEST_RECIPIENTS: Setting[tuple[str, ...]] = Setting(
    "READINESS_DIGEST_RECIPIENTS",
    (),
    _emails,
    "email addresses separated by commas or semicolons",
    "who receives the leadership digest on Mondays (the DAG's `digest_recipients` param overrides it)",
    default_text="none: no digest",
)
PAGE_URL = Setting(
    "READINESS_PAGE_URL",
    None,
    _web_url,
    "an http(s) URL",
    "the Readiness page's address the emails and alerts link to (each team's page below it, `<url>/teams/<team>`)",
    default_text="Airflow's `[api] base_url` + `/readiness`; neither set: the emails name the page without a link",
)
EMAIL_TIMEZONE = Setting(
    "READINESS_EMAIL_TIMEZONE",
    "Europe/London",
    _timezone,
    "an IANA time zone name",
    "the time zone of `readiness_weekly_email`'s schedule (Mondays 08:00)",
    read_by=DAG_PROCESSOR,
)

# Incidents and what they cost (docs/incidents.md).
CURRENCY = Setting(
    "READINESS_CURRENCY",
    "GBP",
    _currency,
    "a three-letter currency code",
    "the currency of every `readiness/cost-per-minute` price",
)
NOTE_EVERY_MINUTES = Setting(
    "READINESS_NOTE_EVERY_MINUTES",
    30,
    _whole(1),
    "a whole number of minutes, at least 1",
    "`incident_cost_watch` notes an open incident's running cost at every such milestone of its outage",
)
PAGERDUTY_FROM = Setting(
    "READINESS_PAGERDUTY_FROM",
    None,
    _email,
    "the email of a PagerDuty user",
    "the user `incident_cost_watch` posts its notes as (PagerDuty's `From` header)",
    default_text="the `pagerduty_notes` connection's `from` extra",
)

# The scorecard in Backstage (docs/backstage.md).
BACKSTAGE_EXPORT = Setting(
    "READINESS_BACKSTAGE_EXPORT",
    None,
    _text,
    "a local folder, `file://...`, `s3://bucket/prefix` or `gs://bucket/prefix`",
    "where the audit writes each Group's and Component's score-card JSON after publish "
    "([backstage.md](backstage.md)); the object store's connection is the staging's",
    default_text="none: no export",
)

SECTIONS: dict[str, tuple[Setting[Any], ...]] = {
    "The registry and the audit's files": (CATALOG, WAIVERS, CAMPAIGNS, CHECKS, HR_CSV),
    "Reading the sources": (
        SOURCE_RETRIES,
        SOURCE_RETRY_DELAY_SECONDS,
        HTTP_MAX_RETRIES,
        HTTP_MAX_WAIT_SECONDS,
        HTTP_TIMEOUT_SECONDS,
        HTTP_CONCURRENCY,
    ),
    "Staging": (STAGING_DIR, STAGING_CONN_ID, STAGING_RETENTION_DAYS),
    "Emails and alerts": (EMAIL_FROM, DIGEST_RECIPIENTS, PAGE_URL, EMAIL_TIMEZONE),
    "Incidents": (CURRENCY, NOTE_EVERY_MINUTES, PAGERDUTY_FROM),
    "The scorecard in Backstage": (BACKSTAGE_EXPORT,),
}
SETTINGS: dict[str, Setting[Any]] = {setting.name: setting for settings in SECTIONS.values() for setting in settings}


def markdown() -> str:
    """``docs/configuration.md``: every setting, by section."""
    lines = [
        "# Configuration",
        "",
        "<!-- Generated by `make docs` from include/oncall_readiness/config.py: edit there. -->",
        "",
        "Every setting oncall-readiness reads from the environment. Set them where the component",
        "that reads them runs: the workers (every task), and for the few marked *DAG processor*,",
        "where the DAG files are parsed too. A value that is blank or unset is the default; any",
        "other value that is not of the setting's type stops the task (or the DAG file's parse) at",
        "once, with the variable's name. Connections (tokens, hosts) are Airflow connections, not",
        "settings: [connections.md](connections.md). The sandbox's own settings (the demo and the",
        "tests): [sandbox.md](sandbox.md#settings).",
    ]
    for section, settings in SECTIONS.items():
        lines += ["", f"## {section}", "", "| variable | default | type | read by | meaning |", "|---|---|---|---|---|"]
        lines += [f"| `{s.name}` | {s.documented_default} | {s.kind} | {s.read_by} | {s.meaning} |" for s in settings]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(markdown(), end="")
