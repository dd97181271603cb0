// The API's subgraph (/graphs) as graph data: colours by entity type, sizes by degree,
// merging expansions, and exports of what is shown (GraphML, JSON). No DOM, no sigma.

export interface ApiNode { id: string; labels?: string[]; properties: Record<string, unknown> }
export interface ApiEdge { id: string; type?: string; source: string; target: string; properties: Record<string, unknown> }
export interface ApiGraph { nodes: ApiNode[]; edges: ApiEdge[]; is_truncated?: boolean }

export const PALETTE = [
  "#4263eb", "#e8590c", "#2f9e44", "#c2255c", "#7048e8", "#1098ad",
  "#f08c00", "#5c940d", "#d6336c", "#364fc7", "#0b7285", "#a61e4d",
];
export const OTHER_COLOR = "#868e96";

export function entityType(node: ApiNode): string {
  const value = node.properties?.entity_type;
  return typeof value === "string" && value ? value.toLowerCase() : "unknown";
}

/** Type -> colour, the most frequent types first; the rest share grey. */
export function typeColors(nodes: ApiNode[]): Map<string, string> {
  const counts = new Map<string, number>();
  for (const n of nodes) counts.set(entityType(n), (counts.get(entityType(n)) ?? 0) + 1);
  const ranked = [...counts.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  return new Map(ranked.map(([type], i) => [type, type !== "unknown" && i < PALETTE.length ? PALETTE[i] : OTHER_COLOR]));
}

export function legend(nodes: ApiNode[]): { type: string; color: string; count: number }[] {
  const colors = typeColors(nodes);
  const counts = new Map<string, number>();
  for (const n of nodes) counts.set(entityType(n), (counts.get(entityType(n)) ?? 0) + 1);
  return [...colors.entries()].map(([type, color]) => ({ type, color, count: counts.get(type) ?? 0 }));
}

export function degrees(graph: ApiGraph): Map<string, number> {
  const d = new Map<string, number>(graph.nodes.map((n) => [n.id, 0]));
  for (const e of graph.edges) {
    d.set(e.source, (d.get(e.source) ?? 0) + 1);
    d.set(e.target, (d.get(e.target) ?? 0) + 1);
  }
  return d;
}

export function nodeSize(degree: number, maxDegree: number): number {
  return 3 + 12 * Math.sqrt(degree / Math.max(1, maxDegree));
}

/** ``extra``'s nodes and edges added to ``base`` (an expansion), without duplicates. */
export function mergeGraphs(base: ApiGraph, extra: ApiGraph): ApiGraph {
  const nodes = new Map(base.nodes.map((n) => [n.id, n]));
  for (const n of extra.nodes) nodes.set(n.id, n);
  const key = (e: ApiEdge) => [e.source, e.target].sort().join("\u0000");
  const edges = new Map(base.edges.map((e) => [key(e), e]));
  for (const e of extra.edges) if (nodes.has(e.source) && nodes.has(e.target)) edges.set(key(e), e);
  return { nodes: [...nodes.values()], edges: [...edges.values()], is_truncated: base.is_truncated || extra.is_truncated };
}

function xml(value: unknown): string {
  return String(value ?? "")
    .replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;").replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, "");
}

/** GraphML (readable by Gephi, yEd, networkx) with every property as a string key. */
export function toGraphML(graph: ApiGraph): string {
  const nodeKeys = [...new Set(graph.nodes.flatMap((n) => Object.keys(n.properties ?? {})))].sort();
  const edgeKeys = [...new Set(graph.edges.flatMap((e) => Object.keys(e.properties ?? {})))].sort();
  const keyType = (values: unknown[]) => (values.every((v) => typeof v === "number") && values.length ? "double" : "string");
  const lines = ['<?xml version="1.0" encoding="UTF-8"?>',
    '<graphml xmlns="http://graphml.graphdrawing.org/xmlns">'];
  for (const k of nodeKeys) {
    const t = keyType(graph.nodes.map((n) => n.properties[k]).filter((v) => v !== undefined));
    lines.push(`  <key id="n_${xml(k)}" for="node" attr.name="${xml(k)}" attr.type="${t}"/>`);
  }
  for (const k of edgeKeys) {
    const t = keyType(graph.edges.map((e) => e.properties[k]).filter((v) => v !== undefined));
    lines.push(`  <key id="e_${xml(k)}" for="edge" attr.name="${xml(k)}" attr.type="${t}"/>`);
  }
  lines.push('  <graph id="G" edgedefault="undirected">');
  for (const n of graph.nodes) {
    lines.push(`    <node id="${xml(n.id)}">`);
    for (const k of nodeKeys) if (n.properties[k] !== undefined) lines.push(`      <data key="n_${xml(k)}">${xml(n.properties[k])}</data>`);
    lines.push("    </node>");
  }
  graph.edges.forEach((e, i) => {
    lines.push(`    <edge id="e${i}" source="${xml(e.source)}" target="${xml(e.target)}">`);
    for (const k of edgeKeys) if (e.properties[k] !== undefined) lines.push(`      <data key="e_${xml(k)}">${xml(e.properties[k])}</data>`);
    lines.push("    </edge>");
  });
  lines.push("  </graph>", "</graphml>");
  return lines.join("\n") + "\n";
}

export function toJSON(graph: ApiGraph): string {
  return JSON.stringify({ nodes: graph.nodes, edges: graph.edges }, null, 2) + "\n";
}

/** A synthetic graph (benchmarks and demos): ``n`` nodes, ``m`` edges, seeded. */
export function syntheticGraph(n: number, m: number, seed = 1): ApiGraph {
  let s = seed >>> 0;
  const rand = () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
  const types = ["person", "organization", "location", "event", "concept", "technology"];
  const nodes: ApiNode[] = Array.from({ length: n }, (_, i) => ({
    id: `Entity ${i}`, labels: [`Entity ${i}`],
    properties: { entity_id: `Entity ${i}`, entity_type: types[i % types.length], description: `Synthetic entity ${i}.` },
  }));
  const seen = new Set<string>();
  const edges: ApiEdge[] = [];
  while (edges.length < Math.min(m, (n * (n - 1)) / 2)) {
    // preferential: low ids are hubs
    const a = Math.floor(rand() ** 2 * n), b = Math.floor(rand() * n);
    if (a === b) continue;
    const key = a < b ? `${a}-${b}` : `${b}-${a}`;
    if (seen.has(key)) continue;
    seen.add(key);
    edges.push({ id: key, type: "DIRECTED", source: `Entity ${a}`, target: `Entity ${b}`, properties: { weight: 1, description: "" } });
  }
  return { nodes, edges, is_truncated: false };
}
