"""Staging: how tasks hand data to each other (Parquet files, never large XComs).

Layout: ``<READINESS_STAGING_DIR>/<audit_date>/<step>/<table>.parquet`` plus a
``_status.json`` per step saying whether it succeeded and, if not, why. A retried task
clears its own step folder first, so a retry never mixes old and new files.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

STATUS_FILE = "_status.json"


def staging_root() -> Path:
    configured = os.environ.get("READINESS_STAGING_DIR")
    if configured:
        return Path(configured)
    return Path(os.environ.get("AIRFLOW_HOME", Path.home() / "airflow")) / "readiness-staging"


def step_dir(audit_date: dt.date, step: str, root: Path | None = None) -> Path:
    return (root or staging_root()) / audit_date.isoformat() / step


def write_step(audit_date: dt.date, step: str, frames: Mapping[str, pd.DataFrame], root: Path | None = None) -> str:
    """Replace the step's tables and mark it ok; return the folder (a small XCom)."""
    folder = step_dir(audit_date, step, root)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for name, frame in frames.items():
        frame.to_parquet(folder / f"{name}.parquet", index=False)
    (folder / STATUS_FILE).write_text(json.dumps({"ok": True, "tables": sorted(frames)}))
    return str(folder)


def mark_failed(audit_date: dt.date, step: str, reason: str, root: Path | None = None) -> None:
    """Record why a step could not deliver, so the checks that need it report unknown with that reason."""
    folder = step_dir(audit_date, step, root)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    (folder / STATUS_FILE).write_text(json.dumps({"ok": False, "reason": reason}))


def read_step(audit_date: dt.date, step: str, root: Path | None = None) -> dict[str, pd.DataFrame]:
    folder = step_dir(audit_date, step, root)
    status = step_status(audit_date, step, root)
    if not status.get("ok"):
        raise FileNotFoundError(f"staging step {step!r} of {audit_date} is not available: {status.get('reason')}")
    return {name: pd.read_parquet(folder / f"{name}.parquet") for name in status["tables"]}


def step_status(audit_date: dt.date, step: str, root: Path | None = None) -> dict:
    path = step_dir(audit_date, step, root) / STATUS_FILE
    if not path.exists():
        return {"ok": False, "reason": "it was not collected in this run"}
    return json.loads(path.read_text())
