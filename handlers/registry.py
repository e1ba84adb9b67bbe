"""Event type -> handler. One decorator line registers a handler for one event type."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, Protocol

from eventaudit.events import Envelope
from eventaudit.storage import AuditStore


class Handler(Protocol):
    def __call__(self, event: Envelope, store: AuditStore) -> None: ...


_HANDLERS: dict[str, Handler] = {}


def handles(event_type: str, **bound: Any) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Register the decorated function for `event_type`, with `bound` keyword arguments.

    Pass a SystemEventNames constant, never a name derived from a value: one value has two names.
    Registering a type twice fails at import, so two modules cannot silently fight over it.
    """

    def register(function: Callable[..., None]) -> Callable[..., None]:
        if event_type in _HANDLERS:
            raise RuntimeError(f"a handler for {event_type} is already registered")
        _HANDLERS[event_type] = functools.partial(function, **bound) if bound else function
        return function

    return register


def handler_for(event_type: str | None) -> Handler | None:
    return _HANDLERS.get(event_type) if isinstance(event_type, str) else None


def handled_event_types() -> list[str]:
    return sorted(_HANDLERS)
