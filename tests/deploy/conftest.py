"""Fixtures of the deploy tests: the stand-in az on PATH, and the real az from .venv-az."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from deploy import provision
from deploy.az import GLOBAL_ARGS, Az, run_main
from tests.deploy import fake_az as fake_module
from tests.deploy.scenarios import PROVISION_BASE, owned_sources

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
        return [[a for a in call if a not in GLOBAL_ARGS] for call in self.raw_calls]

    @property
    def raw_calls(self) -> list[list[str]]:
        """Every call exactly as run (with the global arguments)."""
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text(encoding="utf-8").splitlines()]

    @property
    def changes(self) -> list[list[str]]:
        """The calls that are not reads (show/list, and az rest GETs)."""
        return [call for call in self.calls if not READ_VERBS & set(call[:5])
                and call[:3] != ["rest", "--method", "get"]]

    def forget_calls(self) -> None:
        self.log.unlink(missing_ok=True)

    @property
    def state(self) -> dict[str, Any]:
        return json.loads(self.state_path.read_text(encoding="utf-8"))

    def save(self, state: dict[str, Any]) -> None:
        self.state_path.write_text(json.dumps(state), encoding="utf-8")

    def add(self, *resources: dict[str, Any]) -> None:
        state = self.state
        for resource in resources:
            state["resources"][resource["id"].lower()] = resource
        self.save(state)

    def resource(self, resource_id: str) -> Any:
        return self.state["resources"].get(resource_id.lower())


def install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeAz:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    script = bin_dir / "az"
    script.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{Path(fake_module.__file__)}" "$@"\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    fake = FakeAz(log=tmp_path / "az-calls.jsonl", state_path=tmp_path / "az-state.json")
    fake.save(fake_module.empty_state())
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_AZ_LOG", str(fake.log))
    monkeypatch.setenv("FAKE_AZ_STATE", str(fake.state_path))
    monkeypatch.delenv("FAKE_AZ_FAIL", raising=False)
    return fake


def in_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run the scripts' az calls in this process: the same stand-in, argv, state and log as through PATH,
    without a Python start per call (a provision run makes about 30)."""

    def run(self: Az, args: Sequence[str]) -> subprocess.CompletedProcess[str]:
        argv = [*args, *GLOBAL_ARGS]
        code, out, err = fake_module.invoke(argv, os.environ["FAKE_AZ_STATE"], os.environ["FAKE_AZ_LOG"],
                                            os.environ.get("FAKE_AZ_FAIL"))
        return subprocess.CompletedProcess(["az", *argv], code, out, err)

    monkeypatch.setattr(Az, "_run", run)


@pytest.fixture
def fake_az(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeAz]:
    """The stand-in az first on PATH, with an empty Azure (two subscriptions, no resources); the scripts
    call it in-process (see `fake_az_on_path` for the real subprocess)."""
    fake = install(tmp_path, monkeypatch)
    in_process(monkeypatch)
    yield fake


@pytest.fixture
def fake_az_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeAz]:
    """The stand-in az on PATH, run by the scripts as a subprocess, as the real az is."""
    yield install(tmp_path, monkeypatch)


@pytest.fixture(scope="session")
def provisioned_state(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The stand-in Azure after `deploy.provision` (code deployed) and with the caches and stores of
    scenarios.owned_sources: made once by running the script, copied into each test that needs it."""
    monkeypatch = pytest.MonkeyPatch()
    try:
        fake = install(tmp_path_factory.mktemp("provisioned"), monkeypatch)
        in_process(monkeypatch)
        assert run_main(provision.main, PROVISION_BASE) == 0
        fake.add(*owned_sources())
        return fake.state
    finally:
        monkeypatch.undo()


@pytest.fixture
def azure(fake_az: FakeAz, provisioned_state: dict[str, Any]) -> FakeAz:
    """The stand-in Azure after provisioning: the app with record_event, a cache, a store, a Managed Redis."""
    fake_az.save(provisioned_state)
    return fake_az


@pytest.fixture(scope="session")
def real_az() -> Path:
    """The real Azure CLI of scripts/setup-az; skipped when missing, unless AUDIT_REQUIRE_AZ=1."""
    if not os.access(REAL_AZ, os.X_OK):
        message = f"the real Azure CLI is not installed at {REAL_AZ}: run scripts/setup-az"
        if os.environ.get("AUDIT_REQUIRE_AZ") == "1":
            pytest.fail(message + " (AUDIT_REQUIRE_AZ=1)")
        pytest.skip(message)
    return REAL_AZ
