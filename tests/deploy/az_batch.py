"""Run many az commands in one process of the real Azure CLI (.venv-az's Python), as `python -m azure.cli`
does for one (azure/cli/__main__.py: get_default_cli().invoke(argv)), so its command table is imported
once instead of once per command. Reads a JSON list of argv lists on stdin; writes one JSON line per
command: {"code": exit code, "stderr": what az printed there}.

Run by tests/deploy/test_real_az.py, which checks that it tells a correct command from a misspelt one
exactly as separate `az` processes do.
"""

from __future__ import annotations

import io
import json
import sys


class Switch(io.TextIOBase):
    """A stream whose target is swapped per command: az's log handlers keep the stream object they were
    given at the first command, so redirecting sys.stderr anew each time would not reach them."""

    def __init__(self) -> None:
        self.target = io.StringIO()

    def write(self, text: str) -> int:
        return self.target.write(text)

    def isatty(self) -> bool:
        return False


def main() -> int:
    commands = json.load(sys.stdin)
    out, err = sys.stdout, Switch()
    sys.stdout, sys.stderr = Switch(), err
    from azure.cli.core import get_default_cli

    for argv in commands:
        err.target = io.StringIO()
        try:
            code = get_default_cli().invoke(argv)
        except SystemExit as exc:  # argparse errors exit 2
            code = exc.code if isinstance(exc.code, int) else 1
        out.write(json.dumps({"code": code, "stderr": err.target.getvalue()}) + "\n")
        out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
