"""Fixtures of the deploy tests: the stand-in az on PATH, and the real az from .venv-az."""

from __future__ import annotations

import json
import os
import stat
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from deploy.az import GLOBAL_ARGS

ROOT = Path(__file__).resolve().parents[2]
REAL_AZ = ROOT / ".venv-az" / "bin" / "az"
READ_VERBS = {"show", "list"}


@dataclass
class FakeAz:
    """The stand-in az (tests/deploy/fake_az.py): its recorded calls and its state."""

    log: Path
    state_path: Path

    @property
    def calls(self) -> list[list[str]]:
        """Every call, without the global arguments the runner adds."""
        if not self.log.exists():
            return []
        lines = self.log.read_text(encoding="utf-8").splitlines()
        return [[a for a in json.loads(line) if a not in GLOBAL_ARGS] for line in lines]

    @property
    def raw_calls(self) -> list[list[str]]:
        """Every call exactly as run (with the global arguments)."""
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text(encoding="utf-8").splitlines()]

    @property
    def changes(self) -> list[list[str]]:
        """The calls that are not reads (show/list)."""
        return [call for call in self.calls if not READ_VERBS & set(call[:4])]

    def forget_calls(self) -> None:
        self.log.unlink(missing_ok=True)

    @property
    def state(self) -> dict[str, Any]:
        return json.loads(self.state_path.read_text(encoding="utf-8"))

    def seed(self, **resources: Any) -> None:
        state = self.state
        state.update({key.replace("__", "/"): value for key, value in resources.items()})
        self.state_path.write_text(json.dumps(state), encoding="utf-8")


@pytest.fixture
def fake_az(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeAz]:
    """The stand-in az first on PATH, with an empty Azure."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "az"
    script.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{Path(__file__).parent / "fake_az.py"}" "$@"\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    fake = FakeAz(log=tmp_path / "az-calls.jsonl", state_path=tmp_path / "az-state.json")
    fake.state_path.write_text("{}", encoding="utf-8")
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_AZ_LOG", str(fake.log))
    monkeypatch.setenv("FAKE_AZ_STATE", str(fake.state_path))
    monkeypatch.delenv("FAKE_AZ_FAIL", raising=False)
    yield fake


@pytest.fixture(scope="session")
def real_az() -> Path:
    """The real Azure CLI of scripts/setup-az; skipped when missing, unless AUDIT_REQUIRE_AZ=1."""
    if not os.access(REAL_AZ, os.X_OK):
        message = f"the real Azure CLI is not installed at {REAL_AZ}: run scripts/setup-az"
        if os.environ.get("AUDIT_REQUIRE_AZ") == "1":
            pytest.fail(message + " (AUDIT_REQUIRE_AZ=1)")
        pytest.skip(message)
    return REAL_AZ
