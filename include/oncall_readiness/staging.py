"""Staging: how one DAG run's tasks hand data to each other (Parquet files, never large XComs).

Layout: ``<READINESS_STAGING_DIR>/<audit_date>/<run>/<step>/<table>.parquet`` plus a
``_status.json`` per step saying whether it succeeded and, if not, why. ``<run>`` is the DAG
run's id made safe for a path, so a step reads only what its own run wrote: a rerun of a
date, or a backfill overlapping the scheduled run of that date, never sees another run's
files. A step is written to a temporary folder and renamed into place, so a task killed
mid-write leaves no half step, and a retried task replaces its step whole.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import shutil
import uuid
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

STATUS_FILE = "_status.json"
NOT_RUN = "it was not collected in this run"


def staging_root() -> Path:
    configured = os.environ.get("READINESS_STAGING_DIR")
    if configured:
        return Path(configured)
    return Path(os.environ.get("AIRFLOW_HOME", Path.home() / "airflow")) / "readiness-staging"


def run_folder_name(run_id: str) -> str:
    """A path-safe, collision-free folder name for a DAG run id (which may hold ``:``, ``+``, ``/``)."""
    readable = re.sub(r"[^A-Za-z0-9._-]+", "_", run_id).strip("._")[:80]
    return f"{readable}-{hashlib.sha256(run_id.encode()).hexdigest()[:8]}"


class RunStaging:
    """The staging folder of one DAG run of one audit date."""

    def __init__(self, audit_date: dt.date, run_id: str, root: Path | None = None) -> None:
        if not run_id:
            raise ValueError("staging belongs to a DAG run: a run id is required")
        self.audit_date = audit_date
        self.run_id = run_id
        self.folder = (root or staging_root()) / audit_date.isoformat() / run_folder_name(run_id)

    def step_dir(self, step: str) -> Path:
        return self.folder / step

    def write(self, step: str, frames: Mapping[str, pd.DataFrame]) -> str:
        """Replace the step's tables and mark it ok, atomically; return the folder (a small XCom)."""
        return self._replace(step, {"ok": True, "tables": sorted(frames)}, frames)

    def mark_failed(self, step: str, reason: str) -> None:
        """Record why a step could not deliver, so the checks that need it report unknown with that reason."""
        self._replace(step, {"ok": False, "reason": reason}, {})

    def read(self, step: str) -> dict[str, pd.DataFrame]:
        status = self.status(step)
        if not status.get("ok"):
            raise FileNotFoundError(
                f"staging step {step!r} of run {self.run_id} ({self.audit_date}) is not available: "
                f"{status.get('reason')}"
            )
        return {name: pd.read_parquet(self.step_dir(step) / f"{name}.parquet") for name in status["tables"]}

    def status(self, step: str) -> dict:
        path = self.step_dir(step) / STATUS_FILE
        if not path.exists():
            return {"ok": False, "reason": NOT_RUN}
        return json.loads(path.read_text())

    def _replace(self, step: str, status: dict, frames: Mapping[str, pd.DataFrame]) -> str:
        final = self.step_dir(step)
        final.parent.mkdir(parents=True, exist_ok=True)
        scratch = final.with_name(f".{step}.{uuid.uuid4().hex}.tmp")
        scratch.mkdir()
        try:
            for name, frame in frames.items():
                frame.to_parquet(scratch / f"{name}.parquet", index=False)
            (scratch / STATUS_FILE).write_text(json.dumps(status))
            if final.exists():  # a retry: move the old step aside first (a folder cannot be replaced in one rename)
                old = final.with_name(f".{step}.{uuid.uuid4().hex}.old")
                final.rename(old)
                shutil.rmtree(old, ignore_errors=True)
            scratch.rename(final)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        return str(final)
