"""The caches and stores the app has seen (AuditResources): listing them, and refusing unknown ones."""

from __future__ import annotations

from eventaudit.queries.errors import InvalidQuery, UnknownResource, resource_noun
from eventaudit.queries.models import Resource, resource_from
from eventaudit.queries.reader import read_all
from eventaudit.storage import AuditStore
from eventaudit.storage.tables import AUDIT_RESOURCES

REDIS_CACHE = "RedisCache"
APP_CONFIGURATION_STORE = "AppConfigurationStore"
MAX_NAME = 260


def list_resources(store: AuditStore, kind: str) -> list[Resource]:
    """Every cache (kind RedisCache) or store (AppConfigurationStore) seen, by lower-case name."""
    [entities] = read_all(store, AUDIT_RESOURCES, [("PartitionKey eq @kind", {"kind": kind})])
    entities.sort(key=lambda e: e["RowKey"])
    return [resource_from(e) for e in entities]


def resolve(store: AuditStore, kind: str, name: str) -> Resource:
    """The recorded resource of that name (any casing); UnknownResource if it was never seen."""
    found = lookup(store, kind, name)
    if found is None:
        raise UnknownResource(kind, name, [r.name for r in list_resources(store, kind)])
    return found


def lookup(store: AuditStore, kind: str | None, name: str) -> Resource | None:
    """The recorded resource of that kind and name (any casing), or None."""
    noun = resource_noun(kind)
    if not isinstance(name, str) or not name.strip():
        raise InvalidQuery(f"{noun} name is empty")
    if len(name) > MAX_NAME:
        raise InvalidQuery(f"{noun} name is longer than {MAX_NAME} characters")
    # A parameterised lookup rather than get_entity: any text, quotes and all, is only ever data.
    [found] = read_all(store, AUDIT_RESOURCES, [("PartitionKey eq @kind and RowKey eq @name",
                                                 {"kind": kind, "name": name.strip().lower()})])
    return resource_from(found[0]) if found else None
