"""Remove what deploy.provision and deploy.subscribe made, in a safe order; the audit data stays.

    python -m deploy.teardown --resource-group audit-rg --name audit-log-4711 \\
        --storage-account auditlog4711 [--source-subscription <id>] [--delete-data] [--dry-run]

Order: first the event subscriptions that deliver to the app (on every system topic of the app's
subscription and of each --source-subscription), so Event Grid stops before the endpoint goes, with the
dead-letter roles of the topics' identities and the topics these scripts made once nothing else
uses them; then the app's role assignments, its app registration (if provision made it), the app and
its Flex plan, and the deployment container. The storage account (audit tables, dead-lettered events)
and the logs (Application Insights and its workspace) are kept unless --delete-data is given.
"""

from __future__ import annotations

import argparse
import sys

from deploy import checks, ids, signin, topics
from deploy.az import Az, add_common_arguments, get, lookup, placeholder, run_main
from deploy.subscribe import current_subscription


def remove_event_subscriptions(az: Az, site_id: str, subscriptions: list[str], report: list[str]) -> None:
    """Every event subscription whose destination is one of the app's functions."""
    prefix = f"{site_id}/functions/".lower()
    for subscription in subscriptions:
        found = az.read("eventgrid", "system-topic", "list", "--subscription", subscription)
        if found is None and az.dry_run:
            each = placeholder("each system topic")
            found = [
                {
                    "id": ids.resource_id(
                        subscription, placeholder("its group"), "Microsoft.EventGrid/systemTopics", each
                    ),
                    "name": each,
                    "tags": dict([topics.CREATED_BY_TAG]),
                }
            ]
        for item in found or []:
            topic = topics.topic_of(item)
            listed = az.read("eventgrid", "system-topic", "event-subscription", "list", *topic.where)
            if listed is None and az.dry_run:
                listed = [
                    {
                        "name": placeholder(f"each event subscription delivering to {site_id}"),
                        "destination": {"resourceId": prefix},
                    }
                ]
            for existing in listed or []:
                if str(lookup(existing, "destination.resourceId") or "").lower().startswith(prefix):
                    topics.remove_subscription(az, topic, str(existing["name"]), existing, report)


def remove_role_assignments(az: Az, principal: str, subscriptions: list[str], report: list[str]) -> None:
    """All of the app identity's assignments: they mean nothing once the identity is gone. `--all` lists
    them across one subscription (role custom.py list_role_assignments, show_all), hence one list each."""
    for subscription in subscriptions:
        listed = az.read(
            "role",
            "assignment",
            "list",
            "--assignee-object-id",
            principal,
            "--all",
            "--subscription",
            subscription,
        )
        assignment_ids = [str(item["id"]) for item in listed or []]
        if az.dry_run:
            assignment_ids = [placeholder(f"ids of the role assignments of {principal} in {subscription}")]
        if assignment_ids:
            az.change("role", "assignment", "delete", "--ids", *assignment_ids, "--yes")
            count = "the" if az.dry_run else str(len(assignment_ids))
            report.append(f"removed {count} role assignment(s) of the app in subscription {subscription}")


def remove_registration(az: Az, site_id: str, name: str, report: list[str]) -> None:
    """The app registration, only if provision made it (named after the app)."""
    settings = az.read(
        "rest",
        "--method",
        "get",
        "--url",
        f"{site_id}/config/authsettingsV2/list?api-version={signin.AUTH_API_VERSION}",
    )
    client = get(settings, "properties.identityProviders.azureActiveDirectory.registration.clientId", "")
    if not client and az.dry_run:
        client = placeholder(f"client id of app registration {signin.registration_name(name)!r}")
    if not client:
        return
    registration = az.read("ad", "app", "show", "--id", client)
    if registration is None and not az.dry_run:
        return
    if az.dry_run or registration.get("displayName") == signin.registration_name(name):
        az.change("ad", "app", "delete", "--id", client)
        report.append(f"deleted app registration {signin.registration_name(name)!r}")
    else:
        report.append(
            f"kept app registration {client} ({registration.get('displayName')}): not made by provision"
        )


def teardown(az: Az, args: argparse.Namespace) -> list[str]:
    report: list[str] = []
    where = ("--name", args.name, "--resource-group", args.resource_group)
    current = current_subscription(az)
    subscriptions = list(dict.fromkeys([current, *args.source_subscription]))
    app = az.read("functionapp", "show", *where)
    site_id = get(app, "id", ids.resource_id(current, args.resource_group, "Microsoft.Web/sites", args.name))
    remove_event_subscriptions(az, site_id, subscriptions, report)
    if app is not None or az.dry_run:
        identity = az.read("functionapp", "identity", "show", *where)
        principal = get(identity, "principalId", "")
        if principal or az.dry_run:
            remove_role_assignments(
                az, principal or placeholder(f"principal id of {args.name}"), subscriptions, report
            )
        remove_registration(az, site_id, args.name, report)
        # The Flex plan goes with its last app (the delete API's deleteEmptyServerFarm defaults to true).
        az.change("functionapp", "delete", *where)
        report.append(f"deleted function app {args.name} and its plan")

    account = az.read(
        "storage", "account", "show", "--name", args.storage_account, "--resource-group", args.resource_group
    )
    account_id = get(account, "id", placeholder(f"id of storage account {args.storage_account}"))
    if args.delete_data:
        if account is not None or az.dry_run:
            az.change(
                "storage",
                "account",
                "delete",
                "--name",
                args.storage_account,
                "--resource-group",
                args.resource_group,
                "--yes",
            )
            report.append(f"deleted storage account {args.storage_account} (audit tables, dead letters)")
        component = (
            "--resource-group",
            args.resource_group,
            "--name",
            args.app_insights or args.name,
            "--resource-type",
            "Microsoft.Insights/components",
        )
        if az.read("resource", "show", *component) is not None or az.dry_run:
            az.change("resource", "delete", *component)
            report.append(f"deleted Application Insights {args.app_insights or args.name}")
        workspace = (
            "--resource-group",
            args.resource_group,
            "--workspace-name",
            args.workspace or f"{args.name}-logs",
        )
        if az.read("monitor", "log-analytics", "workspace", "show", *workspace) is not None or az.dry_run:
            az.change(
                "monitor", "log-analytics", "workspace", "delete", *workspace, "--force", "true", "--yes"
            )
            report.append(f"deleted Log Analytics workspace {args.workspace or args.name + '-logs'}")
    elif account is not None or az.dry_run:
        container = (
            "--storage-account",
            account_id,
            "--name",
            args.deployment_container,
            "--subscription",
            ids.ResourceId(account_id).subscription,
        )
        if az.read("storage", "container-rm", "show", *container) is not None or az.dry_run:
            az.change("storage", "container-rm", "delete", *container, "--yes")
            report.append(f"deleted deployment container {args.deployment_container}")
    return report


def summary(report: list[str], args: argparse.Namespace, dry_run: bool) -> str:
    done = "\n".join(f"  - {line}" for line in report) or "  nothing: it was already gone"
    kept = (
        ""
        if args.delete_data
        else (
            f"\nKept: storage account {args.storage_account} (audit tables, dead-lettered events) and the "
            "logs (Application Insights, workspace). Delete them with --delete-data.\n"
        )
    )
    return f"\n{'Planned (dry run, nothing was run)' if dry_run else 'Done'}:\n{done}\n{kept}"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m deploy.teardown", description=__doc__.split("\n\n")[0])
    parser.add_argument("--resource-group", "-g", required=True, help="resource group of the app")
    parser.add_argument(
        "--name", "-n", required=True, type=checks.pattern(checks.FUNCTION_APP, "function app name")
    )
    parser.add_argument(
        "--storage-account",
        required=True,
        type=checks.pattern(checks.STORAGE_ACCOUNT, "storage account name (3-24 a-z, 0-9)"),
    )
    parser.add_argument(
        "--deployment-container",
        default="app-package",
        type=checks.pattern(checks.CONTAINER, "blob container name"),
    )
    parser.add_argument("--app-insights", help="component name, if not the app's name")
    parser.add_argument("--workspace", help="Log Analytics workspace, if not <name>-logs")
    parser.add_argument(
        "--source-subscription",
        action="append",
        default=[],
        metavar="SUBSCRIPTION_ID",
        help="another subscription with sources subscribed to the app (repeatable)",
    )
    parser.add_argument(
        "--delete-data",
        action="store_true",
        help="also delete the storage account (audit tables, dead letters) and the logs",
    )
    add_common_arguments(parser)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    az = Az(dry_run=args.dry_run)
    print(summary(teardown(az, args), args, args.dry_run))
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main, None))
