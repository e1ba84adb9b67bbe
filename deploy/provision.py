"""Create (or bring up to date) the Azure resources the app runs on, and deploy its code.

    python -m deploy.provision --resource-group audit-rg --location westeurope \\
        --storage-account auditlog4711 --name audit-log-4711 [--python-version 3.11] [--dry-run]

Every step first reads what is there and changes only what differs, so a second run changes nothing.
One storage account holds the Functions host storage, the deployment package and the audit tables;
the app reaches all three as its system identity, and no account key stays in its settings.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from typing import Any

from deploy import checks, containers, monitoring, package, signin
from deploy.az import Az, add_common_arguments, get, lookup, placeholder, run_main
from deploy.roles import BLOB_OWNER, QUEUE_CONTRIBUTOR, TABLE_CONTRIBUTOR, Grant
from deploy.topics import FUNCTION_NAME
from eventaudit import settings
from eventaudit.errors import ConfigurationError

PYTHON_VERSIONS = ("3.11", "3.12", "3.13")
# Pythons run by the classic worker (azure-functions-worker); it reads PYTHON_ISOLATE_WORKER_DEPENDENCIES.
CLASSIC_WORKER_PYTHONS = ("3.11", "3.12")
# Flex Consumption instance sizes (Functions docs, flex-consumption-plan, "Instance memory").
INSTANCE_MEMORY = (512, 2048, 4096)
# The app's own identity on the host storage and audit tables (see deploy/roles.py for why each).
HOST_ROLES = (BLOB_OWNER, QUEUE_CONTRIBUTOR, TABLE_CONTRIBUTOR)
# Settings `az functionapp create` writes with an account key (appservice custom.py create_functionapp:
# AzureWebJobsStorage always; DEPLOYMENT_STORAGE_CONNECTION_STRING for key-based deployment storage).
KEY_SETTINGS = ("AzureWebJobsStorage", "DEPLOYMENT_STORAGE_CONNECTION_STRING")
PACKAGE_TAG = "audit-package-sha256"
PACKAGE_PATH = package.PROJECT_ROOT / "artifacts" / "function-app.zip"
# Flex scale groups: a function without an HTTP/blob/durable trigger is its own group (Functions docs,
# flex-consumption-plan, "Per-function scaling").
ALWAYS_READY_NAME = f"function:{FUNCTION_NAME}"


@dataclass(frozen=True)
class Options:
    resource_group: str
    location: str
    storage_account: str
    name: str
    python_version: str
    deployment_container: str
    table_prefix: str | None
    allowed_sources: str | None
    deploy: bool
    instance_memory: int = 2048
    maximum_instance_count: int = 100
    always_ready: int = 0
    api_auth: str = "entra"
    entra_client_id: str | None = None
    app_insights: str | None = None  # component name; default: the app's name
    workspace: str | None = None  # Log Analytics workspace; default: <app>-logs
    disable_shared_key: bool = False

    @property
    def component(self) -> str:
        return self.app_insights or self.name

    @property
    def workspace_name(self) -> str:
        return self.workspace or f"{self.name}-logs"


def desired_settings(o: Options, insights: monitoring.Insights) -> dict[str, str]:
    """The app settings the app and its host read; None-valued options are left alone."""
    wanted = {
        # Identity-based host storage (Functions docs, "Connecting to host storage with an identity"):
        # the host finds blob, queue and table endpoints from the account name, as the system identity.
        "AzureWebJobsStorage__accountName": o.storage_account,
        "AUDIT_STORAGE__tableServiceUri": f"https://{o.storage_account}.table.core.windows.net",
        "APPLICATIONINSIGHTS_CONNECTION_STRING": insights.connection_string,
        # How the page and the API authenticate (BRIEF, "Sign-in for the page and the API").
        "AUDIT_API_AUTH": o.api_auth,
    }
    if o.python_version in CLASSIC_WORKER_PYTHONS:
        # The classic worker's warm placeholders would otherwise keep its bundled azure-functions,
        # which decodes no CloudEvents (docs/runtime.md); Python 3.13+ isolates dependencies itself.
        wanted["PYTHON_ISOLATE_WORKER_DEPENDENCIES"] = "1"
    if o.table_prefix is not None:
        wanted["AUDIT_TABLE_PREFIX"] = o.table_prefix
    if o.allowed_sources is not None:
        wanted["AUDIT_ALLOWED_SOURCES"] = o.allowed_sources
    return wanted


def provision(az: Az, o: Options) -> list[str]:
    """Run every step; returns what it did, one line a step."""
    report: list[str] = []
    where = ("--resource-group", o.resource_group)

    if az.read("group", "show", "--name", o.resource_group) is None:
        az.change("group", "create", "--name", o.resource_group, "--location", o.location)
        report.append(f"created resource group {o.resource_group}")

    account = ensure_account(az, o, report)
    account_id = get(account, "id", placeholder(f"id of storage account {o.storage_account}"))

    # az looks a named deployment container up and fails if it is missing; it creates one only when
    # none is named, under a random name (appservice custom.py _get_or_create_deployment_storage_container).
    containers.ensure(az, account_id, o.deployment_container, "deployment container", report)

    insights = monitoring.ensure(
        az,
        resource_group=o.resource_group,
        location=o.location,
        component=o.component,
        workspace=o.workspace_name,
        report=report,
    )
    app, created = ensure_app(az, o, report)
    site_id = get(app, "id", placeholder(f"id of function app {o.name}"))

    identity = az.read("functionapp", "identity", "show", "--name", o.name, *where)
    principal = get(identity, "principalId", "")
    if not principal:
        identity = az.change("functionapp", "identity", "assign", "--name", o.name, *where)
        report.append(f"assigned a system identity to {o.name}")
        principal = get(identity, "principalId", placeholder(f"principal id of the identity of {o.name}"))
    # Granted before the host is switched to its identity, so it never runs without access.
    for role in HOST_ROLES:
        Grant(principal, role, account_id, f"function app {o.name}").ensure(az, report)

    if o.api_auth == "entra":
        host = get(app, "properties.defaultHostName", f"{o.name}.azurewebsites.net")
        signin.configure(
            az, site_id=site_id, app_name=o.name, host=host, client_id=o.entra_client_id, report=report
        )

    apply_settings(az, o, desired_settings(o, insights), created, report)
    if o.disable_shared_key and lookup(account, "allowSharedKeyAccess") is not False:
        # Only once nothing in the app uses a key any more.
        az.change(
            "storage",
            "account",
            "update",
            "--name",
            o.storage_account,
            *where,
            "--allow-shared-key-access",
            "false",
        )
        report.append(f"disallowed shared-key access on {o.storage_account}")

    if o.deploy:
        deploy_code(az, o, app, site_id, report)
    return report


def ensure_account(az: Az, o: Options, report: list[str]) -> Any:
    where = ("--name", o.storage_account, "--resource-group", o.resource_group)
    account = az.read("storage", "account", "show", *where)
    if account is None:
        account = az.change(
            "storage",
            "account",
            "create",
            *where,
            "--location",
            o.location,
            "--sku",
            "Standard_LRS",
            "--kind",
            "StorageV2",
            "--min-tls-version",
            "TLS1_2",
            "--allow-blob-public-access",
            "false",
        )
        report.append(f"created storage account {o.storage_account}")
    return account


def ensure_app(az: Az, o: Options, report: list[str]) -> tuple[Any, bool]:
    """The function app (Flex Consumption), and whether this run created it."""
    where = ("--name", o.name, "--resource-group", o.resource_group)
    app = az.read("functionapp", "show", *where)
    if app is not None:
        _warn_on_other_runtime(app, o)
        update_scale(az, o, app, report)
        return app, False
    args = [
        "functionapp",
        "create",
        *where,
        "--storage-account",
        o.storage_account,
        "--flexconsumption-location",
        o.location,
        "--runtime",
        "python",
        "--runtime-version",
        o.python_version,
        "--deployment-storage-name",
        o.storage_account,
        "--deployment-storage-container-name",
        o.deployment_container,
        # az gives the app a system identity and Storage Blob Data Contributor on the deployment account.
        "--deployment-storage-auth-type",
        "SystemAssignedIdentity",
        "--app-insights",
        o.component,
        "--instance-memory",
        str(o.instance_memory),
        "--maximum-instance-count",
        str(o.maximum_instance_count),
        "--https-only",
        "true",
    ]
    if o.always_ready:
        args += ["--always-ready-instances", f"{ALWAYS_READY_NAME}={o.always_ready}"]
    app = az.change(*args)
    report.append(
        f"created function app {o.name} (Flex Consumption, Python {o.python_version}, "
        f"{o.instance_memory} MB, at most {o.maximum_instance_count} instances, "
        f"{o.always_ready} always ready for {FUNCTION_NAME})"
    )
    return app, True


def _warn_on_other_runtime(app: dict[str, Any], o: Options) -> None:
    # `az functionapp show` prints a Flex app as ARM's raw shape (appservice custom.py show_functionapp
    # -> get_raw_functionapp): the Flex settings are under properties.functionAppConfig.
    runtime = lookup(app, "properties.functionAppConfig.runtime") or {}
    name, version = runtime.get("name"), runtime.get("version")
    if name and (str(name).lower(), str(version)) != ("python", o.python_version):
        print(
            f"warning: {o.name} already exists and runs {name} {version}, not python {o.python_version}; "
            "this script does not change a runtime",
            file=sys.stderr,
        )


def update_scale(az: Az, o: Options, app: dict[str, Any], report: list[str]) -> None:
    scale = lookup(app, "properties.functionAppConfig.scaleAndConcurrency") or {}
    where = ("--name", o.name, "--resource-group", o.resource_group)
    if (scale.get("instanceMemoryMB"), scale.get("maximumInstanceCount")) != (
        o.instance_memory,
        o.maximum_instance_count,
    ):
        az.change(
            "functionapp",
            "scale",
            "config",
            "set",
            *where,
            "--instance-memory",
            str(o.instance_memory),
            "--maximum-instance-count",
            str(o.maximum_instance_count),
        )
        report.append(
            f"set instance memory {o.instance_memory} MB, at most {o.maximum_instance_count} instances"
        )
    ready = {item.get("name"): item.get("instanceCount") for item in scale.get("alwaysReady") or []}
    if ready.get(ALWAYS_READY_NAME, 0) != o.always_ready:
        az.change(
            "functionapp",
            "scale",
            "config",
            "always-ready",
            "set",
            *where,
            "--settings",
            f"{ALWAYS_READY_NAME}={o.always_ready}",
        )
        report.append(f"set {o.always_ready} always-ready instances for {FUNCTION_NAME}")


def apply_settings(az: Az, o: Options, wanted: dict[str, str], created: bool, report: list[str]) -> None:
    """Set what differs, then delete the key-based settings: the host has its identity settings first."""
    where = ("--name", o.name, "--resource-group", o.resource_group)
    listed = az.read("functionapp", "config", "appsettings", "list", *where) or []
    current = {item.get("name"): item.get("value") for item in listed}
    changed = {key: value for key, value in wanted.items() if current.get(key) != value}
    if changed:
        az.change(
            "functionapp",
            "config",
            "appsettings",
            "set",
            *where,
            "--settings",
            *(f"{key}={value}" for key, value in changed.items()),
        )
        report.append("set app settings " + ", ".join(changed))
    # A new app always has AzureWebJobsStorage with the account key (written by functionapp create).
    stale = [key for key in KEY_SETTINGS if key in current or (created and key == "AzureWebJobsStorage")]
    if stale:
        az.change("functionapp", "config", "appsettings", "delete", *where, "--setting-names", *stale)
        report.append("deleted key-based settings " + ", ".join(stale))


def deploy_code(az: Az, o: Options, app: Any, site_id: str, report: list[str]) -> None:
    digest = package.build(PACKAGE_PATH)
    deployed = (app or {}).get("tags") or {}
    if deployed.get(PACKAGE_TAG) == digest:
        return
    # Python on Flex Consumption is always built remotely (az forces it); said here for clarity.
    az.change(
        "functionapp",
        "deployment",
        "source",
        "config-zip",
        "--name",
        o.name,
        "--resource-group",
        o.resource_group,
        "--src",
        str(PACKAGE_PATH),
        "--build-remote",
        "true",
    )
    # The tag records what was deployed, so an unchanged package is not deployed again.
    az.change(
        "tag", "update", "--resource-id", site_id, "--operation", "Merge", "--tags", f"{PACKAGE_TAG}={digest}"
    )
    report.append(f"deployed the code ({PACKAGE_PATH.name}, sha256 {digest[:12]})")


def summary(o: Options, report: list[str], dry_run: bool) -> str:
    prefix = o.table_prefix or ""
    prefix_env = f" AUDIT_TABLE_PREFIX={prefix}" if prefix else ""
    done = "\n".join(f"  - {line}" for line in report) or "  nothing: everything was already in place"
    if o.api_auth == "entra":
        registration = o.entra_client_id or repr(signin.registration_name(o.name))
        sign_in = f"""Sign in to the page (Microsoft Entra ID): https://{o.name}.azurewebsites.net/.auth/login/aad
Only users and groups assigned to app registration {registration} can sign in, nobody
until you assign them (docs/deploy.md, "Sign-in for the page and the API"). Scripts send a token from:
  az account get-access-token --resource api://<client id> --query accessToken --output tsv"""
    else:
        sign_in = "The page and the API take the function key (header x-functions-key; never in a URL)."
    return f"""
{"Planned (dry run, nothing was run)" if dry_run else "Done"}:
{done}

Function app: {o.name} (resource group {o.resource_group}). Subscribe caches and stores to it with:
  python -m deploy.subscribe --function-app {o.name} --resource-group {o.resource_group} \\
      --deadletter-account {o.storage_account} --redis <cache name> --appconfig <store name> \\
      --managed-redis <Azure Managed Redis name> --source-resource-group <their resource group>
{sign_in}
Recorded events (tables {prefix}RedisCacheEvents, {prefix}AppConfigurationEvents, ...), e.g.:
  az storage entity query --account-name {o.storage_account} --auth-mode login \\
      --table-name {prefix}RedisCacheEvents --num-results 10
Replay dead-lettered events into the same tables:
  AUDIT_STORAGE__tableServiceUri=https://{o.storage_account}.table.core.windows.net{prefix_env} \\
      python -m tools.replay ./deadletter
Logs: Application Insights {o.component} (workspace {o.workspace_name}) in {o.resource_group}.
Remove it all again (the audit data stays unless --delete-data): python -m deploy.teardown --help
"""


def parse_args(argv: list[str] | None) -> tuple[Options, bool]:
    parser = argparse.ArgumentParser(prog="python -m deploy.provision", description=__doc__.split("\n\n")[0])
    parser.add_argument("--resource-group", "-g", required=True, help="resource group (created if missing)")
    parser.add_argument(
        "--location",
        "-l",
        required=True,
        help="a region with Flex Consumption (az functionapp list-flexconsumption-locations)",
    )
    parser.add_argument(
        "--storage-account",
        required=True,
        type=checks.pattern(checks.STORAGE_ACCOUNT, "storage account name (3-24 a-z, 0-9)"),
        help="storage account for the host, the package and the audit tables (created if missing)",
    )
    parser.add_argument(
        "--name",
        "-n",
        required=True,
        type=checks.pattern(checks.FUNCTION_APP, "function app name"),
        help="function app name, globally unique (<name>.azurewebsites.net)",
    )
    parser.add_argument(
        "--python-version",
        choices=PYTHON_VERSIONS,
        default="3.11",
        help="Python of the function app (default 3.11, the version the app targets)",
    )
    parser.add_argument(
        "--deployment-container",
        default="app-package",
        type=checks.pattern(checks.CONTAINER, "blob container name"),
        help="blob container of the deployment package, created if missing (default app-package)",
    )
    parser.add_argument("--table-prefix", help="AUDIT_TABLE_PREFIX, e.g. Prod (default: not set, no prefix)")
    parser.add_argument(
        "--allowed-sources",
        help="AUDIT_ALLOWED_SOURCES: comma-separated resource ids or prefixes (default: not set)",
    )
    scale = parser.add_argument_group("Flex Consumption scale")
    scale.add_argument(
        "--instance-memory",
        type=int,
        choices=INSTANCE_MEMORY,
        default=2048,
        help="instance memory in MB (default 2048)",
    )
    scale.add_argument(
        "--maximum-instance-count",
        type=checks.int_range(1, 1000),
        default=100,
        help="most instances the app scales out to, 1-1000 (default 100)",
    )
    scale.add_argument(
        "--always-ready",
        type=checks.int_range(0, 20),
        default=0,
        help=f"instances kept warm for {FUNCTION_NAME} (billed while idle; avoids cold starts "
        "on the first delivery after a quiet spell; default 0)",
    )
    auth = parser.add_argument_group("sign-in for the page and the API")
    auth.add_argument(
        "--api-auth",
        choices=("entra", "key"),
        default="entra",
        help="entra: Microsoft Entra sign-in (App Service Authentication, default); key: function keys",
    )
    auth.add_argument(
        "--entra-client-id", help="an existing app registration to use (default: one is created)"
    )
    logs = parser.add_argument_group("Application Insights")
    logs.add_argument("--app-insights", help="component name in the resource group (default: the app's name)")
    logs.add_argument("--workspace", help="Log Analytics workspace for it (default: <name>-logs)")
    parser.add_argument(
        "--disable-shared-key",
        action="store_true",
        help="disallow shared-key (account key) access on the storage account at the end",
    )
    parser.add_argument("--skip-deploy", action="store_true", help="create the resources but deploy no code")
    add_common_arguments(parser)
    args = parser.parse_args(argv)
    if args.entra_client_id and args.api_auth != "entra":
        parser.error("--entra-client-id needs --api-auth entra")
    options = Options(
        resource_group=args.resource_group,
        location=args.location,
        storage_account=args.storage_account,
        name=args.name,
        python_version=args.python_version,
        deployment_container=args.deployment_container,
        table_prefix=args.table_prefix,
        allowed_sources=_comma_list(args.allowed_sources),
        deploy=not args.skip_deploy,
        instance_memory=args.instance_memory,
        maximum_instance_count=args.maximum_instance_count,
        always_ready=args.always_ready,
        api_auth=args.api_auth,
        entra_client_id=args.entra_client_id,
        app_insights=args.app_insights,
        workspace=args.workspace,
        disable_shared_key=args.disable_shared_key,
    )
    try:  # The app's own checks of these settings, so a value the app would refuse is never set.
        settings.load_settings(
            {
                settings.STORAGE_SETTING: "UseDevelopmentStorage=true",
                settings.PREFIX_SETTING: args.table_prefix or "",
                settings.ALLOWED_SOURCES_SETTING: args.allowed_sources or "",
            }
        )
    except ConfigurationError as exc:
        parser.error(str(exc))
    return options, args.dry_run


def _comma_list(value: str | None) -> str | None:
    return None if value is None else ",".join(part.strip() for part in value.split(",") if part.strip())


def main(argv: list[str] | None = None) -> int:
    options, dry_run = parse_args(argv)
    az = Az(dry_run=dry_run)
    report = provision(az, options)
    print(summary(options, report, dry_run))
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main, None))
