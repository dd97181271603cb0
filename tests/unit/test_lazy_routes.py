"""Route families load on their first request; their prefixes cover every route they hold."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.routing import APIRoute

from lambdarag.api.lazy import FAMILIES, Family, serves

ROOT = Path(__file__).resolve().parents[2]


def concrete(path: str) -> str:
    """A request path the route template matches (``{name}`` filled in)."""
    return "/".join("x" if part.startswith("{") else part for part in path.split("/"))


@pytest.mark.parametrize("family", FAMILIES, ids=lambda f: f.module)
def test_every_route_of_a_family_is_under_its_prefixes(family: Family) -> None:
    router = importlib.import_module(f"lambdarag.api.routes.{family.module}").router
    paths = [concrete(r.path) for r in router.routes if isinstance(r, APIRoute)]
    assert paths
    assert [p for p in paths if not any(serves(prefix, p) for prefix in family.prefixes)] == []


def test_building_the_app_imports_no_route_family_until_a_request_needs_it() -> None:
    code = ("import sys; from lambdarag.api.app import create_app; "
            "from lambdarag.config import load_settings; create_app(load_settings()); "
            "print(sorted(m for m in sys.modules if m.startswith('lambdarag.api.routes.')))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, check=True)
    assert out.stdout.strip() == "[]"
