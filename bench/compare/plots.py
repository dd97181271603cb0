"""The report's figures (matplotlib, Agg backend), one PNG per question."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from bench.compare.drive import MODES  # noqa: E402

COLOURS = {"LambdaRAG": "#1f77b4", "LightRAG": "#ff7f0e"}
KIND_ORDER = ("extraction", "gleaning", "summary", "keywords", "answer", "echo", "task")


def _save(fig: Any, path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path.name


def indexing(runs: list[dict[str, Any]], path: Path) -> str:
    """Wall time per latency, chat calls by kind, embedding requests and prompt characters."""
    systems = list(dict.fromkeys(r["system"] for r in runs))
    delays = sorted({r["delay_s"] for r in runs}, reverse=True)
    by = {(r["system"], r["delay_s"]): r for r in runs}
    fig, axes = plt.subplots(1, 4, figsize=(15, 3.8))
    width = 0.8 / len(systems)
    for i, system in enumerate(systems):
        xs = [d + i * width for d in range(len(delays))]
        walls = [by[(system, d)]["wall_s"] if (system, d) in by else 0 for d in delays]
        bars = axes[0].bar(xs, walls, width, label=system, color=COLOURS.get(system))
        axes[0].bar_label(bars, fmt="%.0f", fontsize=8)
    axes[0].set_xticks([d + width * (len(systems) - 1) / 2 for d in range(len(delays))],
                       [f"{d * 1000:.0f} ms per call" for d in delays])
    axes[0].set_ylabel("seconds")
    axes[0].set_title("indexing wall time")
    axes[0].legend(fontsize=8)
    slow = {r["system"]: r for r in runs if r["delay_s"] == delays[0]}
    bottom = [0.0] * len(systems)
    for kind in KIND_ORDER:
        values = [slow[s]["calls"].get(kind, 0) if s in slow else 0 for s in systems]
        if any(values):
            axes[1].bar(systems, values, bottom=bottom, label=kind)
            bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    axes[1].set_title("chat calls by kind")
    axes[1].legend(fontsize=8)
    for ax, key, title, scale in ((axes[2], "embedding_requests", "embedding requests", 1),
                                  (axes[3], "prompt_chars", "prompt characters (M)", 1e6)):
        values = [slow[s]["calls"].get(key, 0) / scale if s in slow else 0 for s in systems]
        bars = ax.bar(systems, values, color=[COLOURS.get(s) for s in systems])
        ax.bar_label(bars, fmt="%.1f" if scale > 1 else "%.0f", fontsize=8)
        ax.set_title(title)
    return _save(fig, path)


def _in_flight(spans: list[list[Any]], kinds: set[str] | None, step: float,
               end: float) -> tuple[list[float], list[float]]:
    buckets = [0.0] * (int(end / step) + 1)
    for start, stop, kind in spans:
        if kinds is not None and kind not in kinds:
            continue
        for index in range(int(start / step), min(int(stop / step), len(buckets) - 1) + 1):
            low, high = max(start, index * step), min(stop, (index + 1) * step)
            if high > low:
                buckets[index] += (high - low) / step
    return [i * step for i in range(len(buckets))], buckets


def slots(runs: list[dict[str, Any]], path: Path) -> str:
    """Calls in flight over the slow run, per system: chat (of MAX_ASYNC) and embedding."""
    slow = [r for r in runs if r["delay_s"] == max(x["delay_s"] for x in runs)]
    fig, axes = plt.subplots(len(slow), 1, figsize=(12, 2.6 * len(slow)), squeeze=False)
    chat_kinds = set(KIND_ORDER)
    for ax, run in zip(axes[:, 0], slow, strict=True):
        step = max(run["wall_s"] / 300, 0.5)
        xs, chat = _in_flight(run["spans"], chat_kinds, step, run["wall_s"])
        _, embedding = _in_flight(run["spans"], {"embedding"}, step, run["wall_s"])
        ax.fill_between(xs, chat, step="post", alpha=0.6, label="chat calls in flight",
                        color=COLOURS.get(run["system"]))
        ax.plot(xs, embedding, drawstyle="steps-post", color="grey", linewidth=0.8,
                label="embedding requests in flight")
        ax.axhline(4, color="black", linestyle="--", linewidth=0.8, label="MAX_ASYNC = 4")
        ax.set_xlim(0, run["wall_s"])
        ax.set_title(f"{run['system']}: {run['wall_s']:.0f} s at {run['delay_s'] * 1000:.0f} ms "
                     f"per call, chat slots {run['chat_busy']:.0%} busy", fontsize=10)
        ax.set_ylabel("in flight")
        ax.legend(fontsize=7, loc="upper right")
    axes[-1, 0].set_xlabel("seconds since the first upload")
    return _save(fig, path)


def queries(query: dict[str, Any], path: Path, endpoint: str = "data") -> str:
    """p50 bars with p95 whiskers per mode and system."""
    systems = list(query)
    fig, ax = plt.subplots(figsize=(8, 3.6))
    width = 0.8 / len(systems)
    for i, system in enumerate(systems):
        rows = query[system][endpoint]
        p50 = [rows[m]["p50"] for m in MODES]
        p95 = [rows[m]["p95"] for m in MODES]
        xs = [m + i * width for m in range(len(MODES))]
        bars = ax.bar(xs, p50, width, label=system, color=COLOURS.get(system),
                      yerr=[[0] * len(MODES), [b - a for a, b in zip(p50, p95, strict=True)]],
                      capsize=3)
        ax.bar_label(bars, fmt="%.0f", fontsize=8, padding=2)
    ax.set_xticks([m + width * (len(systems) - 1) / 2 for m in range(len(MODES))], MODES)
    ax.set_ylabel("ms (bar p50, whisker p95)")
    title = "/query/data (retrieval)" if endpoint == "data" else "/query (with the answer)"
    ax.set_title(f"{title}, 0 ms provider")
    ax.legend(fontsize=8)
    return _save(fig, path)


def scaling(rows: list[dict[str, Any]], path: Path) -> str:
    """Query p50 per mode against the number of entities, one panel per backend."""
    backends = list(dict.fromkeys(r["backend"] for r in rows if r.get("queries")))
    fig, axes = plt.subplots(1, max(len(backends), 1), figsize=(6 * max(len(backends), 1), 3.8),
                             squeeze=False)
    for ax, backend in zip(axes[0], backends, strict=False):
        mine = sorted((r for r in rows if r["backend"] == backend and r.get("queries")),
                      key=lambda r: r["entities"])
        for mode in MODES:
            ax.plot([r["entities"] for r in mine], [r["queries"][mode]["p50"] for r in mine],
                    marker="o", label=mode)
        ax.set_xscale("log")
        ax.set_xlabel("entities in the store")
        ax.set_ylabel("/query/data p50, ms")
        ax.set_title(f"LambdaRAG query overhead: {backend}")
        ax.legend(fontsize=8)
    return _save(fig, path)


def coldstart(cold: dict[str, Any], path: Path) -> str:
    labels = {"python": "python -c pass", "bare": "import fastapi, mangum",
              "handler": "functions/api/handler.py"}
    fig, ax = plt.subplots(figsize=(7, 2.6))
    names = ["python", "bare", "handler"]
    values = [cold["p50_s"][n] * 1000 for n in names]
    bars = ax.barh([labels[n] for n in names], values, color=["#bbbbbb", "#888888", "#1f77b4"])
    ax.bar_label(bars, fmt="%.0f ms", fontsize=8)
    ax.set_xlabel(f"fresh process, p50 of {cold['runs']} (ms)")
    ax.set_title(f"API Lambda cold start: {cold['ratio']:.2f}x a bare import")
    return _save(fig, path)
