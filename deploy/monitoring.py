"""Application Insights, made explicitly in the app's resource group before the app names it.

Without --app-insights, `az functionapp create` tries to make one itself, in
DefaultResourceGroup-<region> with DefaultWorkspace-<subscription>-<region> (appservice custom.py
try_create_workspace_based_application_insights); without rights at subscription scope that fails
with a warning only, which --only-show-errors hides. So the scripts create a Log Analytics workspace
and a workspace-based component next to the app, and pass the component to
`functionapp create --app-insights`, which fails loudly if it is missing
(get_app_insights_connection_string raises ResourceNotFoundError).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from deploy.az import Az, get, placeholder

COMPONENT_TYPE = "Microsoft.Insights/components"
# The version az's own component creation uses is a preview (2020-02-02-preview); this is its GA twin.
COMPONENT_API_VERSION = "2020-02-02"


@dataclass(frozen=True)
class Insights:
    component: str
    connection_string: str


def ensure(
    az: Az, *, resource_group: str, location: str, component: str, workspace: str, report: list[str]
) -> Insights:
    where = ("--resource-group", resource_group, "--workspace-name", workspace)
    found = az.read("monitor", "log-analytics", "workspace", "show", *where)
    if found is None:
        found = az.change("monitor", "log-analytics", "workspace", "create", *where, "--location", location)
        report.append(f"created Log Analytics workspace {workspace}")
    workspace_id = get(found, "id", placeholder(f"id of workspace {workspace}"))

    name = (
        "--resource-group",
        resource_group,
        "--name",
        component,
        "--resource-type",
        COMPONENT_TYPE,
        "--api-version",
        COMPONENT_API_VERSION,
    )
    made = az.read("resource", "show", *name)
    if made is None:
        # The body az itself sends for a workspace-based component
        # (appservice custom.py try_create_workspace_based_application_insights).
        body = {
            "name": component,
            "location": location,
            "kind": "web",
            "properties": {"Application_Type": "web", "WorkspaceResourceId": workspace_id},
        }
        made = az.change("resource", "create", *name, "--is-full-object", "--properties", json.dumps(body))
        report.append(f"created Application Insights {component} (workspace {workspace})")
    connection = get(made, "properties.ConnectionString", placeholder(f"connection string of {component}"))
    return Insights(component, connection)
