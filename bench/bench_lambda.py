"""The API Lambda's cold init, its first and warm invocations, and the artefact sizes.

* Cold init: functions/api/handler.py imported in a fresh interpreter, N times, with the
  AWS storage selected (DynamoDB, OpenSearch, Neptune; nothing is contacted at init), once
  with the bytecode cache as a developer machine has it and once with none (how a layer
  without .pyc behaves on Lambda's read-only /opt: every module compiled at each cold start).
* The top imported modules by cumulative time (``python -X importtime``), and whether
  boto3, botocore, opensearchpy, gremlin_python and numpy are imported at init.
* The first invocation (the lifespan: Engine start) and warm GET /health, with embedded
  storage, against Mangum's own ``lifespan="auto"``, which runs the lifespan per request.
* The unzipped size of each function + its layers from .aws-sam/build (built first with
  scripts/build-lambda unless --skip-build).

    .venv/bin/python bench/bench_lambda.py [--runs 7] [--skip-build]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
HANDLER = ROOT / "functions" / "api" / "handler.py"
BUILD = ROOT / ".aws-sam" / "build"
MB = 1024 * 1024
WATCHED = ("boto3", "botocore", "opensearchpy", "gremlin_python", "numpy", "tiktoken",
           "pydantic", "fastapi", "mangum", "aws_lambda_powertools")
AWS_ENV = {
    "LIGHTRAG_KV_STORAGE": "DynamoDBKVStorage",
    "LIGHTRAG_DOC_STATUS_STORAGE": "DynamoDBDocStatusStorage",
    "LIGHTRAG_VECTOR_STORAGE": "OpenSearchVectorDBStorage",
    "LIGHTRAG_GRAPH_STORAGE": "NeptuneGraphStorage",
    "AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
    "LLM_BINDING": "openai", "LLM_BINDING_HOST": "http://127.0.0.1:9/v1",
    "EMBEDDING_BINDING": "openai", "EMBEDDING_BINDING_HOST": "http://127.0.0.1:9/v1",
    "EMBEDDING_DIM": "1024", "WORKING_DIR": "/tmp/lambdarag-bench", "LOG_LEVEL": "WARNING",
}

# Runs in the fresh interpreter: times the handler import, reports what it pulled in.
INIT_DRIVER = """
import importlib.util, json, sys, time
started = time.perf_counter()
spec = importlib.util.spec_from_file_location("handler", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
init = time.perf_counter() - started
modules = [m for m in sys.argv[2:] if m in sys.modules]
started = time.perf_counter()
import aws_lambda_powertools.logging  # what a Powertools Logger would add
powertools = time.perf_counter() - started
print(json.dumps({"init_ms": init * 1000, "powertools_ms": powertools * 1000,
                  "modules": modules}))
"""

# Runs in the fresh interpreter: first and warm invocations, handler vs lifespan="auto".
INVOKE_DRIVER = """
import importlib.util, json, sys, time
sys.path.insert(0, sys.argv[2])
from tests.aws.test_api_handler import FakeContext, http_event
spec = importlib.util.spec_from_file_location("handler", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
event = http_event("GET", "/health", None, {}, "", False)
def timed(call, n):
    out = []
    for _ in range(n):
        started = time.perf_counter()
        assert call(event, FakeContext())["statusCode"] == 200
        out.append((time.perf_counter() - started) * 1000)
    return out
first = timed(module.handler, 1)[0]
warm = sorted(timed(module.handler, 50))[25]
from mangum import Mangum
from lambdarag.api.app import create_app
from lambdarag.config import load_settings
auto = Mangum(create_app(load_settings()), lifespan="auto")
auto_warm = sorted(timed(auto, 21))[10]
print(json.dumps({"first_ms": first, "warm_ms": warm, "auto_ms": auto_warm}))
"""


def fresh(driver: str, args: list[str], env: dict[str, str], *flags: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as cwd:  # no .env from the working directory
        result = subprocess.run([sys.executable, *flags, "-c", driver, *args], cwd=cwd,
                                env=env, capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        raise SystemExit(result.stderr[-3000:])
    return {"json": json.loads(result.stdout.strip().splitlines()[-1]), "stderr": result.stderr}


def base_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("LIGHTRAG_", "LLM_", "EMBEDDING_", "AWS_", "PYTHON"))}
    env.update({**AWS_ENV, "PYTHONPATH": str(ROOT / "layers" / "core"), **extra})
    env.pop("LAMBDARAG_SECRET_ARN", None)
    return env


def cold_init(runs: int) -> dict[str, Any]:
    args = [str(HANDLER), *WATCHED]
    results: dict[str, Any] = {}
    fresh(INIT_DRIVER, args, base_env())  # writes the bytecode cache once
    warm_cache = [fresh(INIT_DRIVER, args, base_env())["json"] for _ in range(runs)]
    with tempfile.TemporaryDirectory() as empty:
        no_pyc_env = base_env(PYTHONPYCACHEPREFIX=empty, PYTHONDONTWRITEBYTECODE="1")
        no_pyc = [fresh(INIT_DRIVER, args, no_pyc_env)["json"] for _ in range(runs)]
    for name, samples in (("with .pyc", warm_cache), ("no .pyc", no_pyc)):
        times = [s["init_ms"] for s in samples]
        results[name] = {"p50": statistics.median(times), "min": min(times)}
    results["powertools_ms"] = statistics.median(s["powertools_ms"] for s in warm_cache)
    results["modules"] = warm_cache[0]["modules"]
    return results


def import_profile(top: int) -> list[tuple[str, float, float]]:
    """(package, self ms summed over its modules, cumulative ms of its first import)."""
    stderr = fresh(INIT_DRIVER, [str(HANDLER)], base_env(), "-X", "importtime")["stderr"]
    rows = []
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "[us]" in line:
            continue
        self_us, cumulative_us, name = line.removeprefix("import time:").split("|")
        rows.append((name[1:], int(self_us) / 1000, int(cumulative_us) / 1000))
    packages: dict[str, list[float]] = {}
    for name, self_ms, cumulative in rows:
        package = name.strip().split(".")[0]
        if package not in packages:
            packages[package] = [0.0, 0.0]
        packages[package][0] += self_ms
        if name.strip() == package:
            packages[package][1] = max(packages[package][1], cumulative)
    ranked = sorted(packages.items(), key=lambda item: item[1][0], reverse=True)
    return [(name, own, cumulative) for name, (own, cumulative) in ranked[:top]]


def invocations() -> dict[str, float]:
    with tempfile.TemporaryDirectory() as work:
        env = base_env(WORKING_DIR=work, INPUT_DIR=f"{work}/inputs",
                       PYTHONPATH=f"{ROOT / 'layers' / 'core'}{os.pathsep}{ROOT}")
        for key in ("LIGHTRAG_KV_STORAGE", "LIGHTRAG_DOC_STATUS_STORAGE",
                    "LIGHTRAG_VECTOR_STORAGE", "LIGHTRAG_GRAPH_STORAGE"):
            env.pop(key)
        return fresh(INVOKE_DRIVER, [str(HANDLER), str(ROOT)], env)["json"]


def tree_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def sizes(skip_build: bool) -> tuple[dict[str, int], dict[str, tuple[int, list[str]]]]:
    if not skip_build or not (BUILD / "template.yaml").exists():
        started = time.perf_counter()
        code = subprocess.run([str(ROOT / "scripts" / "build-lambda")], cwd=ROOT,
                              capture_output=True, text=True).returncode
        print(f"scripts/build-lambda: exit {code} in {time.perf_counter() - started:.1f} s")
    template = yaml.safe_load((BUILD / "template.yaml").read_text())
    global_layers = template.get("Globals", {}).get("Function", {}).get("Layers") or []
    artefacts: dict[str, int] = {}
    functions: dict[str, tuple[int, list[str]]] = {}
    for name in template["Resources"]:
        if (BUILD / name).is_dir():
            artefacts[name] = tree_size(BUILD / name)
    for name, resource in template["Resources"].items():
        if resource["Type"] == "AWS::Serverless::Function" and name in artefacts:
            refs = [layer["Ref"] for layer in [*global_layers,
                                                *resource["Properties"].get("Layers", [])]
                    if isinstance(layer, dict) and layer.get("Ref") in artefacts]
            functions[name] = (artefacts[name] + sum(artefacts[r] for r in refs), refs)
    return artefacts, functions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--top", type=int, default=12)
    parser.add_argument("--skip-build", action="store_true")
    args = parser.parse_args()

    init = cold_init(args.runs)
    print(f"API handler cold init (fresh interpreter, AWS storage selected, {args.runs} runs)")
    print(f"{'case':28} {'p50 ms':>8} {'min ms':>8}")
    for case in ("with .pyc", "no .pyc"):
        print(f"{case:28} {init[case]['p50']:8.0f} {init[case]['min']:8.0f}")
    print(f"{'+ Powertools Logger import':28} {init['powertools_ms']:8.0f}")
    print("imported at init: " + ", ".join(m if m in init["modules"] else f"({m}: no)"
                                           for m in WATCHED))
    print()
    print("packages by import time (-X importtime; self: all its modules, cum: its first import)")
    print(f"{'package':36} {'self ms':>8} {'cum ms':>8}")
    for name, self_ms, cumulative in import_profile(args.top):
        print(f"{name:36} {self_ms:8.1f} {cumulative:8.1f}")
    print()
    calls = invocations()
    print(f"{'invocation (embedded storage)':40} {'ms':>8}")
    print(f"{'first (lifespan: Engine start)':40} {calls['first_ms']:8.1f}")
    print(f"{'warm GET /health p50':40} {calls['warm_ms']:8.1f}")
    print(f"{'warm GET /health p50, lifespan=auto':40} {calls['auto_ms']:8.1f}")
    print()
    artefacts, functions = sizes(args.skip_build)
    print(f"{'artefact (unzipped)':28} {'MB':>8}")
    for name, size in artefacts.items():
        print(f"{name:28} {size / MB:8.1f}")
    print(f"{'function + layers':28} {'MB':>8}  {'of 250':>6}")
    for name, (size, refs) in functions.items():
        print(f"{name:28} {size / MB:8.1f}  {size / (250 * MB):6.0%}  {' + '.join(refs)}")


if __name__ == "__main__":
    main()
