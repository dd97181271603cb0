"""LambdaRAG and LightRAG 1.5.7 side by side, in one run, on one fake provider.

Both servers index the same generated corpus over HTTP at each provider latency (every
chat and embedding call takes that long), then answer the same kinds of queries; the
fake provider counts what each one asked of it. Then LambdaRAG alone: query overhead and
an incremental add on stores of 1,000 to 100,000 entities (embedded and the AWS
adapters' local servers) and the API Lambda's cold start. Writes ``bench/REPORT.md``,
``bench/plots/*.png`` and the raw figures in ``bench/results/compare.json``.

    bench/run                       # the full run (about 15-20 minutes)
    bench/run --docs 20 --quick     # a quick pass while iterating
    bench/run --report-only         # re-render the report from the last results
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.bench_indexing import corpus
from bench.compare import coldstart, report, scale
from bench.compare.drive import index_run, query_latency
from bench.compare.servers import LAMBDARAG, LIGHTRAG, ROOT, running
from tests.fakes.llm_server import FakeLLMServer

RESULTS = ROOT / "bench" / "results" / "compare.json"
logger = logging.getLogger("bench")


def side_by_side(args: argparse.Namespace, fake: FakeLLMServer, tmp: Path) -> dict[str, Any]:
    docs = corpus(args.docs)
    runs: list[dict[str, Any]] = []
    queries: dict[str, dict[str, Any]] = {}
    for delay in args.delays:
        for system in args.systems:
            workdir = tmp / f"{system.lower()}-{int(delay * 1000)}ms"
            fake.reset()
            fake.keep_bodies = False
            fake.delay = delay
            with running(system, workdir, fake.url) as server:
                logger.info("%s: indexing %d documents, %.0f ms per provider call",
                            system, len(docs), delay * 1000)
                run = index_run(server, fake, docs, delay)
                logger.info("%s: %.1f s, %d chat calls, %d embedding requests", system,
                            run.wall_s, run.calls["chat_calls"], run.calls["embedding_requests"])
                if delay == 0:
                    queries[system] = {
                        "data": query_latency(server, args.queries, "/query/data", offset=0,
                                              fake=fake),
                        "answer": query_latency(server, args.queries, "/query", offset=150,
                                                fake=fake),
                    }
                    logger.info("%s: queries %s", system,
                                {m: round(v["p50"]) for m, v in queries[system]["data"].items()})
                runs.append(run.as_dict())
    return {"corpus": {"documents": len(docs), "words": sum(len(t.split()) for t in docs.values())},
            "runs": runs, "queries": queries, "queries_per_mode": args.queries}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=100)
    parser.add_argument("--delays", type=float, nargs="+", default=[0.2, 0.0],
                        help="seconds per provider call, one indexing run each (queries at 0)")
    parser.add_argument("--queries", type=int, default=20, help="timed queries per mode")
    parser.add_argument("--systems", nargs="+", default=[LAMBDARAG, LIGHTRAG])
    parser.add_argument("--scale", type=int, nargs="*", default=[1000, 10000, 100000],
                        help="entity counts for the embedded store")
    parser.add_argument("--scale-aws", type=int, nargs="*", default=[1000, 10000],
                        help="entity counts for the AWS adapters' local servers")
    parser.add_argument("--cold-runs", type=int, default=9)
    parser.add_argument("--budget-min", type=float, default=40,
                        help="skip the remaining scale rows once the run has taken this long")
    parser.add_argument("--quick", action="store_true",
                        help="small scale section (1,000 and 10,000 embedded, 1,000 AWS), 5 cold runs")
    parser.add_argument("--report-only", action="store_true")
    parser.add_argument("--scale-only", action="store_true",
                        help="measure again only LambdaRAG's own sections (scale, cold start) "
                             "into the last results, e.g. once the machine is quiet; the report "
                             "says when each part was measured")
    parser.add_argument("--report", type=Path, default=ROOT / "bench" / "REPORT.md")
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--keep", action="store_true", help="keep the working folders")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    if args.quick:
        args.scale, args.scale_aws, args.cold_runs = [1000, 10000], [1000], 5

    if args.scale_only:
        results = json.loads(args.results.read_text())
        started = time.monotonic()
        tmp = Path(tempfile.mkdtemp(prefix="lambdarag-scale-"))
        try:
            with FakeLLMServer() as fake:
                results["scale"] = scale.run_all(fake, tmp, args.scale, args.scale_aws,
                                                 deadline=started + args.budget_min * 60)
            results["cold_start"] = coldstart.measure(args.cold_runs)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        results["scale_run"] = {"date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
                                "command": "bench/run " + " ".join(sys.argv[1:]),
                                "git": report.git_head(),
                                "duration_s": time.monotonic() - started}
        args.results.write_text(json.dumps(results, indent=1))
    elif not args.report_only:
        results: dict[str, Any] = {
            "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "command": "bench/run " + " ".join(sys.argv[1:]),
            "git": report.git_head(),
        }
        started = time.monotonic()
        tmp = Path(tempfile.mkdtemp(prefix="lambdarag-compare-"))
        try:
            with FakeLLMServer() as fake:
                results["side_by_side"] = side_by_side(args, fake, tmp)
                fake.reset()
                fake.keep_bodies = False
                results["scale"] = scale.run_all(fake, tmp, args.scale, args.scale_aws,
                                                 deadline=started + args.budget_min * 60)
            results["cold_start"] = coldstart.measure(args.cold_runs)
        finally:
            if not args.keep:
                shutil.rmtree(tmp, ignore_errors=True)
        results["duration_s"] = time.monotonic() - started
        args.results.parent.mkdir(parents=True, exist_ok=True)
        args.results.write_text(json.dumps(results, indent=1))
    results = json.loads(args.results.read_text())
    report.write(results, args.report)
    logger.info("wrote %s", args.report)


if __name__ == "__main__":
    main()
