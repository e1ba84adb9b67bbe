"""Post an events file to a running Functions host, as Event Grid does.

    func start                                           # in another terminal, with Azurite running
    python -m tools.send_event samples/events/redis-eventgrid.json

Sends the file's events as one delivery to
http://localhost:7071/runtime/webhooks/EventGrid?functionName=record_event with the header
`aeg-event-type: Notification`. Prints the host's answer: 202 when every event was processed.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from tools.trigger import FUNCTION_NAME


def webhook_url(base: str, function: str, code: str | None) -> str:
    query = {"functionName": function}
    if code:
        query["code"] = code  # the host's eventgrid_extension system key, needed outside localhost
    return f"{base.rstrip('/')}/runtime/webhooks/EventGrid?{urllib.parse.urlencode(query)}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.send_event", description=__doc__.split("\n\n")[0])
    parser.add_argument("file", type=Path, help="a JSON array of events, or one event")
    parser.add_argument("--base-url", default="http://localhost:7071", help="Functions host (default local)")
    parser.add_argument("--function", default=FUNCTION_NAME, help=f"function name (default {FUNCTION_NAME})")
    parser.add_argument("--code", help="system key eventgrid_extension (not needed for func start)")
    args = parser.parse_args(argv)
    content = json.loads(args.file.read_text(encoding="utf-8-sig"))
    events = content if isinstance(content, list) else [content]
    cloud = all(isinstance(e, dict) and "specversion" in e for e in events)
    request = urllib.request.Request(
        webhook_url(args.base_url, args.function, args.code),
        data=json.dumps(events).encode("utf-8"),
        method="POST",
        headers={
            "aeg-event-type": "Notification",
            "Content-Type": "application/cloudevents-batch+json; charset=utf-8" if cloud
            else "application/json",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            print(f"{response.status} {response.reason}: {len(events)} events delivered")
            return 0
    except urllib.error.HTTPError as exc:
        print(f"{exc.code} {exc.reason}: {exc.read().decode(errors='replace')[:500]}", file=sys.stderr)
    except urllib.error.URLError as exc:
        print(f"cannot reach {args.base_url}: {exc.reason} (is `func start` running?)", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
