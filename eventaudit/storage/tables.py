"""Table names of the data contract (each gets the optional AUDIT_TABLE_PREFIX)."""

REDIS_CACHE_EVENTS = "RedisCacheEvents"
APP_CONFIGURATION_EVENTS = "AppConfigurationEvents"
APP_CONFIGURATION_KEYS = "AppConfigurationKeys"
UNHANDLED_EVENTS = "UnhandledEvents"
# Control-plane changes of caches and stores (Resource Manager and Resource Notifications events),
# the latest known properties of each resource and child, and the Resource Notifications of each in
# both time orders (how a notification finds its neighbours in one row read).
CONTROL_PLANE_EVENTS = "ControlPlaneEvents"
CONTROL_PLANE_STATE = "ControlPlaneState"
CONTROL_PLANE_CHAIN = "ControlPlaneChain"
# One row per cache or store ever seen, so readers can list them without scanning; its partitions are
# the kinds of resource.
AUDIT_RESOURCES = "AuditResources"
REDIS_CACHE = "RedisCache"  # Azure Cache for Redis and Azure Managed Redis caches
APP_CONFIGURATION_STORE = "AppConfigurationStore"

# App Configuration values: one row per key-value revision; the captures still to make, and each
# store's capture state (budget, throttling, problems).
APP_CONFIGURATION_REVISIONS = "AppConfigurationRevisions"
APP_CONFIGURATION_CAPTURES = "AppConfigurationCaptures"

ALL_TABLES = (REDIS_CACHE_EVENTS, APP_CONFIGURATION_EVENTS, APP_CONFIGURATION_KEYS, UNHANDLED_EVENTS,
              AUDIT_RESOURCES, CONTROL_PLANE_EVENTS, CONTROL_PLANE_STATE, APP_CONFIGURATION_REVISIONS,
              APP_CONFIGURATION_CAPTURES, CONTROL_PLANE_CHAIN)
