"""The sha256 of the web UI's sources, recorded in the built bundle's build-info.json.

``scripts/build-webui`` writes it after each build; tests/functional/test_webui_routes.py
recomputes it from the tree (no Node needed), so CI fails when webui/ changed but the
committed bundle in layers/core/lambdarag/webui/ was not rebuilt.

    python scripts/webui_hash.py           # print the hash of the sources
    python scripts/webui_hash.py --write   # record it in the bundle (after a build)
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "webui"
BUNDLE = ROOT / "layers" / "core" / "lambdarag" / "webui"
INFO = "build-info.json"
FILES = ("index.html", "package.json", "package-lock.json", "tsconfig.json", "vite.config.ts")
FOLDERS = ("src", "public")


def source_files(source: Path = SOURCE) -> list[Path]:
    files = [source / name for name in FILES]
    for folder in FOLDERS:
        files += [p for p in (source / folder).rglob("*") if p.is_file()]
    return sorted(files)


def source_hash(source: Path = SOURCE) -> str:
    """One digest over every source file's path and content (line endings as stored)."""
    digest = hashlib.sha256()
    for path in source_files(source):
        digest.update(path.relative_to(source).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).hexdigest().encode() + b"\n")
    return digest.hexdigest()


def recorded_hash(bundle: Path = BUNDLE) -> str | None:
    try:
        return str(json.loads((bundle / INFO).read_text())["source_sha256"])
    except (OSError, ValueError, KeyError):
        return None


def main(argv: list[str]) -> int:
    value = source_hash()
    if "--write" in argv:
        (BUNDLE / INFO).write_text(json.dumps(
            {"source_sha256": value, "rebuild": "scripts/build-webui"}, indent=2) + "\n")
    sys.stdout.write(value + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
