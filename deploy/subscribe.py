"""Subscribe Azure Cache for Redis caches and App Configuration stores to the app's `record_event`.

    python -m deploy.subscribe --function-app audit-log-4711 --resource-group audit-rg \\
        --deadletter-account auditlog4711 --redis contoso-sessions --appconfig contoso-config \\
        --source-resource-group platform-prod [--schema cloudevents] [--max-events-per-batch 10] [--dry-run]
    python -m deploy.subscribe --remove --redis /subscriptions/.../Microsoft.Cache/Redis/contoso-sessions

Each source gets one Event Grid subscription (default name audit-log) for the event types the app
records, with a retry policy and a dead-letter container (created if missing), so an event Event Grid
finally gives up on is kept as a blob instead of dropped. A subscription that exists with the same
settings is left alone; one with other settings is brought up to date (create is create-or-update).
--remove deletes the subscriptions and keeps the dead-letter container and its blobs.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from typing import Any

from deploy import checks
from deploy.az import Az, DeployError, add_common_arguments, get, placeholder, run_main

FUNCTION_NAME = "record_event"


@dataclass(frozen=True)
class SourceKind:
    option: str
    label: str
    provider: str  # namespace/type, as in resource ids
    show: tuple[str, ...]  # az command group that shows one by name
    event_types: tuple[str, ...]


REDIS = SourceKind(
    "--redis",
    "Redis cache",
    "Microsoft.Cache/Redis",
    ("redis",),
    (
        "Microsoft.Cache.ScalingCompleted",
        "Microsoft.Cache.PatchingCompleted",
        "Microsoft.Cache.ImportRDBCompleted",
        "Microsoft.Cache.ExportRDBCompleted",
    ),
)
APP_CONFIGURATION = SourceKind(
    "--appconfig",
    "App Configuration store",
    "Microsoft.AppConfiguration/configurationStores",
    ("appconfig",),
    (
        "Microsoft.AppConfiguration.KeyValueModified",
        "Microsoft.AppConfiguration.KeyValueDeleted",
        "Microsoft.AppConfiguration.SnapshotCreated",
        "Microsoft.AppConfiguration.SnapshotModified",
    ),
)
SCHEMAS = {"eventgrid": "eventgridschema", "cloudevents": "cloudeventschemav1_0"}
# How the service spells them back in `show` (ARM), for comparing.
SCHEMA_NAMES = {"eventgridschema": "EventGridSchema", "cloudeventschemav1_0": "CloudEventSchemaV1_0"}
# What Event Grid uses when batching is not asked for (one event a request, 64 KB).
UNBATCHED = (1, 64)


@dataclass(frozen=True)
class Delivery:
    name: str
    schema: str
    max_delivery_attempts: int
    event_ttl: int
    max_events_per_batch: int | None
    preferred_batch_size_kb: int | None
    deadletter_container: str

    @property
    def batch(self) -> tuple[int, int]:
        if self.max_events_per_batch is None and self.preferred_batch_size_kb is None:
            return UNBATCHED
        return (self.max_events_per_batch or UNBATCHED[0], self.preferred_batch_size_kb or UNBATCHED[1])


@dataclass(frozen=True)
class Source:
    kind: SourceKind
    reference: str  # name or resource id, as given

    def resolve(self, az: Az, resource_group: str | None) -> str:
        """The source's resource id; by name it is looked up, which also checks it exists."""
        if checks.is_resource_id(self.reference):
            if f"/providers/{self.kind.provider}/".lower() not in self.reference.lower() + "/":
                raise DeployError(
                    f"{self.kind.option} {self.reference} is not a {self.kind.label} "
                    f"({self.kind.provider}) resource id"
                )
            return self.reference
        if not resource_group:
            raise DeployError(
                f"{self.kind.option} {self.reference} is a name: give --source-resource-group "
                "(or --resource-group), or pass the resource id"
            )
        found = _must_exist(
            az,
            self.kind.label,
            self.reference,
            *self.kind.show,
            "show",
            "--name",
            self.reference,
            "--resource-group",
            resource_group,
        )
        return get(found, "id", placeholder(f"id of {self.kind.label} {self.reference}"))


def _must_exist(az: Az, label: str, name: str, *show: str) -> Any:
    found = az.read(*show)
    if found is None and not az.dry_run:
        raise DeployError(f"{label} {name} was not found (az {' '.join(show)})")
    return found


def create_args(
    delivery: Delivery, kind: SourceKind, source_id: str, endpoint: str, deadletter: str
) -> list[str]:
    args = [
        "eventgrid",
        "event-subscription",
        "create",
        "--name",
        delivery.name,
        "--source-resource-id",
        source_id,
        "--endpoint-type",
        "azurefunction",
        "--endpoint",
        endpoint,
        "--included-event-types",
        *kind.event_types,
        "--event-delivery-schema",
        SCHEMAS[delivery.schema],
        "--max-delivery-attempts",
        str(delivery.max_delivery_attempts),
        "--event-ttl",
        str(delivery.event_ttl),
        "--deadletter-endpoint",
        deadletter,
    ]
    if delivery.batch != UNBATCHED:
        args += [
            "--max-events-per-batch",
            str(delivery.batch[0]),
            "--preferred-batch-size-in-kilobytes",
            str(delivery.batch[1]),
        ]
    return args


def differences(
    existing: dict[str, Any], delivery: Delivery, kind: SourceKind, endpoint: str, deadletter_account: str
) -> list[str]:
    """What an existing subscription has other than wanted (empty: leave it alone)."""
    destination = existing.get("destination") or {}
    retry = existing.get("retryPolicy") or {}
    deadletter = existing.get("deadLetterDestination") or {}
    have = {
        "endpoint": str(destination.get("resourceId", "")).lower(),
        "event types": sorted(
            t.lower() for t in (existing.get("filter") or {}).get("includedEventTypes") or []
        ),
        "schema": str(existing.get("eventDeliverySchema", "")).lower(),
        "max delivery attempts": retry.get("maxDeliveryAttempts"),
        "event ttl": retry.get("eventTimeToLiveInMinutes"),
        "dead-letter account": str(deadletter.get("resourceId", "")).lower(),
        "dead-letter container": deadletter.get("blobContainerName"),
        "batching": (
            destination.get("maxEventsPerBatch") or UNBATCHED[0],
            destination.get("preferredBatchSizeInKilobytes") or UNBATCHED[1],
        ),
    }
    want = {
        "endpoint": endpoint.lower(),
        "event types": sorted(t.lower() for t in kind.event_types),
        "schema": SCHEMA_NAMES[SCHEMAS[delivery.schema]].lower(),
        "max delivery attempts": delivery.max_delivery_attempts,
        "event ttl": delivery.event_ttl,
        "dead-letter account": deadletter_account.lower(),
        "dead-letter container": delivery.deadletter_container,
        "batching": delivery.batch,
    }
    return [f"{key}: {have[key]} -> {want[key]}" for key in want if have[key] != want[key]]


def ensure_provider(az: Az, report: list[str]) -> None:
    """Event Grid must be registered in the subscription once; a fresh subscription may lack it."""
    provider = az.read("provider", "show", "--namespace", "Microsoft.EventGrid")
    if get(provider, "registrationState", "") != "Registered":
        az.change("provider", "register", "--namespace", "Microsoft.EventGrid", "--wait")
        report.append("registered the Microsoft.EventGrid resource provider")


def function_endpoint(az: Az, function_app: str, resource_group: str | None) -> str:
    """<function app id>/functions/record_event, after checking the function is deployed."""
    if checks.is_resource_id(function_app):
        app_id, name, group = function_app, function_app.rsplit("/", 1)[-1], function_app.split("/")[4]
    else:
        if not resource_group:
            raise DeployError("--function-app is a name: give --resource-group, or pass the resource id")
        app = _must_exist(
            az,
            "function app",
            function_app,
            "functionapp",
            "show",
            "--name",
            function_app,
            "--resource-group",
            resource_group,
        )
        app_id, name, group = (
            get(app, "id", placeholder(f"id of function app {function_app}")),
            function_app,
            resource_group,
        )
    # Event Grid refuses a function that is not there yet, with a less helpful message.
    if (
        az.read(
            "functionapp",
            "function",
            "show",
            "--name",
            name,
            "--resource-group",
            group,
            "--function-name",
            FUNCTION_NAME,
        )
        is None
        and not az.dry_run
    ):
        raise DeployError(
            f"{name} has no function {FUNCTION_NAME}: deploy the code first (python -m deploy.provision)"
        )
    return f"{app_id}/functions/{FUNCTION_NAME}"


def deadletter_account_id(az: Az, account: str, resource_group: str | None) -> str:
    if checks.is_resource_id(account):
        return account
    if not resource_group:
        raise DeployError("--deadletter-account is a name: give --resource-group, or pass the resource id")
    found = _must_exist(
        az,
        "storage account",
        account,
        "storage",
        "account",
        "show",
        "--name",
        account,
        "--resource-group",
        resource_group,
    )
    return get(found, "id", placeholder(f"id of storage account {account}"))


def subscribe(
    az: Az,
    sources: list[Source],
    delivery: Delivery,
    *,
    function_app: str,
    deadletter_account: str,
    resource_group: str | None,
    source_resource_group: str | None,
) -> list[str]:
    report: list[str] = []
    # Everything is looked up before the first change, so a typo in any name changes nothing.
    endpoint = function_endpoint(az, function_app, resource_group)
    account_id = deadletter_account_id(az, deadletter_account, resource_group)
    resolved = [(source, source.resolve(az, source_resource_group or resource_group)) for source in sources]
    ensure_provider(az, report)
    # Management-plane container commands: they need no data-plane role on the account.
    container = ("--storage-account", account_id, "--name", delivery.deadletter_container)
    if az.read("storage", "container-rm", "show", *container) is None:
        az.change("storage", "container-rm", "create", *container, "--public-access", "off")
        report.append(f"created dead-letter container {delivery.deadletter_container}")
    deadletter = f"{account_id}/blobServices/default/containers/{delivery.deadletter_container}"

    for source, source_id in resolved:
        existing = az.read(
            "eventgrid",
            "event-subscription",
            "show",
            "--name",
            delivery.name,
            "--source-resource-id",
            source_id,
        )
        if existing is not None:
            changed = differences(existing, delivery, source.kind, endpoint, account_id)
            if not changed:
                continue
            report.append(f"updated {delivery.name} on {source.reference}: " + "; ".join(changed))
        else:
            report.append(f"created {delivery.name} on {source.reference}")
        # create is a PUT: on an existing subscription it replaces the settings.
        az.change(*create_args(delivery, source.kind, source_id, endpoint, deadletter))
    return report


def unsubscribe(az: Az, sources: list[Source], name: str, source_resource_group: str | None) -> list[str]:
    report: list[str] = []
    resolved = [(source, source.resolve(az, source_resource_group)) for source in sources]
    for source, source_id in resolved:
        subscription = ("--name", name, "--source-resource-id", source_id)
        if az.read("eventgrid", "event-subscription", "show", *subscription) is not None or az.dry_run:
            az.change("eventgrid", "event-subscription", "delete", *subscription)
            report.append(f"removed {name} from {source.reference}")
    return report


def summary(report: list[str], args: argparse.Namespace, dry_run: bool) -> str:
    done = "\n".join(f"  - {line}" for line in report) or "  nothing: everything was already in place"
    head = "Planned (dry run, nothing was run)" if dry_run else "Done"
    if args.remove:
        return f"\n{head}:\n{done}\nThe dead-letter container and its blobs are kept.\n"
    container = args.deadletter_container
    account = (
        args.deadletter_account
        if not checks.is_resource_id(args.deadletter_account)
        else args.deadletter_account.rsplit("/", 1)[-1]
    )
    return f"""
{head}:
{done}

List the subscriptions of a source:
  az eventgrid event-subscription list --source-resource-id <source resource id> --output table
Events Event Grid gave up on land in container {container} of {account},
under {args.name.upper()}/<y>/<m>/<d>/<h>/.
Fetch and replay them (idempotent: events already recorded are not recorded twice):
  az storage blob download-batch --account-name {account} --auth-mode login \\
      --source {container} --destination ./deadletter --pattern '{args.name.upper()}/*'
  AUDIT_STORAGE__tableServiceUri=https://<audit account>.table.core.windows.net \\
      python -m tools.replay ./deadletter
"""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m deploy.subscribe", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--redis",
        action="append",
        default=[],
        type=checks.resource_id,
        metavar="NAME_OR_ID",
        help="an Azure Cache for Redis: name (with --source-resource-group) or resource id; repeatable",
    )
    parser.add_argument(
        "--appconfig",
        action="append",
        default=[],
        type=checks.resource_id,
        metavar="NAME_OR_ID",
        help="an App Configuration store: name or resource id; repeatable",
    )
    parser.add_argument(
        "--source-resource-group", help="resource group of sources given by name (default: --resource-group)"
    )
    parser.add_argument(
        "--function-app",
        type=checks.resource_id,
        metavar="NAME_OR_ID",
        help="the audit function app: name (with --resource-group) or resource id",
    )
    parser.add_argument(
        "--resource-group", "-g", help="resource group of the function app and dead-letter account"
    )
    parser.add_argument(
        "--deadletter-account",
        type=checks.resource_id,
        metavar="NAME_OR_ID",
        help="storage account for dead-lettered events: name or resource id",
    )
    parser.add_argument(
        "--deadletter-container",
        default="audit-deadletter",
        type=checks.pattern(checks.CONTAINER, "blob container name"),
        help="blob container for dead-lettered events, created if missing (default audit-deadletter)",
    )
    parser.add_argument(
        "--name",
        default="audit-log",
        type=checks.pattern(checks.EVENT_SUBSCRIPTION, "event subscription name (3-64 a-z, 0-9, -)"),
        help="event subscription name on each source (default audit-log)",
    )
    parser.add_argument(
        "--schema",
        choices=sorted(SCHEMAS),
        default="eventgrid",
        help="delivery schema: eventgrid (default) or cloudevents (CloudEvents 1.0)",
    )
    parser.add_argument(
        "--max-delivery-attempts",
        type=checks.int_range(1, 30),
        default=30,
        help="delivery attempts before dead-lettering, 1-30 (default 30)",
    )
    parser.add_argument(
        "--event-ttl",
        type=checks.int_range(1, 1440),
        default=1440,
        help="minutes to keep retrying before dead-lettering, 1-1440 (default 1440)",
    )
    parser.add_argument(
        "--max-events-per-batch",
        type=checks.int_range(1, 5000),
        help="batch delivery: at most this many events a request, 1-5000 (default: no batching)",
    )
    parser.add_argument(
        "--preferred-batch-size-kb",
        type=checks.int_range(1, 1024),
        help="batch delivery: preferred request size in KB, 1-1024",
    )
    parser.add_argument(
        "--remove",
        action="store_true",
        help="delete the subscriptions of the given sources (the dead-letter container is kept)",
    )
    add_common_arguments(parser)
    args = parser.parse_args(argv)
    if not args.redis and not args.appconfig:
        parser.error("give at least one --redis or --appconfig")
    if not args.remove:
        missing = [
            option
            for option, value in (
                ("--function-app", args.function_app),
                ("--deadletter-account", args.deadletter_account),
            )
            if not value
        ]
        if missing:
            parser.error(f"the following arguments are required to subscribe: {', '.join(missing)}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    az = Az(dry_run=args.dry_run)
    sources = [Source(REDIS, ref) for ref in args.redis] + [
        Source(APP_CONFIGURATION, ref) for ref in args.appconfig
    ]
    if args.remove:
        report = unsubscribe(az, sources, args.name, args.source_resource_group or args.resource_group)
    else:
        delivery = Delivery(
            name=args.name,
            schema=args.schema,
            max_delivery_attempts=args.max_delivery_attempts,
            event_ttl=args.event_ttl,
            max_events_per_batch=args.max_events_per_batch,
            preferred_batch_size_kb=args.preferred_batch_size_kb,
            deadletter_container=args.deadletter_container,
        )
        report = subscribe(
            az,
            sources,
            delivery,
            function_app=args.function_app,
            deadletter_account=args.deadletter_account,
            resource_group=args.resource_group,
            source_resource_group=args.source_resource_group,
        )
    print(summary(report, args, args.dry_run))
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main, None))
