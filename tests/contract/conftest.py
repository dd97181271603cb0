"""Fixtures of the storage contract suite (see contract_backends.py for the registry)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from lambdarag.storage.base import StorageFactory
from tests.contract.contract_backends import BACKENDS, WORKSPACE, MakeFactory, selected_backends


@pytest.fixture(params=selected_backends())
async def factory_maker(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[MakeFactory]:
    """``make(workspace)`` for the backend under test."""
    async with BACKENDS[request.param](tmp_path) as make:
        yield make


@pytest.fixture
def factory(factory_maker: MakeFactory) -> StorageFactory:
    """The default workspace of the backend under test."""
    return factory_maker(WORKSPACE)
