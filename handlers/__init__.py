"""Handlers, one module per event source; importing a module registers its handlers."""

from handlers import app_configuration, redis_cache, resource_manager  # noqa: F401  (imported to register)
from handlers.registry import handled_event_types, handler_for

__all__ = ["handled_event_types", "handler_for"]
