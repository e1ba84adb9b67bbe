"""Start and stop a real Azurite Table service (npm package `azurite`) on a free loopback port."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

ROOT = Path(__file__).resolve().parent.parent
ACCOUNT = "devstoreaccount1"
# Azurite's well-known development key (public, documented; not a secret).
ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def azurite_command() -> str:
    """The azurite-table executable: $AZURITE_TABLE, this repo's node_modules, or PATH."""
    candidates = [os.environ.get("AZURITE_TABLE"), str(ROOT / "node_modules" / ".bin" / "azurite-table"),
                  shutil.which("azurite-table")]
    for candidate in candidates:
        if candidate and Path(candidate).exists():
            return candidate
    raise FileNotFoundError("azurite-table not found: run `npm ci` in the repository root")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Azurite:
    """An Azurite Table service; in memory, or on disk under `location` so data survives a restart."""

    def __init__(self, *, location: Path | None = None, port: int | None = None) -> None:
        self.location = location
        self.port = port or free_port()
        self._process: subprocess.Popen[bytes] | None = None
        self._log = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}/{ACCOUNT}"

    @property
    def connection_string(self) -> str:
        return (f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={ACCOUNT_KEY};"
                f"TableEndpoint={self.endpoint};")

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, timeout: float = 30) -> Azurite:
        args = [azurite_command(), "--tableHost", "127.0.0.1", "--tablePort", str(self.port),
                "--disableTelemetry", "--skipApiVersionCheck"]
        if self.location is None:
            args.append("--inMemoryPersistence")
        else:
            self.location.mkdir(parents=True, exist_ok=True)
            args += ["--location", str(self.location)]
        self._process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                error = self._process.stderr.read().decode(errors="replace") if self._process.stderr else ""
                raise RuntimeError(f"Azurite exited with {self._process.returncode}: {error.strip()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise TimeoutError(f"Azurite did not listen on 127.0.0.1:{self.port} within {timeout} s")

    def stop(self, *, kill: bool = False) -> None:
        """Stop it; kill=True ends it abruptly, as a crash would.

        A disk-backed Azurite saves its tables only every 5 s (LokiJS autosave) and when closed on
        SIGINT: SIGTERM and SIGKILL both lose what it acknowledged since the last save, unlike Azure.
        """
        process, self._process = self._process, None
        if process is None:
            return
        if kill:
            process.kill()
        else:
            process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stderr:
            process.stderr.close()

    def __enter__(self) -> Azurite:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
