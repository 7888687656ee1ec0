"""Staging: how one DAG run's tasks hand data to each other (Parquet files, never large XComs).

``READINESS_STAGING_DIR`` is a local folder (the default, ``$AIRFLOW_HOME/readiness-staging``),
a ``file://`` URL or an object store (``s3://bucket/prefix``, ``gs://bucket/prefix``) reached
through Airflow's ``ObjectStoragePath`` with the connection ``READINESS_STAGING_CONN_ID``
(default ``aws_default`` for S3, ``google_cloud_default`` for GCS). Layout::

    <root>/<audit_date>/<run>/<step>/_status.json
    <root>/<audit_date>/<run>/<step>/<attempt>/<table>.parquet

``<run>`` is the DAG run's id made safe for a path, so a step reads only what its own run
wrote. An object store cannot rename a folder atomically, so a step commits with its status:
each write puts its tables under a fresh ``<attempt>`` prefix, then writes ``_status.json``
last, in one put, naming the exact files. Readers trust only the status: a task killed
mid-write leaves files no status names (the step stays "not collected", or keeps the
previous attempt whole), and a retry replaces the step whole when its status lands; the
older attempts are then deleted.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import io
import json
import os
import re
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, TypeAlias

import pandas as pd

from oncall_readiness import config

if TYPE_CHECKING:
    from airflow.sdk import ObjectStoragePath
    from fsspec import AbstractFileSystem

# A plain local folder stays a pathlib.Path (what tools and tests on one machine expect); a
# URL is an ObjectStoragePath. Both are read and written through an fsspec filesystem alike.
StagingPath: TypeAlias = "Path | ObjectStoragePath"

STATUS_FILE = "_status.json"
NOT_RUN = "it was not collected in this run"
LOCAL_PROTOCOLS = ("", "file", "local")
DEFAULT_CONN_IDS = {
    "s3": "aws_default",
    "s3a": "aws_default",
    "gs": "google_cloud_default",
    "gcs": "google_cloud_default",
}


def staging_location() -> str:
    """Where staging lives, as configured (a local path or a URL); nothing is imported for it."""
    configured = config.STAGING_DIR.get()
    if configured:
        return configured
    return os.path.join(os.environ.get("AIRFLOW_HOME") or os.path.expanduser("~/airflow"), "readiness-staging")


def staging_root() -> StagingPath:
    return staging_path(staging_location())


def staging_path(location: str) -> StagingPath:
    """A staging location: a local folder, or a ``file://`` or object-store URL with the staging connection."""
    scheme = location.split("://", 1)[0].lower() if "://" in location else ""
    if not scheme:
        return Path(location)
    from airflow.sdk import ObjectStoragePath

    conn_id = None if scheme in LOCAL_PROTOCOLS else staging_conn_id(scheme)
    return ObjectStoragePath(location, conn_id=conn_id)


def staging_conn_id(scheme: str) -> str | None:
    return config.STAGING_CONN_ID.get() or DEFAULT_CONN_IDS.get(scheme)


def filesystem(path: StagingPath) -> tuple[AbstractFileSystem, str, bool]:
    """The fsspec filesystem behind a staging path, the path as that filesystem names it, and whether it is local."""
    if isinstance(path, Path):
        from fsspec.implementations.local import LocalFileSystem

        return LocalFileSystem(), str(path.absolute()), True
    return path.fs, path.path, path.protocol in LOCAL_PROTOCOLS


def run_folder_name(run_id: str) -> str:
    """A path-safe, collision-free folder name for a DAG run id (which may hold ``:``, ``+``, ``/``)."""
    readable = re.sub(r"[^A-Za-z0-9._-]+", "_", run_id).strip("._")[:80]
    return f"{readable}-{hashlib.sha256(run_id.encode()).hexdigest()[:8]}"


class Step:
    """One step's staging: committed by its ``_status.json``, which names the files of one attempt."""

    def __init__(self, location: StagingPath) -> None:
        self.location = location
        self._fs, self._path, self._local = filesystem(location)

    def __str__(self) -> str:
        return str(self.location)

    def status(self) -> dict[str, Any]:
        """What the step's commit marker says; a step without one was not run (or was killed)."""
        path = self._file(STATUS_FILE)
        try:
            status: dict[str, Any] = json.loads(self._fs.cat_file(path))  # a GET, never a possibly stale listing
            return status
        except FileNotFoundError:
            return {"ok": False, "reason": NOT_RUN}
        except ValueError:  # cannot happen with a one-put commit; never trust a half file
            return {"ok": False, "reason": "its staging status is unreadable"}

    def read(self) -> dict[str, pd.DataFrame]:
        """The step's tables, from the files its status names (or raise why they are unavailable)."""
        files = self._committed_files()
        return {name: pd.read_parquet(io.BytesIO(self._fs.cat_file(self._file(files[name])))) for name in files}

    def read_files(self) -> dict[str, bytes]:
        """A file step's files (such as the weekly emails), by name."""
        return {name: self._fs.cat_file(self._file(relative)) for name, relative in self._committed_files().items()}

    def table_path(self, table: str) -> StagingPath:
        """Where the committed attempt keeps ``table`` (for tests that tamper with staged data)."""
        return self.location / self._committed_files()[table]

    def write_tables(self, frames: Mapping[str, pd.DataFrame]) -> str:
        writers = {f"{name}.parquet": _parquet_writer(frame) for name, frame in frames.items()}
        names = {name: f"{name}.parquet" for name in frames}
        return self._commit({"ok": True, "tables": sorted(frames)}, names, writers)

    def write_files(self, files: Mapping[str, bytes]) -> str:
        writers = {name: _bytes_writer(data) for name, data in files.items()}
        return self._commit({"ok": True}, {name: name for name in files}, writers)

    def mark_failed(self, reason: str) -> None:
        """Record why the step could not deliver; a failure supersedes whatever an earlier attempt staged."""
        self._put_status({"ok": False, "reason": reason})
        self._drop_attempts(keep=None)

    def _committed_files(self) -> dict[str, str]:
        status = self.status()
        if not status.get("ok"):
            raise FileNotFoundError(f"staging step {self.location.name!r} is not available: {status.get('reason')}")
        # A status written before attempts existed names its tables only: they sit in the step folder.
        return status.get("files") or {name: f"{name}.parquet" for name in status["tables"]}

    def _commit(
        self, status: dict[str, Any], names: Mapping[str, str], writers: Mapping[str, Callable[[BinaryIO], None]]
    ) -> str:
        attempt = f"{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
        committed = False
        try:
            if self._local:
                self._fs.makedirs(self._file(attempt), exist_ok=True)
            for filename, write in writers.items():
                with self._fs.open(self._file(f"{attempt}/{filename}"), "wb") as out:
                    write(out)
            self._put_status({**status, "attempt": attempt, "files": {n: f"{attempt}/{f}" for n, f in names.items()}})
            committed = True
        finally:
            if not committed:  # an error, not a kill: leave nothing behind (a kill leaves files no status names)
                self._remove(self._file(attempt))
        self._drop_attempts(keep=attempt)
        return str(self.location)

    def _put_status(self, status: dict[str, Any]) -> None:
        """The commit: one put on an object store; on a local disk, a rename over the old status."""
        data = json.dumps(status).encode()
        final = self._file(STATUS_FILE)
        if not self._local:
            self._fs.pipe_file(final, data)
            return
        self._fs.makedirs(self._path, exist_ok=True)
        scratch = self._file(f".{STATUS_FILE}.{uuid.uuid4().hex}.tmp")
        self._fs.pipe_file(scratch, data)
        os.replace(scratch, final)

    def _drop_attempts(self, keep: str | None) -> None:
        """Delete the attempts the status no longer names (best effort: readers ignore them anyway)."""
        self._fs.invalidate_cache(self._path)
        try:
            entries = self._fs.ls(self._path, detail=False)
        except FileNotFoundError:
            return
        for entry in entries:
            name = entry.rstrip("/").rsplit("/", 1)[-1]
            if name not in (STATUS_FILE, keep):
                self._remove(entry)

    def _remove(self, path: str) -> None:
        with contextlib.suppress(FileNotFoundError):  # already gone: nothing to do
            self._fs.rm(path, recursive=True)
        self._fs.invalidate_cache(path)

    def _file(self, relative: str) -> str:
        return f"{self._path.rstrip('/')}/{relative}"


def _parquet_writer(frame: pd.DataFrame) -> Callable[[BinaryIO], None]:
    return lambda out: frame.to_parquet(out, index=False)


def _bytes_writer(data: bytes) -> Callable[[BinaryIO], None]:
    def write(out: BinaryIO) -> None:
        out.write(data)

    return write


def step_at(location: str) -> Step:
    """The step a task returned (its XCom), for the next task to read."""
    return Step(staging_path(location))


class RunStaging:
    """The staging folder of one DAG run of one audit date."""

    def __init__(self, audit_date: dt.date, run_id: str, root: StagingPath | None = None) -> None:
        if not run_id:
            raise ValueError("staging belongs to a DAG run: a run id is required")
        self.audit_date = audit_date
        self.run_id = run_id
        self.folder = (root if root is not None else staging_root()) / audit_date.isoformat() / run_folder_name(run_id)

    def step_dir(self, step: str) -> StagingPath:
        return self.folder / step

    def step(self, step: str) -> Step:
        return Step(self.step_dir(step))

    def write(self, step: str, frames: Mapping[str, pd.DataFrame]) -> str:
        """Replace the step's tables and mark it ok, atomically; return its location (a small XCom)."""
        return self.step(step).write_tables(frames)

    def write_files(self, step: str, files: Mapping[str, bytes]) -> str:
        return self.step(step).write_files(files)

    def mark_failed(self, step: str, reason: str) -> None:
        """Record why a step could not deliver, so the checks that need it report unknown with that reason."""
        self.step(step).mark_failed(reason)

    def read(self, step: str) -> dict[str, pd.DataFrame]:
        try:
            return self.step(step).read()
        except FileNotFoundError as missing:
            raise FileNotFoundError(f"{missing} (run {self.run_id}, {self.audit_date})") from None

    def read_files(self, step: str) -> dict[str, bytes]:
        return self.step(step).read_files()

    def status(self, step: str) -> dict[str, Any]:
        return self.step(step).status()

    def table_path(self, step: str, table: str) -> StagingPath:
        return self.step(step).table_path(table)
