"""The Backstage emulator's state: a catalog's entity files, as Backstage's catalog stores them.

``load_catalog(path)`` reads a catalog (a file or a folder, Locations followed, as
``READINESS_CATALOG`` is read: ``oncall_readiness.registry.backstage``) and keeps every entity,
of every kind, the way the catalog backend serves it after processing:

- ``metadata.namespace`` (``default`` when absent), a ``uid`` and an ``etag`` (stable: derived
  from the entity's reference), and the annotations Backstage adds,
  ``backstage.io/managed-by-location`` and ``backstage.io/managed-by-origin-location``
  (``file:<absolute path>``);
- ``relations``: what Backstage's ``BuiltinKindsEntityProcessor`` emits from ``spec``, both
  directions (``ownedBy``/``ownerOf`` from a Component's ``spec.owner``, ``childOf``/``parentOf``
  from a Group's ``spec.parent`` and ``spec.children``, ``hasMember``/``memberOf`` from
  ``spec.members`` and a User's ``spec.memberOf``), with full references
  (``group:default/payments``; a reference without a kind takes the field's default kind, as
  Backstage's ``parseEntityRef`` does), each once, sorted.

``without_spec_links`` drops ``spec.members``, ``spec.memberOf``, ``spec.parent`` and
``spec.children`` after the relations are made: a catalog whose links only its relations hold
(as an entity provider such as LDAP may leave it), to test that a reader takes them from there.
"""

from __future__ import annotations

import copy
import hashlib
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from oncall_readiness import yaml_files
from oncall_readiness.registry.backstage import CatalogReader

# spec field -> (relation from the entity, the reverse relation on the target, the target's default kind)
SPEC_RELATIONS: dict[str, dict[str, tuple[str, str, str]]] = {
    "component": {"owner": ("ownedBy", "ownerOf", "group")},
    "group": {
        "parent": ("childOf", "parentOf", "group"),
        "children": ("parentOf", "childOf", "group"),
        "members": ("hasMember", "memberOf", "user"),
    },
    "user": {"memberOf": ("memberOf", "hasMember", "group")},
}
LINK_FIELDS = ("members", "memberOf", "parent", "children")
_NAMESPACE = uuid.UUID("6f1c7c2e-6a55-4c4e-9a57-5b3f1f0e2d11")


class CatalogStateError(ValueError):
    """The catalog does not load; the message names the file."""


@dataclass
class CatalogState:
    """Every entity, in the catalog's default order (by uid)."""

    entities: list[dict[str, Any]]
    _pairs: dict[str, frozenset[tuple[str, str]]] = field(default_factory=dict, repr=False)
    _keys: dict[str, frozenset[str]] = field(default_factory=dict, repr=False)

    def search_keys(self, entity: dict[str, Any]) -> frozenset[str]:
        """The keys of :meth:`search_pairs` (what an existence condition matches), cached."""
        uid = entity["metadata"]["uid"]
        if uid not in self._keys:
            self._keys[uid] = frozenset(key for key, _ in self.search_pairs(entity))
        return self._keys[uid]

    def search_pairs(self, entity: dict[str, Any]) -> frozenset[tuple[str, str]]:
        """The entity's (key, value) pairs a filter matches, lower-cased (Backstage's search table), cached."""
        uid = entity["metadata"]["uid"]
        if uid not in self._pairs:
            pairs: set[tuple[str, str]] = set()
            _flatten(entity, "", pairs)
            for relation in entity.get("relations", []):
                pairs.add((f"relations.{relation['type']}".lower(), relation["targetRef"].lower()))
            self._pairs[uid] = frozenset(pairs)
        return self._pairs[uid]


def load_catalog(path: Path, *, without_spec_links: bool = False) -> CatalogState:
    """The catalog's entities at ``path`` (a file or a folder), processed as Backstage serves them."""
    root = Path(path)
    if not root.exists():
        raise CatalogStateError(f"{root}: no such catalog")
    reader = CatalogReader(root)
    reader.run(root)  # walks the folder and the Locations; it keeps only three kinds, so files are read again
    raw: list[dict[str, Any]] = []
    for file in sorted(reader._seen):  # noqa: SLF001 (the files it read, symlinks resolved)
        try:
            documents = [doc for _, doc in yaml_files.documents(file.read_text(encoding="utf-8"))]
        except (OSError, UnicodeDecodeError, yaml_files.YamlError) as error:
            raise CatalogStateError(f"{file}: {error}") from None
        for doc in documents:
            if isinstance(doc, dict) and isinstance(doc.get("metadata"), dict) and doc.get("kind"):
                raw.append(_stored(doc, file))
    state = CatalogState(sorted(_with_relations(raw, without_spec_links), key=lambda e: e["metadata"]["uid"]))
    for entity in state.entities:  # Backstage's search table is built when entities are stored, not per query
        state.search_keys(entity)
    return state


def _stored(doc: dict[str, Any], file: Path) -> dict[str, Any]:
    entity = copy.deepcopy(doc)
    metadata = entity["metadata"]
    metadata["namespace"] = str(metadata.get("namespace") or "default")
    ref = entity_ref(entity)
    metadata["uid"] = str(uuid.uuid5(_NAMESPACE, ref))
    metadata["etag"] = hashlib.sha1(ref.encode()).hexdigest()[:40]  # noqa: S324 (an etag, not a secret)
    annotations = metadata.setdefault("annotations", {})
    location = f"file:{file}"
    annotations.setdefault("backstage.io/managed-by-location", location)
    annotations.setdefault("backstage.io/managed-by-origin-location", location)
    return entity


def entity_ref(entity: dict[str, Any]) -> str:
    metadata = entity["metadata"]
    # stringifyEntityRef: kind and namespace lower-cased, the name as written
    return f"{str(entity['kind']).lower()}:{str(metadata.get('namespace') or 'default').lower()}/{metadata['name']}"


def _target_ref(ref: Any, namespace: str, default_kind: str) -> str | None:
    """``[kind:][namespace/]name`` as a full reference (``parseEntityRef`` with the field's defaults)."""
    if not isinstance(ref, str) or not ref.strip():
        return None
    text = ref.strip()
    kind, _, rest = text.rpartition(":") if ":" in text else ("", "", text)
    ns, _, name = rest.rpartition("/") if "/" in rest else ("", "", rest)
    return f"{(kind or default_kind).lower()}:{(ns or namespace).lower()}/{name}"


def _with_relations(entities: list[dict[str, Any]], without_spec_links: bool) -> list[dict[str, Any]]:
    by_ref = {entity_ref(e).lower(): e for e in entities}
    relations: dict[str, set[tuple[str, str]]] = {ref: set() for ref in by_ref}
    for ref, entity in by_ref.items():
        spec = entity.get("spec") if isinstance(entity.get("spec"), dict) else {}
        namespace = entity["metadata"]["namespace"]
        for spec_field, (forward, reverse, default_kind) in SPEC_RELATIONS.get(ref.split(":")[0], {}).items():
            values = spec.get(spec_field)
            for value in values if isinstance(values, list) else [values]:
                target = _target_ref(value, namespace, default_kind)
                if target is None:
                    continue
                relations[ref].add((forward, target))
                if target.lower() in relations:  # the reverse relation lives on the target, when it exists
                    relations[target.lower()].add((reverse, entity_ref(entity)))
    for ref, entity in by_ref.items():
        entity["relations"] = [{"type": t, "targetRef": target} for t, target in sorted(relations[ref])]
        if without_spec_links and isinstance(entity.get("spec"), dict):
            for spec_field in LINK_FIELDS:
                entity["spec"].pop(spec_field, None)
    return list(by_ref.values())


def _flatten(value: Any, prefix: str, pairs: set[tuple[str, str]]) -> None:
    """Backstage's search keys: a path to every value; a string in an array is a key of its own, valued ``true``."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "relations" and not prefix:
                continue
            _flatten(item, f"{prefix}.{key}" if prefix else str(key), pairs)
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, dict | list):
                _flatten(item, prefix, pairs)
            elif item is not None:
                pairs.add((f"{prefix}.{item}".lower(), "true"))
                pairs.add((prefix.lower(), str(item).lower()))
    elif value is not None:
        pairs.add((prefix.lower(), str(value).lower() if not isinstance(value, bool) else str(value).lower()))
