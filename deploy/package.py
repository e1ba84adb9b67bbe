"""The deployment zip: the project as `func azure functionapp publish` would send it.

Files are chosen by .funcignore (the same patterns Core Tools honours), so tests, tools and this
deploy package stay out. Dependencies are not vendored: the Flex Consumption remote build installs
requirements.txt for the app's own Python version.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import zipfile
from collections.abc import Iterator
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# Never shipped, whatever .funcignore says: secrets and build leftovers.
ALWAYS_EXCLUDED = ("local.settings.json", ".python_packages", "__pycache__", "*.pyc", ".git", ".venv*")
# Fixed zip entry time, so the same files make the same zip.
ZIP_TIME = (2020, 1, 1, 0, 0, 0)


def ignore_patterns(root: Path) -> list[str]:
    path = root / ".funcignore"
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    patterns = [line.strip().rstrip("/") for line in lines if line.strip() and not line.startswith("#")]
    return [*patterns, *ALWAYS_EXCLUDED]


def package_files(root: Path = PROJECT_ROOT) -> Iterator[Path]:
    """Project files to deploy, relative to root, sorted. Ignored folders are not walked into (the
    virtual environments and node_modules hold tens of thousands of files)."""
    patterns = ignore_patterns(root)

    def ignored(relative: Path) -> bool:
        return any(fnmatch.fnmatch(part, pattern) for part in relative.parts for pattern in patterns) or any(
            fnmatch.fnmatch(relative.as_posix(), pattern) for pattern in patterns
        )

    found = []
    for folder, subfolders, files in os.walk(root):
        base = Path(folder).relative_to(root)
        subfolders[:] = [name for name in subfolders if not ignored(base / name)]
        found += [base / name for name in files if not ignored(base / name)]
    yield from sorted(found)


def build(destination: Path, root: Path = PROJECT_ROOT) -> str:
    """Write the zip; returns the SHA-256 of its content (names and bytes), to tell whether it changed."""
    files = list(package_files(root))
    for required in ("host.json", "function_app.py", "requirements.txt"):
        if Path(required) not in files:
            raise FileNotFoundError(f"{root / required} is missing: not a Functions project root")
    digest = hashlib.sha256()
    destination.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(destination, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for relative in files:
            content = (root / relative).read_bytes()
            digest.update(relative.as_posix().encode() + b"\0" + hashlib.sha256(content).digest())
            archive.writestr(
                zipfile.ZipInfo(relative.as_posix(), ZIP_TIME), content, compress_type=zipfile.ZIP_DEFLATED
            )
    return digest.hexdigest()
