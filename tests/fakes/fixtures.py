"""Pytest fixtures for the fake LLM server (loaded by ``tests/conftest.py``).

``fake_llm_session`` starts one server for the whole session; ``fake_llm`` hands the
same server to a test after :meth:`FakeLLMServer.reset`, so faults, delays and recorded
requests never leak between tests.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.llm_server import FakeLLMServer


@pytest.fixture(scope="session")
def fake_llm_session() -> Iterator[FakeLLMServer]:
    with FakeLLMServer() as server:
        yield server


@pytest.fixture
def fake_llm(fake_llm_session: FakeLLMServer) -> FakeLLMServer:
    fake_llm_session.reset()
    return fake_llm_session
