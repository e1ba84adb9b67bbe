"""Blob containers the scripts make: the deployment package's and the dead-letter one."""

from __future__ import annotations

from deploy.az import Az
from deploy.ids import ResourceId


def ensure(az: Az, account_id: str, container: str, what: str, report: list[str]) -> None:
    """A blob container, made through the management plane (no data role needed). Those commands take
    the group and name from an account id but not its subscription (storage _validators.py
    parse_storage_account), hence --subscription."""
    where = (
        "--storage-account",
        account_id,
        "--name",
        container,
        "--subscription",
        ResourceId(account_id).subscription,
    )
    if az.read("storage", "container-rm", "show", *where) is None:
        az.change("storage", "container-rm", "create", *where, "--public-access", "off")
        report.append(f"created {what} {container}")
