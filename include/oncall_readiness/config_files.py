"""The configuration files beside the catalog (waivers, campaigns): where they are, and how problems name them."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from oncall_readiness.config import Setting
from oncall_readiness.errors import ConfigError


def display_path(path: str | os.PathLike[str]) -> str:
    """A path for messages: relative to the working directory when below it, else as given."""
    path = Path(path)
    rel = os.path.relpath(path, Path.cwd())
    if rel.startswith(".."):
        return path.as_posix()
    return Path(rel).as_posix()


def beside_catalog(
    setting: Setting[Path],
    catalog: str | os.PathLike[str] | None,
    filename: str,
    error: Callable[[list[str]], ConfigError],
) -> Path | None:
    """The file ``setting`` names, else ``filename`` beside the catalog (in the catalog folder, or
    the folder of the catalog file) when there is one, else None. A catalog read from Backstage's
    API (``catalog`` None) has no folder: only the setting names the file.

    A configured file that does not exist raises ``error(problems)``: a typo must not silently
    drop every waiver or campaign.
    """
    configured = setting.get()
    if configured is not None:
        if not configured.is_file():
            raise error([f"{display_path(configured)}: {setting.name} names a file that does not exist"])
        return configured
    if catalog is None:
        return None
    root = Path(catalog)
    beside = (root if root.is_dir() else root.parent) / filename
    return beside if beside.is_file() else None
