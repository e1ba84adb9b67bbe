"""Subscribe caches, stores and control-plane topics to the app's `record_event`.

    python -m deploy.subscribe --function-app audit-log-4711 --resource-group audit-rg \\
        --deadletter-account auditlog4711 --redis contoso-sessions --appconfig contoso-config \\
        --managed-redis contoso-amr --source-resource-group platform-prod [--dry-run]
    python -m deploy.subscribe --remove --function-app audit-log-4711 --resource-group audit-rg \\
        --redis contoso-sessions --source-resource-group platform-prod

Each source gets an explicit Event Grid system topic with a system-assigned identity and one event
subscription (default name audit-log) for the event types the app records, with a retry policy and
identity-based dead-lettering into a blob container (created if missing). Azure Resource Manager
events (a resource group's or a subscription's topic) and Azure Resource Notifications are filtered
to the resource types the audit log is about. A subscription with the same settings is left alone;
one with other settings is brought up to date (a schema change deletes and re-creates it).
--remove deletes the subscriptions (and topics these scripts made, once unused); the dead-letter
container and its blobs stay.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass

from deploy import checks, containers, ids, topics
from deploy.az import Az, DeployError, add_common_arguments, get, placeholder, run_main
from deploy.roles import APPCONFIG_READER, Grant
from deploy.topics import Delivery, Source, TopicType


@dataclass(frozen=True)
class ResourceKind:
    option: str
    label: str
    provider: str  # namespace/type, as in resource ids


REDIS = ResourceKind("--redis", "Redis cache", "Microsoft.Cache/Redis")
APP_CONFIGURATION = ResourceKind(
    "--appconfig", "App Configuration store", "Microsoft.AppConfiguration/configurationStores"
)
# Azure Managed Redis publishes none of the Redis events: its changes come from the control plane.
MANAGED_REDIS = ResourceKind(
    "--managed-redis", "Azure Managed Redis cache", "Microsoft.Cache/redisEnterprise"
)


@dataclass(frozen=True)
class App:
    id: str
    name: str
    resource_group: str
    subscription: str

    @property
    def where(self) -> tuple[str, ...]:
        return (
            "--name",
            self.name,
            "--resource-group",
            self.resource_group,
            "--subscription",
            self.subscription,
        )

    @property
    def endpoint(self) -> str:
        return f"{self.id}/functions/{topics.FUNCTION_NAME}"


def current_subscription(az: Az) -> str:
    """The CLI's subscription: where names without a subscription are looked up."""
    return get(az.read("account", "show"), "id", placeholder("id of the CLI's current subscription"))


def _must_exist(az: Az, what: str, *show: str) -> object:
    found = az.read(*show)
    if found is None and not az.dry_run:
        raise DeployError(f"{what} was not found (az {' '.join(show)})")
    return found


def resolve_app(az: Az, reference: str, resource_group: str | None, current: str, *, deployed: bool) -> App:
    """The function app, looked up in its own subscription; with `deployed`, a check that record_event is
    there (looked up in the app's subscription, so an app elsewhere is not mistaken for undeployed)."""
    if checks.is_resource_id(reference):
        rid = ids.ResourceId(reference)
        app = App(reference, rid.name, str(rid.resource_group), rid.subscription)
    else:
        if not resource_group:
            raise DeployError("--function-app is a name: give --resource-group, or pass the resource id")
        site = ids.resource_id(current, resource_group, "Microsoft.Web/sites", reference)
        app = App(site, reference, resource_group, current)
    found = _must_exist(
        az,
        f"function app {app.name} (subscription {app.subscription}, group {app.resource_group})",
        "functionapp",
        "show",
        *app.where,
    )
    app = App(get(found, "id", app.id), app.name, app.resource_group, app.subscription)
    if not deployed:
        return app
    # Event Grid refuses a function that is not there yet, with a less helpful message.
    function = az.read("functionapp", "function", "show", *app.where, "--function-name", topics.FUNCTION_NAME)
    if function is None and not az.dry_run:
        raise DeployError(
            f"{app.name} has no function {topics.FUNCTION_NAME}: "
            "deploy the code first (python -m deploy.provision)"
        )
    return app


def resolve_resource(
    az: Az, kind: ResourceKind, reference: str, group: str | None, current: str
) -> tuple[str, str]:
    """(resource id, location) of a cache or store given by name or id; looking it up checks it exists."""
    if checks.is_resource_id(reference):
        if f"/providers/{kind.provider}/".lower() not in reference.lower() + "/":
            raise DeployError(
                f"{kind.option} {reference} is not a {kind.label} ({kind.provider}) resource id"
            )
        found = _must_exist(az, f"{kind.label} {reference}", "resource", "show", "--ids", reference)
        return get(found, "id", reference), get(found, "location", placeholder(f"location of {reference}"))
    if not group:
        raise DeployError(
            f"{kind.option} {reference} is a name: give --source-resource-group (or --resource-group), "
            "or pass the resource id"
        )
    found = _must_exist(
        az,
        f"{kind.label} {reference}",
        "resource",
        "show",
        "--name",
        reference,
        "--resource-group",
        group,
        "--resource-type",
        kind.provider,
    )
    guess = ids.resource_id(current, group, kind.provider, reference)
    return get(found, "id", guess), get(
        found, "location", placeholder(f"location of {kind.label} {reference}")
    )


def resolve_group(az: Az, reference: str, current: str) -> Source:
    """A resource group's control-plane topic (name in the CLI's subscription, or id)."""
    if checks.is_resource_id(reference):
        rid = ids.ResourceId(reference)
        subscription, group = rid.subscription, rid.name
    else:
        subscription, group = current, reference
    _must_exist(
        az, f"resource group {group}", "group", "show", "--name", group, "--subscription", subscription
    )
    return Source(
        f"resource group {group}",
        ids.resource_group_id(subscription, group),
        topics.RESOURCE_GROUP_TOPIC,
        "global",
        group,
    )


def resolve_subscription(az: Az, reference: str, topic_type: TopicType, topic_group: str) -> Source:
    """A subscription-scope topic: its ARM events, or its Azure Resource Notifications."""
    found = _must_exist(az, f"subscription {reference}", "account", "show", "--subscription", reference)
    subscription = get(found, "id", reference)
    what = (
        "subscription"
        if topic_type is topics.SUBSCRIPTION_TOPIC
        else "Resource Notifications of subscription"
    )
    return Source(f"{what} {reference}", ids.subscription_id(subscription), topic_type, "global", topic_group)


def resolve_sources(
    az: Az, args: argparse.Namespace, app: App | None, current: str
) -> tuple[list[Source], list[str]]:
    """Every source once (by id and topic type), and the App Configuration stores among them."""
    group = args.source_resource_group or args.resource_group
    topic_group = args.topic_resource_group or (app.resource_group if app else args.resource_group)
    sources: list[Source] = []
    stores: list[str] = []

    def subscription_topic(subscription: str, topic_type: TopicType) -> Source:
        if not topic_group:
            raise DeployError("subscription-scope topics need --topic-resource-group (or --function-app)")
        return resolve_subscription(az, subscription, topic_type, topic_group)

    def resource_source(kind: ResourceKind, topic_type: TopicType, reference: str) -> Source:
        rid, location = resolve_resource(az, kind, reference, group, current)
        parsed = ids.ResourceId(rid)
        return Source(f"{kind.label} {parsed.name}", rid, topic_type, location, str(parsed.resource_group))

    sources += [resource_source(REDIS, topics.REDIS_TOPIC, reference) for reference in args.redis]
    for reference in args.appconfig:
        sources.append(resource_source(APP_CONFIGURATION, topics.APP_CONFIGURATION_TOPIC, reference))
        stores.append(sources[-1].id)
    for reference in args.managed_redis:
        # Its resource group's ARM events say who changed it; Resource Notifications say to what size.
        rid, _ = resolve_resource(az, MANAGED_REDIS, reference, group, current)
        parsed = ids.ResourceId(rid)
        sources.append(
            resolve_group(az, ids.resource_group_id(parsed.subscription, str(parsed.resource_group)), current)
        )
        sources.append(subscription_topic(parsed.subscription, topics.NOTIFICATIONS_TOPIC))
    for reference in args.resource_group_events:
        sources.append(resolve_group(az, reference, current))
    for reference in args.subscription_events:
        sources.append(subscription_topic(reference, topics.SUBSCRIPTION_TOPIC))
    for reference in args.resource_notifications:
        sources.append(subscription_topic(reference, topics.NOTIFICATIONS_TOPIC))
    unique = list({source.key: source for source in sources}.values())
    if app and not args.topic_resource_group:
        other = [
            s
            for s in unique
            if s.topic_group == app.resource_group
            and s.subscription != app.subscription
            and not s.subscription.startswith("<")
            and not app.subscription.startswith("<")
        ]
        if other:
            raise DeployError(
                f"{other[0].label} is in another subscription than the function app: give "
                "--topic-resource-group, a resource group of that subscription for its system topic"
            )
    return unique, stores


def ensure_provider(az: Az, subscription: str, report: list[str]) -> None:
    """Event Grid must be registered once in each subscription whose sources publish to it."""
    provider = az.read(
        "provider", "show", "--namespace", "Microsoft.EventGrid", "--subscription", subscription
    )
    if get(provider, "registrationState", "") != "Registered":
        az.change(
            "provider",
            "register",
            "--namespace",
            "Microsoft.EventGrid",
            "--subscription",
            subscription,
            "--wait",
        )
        report.append(f"registered the Microsoft.EventGrid resource provider in subscription {subscription}")


def deadletter_account_id(az: Az, account: str, resource_group: str | None, current: str) -> str:
    if checks.is_resource_id(account):
        return account
    if not resource_group:
        raise DeployError("--deadletter-account is a name: give --resource-group, or pass the resource id")
    found = _must_exist(
        az,
        f"storage account {account}",
        "storage",
        "account",
        "show",
        "--name",
        account,
        "--resource-group",
        resource_group,
    )
    guess = ids.resource_id(current, resource_group, "Microsoft.Storage/storageAccounts", account)
    return get(found, "id", guess)


def app_principal(az: Az, app: App) -> str:
    identity = az.read("functionapp", "identity", "show", *app.where)
    principal = get(identity, "principalId", "")
    if not principal and not az.dry_run:
        raise DeployError(f"{app.name} has no system identity: run python -m deploy.provision first")
    return principal or placeholder(f"principal id of the identity of {app.name}")


def subscribe(az: Az, delivery: Delivery, app: App, sources: list[Source], stores: list[str]) -> list[str]:
    report: list[str] = []
    for subscription in dict.fromkeys(source.subscription for source in sources):
        ensure_provider(az, subscription, report)
    containers.ensure(
        az, delivery.deadletter_account_id, delivery.deadletter_container, "dead-letter container", report
    )
    if stores:
        # Value capture reads each store's revisions as the app (lane 14): granted before events flow.
        principal = app_principal(az, app)
        for store in stores:
            Grant(principal, APPCONFIG_READER, store, f"function app {app.name}").ensure(az, report)
    indexes: dict[str, dict] = {}
    for source in sources:
        if source.subscription not in indexes:
            indexes[source.subscription] = topics.index_topics(az, source.subscription)
        topic = topics.ensure_topic(az, source, indexes[source.subscription].get(source.key), report)
        topics.ensure_subscription(az, source, topic, delivery, app.endpoint, report)
    return report


def unsubscribe(az: Az, name: str, app: App | None, sources: list[Source], stores: list[str]) -> list[str]:
    report: list[str] = []
    indexes: dict[str, dict] = {}
    for source in sources:
        if source.subscription not in indexes:
            indexes[source.subscription] = topics.index_topics(az, source.subscription)
        found = indexes[source.subscription].get(source.key)
        if found is None and not az.dry_run:
            continue
        topic = (
            topics.topic_of(found)
            if found
            else topics.Topic(
                placeholder(f"system topic of {source.label}"),
                placeholder("its resource group"),
                source.subscription,
                placeholder("its id"),
                placeholder("its principal id"),
                True,
            )
        )
        existing = az.read(
            "eventgrid", "system-topic", "event-subscription", "show", "--name", name, *topic.where
        )
        if existing is not None or az.dry_run:
            topics.remove_subscription(az, topic, name, existing or {}, report)
    if app is not None:
        principal = app_principal(az, app)
        for store in stores:
            Grant(principal, APPCONFIG_READER, store, f"function app {app.name}").revoke(az, report)
    return report


def summary(report: list[str], args: argparse.Namespace, dry_run: bool, settings: dict[str, str]) -> str:
    done = "\n".join(f"  - {line}" for line in report) or "  nothing: everything was already in place"
    head = "Planned (dry run, nothing was run)" if dry_run else "Done"
    if args.remove:
        return f"\n{head}:\n{done}\nThe dead-letter container and its blobs are kept.\n"
    account = (
        ids.ResourceId(args.deadletter_account).name
        if checks.is_resource_id(args.deadletter_account)
        else args.deadletter_account
    )
    container, folder = args.deadletter_container, args.name.upper()
    tables = settings.get("AUDIT_STORAGE__tableServiceUri", "https://<audit account>.table.core.windows.net")
    prefix = settings.get("AUDIT_TABLE_PREFIX", "")
    prefix_env = f" AUDIT_TABLE_PREFIX={prefix}" if prefix else ""
    return f"""
{head}:
{done}

Events Event Grid gives up on land in container {container} of {account}, under {folder}/<y>/<m>/<d>/<h>/.
Fetch and replay them (idempotent: events already recorded are not recorded twice):
  mkdir -p ./deadletter
  az storage blob download-batch --account-name {account} --auth-mode login \\
      --source {container} --destination ./deadletter --pattern '{folder}/*'
  AUDIT_STORAGE__tableServiceUri={tables}{prefix_env} \\
      python -m tools.replay ./deadletter
"""


def app_settings(az: Az, app: App) -> dict[str, str]:
    """The app's table endpoint and prefix, for the replay hint (the same tables the app writes)."""
    listed = az.read("functionapp", "config", "appsettings", "list", *app.where) or []
    wanted = ("AUDIT_STORAGE__tableServiceUri", "AUDIT_TABLE_PREFIX")
    return {item["name"]: item.get("value") or "" for item in listed if item.get("name") in wanted}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m deploy.subscribe", description=__doc__.split("\n\n")[0])
    sources = parser.add_argument_group("sources (each repeatable)")
    for kind, text in (
        (REDIS, "an Azure Cache for Redis: name (with --source-resource-group) or resource id"),
        (
            APP_CONFIGURATION,
            "an App Configuration store: name or resource id; the app gets "
            "App Configuration Data Reader on it",
        ),
        (
            MANAGED_REDIS,
            "an Azure Managed Redis cache (Microsoft.Cache/redisEnterprise): name or id; "
            "subscribes its resource group's ARM events and its subscription's Resource Notifications",
        ),
    ):
        sources.add_argument(
            kind.option, action="append", default=[], type=checks.resource_id, metavar="NAME_OR_ID", help=text
        )
    sources.add_argument(
        "--resource-group-events",
        action="append",
        default=[],
        type=checks.group_reference,
        metavar="NAME_OR_ID",
        help="a resource group's ARM events (Microsoft.Resources.ResourceGroups), "
        "filtered to Redis, Managed Redis and App Configuration",
    )
    sources.add_argument(
        "--subscription-events",
        action="append",
        default=[],
        metavar="SUBSCRIPTION",
        help="a subscription's ARM events (Microsoft.Resources.Subscriptions), filtered likewise",
    )
    sources.add_argument(
        "--resource-notifications",
        action="append",
        default=[],
        metavar="SUBSCRIPTION",
        help="a subscription's Azure Resource Notifications (resource properties such as the "
        "SKU), filtered likewise",
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
        "--topic-resource-group",
        help="resource group for new subscription-scope system topics (default: the app's)",
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
        choices=sorted(topics.SCHEMAS),
        default="eventgrid",
        help="delivery schema: eventgrid (default) or cloudevents (CloudEvents 1.0); changing it on an "
        "existing subscription deletes and re-creates it",
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
    if not any(
        (
            args.redis,
            args.appconfig,
            args.managed_redis,
            args.resource_group_events,
            args.subscription_events,
            args.resource_notifications,
        )
    ):
        parser.error(
            "give at least one source: --redis, --appconfig, --managed-redis, --resource-group-events, "
            "--subscription-events or --resource-notifications"
        )
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
    # Everything is looked up before the first change, so a typo in any name changes nothing.
    current = current_subscription(az)
    app = None
    if args.function_app:
        app = resolve_app(az, args.function_app, args.resource_group, current, deployed=not args.remove)
    sources, stores = resolve_sources(az, args, app, current)
    settings: dict[str, str] = {}
    if args.remove:
        report = unsubscribe(az, args.name, app, sources, stores)
    else:
        assert app is not None
        delivery = Delivery(
            name=args.name,
            schema=args.schema,
            max_delivery_attempts=args.max_delivery_attempts,
            event_ttl=args.event_ttl,
            max_events_per_batch=args.max_events_per_batch,
            preferred_batch_size_kb=args.preferred_batch_size_kb,
            deadletter_account_id=deadletter_account_id(
                az, args.deadletter_account, args.resource_group, current
            ),
            deadletter_container=args.deadletter_container,
        )
        settings = app_settings(az, app)
        report = subscribe(az, delivery, app, sources, stores)
    print(summary(report, args, args.dry_run, settings))
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main, None))
