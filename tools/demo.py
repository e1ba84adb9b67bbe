"""The main job on its embedded default: start Azurite, replay the sample events, print the tables."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from eventaudit.settings import PREFIX_SETTING, STORAGE_SETTING
from eventaudit.storage import reset_store
from tools.azurite import ROOT, Azurite
from tools.replay import configure_logging, load_events, print_report, replay
from tools.show import show, show_scalings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.demo", description=__doc__)
    parser.add_argument("events", nargs="*", type=Path, default=[ROOT / "samples" / "events"],
                        help="files or folders of events (default: samples/events)")
    parser.add_argument("--keep-running", action="store_true",
                        help="leave Azurite running until Ctrl+C, to look at the tables yourself")
    args = parser.parse_args(argv)
    configure_logging(verbose=False)
    with Azurite() as azurite:
        os.environ[STORAGE_SETTING] = azurite.connection_string
        os.environ.setdefault(PREFIX_SETTING, "")
        reset_store()
        print(f"Azurite Table service on {azurite.endpoint} (in memory)")
        events = list(load_events(args.events))
        print(f"Replaying {len(events)} events from {', '.join(str(p) for p in args.events)} "
              f"through function_app.record_event, twice (the second delivery must add nothing)")
        report = replay(events)
        print_report(report)
        print_report(replay(events))
        show(limit=50)
        show_scalings()
        if args.keep_running:
            print(f"\nAUDIT_STORAGE='{azurite.connection_string}'\nPress Ctrl+C to stop Azurite.")
            try:
                import time
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                pass
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
