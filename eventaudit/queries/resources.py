"""The caches and stores the app has seen (AuditResources): listing them, and refusing unknown ones."""

from __future__ import annotations

from eventaudit.queries.errors import InvalidQuery, UnknownResource, resource_noun
from eventaudit.queries.models import Resource, resource_from
from eventaudit.queries.reader import read_all
from eventaudit.storage import AuditStore
from eventaudit.storage.tables import (
    APP_CONFIGURATION_STORE as APP_CONFIGURATION_STORE,  # the readers' name too
)
from eventaudit.storage.tables import AUDIT_RESOURCES, REDIS_CACHE

MAX_NAME = 260


def list_resources(store: AuditStore, kind: str) -> list[Resource]:
    """Every cache (kind RedisCache, both generations) or store (AppConfigurationStore) seen, by name."""
    [entities] = read_all(store, AUDIT_RESOURCES, [("PartitionKey eq @kind", {"kind": kind})])
    entities.sort(key=lambda e: e["RowKey"])
    return [resource_from(e) for e in entities]


def resolve(store: AuditStore, kind: str, name: str) -> Resource:
    """The recorded resource of that name (any casing); UnknownResource if it was never seen.

    Where an Azure Cache for Redis and Azure Managed Redis caches share a name, the first is returned
    (as before Azure Managed Redis was recorded); resolve_all returns them all.
    """
    return resolve_all(store, kind, name)[0]


def resolve_all(store: AuditStore, kind: str, name: str) -> list[Resource]:
    """Every recorded resource of that name; UnknownResource if none was ever seen."""
    found = find_all(store, kind, name)
    if not found:
        raise UnknownResource(kind, name, [r.name for r in list_resources(store, kind)])
    return found


def lookup(store: AuditStore, kind: str, name: str) -> Resource | None:
    """The recorded resource of that kind and name (any casing; the first, as resolve), or None."""
    found = find_all(store, kind, name)
    return found[0] if found else None


def find_all(store: AuditStore, kind: str, name: str) -> list[Resource]:
    """The resources of that name: its row (RowKey = lower-cased name) and, for caches, the Azure
    Managed Redis caches of that name (RowKey = name~hash, keys.regional_resource_row_key)."""
    noun = resource_noun(kind)
    if not isinstance(name, str) or not name.strip():
        raise InvalidQuery(f"{noun} name is empty")
    if len(name) > MAX_NAME:
        raise InvalidQuery(f"{noun} name is longer than {MAX_NAME} characters")
    key = name.strip().lower()
    # Parameterised lookups rather than get_entity: any text, quotes and all, is only ever data.
    filters = [("PartitionKey eq @kind and RowKey eq @name", {"kind": kind, "name": key})]
    if kind == REDIS_CACHE:
        filters.append(("PartitionKey eq @kind and RowKey ge @low and RowKey lt @high",
                        {"kind": kind, "low": f"{key}~", "high": f"{key}~~"}))
    return [resource_from(entity) for rows in read_all(store, AUDIT_RESOURCES, filters) for entity in rows]
