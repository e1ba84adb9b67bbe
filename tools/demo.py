"""The main job on its embedded default: start Azurite and the App Configuration stand-in, replay the
sample events, make changes in the stand-in and deliver the events App Configuration publishes for
them, capture their values, and show a key's history from what to what (live and backfilled)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from eventaudit.appconfig.settings import CONNECTION_STRINGS_SETTING, ENDPOINTS_SETTING
from eventaudit.settings import PREFIX_SETTING, STORAGE_SETTING
from eventaudit.storage import reset_store
from tools.appconfig_standin import AppConfigStandIn
from tools.azurite import ROOT, Azurite
from tools.replay import configure_logging, load_events, print_report, replay
from tools.show import show, show_scalings

FLAG = ".appconfig.featureflag/NewCheckout"
FLAG_TYPE = "application/vnd.microsoft.appconfig.ff+json;charset=utf-8"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.demo", description=__doc__)
    parser.add_argument("events", nargs="*", type=Path, default=[ROOT / "samples" / "events"],
                        help="files or folders of events (default: samples/events)")
    parser.add_argument("--keep-running", action="store_true",
                        help="leave Azurite and the stand-in running until Ctrl+C, to look around yourself")
    args = parser.parse_args(argv)
    configure_logging(verbose=False)
    # Two stand-in stores, as the sample events name two (contoso-dev stays empty: its sample changes
    # were never made, so their values are reported as not retained). Every store is configured with a
    # connection string: the demo never falls back to DefaultAzureCredential.
    with Azurite() as azurite, AppConfigStandIn(name="contoso") as standin, \
            AppConfigStandIn(name="contoso-dev") as dev:
        os.environ[STORAGE_SETTING] = azurite.connection_string
        os.environ.setdefault(PREFIX_SETTING, "")
        os.environ[ENDPOINTS_SETTING] = f"contoso={standin.endpoint} contoso-dev={dev.endpoint}"
        os.environ[CONNECTION_STRINGS_SETTING] = f"{standin.connection_string()} {dev.connection_string()}"
        reset_store()
        print(f"Azurite Table service on {azurite.endpoint} (in memory)")
        print(f"App Configuration stand-ins (tools/appconfig_standin.py): contoso on {standin.endpoint}, "
              f"contoso-dev on {dev.endpoint}")
        events = list(load_events(args.events))
        print(f"Replaying {len(events)} events from {', '.join(str(p) for p in args.events)} "
              f"through function_app.record_event, twice (the second delivery must add nothing)")
        report = replay(events)
        print_report(report)
        print_report(replay(events))
        failed = report.failed + values_demo(standin)
        show(limit=50)
        show_scalings()
        if args.keep_running:
            print(f"\nAUDIT_STORAGE='{azurite.connection_string}'\n{ENDPOINTS_SETTING}="
                  f"'{os.environ[ENDPOINTS_SETTING]}'\n{CONNECTION_STRINGS_SETTING}="
                  f"'{os.environ[CONNECTION_STRINGS_SETTING]}'\nPress Ctrl+C to stop.")
            try:
                import time
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                pass
    return 1 if failed else 0


def values_demo(standin: AppConfigStandIn) -> int:
    """History before the subscription (backfill), then live changes captured from the revisions."""
    from azure.appconfiguration import AzureAppConfigurationClient, ConfigurationSetting

    from eventaudit.cli import main as audit_log

    client = AzureAppConfigurationClient.from_connection_string(standin.connection_string())

    def put(key: str, value: str, label: str | None = None, content_type: str | None = None) -> None:
        client.set_configuration_setting(ConfigurationSetting(key=key, value=value, label=label,
                                                              content_type=content_type))

    flag = {"id": "NewCheckout", "description": "", "enabled": True, "conditions": {"client_filters": []}}
    print("\n== Values: changes made in the stand-in before the app was subscribed ==")
    put("Checkout:Timeout", "20", "Production")
    put("Checkout:Timeout", "30", "Production")
    put(FLAG, json.dumps(flag), content_type=FLAG_TYPE)
    put("Checkout:Retries", "3\nbackoff=linear\njitter=off", "Production")
    published = len(standin.published_events)
    print("$ audit-log appconfig backfill contoso")
    audit_log(["appconfig", "backfill", "contoso", "--pace", "0"])

    print("\n== Values: live changes; the events App Configuration publishes for them are delivered ==")
    put("Checkout:Timeout", "45", "Production")
    put(FLAG, json.dumps({**flag, "enabled": False}), content_type=FLAG_TYPE)
    put("Checkout:Retries", "3\nbackoff=exponential\njitter=off", "Production")
    put("Db:Password", "correct horse")
    client.delete_configuration_setting("Checkout:Retries", label="Production")
    live = [(f"stand-in[{i}]", event) for i, event in enumerate(standin.published_events[published:])]
    report = replay(live)
    print_report(report)
    print("$ audit-log appconfig capture        # what the timer function capture_values does every minute")
    audit_log(["appconfig", "capture"])
    for argv in (["appconfig", "values", "contoso", "Checkout:Timeout"],
                 ["appconfig", "values", "contoso", FLAG],
                 ["appconfig", "values", "contoso", "Checkout:Retries", "--label", "Production"],
                 ["appconfig", "values", "contoso", "Db:Password"]):
        print(f"\n$ audit-log {' '.join(argv)}")
        audit_log(argv)
    revisions = [r for r in standin.all_revisions() if r.key == "Checkout:Timeout"]
    at = revisions[0].last_modified.isoformat().replace("+00:00", "Z")
    print(f"\n$ audit-log appconfig values contoso Checkout:Timeout --label Production --at {at}")
    audit_log(["appconfig", "values", "contoso", "Checkout:Timeout", "--label", "Production", "--at", at])
    reads = sum(1 for r in standin.requests if r.method == "GET" and r.path in ("/revisions", "/kv"))
    print(f"\n(App Configuration list requests by the app, backfill and capture together: {reads})")
    return report.failed


if __name__ == "__main__":
    sys.exit(main())
