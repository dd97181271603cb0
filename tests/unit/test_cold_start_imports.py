"""What a cold API Lambda loads: the handler and its app, without the engine's heavy parts.

numpy, PyJWT (with its crypto backends), json-repair and the AWS clients cost tens of
milliseconds each at import; the first request that needs them loads them. Timings are in
bench/bench_lambda.py; this checks which modules the init phase pulls in.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEFERRED = ("numpy", "jwt", "json_repair", "boto3", "botocore", "opensearchpy",
            "gremlin_python", "tiktoken", "bcrypt")


def test_the_api_handler_init_defers_the_heavy_modules() -> None:
    code = ("import json, sys; sys.path.insert(0, 'functions/api'); import handler; "
            f"print(json.dumps(sorted(m for m in {DEFERRED!r} if m in sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
