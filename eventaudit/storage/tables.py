"""Table names of the data contract (each gets the optional AUDIT_TABLE_PREFIX)."""

REDIS_CACHE_EVENTS = "RedisCacheEvents"
APP_CONFIGURATION_EVENTS = "AppConfigurationEvents"
APP_CONFIGURATION_KEYS = "AppConfigurationKeys"
UNHANDLED_EVENTS = "UnhandledEvents"
# One row per cache or store ever seen, so readers can list them without scanning.
AUDIT_RESOURCES = "AuditResources"

# App Configuration values: one row per key-value revision; the captures still to make, and each
# store's capture state (budget, throttling, problems).
APP_CONFIGURATION_REVISIONS = "AppConfigurationRevisions"
APP_CONFIGURATION_CAPTURES = "AppConfigurationCaptures"

ALL_TABLES = (REDIS_CACHE_EVENTS, APP_CONFIGURATION_EVENTS, APP_CONFIGURATION_KEYS, UNHANDLED_EVENTS,
              AUDIT_RESOURCES, APP_CONFIGURATION_REVISIONS, APP_CONFIGURATION_CAPTURES)
