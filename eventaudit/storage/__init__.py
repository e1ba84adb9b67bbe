"""Table Storage access: the process-wide AuditStore and the data contract's names and keys."""

from __future__ import annotations

import threading

from eventaudit.settings import current_settings, forget_settings
from eventaudit.storage.client import build_service_client
from eventaudit.storage.store import AuditStore

__all__ = ["AuditStore", "build_service_client", "get_store", "reset_store", "use_store"]

_store: AuditStore | None = None
_store_lock = threading.Lock()


def get_store() -> AuditStore:
    """The AuditStore of this process, built from the app settings on first use."""
    global _store
    if _store is None:
        with _store_lock:
            if _store is None:
                settings = current_settings()
                _store = AuditStore(build_service_client(settings.storage), settings.table_prefix)
    return _store


def use_store(store: AuditStore) -> None:
    """Make `store` the process-wide store, e.g. one whose client counts requests (benchmarks)."""
    global _store
    with _store_lock:
        _store = store


def reset_store() -> None:
    """Forget the process-wide store, so the next call reads the settings again (tests, tools)."""
    global _store
    with _store_lock:
        _store = None
        forget_settings()
