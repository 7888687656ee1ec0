"""Every setting in one place: read from the environment, parsed, refused by name, documented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from oncall_readiness import config
from oncall_readiness.errors import ConfigError, SettingError

REPO = Path(__file__).resolve().parents[2]
# The tests' own switch: rewrite docs/reliability.md's fault matrix (tests/faults), listed in docs/sandbox.md.
TEST_SETTINGS = {"READINESS_WRITE_RELIABILITY"}
# Values each kind of setting refuses: a reader could mistype any of these.
BAD = {
    config.SOURCE_RETRIES: ["-1", "1.5", "many"],
    config.SOURCE_RETRY_DELAY_SECONDS: ["-1", "nan", "inf", "a minute"],
    config.HTTP_MAX_RETRIES: ["-1", "2.5", "many"],
    config.HTTP_MAX_WAIT_SECONDS: ["-0.5", "twenty"],
    config.HTTP_TIMEOUT_SECONDS: ["0", "0.05", "thirty"],
    config.HTTP_CONCURRENCY: ["0", "65", "8.0", "eight"],
    config.STAGING_RETENTION_DAYS: ["0", "-1", "1.5", "seven"],
    config.EMAIL_FROM: ["readiness", "a@b@c", "Readiness <nobody>"],
    config.DIGEST_RECIPIENTS: ["cto@example.com, vp", "ops"],
    config.EMAIL_TIMEZONE: ["Europe/Nowhere", "GMT+25"],
    config.CURRENCY: ["£", "EURO", "12"],
    config.NOTE_EVERY_MINUTES: ["0", "half an hour"],
    config.PAGERDUTY_FROM: ["oncall-bot"],
}


@pytest.mark.parametrize("setting", list(config.SETTINGS.values()), ids=lambda s: s.name)
def test_unset_or_blank_is_the_default(monkeypatch, setting):
    monkeypatch.delenv(setting.name, raising=False)
    assert setting.get() == setting.default
    monkeypatch.setenv(setting.name, "   ")
    assert setting.get() == setting.default


@pytest.mark.parametrize(
    ("setting", "bad"), [(s, v) for s, values in BAD.items() for v in values], ids=lambda x: getattr(x, "name", x)
)
def test_a_value_of_the_wrong_kind_is_refused_naming_the_variable(monkeypatch, setting, bad):
    monkeypatch.setenv(setting.name, bad)
    with pytest.raises(SettingError, match=f"^{setting.name} must be {re.escape(setting.kind)}, not") as caught:
        setting.get()
    assert isinstance(caught.value, ConfigError)  # the DAGs fail such a task at once, without retries


@pytest.mark.parametrize(
    ("setting", "text", "value"),
    [
        (config.HTTP_MAX_RETRIES, " 0 ", 0),
        (config.HTTP_TIMEOUT_SECONDS, "4", 4.0),
        (config.HTTP_CONCURRENCY, "64", 64),
        (config.CURRENCY, "eur", "EUR"),
        (
            config.DIGEST_RECIPIENTS,
            "cto@example.com; vp@example.com,cto@example.com",
            ("cto@example.com", "vp@example.com"),
        ),
        (config.EMAIL_TIMEZONE, "America/New_York", "America/New_York"),
        (config.CATALOG, "catalog/", Path("catalog")),
        (config.EMAIL_FROM, "Readiness Bot <readiness@example.com>", "Readiness Bot <readiness@example.com>"),
    ],
    ids=lambda x: getattr(x, "name", None) or repr(x),
)
def test_a_good_value_is_parsed(monkeypatch, setting, text, value):
    monkeypatch.setenv(setting.name, text)
    assert setting.get() == value


def test_a_required_setting_that_is_unset_says_what_it_is_for(monkeypatch):
    monkeypatch.delenv(config.CATALOG.name, raising=False)
    with pytest.raises(SettingError, match="READINESS_CATALOG is not set: it must be a path"):
        config.CATALOG.require()


def test_every_default_parses_as_its_own_kind():
    """A default written as text in the docs must be one the variable would accept."""
    for setting in config.SETTINGS.values():
        if isinstance(setting.default, int | float | str) and not isinstance(setting.default, bool):
            assert setting.parse(str(setting.default).removesuffix(".0")) == setting.default, setting.name


def test_only_config_reads_the_environment():
    """No module of the runtime, DAG or plugin reads a READINESS_* variable itself."""
    readers = []
    for path in [*(REPO / "include" / "oncall_readiness").rglob("*.py"), *(REPO / "dags").glob("*.py")]:
        if path.name == "config.py":
            continue
        text = path.read_text()
        if re.search(r"os\.environ(\.get)?\(?\[?\s*[\"']READINESS_|getenv\(\s*[\"']READINESS_", text):
            readers.append(str(path.relative_to(REPO)))
    assert not readers


def test_every_variable_the_code_and_docs_name_is_a_setting():
    """A READINESS_* name in the runtime, the DAGs, the plugin or the docs is one config.py declares."""
    sandbox = _sandbox_settings()
    named: dict[str, set[str]] = {}
    places = [
        *(REPO / "include" / "oncall_readiness").rglob("*.py"),
        *(REPO / "include" / "oncall_readiness").rglob("*.j2"),
        *(REPO / "dags").glob("*.py"),
        *(REPO / "plugins").glob("*.py"),
        *(REPO / "docs").rglob("*.md"),
        REPO / "README.md",
        REPO / "docker-compose.yml",
    ]
    for path in places:
        for name in re.findall(r"\bREADINESS_[A-Z][A-Z_]*[A-Z]\b", path.read_text()):
            named.setdefault(name, set()).add(str(path.relative_to(REPO)))
    known = set(config.SETTINGS) | set(sandbox) | TEST_SETTINGS
    unknown = {name: sorted(where) for name, where in named.items() if name not in known}
    assert not unknown, f"not declared in config.py (or the sandbox's settings): {unknown}"


def test_the_configuration_page_is_generated_from_config():
    """docs/configuration.md is `make docs`' output: it lists every setting, and is not stale."""
    page = (REPO / "docs" / "configuration.md").read_text()
    assert page == config.markdown(), "docs/configuration.md is stale: run `make docs`"
    for name in config.SETTINGS:
        assert f"`{name}`" in page


def _sandbox_settings() -> dict[str, str]:
    """The variables only the sandbox (the demo, `make airflow`, the tests) reads, as docs/sandbox.md lists them."""
    from readiness_sandbox.settings import SANDBOX_SETTINGS

    return SANDBOX_SETTINGS


def test_the_sandbox_names_only_its_own_settings_and_the_runtimes():
    sandbox = _sandbox_settings()
    named = {
        name
        for path in (REPO / "include" / "readiness_sandbox").rglob("*.py")
        for name in re.findall(r"\bREADINESS_[A-Z][A-Z_]*[A-Z]\b", path.read_text())
    }
    assert named - set(config.SETTINGS) == set(sandbox)
    page = (REPO / "docs" / "sandbox.md").read_text()
    assert "## Settings" in page and all(f"`{name}`" in page for name in [*sandbox, *TEST_SETTINGS])
