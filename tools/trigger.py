"""Invoke the app's Event Grid function as the Functions worker does.

The raw JSON of one event is decoded by azure-functions' own EventGridEventInConverter (the
worker's decoder), and the user function is taken from the app's index, not imported by name.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from functools import cache
from typing import Any

import azure.functions as func
from azure.functions.eventgrid import EventGridEventInConverter
from azure.functions.meta import Datum

FUNCTION_NAME = "record_event"

# get_functions() indexes the app and refuses to run twice (the worker calls it once): concurrent
# first deliveries must not both index, or one fails with "does not have a unique function name".
_index_lock = threading.Lock()


def decode(raw: dict[str, Any] | str) -> func.EventGridEvent | func.CloudEvent:
    """What the worker hands the function for one event of a delivery."""
    body = raw if isinstance(raw, str) else json.dumps(raw)
    return EventGridEventInConverter.decode(Datum(body, "json"), trigger_metadata={})


_indexed: tuple[func.decorators.function_app.Function, ...] | None = None


def indexed_functions() -> tuple[func.decorators.function_app.Function, ...]:
    """The app's functions as the worker indexes them (get_functions may run once per app)."""
    global _indexed
    with _index_lock:  # functools.cache would let two first callers both index
        if _indexed is None:
            import function_app

            _indexed = tuple(function_app.app.get_functions())
        return _indexed


@cache  # deliver() runs per event: look the function up in the index once, as the worker does
def trigger_function(name: str = FUNCTION_NAME) -> Callable[[Any], None]:
    for function in indexed_functions():
        if function.get_function_name() == name:
            return function.get_user_function()
    raise LookupError(f"function_app has no function named {name!r}")


def deliver(raw: dict[str, Any] | str) -> None:
    """Decode one event and run the trigger function on it; raises what the function raises."""
    trigger_function()(decode(raw))
