"""The registry: who the teams are, who is in them and which services they own.

The registry is read from Backstage entity descriptors (``apiVersion:
backstage.io/v1alpha1``) in YAML files: :func:`load_registry` takes a file or a folder
(``$READINESS_CATALOG``, see :func:`catalog_path`) and returns a :class:`Registry` of five
tables, or raises :class:`RegistryError` naming every problem. Or from a running Backstage's
catalog API: :func:`oncall_readiness.sources.backstage_catalog.load_registry_from_api` reads
it (connection ``backstage_default``) and :func:`registry_of_entities` builds the same tables
with the same rules.

- :mod:`.tables`: the tables and their columns, entity references, service ownership,
  membership and what each annotation becomes: the reference of the registry facts;
- :mod:`.backstage`: how a catalog is read: files, folders, YAML documents, Locations and
  the kinds used;
- :mod:`.builder`: the tables built from the entities, references resolved and fields
  validated.

Validation
----------
Every problem is collected and :class:`RegistryError` is raised once, one line per
problem (grouped by file), each naming the file (relative to the working directory
when below it), the entity (``Kind 'name'``) and the field, for example::

    include/sample_org/catalog/teams.yaml: User 'ada' spec.profile.email: missing

Problems: YAML that does not parse (file and line), a document that is not an entity
(no ``kind`` or no ``metadata.name``), a used kind without a ``backstage.io/``
apiVersion, an invalid name, duplicate entities (same kind, namespace and name; both
files named), an unknown owner, parent or member, a bad date, a User without a valid
email, a non-numeric or negative cost per minute, a malformed threshold annotation or a
missing Location target. Duplicate emails are allowed (the Backstage example has one).
"""

from __future__ import annotations

import os
from pathlib import Path

from oncall_readiness import config
from oncall_readiness.config_files import display_path
from oncall_readiness.errors import RegistryError
from oncall_readiness.registry.backstage import CatalogReader, Entity
from oncall_readiness.registry.builder import RegistryBuilder
from oncall_readiness.registry.tables import (
    FACT_COLUMNS,
    PEOPLE_COLUMNS,
    SERVICE_COLUMNS,
    TEAM_COLUMNS,
    TEAM_SCHEDULE_COLUMNS,
    THRESHOLD_COLUMNS,
    Registry,
)

__all__ = [
    "Registry",
    "RegistryError",
    "catalog_path",
    "load_registry",
    "registry_of_entities",
    "TEAM_COLUMNS",
    "PEOPLE_COLUMNS",
    "SERVICE_COLUMNS",
    "TEAM_SCHEDULE_COLUMNS",
    "THRESHOLD_COLUMNS",
    "FACT_COLUMNS",
]

CATALOG_ENV_VAR = config.CATALOG.name


def catalog_path() -> Path:
    """The catalog to audit: ``$READINESS_CATALOG`` (a file or a folder). There is no default."""
    configured = config.CATALOG.get()
    if configured is None:
        raise RegistryError(
            [
                f"{CATALOG_ENV_VAR} is not set: point it at your Backstage catalog (an entity YAML file or a "
                "folder of them); the demo and `make airflow` set it to the sample organisation"
            ]
        )
    return configured


def load_registry(path: str | os.PathLike[str]) -> Registry:
    """Read a Backstage catalog (a file or a folder) into a :class:`Registry`.

    Raises :class:`RegistryError` listing every problem found, one per line.
    """
    root = Path(path)
    if not root.exists():
        raise RegistryError([f"{display_path(root)}: catalog path does not exist"])
    reader = CatalogReader(root)
    reader.run(root)
    return _built(
        reader.entities,
        reader.problems,
        f"{display_path(root)}: no teams: the catalog holds no Group entities, so there is nothing to audit "
        "(is READINESS_CATALOG the right path?)",
    )


def registry_of_entities(entities: list[Entity], where: str, conn_id: str) -> Registry:
    """The registry of the entities a running Backstage's catalog API gave (``where`` names it).

    Bad entities raise :class:`RegistryError` as the files do, each naming the catalog, the
    location Backstage read the entity from, the entity and the field.
    """
    return _built(
        entities,
        [],
        f"{where}: no teams: the catalog holds no Group entities, so there is nothing to audit "
        f"(is the Airflow connection {conn_id!r} aimed at the right Backstage?)",
    )


def _built(entities: list[Entity], problems: list[str], no_teams: str) -> Registry:
    """The registry of ``entities``; every problem (found reading them, or building) raised at once."""
    registry = RegistryBuilder(entities, problems).build()
    if not problems and registry.teams.empty:
        problems.append(no_teams)
    if problems:
        # Grouped by file (stable: within a file, in the order found).
        raise RegistryError(sorted(problems, key=lambda p: p.split(":", 1)[0]))
    return registry
