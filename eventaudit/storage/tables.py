"""Table names of the data contract (each gets the optional AUDIT_TABLE_PREFIX)."""

REDIS_CACHE_EVENTS = "RedisCacheEvents"
APP_CONFIGURATION_EVENTS = "AppConfigurationEvents"
APP_CONFIGURATION_KEYS = "AppConfigurationKeys"
UNHANDLED_EVENTS = "UnhandledEvents"
# One row per cache or store ever seen, so readers can list them without scanning.
AUDIT_RESOURCES = "AuditResources"

ALL_TABLES = (REDIS_CACHE_EVENTS, APP_CONFIGURATION_EVENTS, APP_CONFIGURATION_KEYS, UNHANDLED_EVENTS,
              AUDIT_RESOURCES)
