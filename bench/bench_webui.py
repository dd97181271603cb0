"""Benchmark of the web UI in headless Chromium (Debian's, software WebGL: no GPU here).

    .venv/bin/python bench/bench_webui.py [--nodes 5000] [--edges 10000] [--json PATH]

Runs the app (fake LLM, embedded storage) on a free port and measures:

* first load of /webui/ in a fresh browser context: time to the tabs being shown, and the
  bytes sent (gzipped, as the server sends them);
* the JavaScript a visitor downloads to use the three main tabs (Documents, Knowledge
  Graph, Retrieval), gzipped, against the 500 KB budget (LightRAG 1.5.7: ~950 KB);
* a synthetic graph of --nodes/--edges (served in place of /graphs): time from opening the
  tab to the first draw, then frames per second while ForceAtlas2 runs in its worker and
  while the camera zooms (sigma's renders per second, and the page's animation frames).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.e2e.browser import VIEWPORT, chromium, missing  # noqa: E402
from tests.fakes.llm_server import FakeLLMServer  # noqa: E402
from tests.functional.conftest import fake_settings, serve  # noqa: E402

from lambdarag.api.app import create_app  # noqa: E402

TYPES = ["person", "organization", "location", "event", "concept", "technology", "product"]
RESOURCES = """() => performance.getEntriesByType('resource').concat(
    performance.getEntriesByType('navigation')).map(e => ({name: e.name,
    type: e.initiatorType, encoded: e.encodedBodySize, decoded: e.decodedBodySize}))"""
COUNT_FRAMES = """async (ms) => {
    const el = document.querySelector('.sigma');
    const renders0 = Number(el.dataset.renders || 0);
    let frames = 0;
    const start = performance.now();
    await new Promise(done => { const tick = () => { frames++;
        performance.now() - start < ms ? requestAnimationFrame(tick) : done(); };
        requestAnimationFrame(tick); });
    const seconds = (performance.now() - start) / 1000;
    return {fps: frames / seconds, renders_per_s: (Number(el.dataset.renders) - renders0) / seconds};
}"""


def synthetic(nodes: int, edges: int, seed: int = 1) -> dict[str, Any]:
    """A skewed graph (low ids are hubs), the shape the /graphs route answers with."""
    rng = random.Random(seed)
    names = [f"Entity {i}" for i in range(nodes)]
    pairs: set[tuple[int, int]] = set()
    while len(pairs) < edges:
        a, b = int(rng.random() ** 2 * nodes), rng.randrange(nodes)
        if a != b:
            pairs.add((min(a, b), max(a, b)))
    return {
        "nodes": [{"id": n, "labels": [n], "properties": {
            "entity_id": n, "entity_type": TYPES[i % len(TYPES)],
            "description": f"Synthetic entity {i}.", "source_id": "chunk-1", "file_path": "x.txt"}}
            for i, n in enumerate(names)],
        "edges": [{"id": f"{names[a]}-{names[b]}", "type": "DIRECTED", "source": names[a],
                   "target": names[b], "properties": {"weight": 1.0, "description": "",
                                                      "keywords": ""}} for a, b in pairs],
        "is_truncated": False,
    }


def first_load(browser: Any, base: str) -> dict[str, Any]:
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    start = time.perf_counter()
    page.goto(f"{base}/webui/")
    page.get_by_role("tab", name="Documents").wait_for()
    shown = time.perf_counter() - start
    page.get_by_role("table", name="Documents").wait_for()
    entries = page.evaluate(RESOURCES)
    static = [e for e in entries if "/webui/" in e["name"]]
    for tab, ready in (("Knowledge Graph", "Search entities"), ("Retrieval", "Question")):
        page.get_by_role("tab", name=tab).click()
        page.get_by_label(ready).first.wait_for()
    entries = page.evaluate(RESOURCES)
    scripts = [e for e in entries if e["name"].endswith(".js")]
    context.close()
    return {
        "tabs_shown_s": round(shown, 3),
        "first_load_static_kb_gzip": round(sum(e["encoded"] for e in static) / 1024, 1),
        "first_load_static_files": len(static),
        "walk_js_gzip_kb": round(sum(e["encoded"] for e in scripts) / 1024, 1),
        "walk_js_raw_kb": round(sum(e["decoded"] for e in scripts) / 1024, 1),
        "walk_scripts": sorted(Path(e["name"]).name for e in scripts),
    }


def big_graph(browser: Any, base: str, nodes: int, edges: int) -> dict[str, Any]:
    body = json.dumps(synthetic(nodes, edges))
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.route("**/graphs?*", lambda route: route.fulfill(
        status=200, content_type="application/json", body=body))
    page.goto(f"{base}/webui/#/documents")
    page.get_by_role("table", name="Documents").wait_for()
    page.evaluate("window.__t0 = performance.now()")
    page.get_by_role("tab", name="Knowledge Graph").click()
    page.wait_for_function(
        "document.querySelector('.sigma')?.dataset.renders >= 1", timeout=120_000)
    first_draw = page.evaluate("(performance.now() - window.__t0) / 1000")
    status = page.get_by_role("status").filter(has_text="entities").inner_text()
    layout_running = page.get_by_role("button", name="Stop").is_enabled()
    during_layout = page.evaluate(COUNT_FRAMES, 3000)
    page.evaluate("""() => [...document.querySelectorAll('button')].find(
        b => b.textContent === 'Stop' && !b.disabled)?.click()""")
    page.mouse.move(VIEWPORT["width"] // 2, VIEWPORT["height"] // 2)
    page.evaluate("""() => { const el = document.querySelector('.sigma canvas:last-child');
        const r = el.getBoundingClientRect(); let i = 0;
        const id = setInterval(() => { el.dispatchEvent(new WheelEvent('wheel', {deltaY:
          (i++ % 20 < 10 ? -120 : 120), clientX: r.x + r.width / 2, clientY: r.y + r.height / 2,
          bubbles: true, cancelable: true})); if (i > 400) clearInterval(id); }, 16); }""")
    cdp = context.new_cdp_session(page)
    cdp.send("Profiler.enable")
    cdp.send("Profiler.start")
    zooming = page.evaluate(COUNT_FRAMES, 3000)
    profile = cdp.send("Profiler.stop")["profile"]
    context.close()
    return {"nodes": nodes, "edges": edges, "status": status,
            "tab_to_first_draw_s": round(first_draw, 3), "layout_ran": layout_running,
            "fps_during_layout": round(during_layout["fps"], 1),
            "sigma_renders_per_s_during_layout": round(during_layout["renders_per_s"], 1),
            "fps_while_zooming": round(zooming["fps"], 1),
            "sigma_renders_per_s_while_zooming": round(zooming["renders_per_s"], 1),
            "main_thread_js_share_while_zooming": js_share(profile)}


def js_share(profile: dict[str, Any]) -> float:
    """The share of the main thread's samples spent in JavaScript (the UI's code and
    sigma's); the rest is the browser's own work, here mostly software WebGL."""
    frames = {n["id"]: n["callFrame"] for n in profile["nodes"]}
    samples = profile.get("samples", [])
    busy = [s for s in samples if frames[s]["functionName"] != "(idle)"]
    js = [s for s in busy if frames[s]["url"]]
    return round(len(js) / max(1, len(busy)), 3)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, default=5000)
    parser.add_argument("--edges", type=int, default=10000)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if problem := missing():
        print(f"bench_webui: {problem}", file=sys.stderr)
        return 1
    with FakeLLMServer() as fake, tempfile.TemporaryDirectory() as tmp:
        app = create_app(fake_settings(Path(tmp), fake))
        with serve(app) as base, chromium() as browser:
            results = {"first_load": first_load(browser, base),
                       "graph": big_graph(browser, base, args.nodes, args.edges)}
    text = json.dumps(results, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
