"""Cold start: a fresh interpreter importing the app, next to one importing only azure.functions."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APP = "import function_app"
BASELINE = "import azure.functions"
# What the first events need: the trigger's path, one event of each source through the real store.
FIRST_EVENTS = """
import json, sys
from benchmarks import workload
from tools.trigger import decode
from eventaudit.events import from_trigger
from eventaudit.ingest import ingest
from eventaudit.storage import get_store
for event_type in workload.ALL_TYPES:
    for schema in workload.SCHEMAS:
        ingest(from_trigger(decode(workload.event(event_type, 1, schema))), get_store())
print(json.dumps(sorted(sys.modules)))
"""


def _python(code: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True, capture_output=True,
                          text=True)


def import_seconds(code: str) -> float:
    start = time.perf_counter()
    _python(code)
    return time.perf_counter() - start


def cold_starts(runs: int) -> tuple[float, float]:
    """Median wall seconds of `import function_app` and of `import azure.functions`, interleaved."""
    app, baseline = [], []
    for _ in range(runs):
        app.append(import_seconds(APP))
        baseline.append(import_seconds(BASELINE))
    return statistics.median(app), statistics.median(baseline)


def modules_not_needed(connection_string: str) -> list[str]:
    """Packages (and app modules) `import function_app` loads that serving the first events never needs."""
    listing = "import json, sys; print(json.dumps(sorted(sys.modules)))"
    at_load = set(json.loads(_python(f"{APP}; {listing}").stdout))
    env = {**os.environ, "AUDIT_STORAGE": connection_string, "AUDIT_TABLE_PREFIX": "coldstart"}
    needed = set(json.loads(_python(FIRST_EVENTS, env).stdout.splitlines()[-1]))
    # The app's own modules by full name (the HTTP API, with the auth policy its routes are indexed
    # with, is loaded with the app by design; its query layer lazily); other packages by top-level name.
    by_design = {"function_app", "eventaudit.http_api", "eventaudit.auth"}
    return sorted({_package(name) for name in at_load - needed} - by_design)


def _package(module: str) -> str:
    return module if module.startswith("eventaudit.") else module.split(".")[0]
