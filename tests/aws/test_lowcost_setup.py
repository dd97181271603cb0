"""``lambdarag init-stores`` on the low-cost tier: the graph table and the vector indexes.

GIVEN the low-cost backends (DynamoDB Local, the local S3 Vectors server) WHEN the deploy
step runs for a workspace THEN both tables and the workspace's three vector indexes exist,
and a second run with another EMBEDDING_DIM fails in one line naming the setting.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.test_lowcost_backends import lowcost_env
from tests.fakes.llm_server import FakeLLMServer
from tests.fakes.s3vectors_server import S3VectorsServer


def test_init_stores_makes_the_lowcost_stores_and_reports_drift(
    tmp_path: Path, fake_llm: FakeLLMServer, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str], dynamodb_client: object,
) -> None:
    from lambdarag import cli

    monkeypatch.chdir(tmp_path)
    base = ["--llm-binding", "openai", "--llm-model", "fake-llm",
            "--llm-binding-host", fake_llm.openai_url, "--embedding-binding", "openai",
            "--embedding-model", "fake-embed", "--embedding-binding-host", fake_llm.openai_url]
    with S3VectorsServer() as vectors, lowcost_env(monkeypatch, vectors.url) as table:
        # WHEN the deploy step runs for a workspace
        assert cli.main([*base, "--embedding-dim", "64", "init-stores", "team_a"]) == 0
        assert "workspace 'team_a': " in capsys.readouterr().out

        # THEN the tables and the workspace's vector indexes exist
        tables = dynamodb_client.list_tables()["TableNames"]  # type: ignore[attr-defined]
        assert {table, f"{table}-graph"} <= set(tables)
        indexes = vectors.store.buckets["lr-e2e"]
        assert len(indexes) == 3 and {i.dimension for i in indexes.values()} == {64}

        # AND another dimension is refused by name
        assert cli.main([*base, "--embedding-dim", "32", "init-stores", "team_a"]) == 1
        error = capsys.readouterr().err
        assert "64 dimensions but 32" in error and "EMBEDDING_DIM" in error
