"""Reading the catalog from a running Backstage: the catalog API's entities, into the same registry.

The catalog backend's ``GET /api/catalog/entities/by-query`` (Backstage's OpenAPI,
``tests/reference/backstage_catalog/openapi.yaml``) is read in one query for the three kinds
the registry uses (``filter=kind=group&filter=kind=user&filter=kind=component``: filter sets
are OR-ed), with ``fields=kind,metadata,spec,relations`` (what the registry reads, nothing
else) and ``limit`` :data:`PAGE_SIZE`, following ``pageInfo.nextCursor`` until the answer has
none. One query rather than one per kind: the pages are full until the last one, so the read
costs ``ceil(entities / PAGE_SIZE)`` requests, the fewest at that page size.

Why 1,000 a page: Backstage's OpenAPI sets no maximum on ``limit`` (the backend's default is
200). A page is materialised whole in the backend's memory and sent as one JSON body; with the
fields cut to what the registry reads an entity is about 1 to 2 KB, so a page of 1,000 is
1 to 2 MB, well inside a proxy's body limits and the client's 30-second timeout, and a
20,000-entity catalog is 20 requests. A server that answers fewer than asked (a gateway's cap)
costs more pages, never a wrong read: the client follows cursors until there are none.

A partial read is refused (:class:`~oncall_readiness.errors.SourceError`, so the task retries):
the first page's ``totalItems`` is the count to reach, and the read fails when the cursors end
before it, when more entities arrive than it said, when an entity arrives twice (the catalog
changed while it was read) or when a page is malformed.

The entities then go through the files' builder (:mod:`oncall_readiness.registry.builder`), so the same entities give
the same tables whichever way they are read. Backstage's processors resolve ``spec`` into
``relations``; where ``spec`` leaves a link implicit (an entity provider that sets only one side,
a ``Group.spec.children`` without the child's ``spec.parent``), the relation supplies it:
``hasMember`` adds to a Group's ``spec.members``, ``memberOf`` to a User's ``spec.memberOf``,
``childOf`` gives a Group's ``spec.parent`` and ``ownedBy`` a Component's ``spec.owner`` when
``spec`` has none. A relation that repeats ``spec`` adds nothing (so an unknown reference is
named once). ``source_file`` is where Backstage read the entity from
(``backstage.io/managed-by-location``, without its ``file:`` or ``url:`` type).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from oncall_readiness.errors import SourceError
from oncall_readiness.registry import Registry, registry_of_entities
from oncall_readiness.registry.backstage import USED_KINDS, Entity
from oncall_readiness.registry.builder import _parse_ref
from oncall_readiness.sources.http import ApiClient, raise_for_error

SOURCE = "backstage"
TITLE = "Backstage catalog"
QUERY_PATH = "/api/catalog/entities/by-query"
PAGE_SIZE = 1000
FIELDS = "kind,metadata,spec,relations"
FILTERS = tuple(f"kind={kind}" for kind in USED_KINDS)  # kind=group, kind=user, kind=component
LOCATION_ANNOTATION = "backstage.io/managed-by-location"


@dataclass(frozen=True)
class CatalogRead:
    """Every entity of the query, and what the read cost."""

    items: list[dict[str, Any]]
    total_items: int
    pages: int


class BackstageCatalogClient(ApiClient):
    """The catalog API, read with a static token of ``backend.auth.externalAccess`` (a bearer token)."""

    def __init__(
        self,
        token: str,
        *,
        base_url: str,
        page_size: int = PAGE_SIZE,
        max_retries: int = 6,
        backoff_factor: float = 0.5,
    ) -> None:
        if not token:
            raise SourceError(f"{SOURCE}: no token given")
        if not base_url:
            raise SourceError(f"{SOURCE}: no base URL given")
        super().__init__(base_url, max_retries=max_retries, backoff_factor=backoff_factor)
        self.page_size = page_size
        self.session.headers.update({"Authorization": f"Bearer {token}", "Accept": "application/json"})

    def get(self, params: list[tuple[str, Any]]) -> dict[str, Any]:
        """One page of ``by-query``: its JSON body, checked to be an ``EntitiesQueryResponse``."""
        response = self._send(QUERY_PATH, urlencode(params))  # filter repeated: a list, not a mapping
        self.count_request()
        raise_for_error(response, SOURCE)
        try:
            body = response.json()
        except ValueError:
            raise SourceError(f"{SOURCE}: GET {QUERY_PATH} answered {response.status_code} without JSON") from None
        if (
            not isinstance(body, dict)
            or not isinstance(body.get("items"), list)
            or not isinstance(body.get("totalItems"), int | float)
            or not isinstance(body.get("pageInfo"), dict)
        ):
            raise SourceError(f"{SOURCE}: GET {QUERY_PATH} answered without items, totalItems and pageInfo")
        return body

    def probe(self) -> int:
        """One cheap authenticated call (one Group, its kind only): the catalog's number of Groups."""
        return int(self.get([("filter", "kind=group"), ("fields", "kind"), ("limit", 1)])["totalItems"])

    def pages(self) -> Iterator[dict[str, Any]]:
        """Every page of the registry's query, in order."""
        common = [("fields", FIELDS), ("limit", self.page_size)]
        body = self.get([*(("filter", f) for f in FILTERS), *common])
        yield body
        while cursor := body["pageInfo"].get("nextCursor"):
            # A cursor carries the query; filters beside it would be ignored, so only fields and limit go with it.
            body = self.get([("cursor", cursor), *common])
            yield body

    def read(self) -> CatalogRead:
        """Every Group, User and Component, whole: a partial or changing read raises ``SourceError``."""
        items: list[dict[str, Any]] = []
        seen: set[tuple[str, str, str]] = set()
        total: int | None = None
        pages = 0
        for body in self.pages():
            pages += 1
            said = int(body["totalItems"])
            if total is None:
                total = said
            elif said != total:
                raise SourceError(
                    f"{SOURCE}: the catalog changed while it was read (totalItems {total}, then {said}): read again"
                )
            for item in body["items"]:
                key = _item_key(item)
                if key in seen:
                    raise SourceError(
                        f"{SOURCE}: {key[0]}:{key[1]}/{key[2]} came twice: the catalog changed while it was read"
                    )
                seen.add(key)
                items.append(item)
            if len(items) > total:
                raise SourceError(f"{SOURCE}: more entities than totalItems said ({len(items)} of {total})")
            if not body["items"]:  # a page of nothing: cursors that would go round without reaching the total
                break
        if total is None or len(items) != total:
            raise SourceError(
                f"{SOURCE}: partial read: {len(items)} of the {total} entities totalItems announced, in {pages} "
                "pages; the registry is not loaded from part of the catalog"
            )
        return CatalogRead(items=items, total_items=total, pages=pages)


def _item_key(item: Any) -> tuple[str, str, str]:
    if not isinstance(item, dict) or not isinstance(item.get("metadata"), dict):
        raise SourceError(f"{SOURCE}: GET {QUERY_PATH} answered an item that is not an entity")
    metadata = item["metadata"]
    kind, name = item.get("kind"), metadata.get("name")
    if not isinstance(kind, str) or not isinstance(name, str):
        raise SourceError(f"{SOURCE}: GET {QUERY_PATH} answered an entity without kind or metadata.name")
    return (kind.lower(), str(metadata.get("namespace") or "default").lower(), name.lower())


# --- entities ----------------------------------------------------------------------------------------

# relation type -> (the kind it is on, the spec field it completes, the default kind of that field's refs)
LIST_RELATIONS = {"hasMember": ("Group", "members", "user"), "memberOf": ("User", "memberOf", "group")}
ONE_RELATIONS = {"childOf": ("Group", "parent", "group"), "ownedBy": ("Component", "owner", "group")}


def entities_from_items(items: list[dict[str, Any]], where: str) -> list[Entity]:
    """The registry's entities of the API's items (Groups, Users, Components), relations folded into ``spec``.

    ``where`` names the catalog in messages (``Backstage catalog https://backstage.example.com``).
    """
    entities: list[Entity] = []
    for item in items:
        kind = USED_KINDS.get(str(item.get("kind", "")).lower())
        if kind is None:
            continue
        metadata = item.get("metadata") or {}
        name = str(metadata.get("name")).strip()
        namespace = str(metadata.get("namespace") or "default").strip() or "default"
        annotations = metadata.get("annotations")
        location = str((annotations if isinstance(annotations, dict) else {}).get(LOCATION_ANNOTATION) or "").strip()
        target = location.split(":", 1)[1] if location.split(":", 1)[0] in ("file", "url") else location
        data = _with_relations(item, kind, namespace)
        entities.append(
            Entity(
                kind=kind,
                namespace=namespace,
                name=name,
                data=data,
                file=f"{where} ({location})" if location else where,
                source_file=target or where,
            )
        )
    return entities


def _with_relations(item: Mapping[str, Any], kind: str, namespace: str) -> dict[str, Any]:
    """The entity's data with the links its relations give and its ``spec`` leaves implicit."""
    relations = item.get("relations")
    if not isinstance(relations, list) or not relations:
        return dict(item)
    data = dict(item)  # copies of what changes (the entity, its spec, a list completed), not of the whole
    spec = data.get("spec")
    if spec is not None and not isinstance(spec, dict):  # not a mapping: the builder reports what it finds
        return data
    spec = data["spec"] = dict(spec or {})
    targets: dict[str, list[str]] = {}  # relation type -> its targets, in order
    for relation in relations:
        if isinstance(relation, dict) and isinstance(relation.get("targetRef"), str):
            targets.setdefault(str(relation.get("type")), []).append(relation["targetRef"])
    for relation_type, (kind_of, field, _) in ONE_RELATIONS.items():
        if kind_of == kind and spec.get(field) is None and targets.get(relation_type):
            spec[field] = targets[relation_type][0]
    for relation_type, (kind_of, field, default_kind) in LIST_RELATIONS.items():
        current = spec.get(field)
        if kind_of != kind or not targets.get(relation_type) or (current is not None and not isinstance(current, list)):
            continue
        completed = list(current or [])
        known = {_key(ref, namespace, default_kind) for ref in completed}
        for target in targets[relation_type]:
            key = _key(target, namespace, default_kind)
            if key not in known:
                known.add(key)
                completed.append(target)
        spec[field] = completed
    return data


def _key(ref: Any, namespace: str, default_kind: str) -> tuple[str, str, str] | None:
    parsed = _parse_ref(ref, namespace)
    if parsed is None:
        return None
    kind, ns, name = parsed
    return ((kind or default_kind).lower(), ns.lower(), name.lower())


def load_registry_from_api(client: BackstageCatalogClient, conn_id: str = "backstage_default") -> Registry:
    """Read a running Backstage's catalog (every Group, User and Component) into a :class:`Registry`.

    A partial read raises ``SourceError`` (retried); bad entities raise ``RegistryError`` as the
    files do, each naming the catalog, the location Backstage read the entity from, the entity and the field.
    """
    where = f"Backstage catalog {client.base_url}"
    catalog = client.read()
    return registry_of_entities(entities_from_items(catalog.items, where), where, conn_id)
