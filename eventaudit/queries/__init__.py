"""The shared query layer: the questions people ask of the audit log, answered from its partitions.

Used by the CLI (audit_cli), the HTTP API (http_api) and so the timeline page. Every function takes
an AuditStore and returns a Page of dataclasses, newest first, with a continuation token for the next
page. Every question reads one partition or a bounded few (never a table scan), time ranges become
RowKey bounds, and user input only ever reaches Table Storage as a parameter of a filter.
"""

from eventaudit.queries.appconfig import (
    CHANGES,
    current_keys,
    key_history,
    recent_changes,
    snapshot_events,
    store_changes,
)
from eventaudit.queries.control_plane import HistoryItem, history
from eventaudit.queries.errors import InvalidQuery, QueryError, UnknownResource
from eventaudit.queries.models import ConfigChange, KeyState, LastScaling, Page, RedisOperation, Resource
from eventaudit.queries.ranges import TIME_HELP, TimeRange, parse_time, time_range
from eventaudit.queries.reader import DEFAULT_LIMIT, MAX_LIMIT, check_limit
from eventaudit.queries.redis import (
    OPERATIONS,
    cache_operations,
    failed_operations,
    last_scaling,
    recent_operations,
)
from eventaudit.queries.resources import APP_CONFIGURATION_STORE, REDIS_CACHE, list_resources, resolve
from eventaudit.queries.values import ValueAt, ValueChange, value_at, value_history

__all__ = [
    "APP_CONFIGURATION_STORE", "CHANGES", "DEFAULT_LIMIT", "MAX_LIMIT", "OPERATIONS", "REDIS_CACHE",
    "TIME_HELP", "ConfigChange", "HistoryItem", "InvalidQuery", "KeyState", "LastScaling", "Page",
    "QueryError", "RedisOperation", "Resource", "TimeRange", "UnknownResource", "ValueAt", "ValueChange",
    "cache_operations", "check_limit", "current_keys", "failed_operations", "history", "key_history",
    "last_scaling", "list_resources", "parse_time", "recent_changes", "recent_operations", "resolve",
    "snapshot_events", "store_changes", "time_range", "value_at", "value_history",
]
