"""Create (or bring up to date) the Azure resources the app runs on, and deploy its code.

    python -m deploy.provision --resource-group audit-rg --location westeurope \\
        --storage-account auditlog4711 --name audit-log-4711 [--python-version 3.11] [--dry-run]

Every step first reads what is there and changes only what differs, so a second run changes nothing.
One storage account serves as the Functions host storage, the deployment package store (managed
identity, Storage Blob Data Contributor, set up by `az functionapp create`) and the audit tables
(managed identity, Storage Table Data Contributor, set up here).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from typing import Any

from deploy import checks, package
from deploy.az import Az, add_common_arguments, get, placeholder, run_main
from eventaudit import settings
from eventaudit.errors import ConfigurationError

PYTHON_VERSIONS = ("3.11", "3.12", "3.13")
TABLE_ROLE = "Storage Table Data Contributor"
PACKAGE_TAG = "audit-package-sha256"
PACKAGE_PATH = package.PROJECT_ROOT / "artifacts" / "function-app.zip"


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


def desired_settings(options: Options) -> dict[str, str]:
    """The app settings the app reads (README, Configuration); None-valued options are left alone."""
    settings = {
        "AUDIT_STORAGE__tableServiceUri": f"https://{options.storage_account}.table.core.windows.net",
        # The worker's own azure-functions would otherwise shadow ours (CloudEvents decoding).
        "PYTHON_ISOLATE_WORKER_DEPENDENCIES": "1",
    }
    if options.table_prefix is not None:
        settings["AUDIT_TABLE_PREFIX"] = options.table_prefix
    if options.allowed_sources is not None:
        settings["AUDIT_ALLOWED_SOURCES"] = options.allowed_sources
    return settings


def provision(az: Az, options: Options) -> list[str]:
    """Run every step; returns what it did, one line a step."""
    o = options
    report: list[str] = []
    where = ["--resource-group", o.resource_group]

    if az.read("group", "show", "--name", o.resource_group) is None:
        az.change("group", "create", "--name", o.resource_group, "--location", o.location)
        report.append(f"created resource group {o.resource_group}")

    account = az.read("storage", "account", "show", "--name", o.storage_account, *where)
    if account is None:
        account = az.change(
            "storage",
            "account",
            "create",
            "--name",
            o.storage_account,
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
    account_id = get(account, "id", placeholder(f"id of storage account {o.storage_account}"))

    app = az.read("functionapp", "show", "--name", o.name, *where)
    if app is None:
        # Flex Consumption: the plan comes with the app; the deployment container and the identity's
        # Storage Blob Data Contributor role on it are made by az (SystemAssignedIdentity).
        app = az.change(
            "functionapp",
            "create",
            "--name",
            o.name,
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
            "--deployment-storage-auth-type",
            "SystemAssignedIdentity",
            "--https-only",
            "true",
        )
        report.append(f"created function app {o.name} (Flex Consumption, Python {o.python_version})")
    else:
        _warn_on_other_runtime(app, o)
    app_id = get(app, "id", placeholder(f"id of function app {o.name}"))

    identity = az.read("functionapp", "identity", "show", "--name", o.name, *where)
    principal = get(identity, "principalId", "")
    if not principal:
        identity = az.change("functionapp", "identity", "assign", "--name", o.name, *where)
        report.append(f"assigned a system identity to {o.name}")
        principal = get(identity, "principalId", placeholder(f"principal id of the identity of {o.name}"))

    role_args = ("--assignee-object-id", principal, "--role", TABLE_ROLE, "--scope", account_id)
    if not az.read("role", "assignment", "list", *role_args):
        # The principal type spares a Graph lookup that fails while a new identity replicates.
        az.change("role", "assignment", "create", *role_args, "--assignee-principal-type", "ServicePrincipal")
        report.append(f"granted {TABLE_ROLE} on {o.storage_account} to {o.name}")

    current = {
        item.get("name"): item.get("value")
        for item in az.read("functionapp", "config", "appsettings", "list", "--name", o.name, *where) or []
    }
    changed = {key: value for key, value in desired_settings(o).items() if current.get(key) != value}
    if changed:
        az.change(
            "functionapp",
            "config",
            "appsettings",
            "set",
            "--name",
            o.name,
            *where,
            "--settings",
            *(f"{key}={value}" for key, value in changed.items()),
        )
        report.append("set app settings " + ", ".join(changed))

    if o.deploy:
        digest = package.build(PACKAGE_PATH)
        deployed = (app or {}).get("tags") or {}
        if deployed.get(PACKAGE_TAG) != digest:
            # Python on Flex Consumption is always built remotely (az forces it); said here for clarity.
            az.change(
                "functionapp",
                "deployment",
                "source",
                "config-zip",
                "--name",
                o.name,
                *where,
                "--src",
                str(PACKAGE_PATH),
                "--build-remote",
                "true",
            )
            # The tag records what was deployed, so an unchanged package is not deployed again.
            az.change(
                "tag",
                "update",
                "--resource-id",
                app_id,
                "--operation",
                "Merge",
                "--tags",
                f"{PACKAGE_TAG}={digest}",
            )
            report.append(f"deployed the code ({PACKAGE_PATH.name}, sha256 {digest[:12]})")
    return report


def _warn_on_other_runtime(app: dict[str, Any], o: Options) -> None:
    runtime = (app.get("functionAppConfig") or {}).get("runtime") or {}
    name, version = runtime.get("name"), runtime.get("version")
    if name and (name.lower(), str(version)) != ("python", o.python_version):
        print(
            f"warning: {o.name} already exists and runs {name} {version}, not python {o.python_version}; "
            "this script does not change a runtime",
            file=sys.stderr,
        )


def summary(o: Options, report: list[str], dry_run: bool) -> str:
    prefix = o.table_prefix or ""
    done = "\n".join(f"  - {line}" for line in report) or "  nothing: everything was already in place"
    return f"""
{"Planned (dry run, nothing was run)" if dry_run else "Done"}:
{done}

Function app: {o.name} (resource group {o.resource_group}). Subscribe caches and stores to it with:
  python -m deploy.subscribe --function-app {o.name} --resource-group {o.resource_group} \\
      --deadletter-account {o.storage_account} --redis <cache name> --appconfig <store name> \\
      --source-resource-group <their resource group>
Its Event Grid endpoint: $(az functionapp show --name {o.name} --resource-group {o.resource_group} \\
      --query id --output tsv)/functions/record_event
Recorded events (tables {prefix}RedisCacheEvents, {prefix}AppConfigurationEvents,
{prefix}AppConfigurationKeys, {prefix}UnhandledEvents), e.g.:
  az storage entity query --account-name {o.storage_account} --auth-mode login \\
      --table-name {prefix}RedisCacheEvents --num-results 10
Logs: Application Insights resource '{o.name}' (created with the app); see the README, Deploy to Azure.
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
        help="blob container of the deployment package (default app-package)",
    )
    parser.add_argument("--table-prefix", help="AUDIT_TABLE_PREFIX, e.g. Prod (default: not set, no prefix)")
    parser.add_argument(
        "--allowed-sources",
        help="AUDIT_ALLOWED_SOURCES: comma-separated resource ids or prefixes (default: not set)",
    )
    parser.add_argument("--skip-deploy", action="store_true", help="create the resources but deploy no code")
    add_common_arguments(parser)
    args = parser.parse_args(argv)
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
