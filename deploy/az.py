"""The one place that runs the Azure CLI: prints every command, stops at the first failure, dry-runs.

Scripts ask two kinds of questions: `read` (a show/list that answers "not there" with None) and
`change` (anything that creates, updates or deletes). In a dry run nothing is executed: reads answer
None, as if nothing existed yet, so the printed plan is the full first-run plan, and values that only
Azure could tell (ids, principal ids) appear as <placeholders>.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

# Added to every command run (not to the printed plan): machine-readable output, no warnings on stdout.
GLOBAL_ARGS = ("--only-show-errors", "--output", "json")
# az exits 3 when an SDK call answers 404 (azure/cli/core/util.py handle_exception). Commands that send
# raw requests (functionapp show on Flex, az rest) exit 1 with ARM's error code in the message, and
# Graph lookups (ad app/sp show) exit 1 with "does not exist".
NOT_FOUND_EXIT_CODE = 3
_NOT_FOUND = re.compile(
    r"\b(ResourceNotFound|ResourceGroupNotFound|ContainerNotFound|SubscriptionNotFound)\b"
    r"|could not be found|was not found|does not exist|doesn't exist"
)


class DeployError(RuntimeError):
    """A step cannot go on; the message says which and why."""


class AzError(DeployError):
    """An az command failed; the message names the command and what az said."""

    def __init__(self, args: Sequence[str], returncode: int, stderr: str) -> None:
        self.args_ = list(args)
        self.returncode = returncode
        self.stderr = stderr.strip()
        super().__init__(f"this command failed (exit {returncode}):\n  {format_command(args)}\n{self.stderr}")


def format_command(args: Sequence[str]) -> str:
    """The command as a person would paste it into a shell."""
    return "az " + shlex.join(args)


def placeholder(what: str) -> str:
    """A value only Azure can tell, shown in a dry run."""
    return f"<{what}>"


def lookup(result: Any, path: str) -> Any:
    """result[a][b]... for path "a.b"; None when the result (a dry run) or a part is missing."""
    value = result
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def get(result: Any, path: str, default: str) -> str:
    """The string at `path`, or `default` when it is missing or empty."""
    value = lookup(result, path)
    return value if isinstance(value, str) and value else default


@dataclass
class Az:
    dry_run: bool = False
    out: TextIO = field(default_factory=lambda: sys.stdout)
    executable: str | None = None
    changes: list[str] = field(default_factory=list)

    def read(self, *args: str) -> Any:
        """The parsed JSON answer of a show/list command, or None if the resource does not exist."""
        if self.dry_run:
            print(f"{format_command(args)}    # read", file=self.out)
            return None
        completed = self._run(args)
        if completed.returncode != 0:
            if completed.returncode == NOT_FOUND_EXIT_CODE or _NOT_FOUND.search(completed.stderr):
                return None
            raise AzError(args, completed.returncode, completed.stderr)
        return _parse(completed.stdout)

    def change(self, *args: str) -> Any:
        """Run a command that changes something in Azure; its parsed JSON answer (None in a dry run)."""
        self.changes.append(format_command(args))
        print(format_command(args), file=self.out)
        if self.dry_run:
            return None
        completed = self._run(args)
        if completed.returncode != 0:
            raise AzError(args, completed.returncode, completed.stderr)
        return _parse(completed.stdout)

    def _run(self, args: Sequence[str]) -> subprocess.CompletedProcess[str]:
        executable = self.executable or shutil.which("az")
        if executable is None:
            raise AzError(args, 127, "the Azure CLI (az) is not on PATH: https://aka.ms/installazurecli")
        return subprocess.run(
            [executable, *args, *GLOBAL_ARGS],
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            check=False,
        )


def _parse(stdout: str) -> Any:
    text = stdout.strip()
    if not text:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def add_common_arguments(parser: Any) -> None:
    parser.add_argument(
        "--dry-run", action="store_true", help="print every az command (reads marked '# read') and run none"
    )


def run_main(main: Any, argv: list[str] | None) -> int:
    """Run a script's main; a failed step ends it with exit 1 and says on stderr what failed."""
    try:
        return main(argv)
    except DeployError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
