"""The shared query layer: the questions people ask of the audit log, answered from its partitions.

Used by the CLI (eventaudit.cli), the HTTP API (eventaudit.http_api) and so the timeline page. Every
question takes an AuditStore and returns a Page of dataclasses, newest first, with a continuation
token for the next page. Every question reads named partitions (never a table scan), time ranges become
RowKey bounds, a page reads about as many rows as it returns (reader), and user input only ever
reaches Table Storage as a parameter of a filter. `timeline` merges every source (timeline.SOURCES);
`history` is the same for one cache or store.
"""

from eventaudit.queries.appconfig import (
    CHANGES,
    current_keys,
    key_history,
    recent_changes,
    snapshot_events,
    store_changes,
)
from eventaudit.queries.errors import InvalidQuery, QueryError, UnknownResource
from eventaudit.queries.history import control_plane_history, history
from eventaudit.queries.models import (
    ConfigChange,
    KeyState,
    LastScaling,
    Page,
    RedisOperation,
    Resource,
    TimelineItem,
)
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
from eventaudit.queries.sources import Source, TimelineFilter
from eventaudit.queries.statuses import is_failed, status_class
from eventaudit.queries.timeline import SOURCES, all_actions, known_resources, timeline
from eventaudit.queries.values import ValueAt, ValueChange, value_at, value_history

__all__ = [
    "APP_CONFIGURATION_STORE", "CHANGES", "DEFAULT_LIMIT", "MAX_LIMIT", "OPERATIONS", "REDIS_CACHE",
    "SOURCES", "TIME_HELP", "ConfigChange", "InvalidQuery", "KeyState", "LastScaling", "Page",
    "QueryError", "RedisOperation", "Resource", "Source", "TimeRange", "TimelineFilter", "TimelineItem",
    "UnknownResource", "ValueAt", "ValueChange", "all_actions", "cache_operations", "check_limit",
    "control_plane_history",
    "current_keys", "failed_operations", "history", "is_failed", "key_history", "known_resources",
    "last_scaling", "list_resources", "parse_time", "recent_changes", "recent_operations", "resolve",
    "snapshot_events", "status_class", "store_changes", "time_range", "timeline", "value_at",
    "value_history",
]
