"""The engine's import direction (pyproject.toml ``[tool.importlinter]``) holds, and is enforced.

GIVEN the layers contract and the serverless contract,
WHEN import-linter reads the package, THEN both are kept;
AND WHEN a copy of the package gains one import that runs upward, THEN the check fails.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "layers" / "core" / "lambdarag"
LINT = Path(sys.executable).with_name("lint-imports")


def lint(src: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(src)}
    return subprocess.run([str(LINT), "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def copy_package(target: Path) -> Path:
    src = target / "src"
    shutil.copytree(PACKAGE, src / "lambdarag",
                    ignore=lambda _, names: [n for n in names if n in ("webui", "assets")
                                             or n.endswith((".pyc", ".gz"))])
    return src


def test_the_package_keeps_its_import_direction(tmp_path: Path) -> None:
    result = lint(PACKAGE.parent, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 kept, 0 broken" in result.stdout


def test_an_upward_import_breaks_the_layers_contract(tmp_path: Path) -> None:
    src = copy_package(tmp_path)
    base = src / "lambdarag" / "storage" / "base.py"
    base.write_text(base.read_text() + "\nfrom lambdarag.api import app as _app  # noqa\n")
    result = lint(src, tmp_path)
    assert result.returncode != 0
    assert "lambdarag.storage is not allowed to import lambdarag.api" in result.stdout


def test_the_engine_importing_the_serverless_package_is_refused(tmp_path: Path) -> None:
    src = copy_package(tmp_path)
    lifecycle = src / "lambdarag" / "documents" / "lifecycle.py"
    lifecycle.write_text(lifecycle.read_text() + "\nfrom lambdarag.serverless import s3 as _s3  # noqa\n")
    result = lint(src, tmp_path)
    assert result.returncode != 0
    assert "lambdarag.documents is not allowed to import lambdarag.serverless" in result.stdout
