"""Control-plane changes of caches and stores: who asked for them (Azure Resource Manager events) and
what the resource looked like before and after (Azure Resource Notifications)."""
