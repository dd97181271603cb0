"""bench/cost_model.py prices counters as the price table says, and renders every section."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))
cost_model = pytest.importorskip("cost_model")
cost_report = pytest.importorskip("cost_report")

MEMORY = {"lambdarag-extract": 1024, "lambdarag-prepare": 2048, "ApiFunction": 1024}
PHASE = {
    "requests": {"s3:PutObject": 4, "s3:GetObject": 10, "dynamodb:Query": 3},
    "dynamodb_rru": 2_000_000.0, "dynamodb_wru": 1_000_000.0,
    "lambda_ms": {"lambdarag-extract": 10_000.0, "lambdarag-prepare": 5_000.0},
    "lambda_calls": {"lambdarag-extract": 2, "lambdarag-prepare": 1},
    "cold_starts": 1, "transitions": 40, "llm_calls": 6, "embedding_requests": 2,
    "s3vectors": {"put_billed_bytes": 10**9, "queries": 1_000_000, "query_scanned_bytes": 10**12},
}


def test_each_counter_is_priced_by_its_line_of_the_table() -> None:
    prices = cost_model.PRICES
    cost = cost_model.price_phase(PHASE, MEMORY, 1.0)

    assert cost["DynamoDB read units"] == pytest.approx(2 * 0.125)
    assert cost["DynamoDB write units"] == pytest.approx(0.625)
    # 10 s at 1 GB + 5 s at 2 GB = 20 GB-s
    assert cost["Lambda GB-seconds"] == pytest.approx(20 * prices["lambda_gb_second"])
    assert cost["S3 requests"] == pytest.approx(4 * prices["s3_put_class"] + 10 * prices["s3_get_class"])
    assert cost["S3 Vectors PUT"] == pytest.approx(0.20)
    assert cost["S3 Vectors queries"] == pytest.approx(2.50 + 0.004)
    assert cost["Step Functions transitions"] == pytest.approx(40 * 0.025 / 1000)
    assert cost_model.price_phase(PHASE, MEMORY, 3.0)["S3 Vectors PUT"] == pytest.approx(0.60)


def test_the_report_has_every_section_and_the_price_date() -> None:
    data = {"docs": 2, "words_per_doc": 600, "queries": 5, "chunks": 2, "statuses": {"processed": 2},
            "indexing": PHASE, "querying": {**PHASE, "transitions": 0},
            "storage_bytes": {"dynamodb": 10**6, "s3vectors": 10**6, "s3": 10**4, "vectors": 10},
            "memory_mb": MEMORY, "dim": 1536, "commit": "abc", "measured_at": "now"}

    text = cost_report.render(data, cost_model.PRICES, "2026-12-03", "us-east-1",
                              cost_model.price_phase, cost_model.quantities)

    for heading in ("## Idle, per month", "## Per 1,000 documents indexed (lowcost)",
                    "## Per 1,000 queries (lowcost)", "## Which tier is the default, and why",
                    "## Prices used"):
        assert heading in text
    assert "us-east-1 list prices of 2026-12-03" in text
    assert "| **lowcost** (default) |" in text and "$0.40" in text
