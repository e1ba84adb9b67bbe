"""Role assignments: granted once at the narrowest scope that works, listed in the plan, removed on teardown.

`az role assignment list --scope X` answers only assignments made exactly at X (role custom.py
_search_role_assignments filters atScope() and then scope == X), so "already granted" means granted
at this very scope: a grant at a wider scope does not hide a missing one here.
"""

from __future__ import annotations

from dataclasses import dataclass

from deploy.az import Az

# Functions host storage through an identity (Functions docs, "Connecting to host storage with an
# identity"): Blob Data Owner for the host (it creates its own containers, so account scope), Table Data
# Contributor for its diagnostic events; Queue Data Contributor for queue triggers and for the value
# capture queue of lane 14, which lives in the same account.
BLOB_OWNER = "Storage Blob Data Owner"
QUEUE_CONTRIBUTOR = "Storage Queue Data Contributor"
# The audit tables (the app creates them, so account scope).
TABLE_CONTRIBUTOR = "Storage Table Data Contributor"
# A system topic's identity writing dead-lettered events: one container is enough.
BLOB_CONTRIBUTOR = "Storage Blob Data Contributor"
# The app reading a store's key-value revisions (value capture).
APPCONFIG_READER = "App Configuration Data Reader"


@dataclass(frozen=True)
class Grant:
    principal: str  # object id of a service principal (a managed identity)
    role: str
    scope: str
    holder: str  # who it is for, as the report names it

    def _args(self) -> tuple[str, ...]:
        return ("--assignee-object-id", self.principal, "--role", self.role, "--scope", self.scope)

    def ensure(self, az: Az, report: list[str]) -> None:
        if az.read("role", "assignment", "list", *self._args()):
            return
        # The principal type spares a Graph lookup that fails while a new identity replicates
        # (role custom.py create_role_assignment warns and looks it up without it).
        az.change(
            "role", "assignment", "create", *self._args(), "--assignee-principal-type", "ServicePrincipal"
        )
        report.append(f"granted {self.role} to {self.holder} on {self.scope}")

    def revoke(self, az: Az, report: list[str]) -> None:
        if az.read("role", "assignment", "list", *self._args()) or az.dry_run:
            # With a scope, delete removes exactly the assignments at it (role custom.py
            # delete_role_assignments), and fails when there are none, hence the check first.
            az.change("role", "assignment", "delete", *self._args(), "--yes")
            report.append(f"removed {self.role} of {self.holder} on {self.scope}")
