"""bench/REPORT.md from the results of one run: tables, targets met or missed, plots."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.compare import plots
from bench.compare.drive import MODES
from bench.compare.servers import EMBEDDING_SLOTS, LAMBDARAG, LIGHTRAG, MAX_ASYNC, ROOT


def git_head() -> str:
    out = subprocess.run(["git", "-C", str(ROOT), "log", "-1", "--format=%h %s"],
                         capture_output=True, text=True)
    dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--",
                            "layers/core"], capture_output=True, text=True).stdout.strip()
    return out.stdout.strip() + (" (engine with uncommitted changes)" if dirty else "")


@dataclass(frozen=True)
class Target:
    name: str
    measured: str
    ratio: float | None
    limit: float
    why: str = ""

    @property
    def met(self) -> bool:
        return self.ratio is not None and self.ratio <= self.limit

    def row(self) -> str:
        if self.ratio is None:
            return f"| {self.name} | {self.measured} | - | {_limit(self.limit)} | not measured |"
        verdict = "**met**" if self.met else f"missed by {self.ratio / self.limit:.2f}x"
        return (f"| {self.name} | {self.measured} | {self.ratio:.2f} | {_limit(self.limit)} | "
                f"{verdict} |")


def _limit(value: float) -> str:
    fractions = {1 / 3: "1/3", 1 / 2: "1/2", 1 / 5: "1/5"}
    for fraction, text in fractions.items():
        if abs(value - fraction) < 1e-9:
            return f"<= {text}"
    return f"<= {value:g}"


def _ratio(a: float, b: float) -> float | None:
    return a / b if b else None


def _fmt_ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _thousands(value: float) -> str:
    return f"{value:,.0f}"


# ---------------------------------------------------------------------------- sections


def _runs(results: dict[str, Any]) -> dict[tuple[str, float], dict[str, Any]]:
    return {(r["system"], r["delay_s"]): r for r in results["side_by_side"]["runs"]}


def _summary_table(results: dict[str, Any]) -> list[str]:
    runs = _runs(results)
    delays = sorted({d for _, d in runs}, reverse=True)
    slow, fast = delays[0], delays[-1]
    lines = [f"| | {LAMBDARAG} | {LIGHTRAG} 1.5.7 | ratio |", "|---|---|---|---|"]

    def row(label: str, get: Callable[[dict[str, Any]], float], fmt: Callable[[float], str],
            delay: float) -> None:
        ours, theirs = runs.get((LAMBDARAG, delay)), runs.get((LIGHTRAG, delay))
        a = get(ours) if ours else None
        b = get(theirs) if theirs else None
        ratio = _ratio(a, b) if a is not None and b is not None else None
        lines.append(f"| {label} | {fmt(a) if a is not None else '-'} | "
                     f"{fmt(b) if b is not None else '-'} | {_fmt_ratio(ratio)} |")

    ms = f"{slow * 1000:.0f} ms"
    for delay in delays:
        row(f"indexing wall time, {delay * 1000:.0f} ms per call", lambda r: r["wall_s"],
            lambda v: f"{v:.1f} s", delay)
    row(f"chat calls ({ms})", lambda r: r["calls"]["chat_calls"], _thousands, slow)
    for kind in ("extraction", "gleaning", "summary"):
        row(f"&nbsp;&nbsp;{kind}", lambda r, k=kind: r["calls"].get(k, 0), _thousands, slow)
    row("embedding requests", lambda r: r["calls"]["embedding_requests"], _thousands, slow)
    row("texts embedded", lambda r: r["calls"]["embedded_texts"], _thousands, slow)
    row("prompt characters sent", lambda r: r["calls"]["prompt_chars"],
        lambda v: f"{v / 1e6:.2f} M", slow)
    row(f"chat slots busy ({MAX_ASYNC} slots, {ms})", lambda r: r["chat_busy"],
        lambda v: f"{v:.0%}", slow)
    row(f"embedding slots busy ({EMBEDDING_SLOTS} slots, {ms})", lambda r: r["embedding_busy"],
        lambda v: f"{v:.0%}", slow)
    row(f"time with no chat call in flight ({ms})",
        lambda r: r["wall_s"] - r.get("chat_covered_s", r["wall_s"]), lambda v: f"{v:.1f} s", slow)
    row(f"time with no provider call in flight ({ms})",
        lambda r: r["wall_s"] - r["provider_covered_s"], lambda v: f"{v:.1f} s", slow)
    row(f"server CPU time while indexing, {fast * 1000:.0f} ms", lambda r: r["server_cpu_s"],
        lambda v: f"{v:.1f} s", fast)
    row(f"server peak RSS, {fast * 1000:.0f} ms run", lambda r: r["peak_rss_mb"],
        lambda v: f"{v:.0f} MB", fast)
    row("graph nodes", lambda r: r["nodes"], _thousands, slow)
    for key in ("max_parallel_insert", "embedding_batch_num", "embedding_func_max_async",
                "force_llm_summary_on_merge"):
        ours, theirs = runs.get((LAMBDARAG, slow), {}), runs.get((LIGHTRAG, slow), {})
        a, b = ours.get("settings", {}).get(key), theirs.get("settings", {}).get(key)
        if a is not None or b is not None:
            lines.append(f"| setting `{key.upper()}` (default, from /health) | {a} | {b} | |")
    queries = results["side_by_side"]["queries"]
    for endpoint, label in (("data", "/query/data"), ("answer", "/query")):
        for stat in ("p50", "p95"):
            ours = queries.get(LAMBDARAG, {}).get(endpoint)
            theirs = queries.get(LIGHTRAG, {}).get(endpoint)
            if not ours or not theirs:
                continue
            a = " / ".join(f"{ours[m][stat]:.0f}" for m in MODES)
            b = " / ".join(f"{theirs[m][stat]:.0f}" for m in MODES)
            r = " / ".join(_fmt_ratio(_ratio(ours[m][stat], theirs[m][stat])) for m in MODES)
            lines.append(f"| {label} {stat}, 0 ms provider ({' / '.join(MODES)}), ms | {a} | "
                         f"{b} | {r} |")
    return lines


def _floor(run: dict[str, Any]) -> float:
    """The least wall time the provider allows: chat calls x latency / slots."""
    return run["calls"]["chat_calls"] * run["delay_s"] / MAX_ASYNC


def _indexing_targets(results: dict[str, Any]) -> list[Target]:
    runs = _runs(results)
    delays = sorted({d for _, d in runs}, reverse=True)
    slow, fast = delays[0], delays[-1]
    ours, theirs = runs.get((LAMBDARAG, slow)), runs.get((LIGHTRAG, slow))
    if not ours or not theirs:
        return []
    targets = []
    c_ours, c_theirs = ours["calls"], theirs["calls"]
    summaries = c_ours.get("summary", 0)
    calls_why = (f"{summaries:,} of {LAMBDARAG}'s {c_ours['chat_calls']:,} chat calls are "
                 f"summaries and {c_ours.get('extraction', 0) + c_ours.get('gleaning', 0):,} "
                 "extraction + gleaning")
    floor = _floor(ours)
    targets.append(Target(
        f"indexing wall time, {slow * 1000:.0f} ms per call",
        f"{ours['wall_s']:.0f} s vs {theirs['wall_s']:.0f} s", _ratio(ours["wall_s"], theirs["wall_s"]),
        1 / 3,
        f"{ours['calls']['chat_calls']:,} chat calls at {slow * 1000:.0f} ms on {MAX_ASYNC} slots "
        f"need at least {floor:.0f} s; the slots were {ours['chat_busy']:.0%} busy "
        f"({ours['wall_s'] - floor:.0f} s above that floor). {calls_why}."))
    targets.append(Target(
        "chat calls", f"{c_ours['chat_calls']:,} vs {c_theirs['chat_calls']:,}",
        _ratio(c_ours["chat_calls"], c_theirs["chat_calls"]), 1 / 2, calls_why + "."))
    per_kind = _prompt_share(results)
    targets.append(Target(
        "prompt characters", f"{c_ours['prompt_chars'] / 1e6:.2f} M vs "
        f"{c_theirs['prompt_chars'] / 1e6:.2f} M",
        _ratio(c_ours["prompt_chars"], c_theirs["prompt_chars"]), 1 / 3,
        f"{LAMBDARAG}'s prompt characters by kind: {per_kind}."))
    targets.append(Target(
        "embedding requests", f"{c_ours['embedding_requests']:,} vs "
        f"{c_theirs['embedding_requests']:,} ({c_ours['embedded_texts']:,} vs "
        f"{c_theirs['embedded_texts']:,} texts)",
        _ratio(c_ours["embedding_requests"], c_theirs["embedding_requests"]), 1 / 5,
        f"{c_ours['embedded_texts'] / max(c_ours['embedding_requests'], 1):.1f} texts per request "
        f"for {LAMBDARAG}, {c_theirs['embedded_texts'] / max(c_theirs['embedding_requests'], 1):.1f} "
        f"for {LIGHTRAG}."))
    f_ours, f_theirs = runs.get((LAMBDARAG, fast)), runs.get((LIGHTRAG, fast))
    if f_ours and f_theirs and fast != slow:
        targets.append(Target(
            f"own overhead: indexing wall time, {fast * 1000:.0f} ms provider",
            f"{f_ours['wall_s']:.1f} s vs {f_theirs['wall_s']:.1f} s",
            _ratio(f_ours["wall_s"], f_theirs["wall_s"]), 1 / 5,
            f"server CPU {f_ours['server_cpu_s']:.1f} s vs {f_theirs['server_cpu_s']:.1f} s; the "
            f"fake provider was busy {f_ours['provider_covered_s']:.1f} s of {LAMBDARAG}'s run "
            "(it shares the 2 cores)."))
    return targets


def _prompt_share(results: dict[str, Any]) -> str:
    slow = max(r["delay_s"] for r in results["side_by_side"]["runs"])
    run = _runs(results).get((LAMBDARAG, slow))
    chars = run.get("prompt_chars_by_kind") if run else None
    if not chars:
        return "not recorded"
    total = sum(chars.values()) or 1
    return ", ".join(f"{k} {v / 1e6:.2f} M ({v / total:.0%})"
                     for k, v in sorted(chars.items(), key=lambda kv: -kv[1]))


def _query_targets(results: dict[str, Any]) -> list[Target]:
    queries = results["side_by_side"]["queries"]
    ours, theirs = queries.get(LAMBDARAG, {}).get("data"), queries.get(LIGHTRAG, {}).get("data")
    targets = []
    if ours and theirs:
        for mode in MODES:
            a, b = ours[mode]["p50"], theirs[mode]["p50"]
            targets.append(Target(f"/query/data p50, {mode}", f"{a:.0f} ms vs {b:.0f} ms",
                                  _ratio(a, b), 1 / 3, _query_why(ours[mode], theirs[mode])))
    return targets


def _query_why(ours: dict[str, float], theirs: dict[str, float]) -> str:
    if "provider_p50" not in ours:
        return ""
    return (f"{LAMBDARAG} {ours['p50']:.0f} ms, of which {ours['provider_p50']:.0f} ms with a "
            f"provider call in flight ({ours['chat_calls']:.0f} chat calls per query); "
            f"{LIGHTRAG} {theirs['p50']:.0f} ms, {theirs['provider_p50']:.0f} ms in provider "
            f"calls: {LAMBDARAG}'s own time is {ours['p50'] - ours['provider_p50']:.0f} ms "
            f"against {theirs['p50'] - theirs['provider_p50']:.0f} ms")


def _scale_targets(results: dict[str, Any]) -> list[Target]:
    rows = [r for r in results.get("scale", []) if r["backend"] == "embedded" and r.get("queries")]
    by = {r["entities"]: r for r in rows}
    targets = []
    if by:
        small, large = min(by), max(by)
        if large > small:
            for mode in MODES:
                a, b = by[large]["queries"][mode], by[small]["queries"][mode]
                why = (f"p95 {a['p95']:.0f} ms vs {b['p95']:.0f} ms; provider calls in flight "
                       f"{a.get('provider_p50', 0):.0f} ms vs {b.get('provider_p50', 0):.0f} ms of "
                       f"the p50; first query after start {a['first']:.0f} ms vs "
                       f"{b['first']:.0f} ms{_search_why(by[large], by[small], mode)}")
                targets.append(Target(
                    f"query p50 at {large:,} vs {small:,} entities, {mode} (embedded)",
                    f"{a['p50']:.0f} ms vs {b['p50']:.0f} ms", _ratio(a["p50"], b["p50"]), 2.0,
                    why))
        add = by[large].get("add")
        if add:
            targets.append(Target(
                f"incremental add of one document at {large:,} entities, non-provider time",
                f"{add['own_s']:.2f} s (wall {add['wall_s']:.2f} s)", add["own_s"], 5.0,
                "seconds, not a ratio"))
    return targets


def _search_why(large: dict[str, Any], small: dict[str, Any], mode: str) -> str:
    """The share of the growth that is exact vector search (measured beside the run)."""
    from bench.compare.scale import SEARCHES

    if "search_ms" not in large or "search_ms" not in small:
        return ""
    stores = SEARCHES[mode]
    grown = sum(large["search_ms"][s] - small["search_ms"][s] for s in stores)
    delta = large["queries"][mode]["p50"] - small["queries"][mode]["p50"]
    detail = ", ".join(f"{s} {large['search_ms'][s]:.1f} ms" for s in stores)
    return (f"; exact vector search ({len(stores)} per query: {detail}) grows by {grown:.0f} ms "
            f"of the {delta:.0f} ms: it reads every vector, so it scales with the store "
            f"(an ANN index is the remedy)")


def _cold_target(results: dict[str, Any]) -> list[Target]:
    cold = results.get("cold_start")
    if not cold:
        return []
    p50 = cold["p50_s"]
    top = ", ".join(f"{name} {ms:.0f} ms" for name, ms, _ in cold.get("profile", [])[:6])
    why = (f"{(p50['handler'] - p50['bare']) * 1000:.0f} ms more than the bare import; the "
           f"packages that take longest to import (own time, `-X importtime`): {top}")
    return [Target("API Lambda cold start vs bare `import fastapi, mangum`",
                   f"{p50['handler']:.2f} s vs {p50['bare']:.2f} s", cold["ratio"], 1.5, why)]


def _targets(results: dict[str, Any]) -> list[str]:
    targets = (_indexing_targets(results) + _query_targets(results) + _scale_targets(results)
               + _cold_target(results))
    lines = ["| target | measured (LambdaRAG vs LightRAG) | ratio | goal | verdict |",
             "|---|---|---|---|---|"]
    lines += [t.row() for t in targets]
    misses = [t for t in targets if not t.met and t.why]
    if misses:
        lines += ["", "Why the missed targets are missed (from the same run's figures):", ""]
        lines += [f"- **{t.name}**: {t.why}" for t in misses]
    met = sum(t.met for t in targets)
    return [f"{met} of {len(targets)} targets met.", "", *lines]


def _scale_section(results: dict[str, Any]) -> list[str]:
    rows = results.get("scale", [])
    if not rows:
        return ["Not run."]
    lines = ["| backend | entities | relations | build s | /query/data p50 ms "
             f"({' / '.join(MODES)}) | p95 ms | first query ms | add one doc: wall / non-provider s "
             "| server RSS MB (peak) |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if not r.get("queries"):
            lines.append(f"| {r['backend']} | {r['entities']:,} | - | - | not measured: "
                         f"{r.get('skipped', '')} | | | | |")
            continue
        q = r["queries"]
        add = r.get("add") or {}
        add_text = f"{add['wall_s']:.2f} / {add['own_s']:.2f}" if add else "-"
        lines.append(
            f"| {r['backend']} | {r['entities']:,} | {r['relations']:,} | {r['build_s']:.0f} | "
            + " / ".join(f"{q[m]['p50']:.0f}" for m in MODES) + " | "
            + " / ".join(f"{q[m]['p95']:.0f}" for m in MODES) + " | "
            + f"{max(q[m]['first'] for m in MODES):.0f} | {add_text} | "
            + f"{r['rss_mb']:.0f} ({r['peak_rss_mb']:.0f}) |")
    return lines


def _kinds_section(results: dict[str, Any]) -> list[str]:
    """Where the calls and the prompt characters go, per kind of call (the slow run)."""
    slow = max(r["delay_s"] for r in results["side_by_side"]["runs"])
    runs = {r["system"]: r for r in results["side_by_side"]["runs"] if r["delay_s"] == slow}
    kinds = sorted({k for r in runs.values() for k in r.get("prompt_chars_by_kind", {})},
                   key=lambda k: -max(r["calls"].get(k, 0) for r in runs.values()))
    lines = ["| kind | " + " | ".join(f"{s} calls | {s} prompt chars | chars per call"
                                       for s in runs) + " |",
             "|---|" + "---|---|---|" * len(runs)]
    for kind in kinds:
        cells = []
        for run in runs.values():
            calls = run["calls"].get(kind, 0)
            chars = run.get("prompt_chars_by_kind", {}).get(kind, 0)
            cells.append(f"{calls:,} | {chars / 1e6:.2f} M | {chars / calls if calls else 0:,.0f}")
        lines.append(f"| {kind} | " + " | ".join(cells) + " |")
    return lines


def _scale_gaps(results: dict[str, Any]) -> list[str]:
    """Say which sizes the AWS servers did not get, and why (an estimate from the largest)."""
    rows = [r for r in results.get("scale", []) if r.get("queries")]
    embedded = max((r["entities"] for r in rows if r["backend"] == "embedded"), default=0)
    aws = [r for r in rows if r["backend"] == "aws"]
    if not aws or max(r["entities"] for r in aws) >= embedded:
        return []
    largest = max(aws, key=lambda r: r["entities"])
    factor = embedded / largest["entities"]
    return [f"Not measured: {embedded:,} entities on the local AWS servers. Building "
            f"{largest['entities']:,} took {largest['build_s']:.0f} s through DynamoDB Local, "
            f"OpenSearch (lucene HNSW, 512 MB heap) and Gremlin Server, so {embedded:,} would take "
            f"about {largest['build_s'] * factor / 60:.0f} minutes on its own, on servers shared "
            "with the other work on this machine; `bench/run --scale-aws 100000` tries it.", ""]


def _cold_section(results: dict[str, Any]) -> list[str]:
    cold = results.get("cold_start")
    if not cold:
        return ["Not run."]
    p50 = cold["p50_s"]
    return [
        f"A fresh interpreter each time (p50 of {cold['runs']}, interleaved, bytecode cache warm, "
        "AWS storage selected as on Lambda):", "",
        "| process | p50 |", "|---|---|",
        f"| `python -c pass` | {p50['python'] * 1000:.0f} ms |",
        f"| `python -c 'import fastapi, mangum'` | {p50['bare'] * 1000:.0f} ms |",
        f"| import `functions/api/handler.py` (builds the app) | {p50['handler'] * 1000:.0f} ms |",
        f"| ratio handler / bare | {cold['ratio']:.2f}x |",
    ]


def _scale_run_note(results: dict[str, Any]) -> list[str]:
    run = results.get("scale_run")
    if not run:
        return []
    return ["", f"LambdaRAG's own sections (scale and cold start) were measured again by "
                f"`{run['command']}` on {run['date']} (tree: {run['git']}), in "
                f"{run['duration_s'] / 60:.0f} minutes, after the first run (the machine still "
                "shared with test runs); the side-by-side "
                "sections are from the first run."]


def write(results: dict[str, Any], path: Path) -> None:
    plots_dir = path.parent / "plots"
    side = results["side_by_side"]
    names = {
        "indexing": plots.indexing(side["runs"], plots_dir / "indexing.png"),
        "slots": plots.slots(side["runs"], plots_dir / "slots.png"),
    }
    if len(side["queries"]) == 2:
        names["queries"] = plots.queries(side["queries"], plots_dir / "queries.png")
        names["answers"] = plots.queries(side["queries"], plots_dir / "answers.png", "answer")
    if any(r.get("queries") for r in results.get("scale", [])):
        names["scale"] = plots.scaling(results["scale"], plots_dir / "scale.png")
    if results.get("cold_start"):
        names["cold"] = plots.coldstart(results["cold_start"], plots_dir / "coldstart.png")
    corpus = side["corpus"]
    lines = [
        "# LambdaRAG vs LightRAG 1.5.7, side by side",
        "",
        f"Generated by `{results['command']}` on {results['date']} (tree: {results['git']}), "
        f"in {results.get('duration_s', 0) / 60:.0f} minutes on the 2-core development machine, "
        "shared with other work: absolute times are noisy, the ratios of one run are what count.",
        *_scale_run_note(results),
        "",
        f"Both servers ran as users run them (`lambdarag serve`, `lightrag-server` from its own "
        f"venv), one after the other, on the same fake provider (`tests/fakes`, a real HTTP server "
        f"answering both systems' prompt formats), with `MAX_ASYNC={MAX_ASYNC}` and the other "
        "settings at their defaults. Corpus: "
        f"{corpus['documents']} generated documents, {corpus['words']:,} words "
        "(`bench/bench_indexing.py`'s generator: about 600 words each, recurring entities), "
        "uploaded with `POST /documents/upload`; done when `/documents/status_counts` shows all "
        "processed. Every figure about calls is counted by the provider, the same way for both.",
        "",
        "## Targets",
        "",
        *_targets(results),
        "",
        "## Side by side",
        "",
        *_summary_table(results),
        "",
        "Where the chat calls and the prompt characters go (the "
        f"{max(r['delay_s'] for r in side['runs']) * 1000:.0f} ms run; the provider classifies each "
        "request by its prompt):",
        "",
        *_kinds_section(results),
        "",
        f"![indexing](plots/{names['indexing']})",
        "",
        f"![slots](plots/{names['slots']})",
        "",
    ]
    if "queries" in names:
        lines += [
            f"Queries ran after the 0 ms indexing, 0 ms provider, "
            f"{side.get('queries_per_mode', 20) + 1} distinct questions per mode and endpoint "
            "(no LLM cache hit); the first query of each mode is left out of p50/p95.", "",
            f"![queries](plots/{names['queries']})", "", f"![answers](plots/{names['answers']})", ""]
    lines += ["## Scale (LambdaRAG)", "",
              "Stores built directly through the engine's storage contracts (graph nodes and "
              "edges, entity, relation and chunk vectors, fragments, chunks; no LLM), then "
              "served by `lambdarag serve` and queried over HTTP at 0 ms provider. The "
              "incremental add uploads one new document about existing and new entities; its "
              "non-provider time is the wall time minus the time any provider call was in flight.",
              "", *_scale_section(results), "", *_scale_gaps(results)]
    if "scale" in names:
        lines += [f"![scale](plots/{names['scale']})", ""]
    lines += ["## Cold start of the API Lambda", "", *_cold_section(results), ""]
    if "cold" in names:
        lines += [f"![cold start](plots/{names['cold']})", ""]
    lines += ["## How to run it", "",
              "```bash", "bench/run                 # the full run (writes this file)",
              "bench/run --docs 20 --quick   # a quick pass", "bench/run --report-only   "
              "# re-render from bench/results/compare.json", "```", ""]
    path.write_text("\n".join(lines))
