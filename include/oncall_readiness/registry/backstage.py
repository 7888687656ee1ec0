"""Reading a Backstage catalog: files, folders, YAML documents and Locations, into entities.

A catalog is Backstage entity descriptors (``apiVersion: backstage.io/v1alpha1``) in
YAML files: :func:`~oncall_readiness.registry.load_registry` takes a file or a
folder. A folder is walked recursively for ``*.yaml`` / ``*.yml`` files (hidden
folders are skipped); files may hold several documents (``---``). Files named
``readiness-*.yaml`` (the audit's own files kept beside the catalog, such as
``readiness-waivers.yaml``) are not read as entities. ``kind: Location``
entities are followed when their ``spec.target`` / ``spec.targets`` are local paths
(relative to the Location's file, absolute, or a glob such as ``./teams/*.yaml``);
URL targets (``https://...``) are skipped. Every real file (after resolving symlinks)
is read once, however many times it is reached. A missing target is a problem unless
the Location says ``spec.presence: optional``.

Only the kinds ``Group`` (a team), ``User`` (a person) and ``Component`` (a service)
are used; every other kind (System, API, Domain, Resource, Template, Location...) is
ignored, but every document must still be an entity with a ``kind`` and a
``metadata.name``.

A YAML document with a key twice in one mapping, an explicit tag, or aliases that would
expand it past ``yaml_files.MAX_ALIAS_GROWTH`` nodes is refused before it is constructed,
naming the file and line (:mod:`oncall_readiness.yaml_files`).

Problems are collected as lines of text (see :mod:`oncall_readiness.registry`); the entities
go on to :mod:`.builder`.
"""

from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from oncall_readiness import yaml_files
from oncall_readiness.config_files import display_path

USED_KINDS = {"group": "Group", "user": "User", "component": "Component"}
_NAME_RE = re.compile(r"^[A-Za-z0-9]+(?:[-_.][A-Za-z0-9]+)*$")
_GLOB_CHARS = set("*?[")
# The audit's own files beside the catalog (readiness-waivers.yaml, ...) are not entities.
AUDIT_FILE_PREFIX = "readiness-"


@dataclass(eq=False)
class Entity:
    kind: str  # canonical spelling: Group, User, Component
    namespace: str
    name: str
    data: dict[str, Any]
    file: str  # for messages
    source_file: str  # for the DataFrames
    line: int = 0  # where the entity's YAML document starts in its file, for messages

    @functools.cached_property
    def key(self) -> tuple[str, str, str]:  # cached: looked up for every reference, 200,000 times at 2,000 teams
        return (self.kind.lower(), self.namespace.lower(), self.name.lower())

    @property
    def ident(self) -> str:
        """The team / person id used in the DataFrames."""
        if self.namespace.lower() == "default":
            return self.name
        return f"{self.namespace}/{self.name}"

    @property
    def label(self) -> str:
        return f"{self.kind} '{self.ident}'"

    @property
    def ref(self) -> str:
        return f"{self.kind.lower()}:{self.ident}"

    def where(self, field: str) -> str:
        return f"{self.file}: {self.label} {field}"


class CatalogReader:
    """Reads every file of a catalog once, following Locations; collects entities and problems."""

    def __init__(self, root: Path):
        self.root_dir = root if root.is_dir() else root.parent
        self.problems: list[str] = []
        self.entities: list[Entity] = []
        self._seen: set[Path] = set()
        self._queue: list[Path] = []
        self._source_names: dict[Path, str] = {}

    # -- paths
    def source_name(self, path: Path) -> str:
        # Once per file, not per entity: resolving walks every folder of the path (lstat each).
        if path not in self._source_names:
            try:
                name = path.resolve().relative_to(self.root_dir.resolve()).as_posix()
            except ValueError:
                name = path.resolve().as_posix()
            self._source_names[path] = name
        return self._source_names[path]

    def enqueue(self, path: Path) -> None:
        real = path.resolve()
        if real not in self._seen:
            self._seen.add(real)
            self._queue.append(path)

    def enqueue_folder(self, folder: Path) -> None:
        for dirpath, dirnames, filenames in os.walk(folder):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for filename in sorted(filenames):
                if filename.endswith((".yaml", ".yml")) and not filename.startswith(AUDIT_FILE_PREFIX):
                    self.enqueue(Path(dirpath) / filename)

    def run(self, root: Path) -> None:
        if root.is_dir():
            self.enqueue_folder(root)
        else:
            self.enqueue(root)
        while self._queue:
            self.read_file(self._queue.pop(0))

    # -- files and documents
    def read_file(self, path: Path) -> None:
        shown = display_path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            self.problems.append(f"{shown}: cannot read the file: {exc}")
            return
        try:
            for node, doc in yaml_files.documents(text):
                self.read_document(doc, path, shown, node.start_mark.line + 1)
        except yaml_files.YamlError as error:
            self.problems.append(error.at(shown))

    def read_document(self, doc: Any, path: Path, shown: str, line: int) -> None:
        if doc is None:
            return
        at = f"{shown}:{line}"
        if not isinstance(doc, dict):
            self.problems.append(f"{at}: document is not an entity (not a mapping)")
            return
        kind = doc.get("kind")
        metadata = doc.get("metadata")
        name = metadata.get("name") if isinstance(metadata, dict) else None
        if not isinstance(kind, str) or not kind.strip():
            what = f"entity '{name.strip()}'" if isinstance(name, str) and name.strip() else "entity"
            self.problems.append(f"{at}: {what} kind: missing")
            return
        kind = kind.strip()
        if not isinstance(metadata, dict) or not isinstance(name, str) or not name.strip():  # no name (or metadata)
            self.problems.append(f"{at}: {kind} (no name) metadata.name: missing")
            return
        name = name.strip()
        namespace = metadata.get("namespace") or "default"
        namespace = str(namespace).strip() or "default"
        if kind.lower() == "location":
            self.follow_location(doc, path, shown, name)
            return
        canonical = USED_KINDS.get(kind.lower())
        if canonical is None:
            return
        entity = Entity(
            kind=canonical,
            namespace=namespace,
            name=name,
            data=doc,
            file=shown,
            source_file=self.source_name(path),
            line=line,
        )
        api_version = doc.get("apiVersion")
        if not isinstance(api_version, str) or not api_version.startswith("backstage.io/"):
            self.problems.append(
                entity.where("apiVersion") + f": unsupported {api_version!r} (expected backstage.io/v1alpha1)"
            )
        if len(name) > 63 or not _NAME_RE.match(name):
            self.problems.append(
                entity.where("metadata.name") + ": invalid name (1 to 63 of [A-Za-z0-9] separated by - _ or .)"
            )
        self.entities.append(entity)

    def follow_location(self, doc: dict[str, Any], path: Path, shown: str, name: str) -> None:
        spec = doc.get("spec") or {}
        if not isinstance(spec, dict):
            self.problems.append(f"{shown}: Location '{name}' spec: not a mapping")
            return
        targets: list[Any] = []
        if spec.get("target") is not None:
            targets.append(spec["target"])
        raw_targets = spec.get("targets") or []
        if not isinstance(raw_targets, list):
            self.problems.append(f"{shown}: Location '{name}' spec.targets: not a list")
            raw_targets = []
        targets.extend(raw_targets)
        optional = str(spec.get("presence", "required")).lower() == "optional"
        for target in targets:
            if not isinstance(target, str) or not target.strip():
                self.problems.append(f"{shown}: Location '{name}' spec.targets: invalid target {target!r}")
                continue
            target = target.strip()
            if "://" in target:
                continue  # a URL: not a local file, not followed
            base = Path(target)
            if not base.is_absolute():
                base = path.parent / base
            if _GLOB_CHARS & set(target):
                anchor = Path(base.anchor)
                matches = sorted(anchor.glob(str(base.relative_to(anchor))))
                if not matches and not optional:
                    self.problems.append(f"{shown}: Location '{name}' spec.targets: no file matches {target}")
                for match in matches:
                    if match.is_file() and not match.name.startswith(AUDIT_FILE_PREFIX):
                        self.enqueue(match)
                continue
            if base.is_dir():
                self.enqueue_folder(base)
            elif base.is_file():
                self.enqueue(base)
            elif not optional:
                self.problems.append(f"{shown}: Location '{name}' spec.targets: {target} does not exist")
