"""The wheel: the runtime, the sandbox beside it with the sample data it serves, the provider entry point."""

from __future__ import annotations

import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> zipfile.ZipFile:
    uv = shutil.which("uv") or str(REPO / ".tools" / "bin" / "uv")
    assert Path(uv).exists(), "uv is not installed: `make test` installs it into .tools/"
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([uv, "build", "--wheel", "--out-dir", str(out), str(REPO)], check=True, capture_output=True)
    (built,) = out.glob("*.whl")
    with zipfile.ZipFile(built) as archive:
        yield archive


def test_the_sandbox_ships_the_sample_organisation_it_serves(wheel):
    names = set(wheel.namelist())
    sample = {name.removeprefix("readiness_sandbox/sample_org/") for name in names if "sample_org/" in name}
    expected = {
        path.relative_to(REPO / "include" / "sample_org").as_posix()
        for path in (REPO / "include" / "sample_org").rglob("*")
        if path.is_file()
    }
    assert expected <= sample  # catalog, emulator states, HR export, Prometheus rules
    assert "readiness_sandbox/emulators.py" in names and "oncall_readiness/checks/checks.yaml" in names


def test_the_provider_entry_point_is_declared(wheel):
    (entry_points,) = [name for name in wheel.namelist() if name.endswith(".dist-info/entry_points.txt")]
    text = wheel.read(entry_points).decode()
    assert "[apache_airflow_provider]" in text and "oncall_readiness.provider:get_provider_info" in text
