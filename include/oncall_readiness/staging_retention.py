"""Old staging is deleted: ``readiness_audit``'s last task, ``clean_staging``, calls ``clean_staging``.

A run folder (``<root>/<audit_date>/<run>/``) goes when its audit date is more than
``READINESS_STAGING_RETENTION_DAYS`` days (default 7) before now *and* nothing in it was
written within those days: a backfill of an old date that is running, or finished yesterday,
keeps its staging. The current run's folder is never deleted, and nothing but date folders
under the root is touched (the root may be a prefix of a bucket shared with other data).
Deleting what is already gone is not an error, so a retry or a concurrent run is harmless.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from oncall_readiness import config
from oncall_readiness.staging import RunStaging, StagingPath, filesystem, staging_root

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem

log = logging.getLogger(__name__)


def retention_days() -> int:
    return config.STAGING_RETENTION_DAYS.require()


def clean_staging(
    *, keep_days: int, now: dt.datetime, current: RunStaging | None = None, root: StagingPath | None = None
) -> dict[str, int]:
    """Delete the run folders older than ``keep_days``; how many were deleted and how many old ones kept."""
    fs, base, local = filesystem(root if root is not None else staging_root())
    cutoff = now - dt.timedelta(days=keep_days)
    keep = filesystem(current.folder)[1].rstrip("/") if current is not None else None
    deleted = kept = 0
    for date_folder in _folders(fs, base):
        day = _audit_date(date_folder)
        if day is None or day >= cutoff.date():
            continue
        for run_folder in _folders(fs, date_folder):
            if run_folder.rstrip("/") == keep or _last_written(fs, run_folder) >= cutoff:
                kept += 1
                continue
            log.info("Deleting staging %s (audit date %s)", run_folder, day)
            _remove(fs, run_folder)
            deleted += 1
        if local and not fs.ls(date_folder):
            _remove(fs, date_folder)  # an object store has no empty folders to leave behind
    return {"deleted_runs": deleted, "kept_old_runs": kept}


def _folders(fs: AbstractFileSystem, path: str) -> list[str]:
    fs.invalidate_cache(path)  # another worker may have written or deleted since this process listed
    try:
        return [entry["name"] for entry in fs.ls(path, detail=True) if entry["type"] == "directory"]
    except FileNotFoundError:
        return []


def _audit_date(path: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(path.rstrip("/").rsplit("/", 1)[-1])
    except ValueError:
        return None  # not ours


def _last_written(fs: AbstractFileSystem, path: str) -> dt.datetime:
    stamps = [_modified(info) for info in fs.find(path, detail=True).values()]
    return max(stamps, default=dt.datetime.min.replace(tzinfo=dt.UTC))


def _modified(info: Mapping[str, Any]) -> dt.datetime:
    """When a file was last written, as each filesystem reports it (local, S3, GCS)."""
    if "mtime" in info:
        return dt.datetime.fromtimestamp(float(info["mtime"]), dt.UTC)
    stamp = info.get("LastModified") or info.get("updated")
    if isinstance(stamp, str):
        stamp = dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    if not isinstance(stamp, dt.datetime):  # unknown: count it as just written, never delete on a guess
        return dt.datetime.now(dt.UTC)
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.UTC)


def _remove(fs: AbstractFileSystem, path: str) -> None:
    with contextlib.suppress(FileNotFoundError):  # a concurrent clean-up got there first
        fs.rm(path, recursive=True)
    fs.invalidate_cache(path)
