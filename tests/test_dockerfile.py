"""The image installs exactly what uv.lock pins, on the Airflow image of the locked version (no engine needed)."""

from __future__ import annotations

import re
import shlex
import subprocess
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
EXPORT = ["export", "--frozen", "--no-dev", "--no-emit-project"]


def instructions() -> list[tuple[str, str]]:
    """The Dockerfile's instructions, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", (REPO / "Dockerfile").read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def locked_version(package: str) -> str:
    return re.search(rf'\nname = "{package}"\nversion = "([^"]+)"', (REPO / "uv.lock").read_text()).group(1)


def shell_commands() -> list[list[str]]:
    return [shlex.split(part) for kind, args in instructions() if kind == "RUN" for part in args.split("&&")]


def test_the_base_image_is_the_locked_airflow_on_a_supported_python():
    bases = [args.split()[0] for kind, args in instructions() if kind == "FROM"]
    airflow, python = re.fullmatch(r"apache/airflow:([\d.]+)-python(3\.\d+)", bases[-1]).groups()
    assert airflow == locked_version("apache-airflow")
    requires = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["requires-python"]
    low, high = re.fullmatch(r">=3\.(\d+),<3\.(\d+)", requires.replace(" ", "")).groups()
    assert int(low) <= int(python.split(".")[1]) < int(high)


def test_uv_in_the_image_is_the_makefiles():
    uv_image = next(args.split()[0] for kind, args in instructions() if kind == "FROM" and "astral-sh/uv" in args)
    pinned = re.search(r"^UV_VERSION := (\S+)$", (REPO / "Makefile").read_text(), re.M).group(1)
    assert uv_image == f"ghcr.io/astral-sh/uv:{pinned}"


def test_every_install_comes_from_the_lock():
    commands = shell_commands()
    export = next(command for command in commands if command[:2] == ["uv", "export"])
    assert export[1:5] == EXPORT  # the lock as it is (--frozen), runtime only
    requirements = export[export.index("--output-file") + 1]
    installs = [command for command in commands if command[:2] == ["pip", "install"]]
    assert installs, "the Dockerfile installs nothing"
    for install in installs:
        # Either the exported pins, hashes checked, or the project alone: nothing resolved anew.
        from_lock = ["-r", requirements] == install[-2:] and "--require-hashes" in install
        assert from_lock or "--no-deps" in install, f"unpinned install: {shlex.join(install)}"
    assert commands.index(export) < commands.index(installs[0])


def test_the_exported_requirements_pin_the_images_airflow_and_what_staging_needs(unavailable):
    uv = next((path for path in (REPO / ".tools/bin/uv", Path("/usr/local/bin/uv")) if path.exists()), None)
    if uv is None:
        unavailable("uv is not installed (make .tools/bin/uv)")
    exported = subprocess.run([uv, *EXPORT, "--no-header", "--quiet"], cwd=REPO, capture_output=True, text=True)
    assert exported.returncode == 0, exported.stderr
    pins = dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)", exported.stdout, re.M))
    base = next(args for kind, args in reversed(instructions()) if kind == "FROM")
    assert base.startswith(f"apache/airflow:{pins['apache-airflow']}-")
    for needed in ("apache-airflow-providers-amazon", "s3fs", "apache-airflow-providers-celery"):
        assert pins[needed] == locked_version(needed)
    assert not {"moto", "pytest"} & set(pins), "dev dependencies would be in the image"


@pytest.mark.parametrize("folder", ["include", "dags", "plugins"])
def test_the_code_is_copied_into_the_image(folder):
    copied = [args.split()[-2] for kind, args in instructions() if kind == "COPY" and "--from" not in args]
    assert folder in copied
