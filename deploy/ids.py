"""Azure resource ids: the parts the scripts need, and the ids they build (containers, subscriptions)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ResourceId:
    """/subscriptions/<subscription>[/resourceGroups/<group>[/providers/<namespace>/<type>/<name>...]]"""

    value: str

    def _parts(self) -> list[str]:
        return self.value.strip("/").split("/")

    def _unknown(self, part: str) -> str:
        """In a dry run an id can be a <placeholder>: its parts are placeholders too."""
        return f"<{part} of {self.value.strip('<>')}>"

    @property
    def subscription(self) -> str:
        parts = self._parts()
        return (
            parts[1]
            if len(parts) > 1 and parts[0].lower() == "subscriptions"
            else self._unknown("subscription")
        )

    @property
    def resource_group(self) -> str | None:
        parts = self._parts()
        if len(parts) == 1:
            return self._unknown("resource group")
        return parts[3] if len(parts) > 3 and parts[2].lower() == "resourcegroups" else None

    @property
    def name(self) -> str:
        parts = self._parts()
        return parts[-1] if len(parts) > 1 else self._unknown("name")


def subscription_id(subscription: str) -> str:
    return f"/subscriptions/{subscription}"


def resource_group_id(subscription: str, group: str) -> str:
    return f"/subscriptions/{subscription}/resourceGroups/{group}"


def resource_id(subscription: str, group: str, provider: str, name: str) -> str:
    """The id of a top-level resource; provider is "<namespace>/<type>"."""
    return f"{resource_group_id(subscription, group)}/providers/{provider}/{name}"


def container_id(account_id: str, container: str) -> str:
    """A blob container as a resource id: the scope of a container-level role, and Event Grid's
    dead-letter endpoint (az eventgrid custom.py _get_deadletter_destination splits it there)."""
    return f"{account_id}/blobServices/default/containers/{container}"
