"""A stand-in for the Azure CLI, for testing the deploy scripts' own logic (a fake: Azure's control plane
cannot run here). Installed on PATH as `az` by the `fake_az` fixture.

It appends every call (argv) as a JSON line to $FAKE_AZ_LOG, keeps the resources it "created" in the
JSON file $FAKE_AZ_STATE, answers show/list from there (exit 3 and a ResourceNotFound message for
a missing resource, as az does), and fails with exit 1 any command whose text contains $FAKE_AZ_FAIL.
Its answers carry only the fields the scripts read, shaped as az prints them.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

SUBSCRIPTION = "00000000-0000-0000-0000-000000000001"
GLOBAL_ARGS = ("--only-show-errors", "--output", "json")


def opt(args: list[str], name: str) -> str | None:
    return args[args.index(name) + 1] if name in args else None


def opts(args: list[str], name: str) -> list[str]:
    """The values after a multi-value option, up to the next option."""
    if name not in args:
        return []
    values = []
    for value in args[args.index(name) + 1:]:
        if value.startswith("--"):
            break
        values.append(value)
    return values


def rid(group: str, provider: str, name: str) -> str:
    return f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{group}/providers/{provider}/{name}"


def answer(args: list[str], state: dict[str, Any]) -> Any:
    """The JSON to print; raises LookupError for a missing resource."""
    command = " ".join(a for a in args if not a.startswith("-"))
    name, group = opt(args, "--name"), opt(args, "--resource-group")

    def show(key: str) -> Any:
        if key not in state:
            raise LookupError(key)
        return state[key]

    if command.startswith("group show"):
        return show(f"group/{name}")
    if command.startswith("group create"):
        state[f"group/{name}"] = {"name": name, "location": opt(args, "--location")}
        return state[f"group/{name}"]
    if command.startswith("storage account show"):
        return show(f"storage/{name}")
    if command.startswith("storage account create"):
        state[f"storage/{name}"] = {"id": rid(group, "Microsoft.Storage/storageAccounts", name), "name": name}
        return state[f"storage/{name}"]
    if command.startswith("functionapp show"):
        return show(f"site/{name}")
    if command.startswith("functionapp create"):
        state[f"site/{name}"] = {
            "id": rid(group, "Microsoft.Web/sites", name), "name": name, "tags": {},
            "functionAppConfig": {"runtime": {"name": "python", "version": opt(args, "--runtime-version")}}}
        if opt(args, "--deployment-storage-auth-type") == "SystemAssignedIdentity":  # az assigns one then
            state[f"identity/{name}"] = {"principalId": f"principal-of-{name}", "type": "SystemAssigned"}
        return state[f"site/{name}"]
    if command.startswith("functionapp identity show"):
        return state.get(f"identity/{name}")  # az prints nothing for an app without identity
    if command.startswith("functionapp identity assign"):
        state[f"identity/{name}"] = {"principalId": f"principal-of-{name}", "type": "SystemAssigned"}
        return state[f"identity/{name}"]
    if command.startswith("role assignment list"):
        key = f"role/{opt(args, '--assignee-object-id')}/{opt(args, '--role')}/{opt(args, '--scope')}"
        return [state[key]] if key in state else []
    if command.startswith("role assignment create"):
        key = f"role/{opt(args, '--assignee-object-id')}/{opt(args, '--role')}/{opt(args, '--scope')}"
        state[key] = {"id": key}
        return state[key]
    if command.startswith("functionapp config appsettings list"):
        return [{"name": k, "value": v, "slotSetting": False} for k, v in state.get(f"settings/{name}", {}).items()]
    if command.startswith("functionapp config appsettings set"):
        settings = state.setdefault(f"settings/{name}", {})
        settings.update(pair.split("=", 1) for pair in opts(args, "--settings"))
        return [{"name": k, "value": None} for k in settings]
    if command.startswith("functionapp deployment source config-zip"):
        if not os.path.exists(opt(args, "--src") or ""):
            raise FileNotFoundError(opt(args, "--src"))
        state[f"function/{name}/record_event"] = {"name": f"{name}/record_event"}
        return {"status": 4, "complete": True}
    if command.startswith("functionapp function show"):
        return show(f"function/{name}/{opt(args, '--function-name')}")
    if command.startswith("tag update"):
        site = next(v for v in state.values() if isinstance(v, dict) and v.get("id") == opt(args, "--resource-id"))
        site["tags"].update(pair.split("=", 1) for pair in opts(args, "--tags"))
        return {"properties": {"tags": site["tags"]}}
    if command.startswith("provider show"):
        return {"namespace": opt(args, "--namespace"),
                "registrationState": state.get(f"provider/{opt(args, '--namespace')}", "NotRegistered")}
    if command.startswith("provider register"):
        state[f"provider/{opt(args, '--namespace')}"] = "Registered"
        return None
    if command.startswith(("redis show", "appconfig show")):
        return show(f"{args[0]}/{name}")
    if command.startswith("storage container-rm show"):
        return show(f"container/{opt(args, '--storage-account')}/{name}")
    if command.startswith("storage container-rm create"):
        state[f"container/{opt(args, '--storage-account')}/{name}"] = {"name": name}
        return {"name": name}
    subscription_key = f"eventsub/{opt(args, '--source-resource-id')}/{name}"
    if command.startswith("eventgrid event-subscription show"):
        return show(subscription_key)
    if command.startswith("eventgrid event-subscription create"):
        state[subscription_key] = event_subscription(args)
        return state[subscription_key]
    if command.startswith("eventgrid event-subscription delete"):
        show(subscription_key)
        del state[subscription_key]
        return None
    raise NotImplementedError(f"the stand-in az does not know: {' '.join(args)}")


def event_subscription(args: list[str]) -> dict[str, Any]:
    """What ARM answers for the subscription the create arguments describe."""
    deadletter = opt(args, "--deadletter-endpoint") or ""
    account, _, container = deadletter.partition("/blobServices/default/containers/")
    schema = {"eventgridschema": "EventGridSchema", "cloudeventschemav1_0": "CloudEventSchemaV1_0"}
    return {
        "name": opt(args, "--name"),
        "destination": {"endpointType": "AzureFunction", "resourceId": opt(args, "--endpoint"),
                        "maxEventsPerBatch": int(opt(args, "--max-events-per-batch") or 1),
                        "preferredBatchSizeInKilobytes": int(opt(args, "--preferred-batch-size-in-kilobytes") or 64)},
        "filter": {"includedEventTypes": opts(args, "--included-event-types")},
        "eventDeliverySchema": schema[opt(args, "--event-delivery-schema") or "eventgridschema"],
        "retryPolicy": {"maxDeliveryAttempts": int(opt(args, "--max-delivery-attempts") or 30),
                        "eventTimeToLiveInMinutes": int(opt(args, "--event-ttl") or 1440)},
        "deadLetterDestination": {"endpointType": "StorageBlob", "resourceId": account,
                                  "blobContainerName": container},
    }


def main() -> int:
    args = sys.argv[1:]
    with open(os.environ["FAKE_AZ_LOG"], "a", encoding="utf-8") as log:
        log.write(json.dumps(args) + "\n")
    args = [a for a in args if a not in GLOBAL_ARGS]
    failing = os.environ.get("FAKE_AZ_FAIL")
    if failing and failing in " ".join(args):
        print(f"ERROR: (AuthorizationFailed) the stand-in was told to fail: {failing}", file=sys.stderr)
        return 1
    state_path = os.environ["FAKE_AZ_STATE"]
    with open(state_path, encoding="utf-8") as file:
        state = json.load(file)
    try:
        result = answer(args, state)
    except LookupError as missing:
        print(f"ERROR: (ResourceNotFound) The Resource '{missing}' was not found.", file=sys.stderr)
        return 3
    with open(state_path, "w", encoding="utf-8") as file:
        json.dump(state, file)
    if result is not None:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
