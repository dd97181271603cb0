"""The API Lambda's cold start against a bare ``import fastapi, mangum`` in the same venv.

Each sample is a fresh interpreter (bytecode cache warm, as a deployed layer with .pyc
has it) that imports ``functions/api/handler.py``, which builds the app at module
scope, with the AWS storage selected as on Lambda (nothing is contacted at init). The
baseline is the same interpreter importing only fastapi and mangum.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

from bench.bench_lambda import HANDLER, INIT_DRIVER, base_env, import_profile

BARE = "import fastapi, mangum"


def _fresh(args: list[str]) -> float:
    """Wall seconds of one fresh interpreter running ``args`` (process start included)."""
    with tempfile.TemporaryDirectory() as cwd:  # no .env from the working directory
        started = time.perf_counter()
        result = subprocess.run([sys.executable, *args], cwd=cwd, env=base_env(),
                                capture_output=True, text=True, timeout=120)
        elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(result.stderr[-2000:])
    return elapsed


def measure(runs: int) -> dict[str, Any]:
    handler = ["-c", INIT_DRIVER, str(HANDLER)]
    bare = ["-c", BARE]
    _fresh(handler)  # writes the bytecode cache once
    _fresh(bare)
    samples: dict[str, list[float]] = {"handler": [], "bare": [], "python": []}
    for _ in range(runs):  # interleaved, so machine noise hits both alike
        samples["handler"].append(_fresh(handler))
        samples["bare"].append(_fresh(bare))
        samples["python"].append(_fresh(["-c", "pass"]))
    p50 = {name: statistics.median(values) for name, values in samples.items()}
    return {"runs": runs, "p50_s": p50, "samples_s": samples,
            "ratio": p50["handler"] / p50["bare"], "profile": import_profile(12)}
