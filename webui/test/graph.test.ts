import { describe, expect, it } from "vitest";
import { degrees, legend, mergeGraphs, nodeSize, OTHER_COLOR, PALETTE, syntheticGraph, toGraphML, toJSON, typeColors, type ApiGraph } from "../src/graph/model";

const node = (id: string, type?: string) => ({ id, labels: [id], properties: { entity_id: id, ...(type ? { entity_type: type } : {}) } });
const edge = (s: string, t: string, props = {}) => ({ id: `${s}-${t}`, source: s, target: t, properties: { weight: 1, ...props } });
const small: ApiGraph = { nodes: [node("A", "person"), node("B", "person"), node("C", "location"), node("D")], edges: [edge("A", "B"), edge("A", "C")] };

describe("graph model", () => {
  it("colours the most frequent types first and unknown types grey", () => {
    const colors = typeColors(small.nodes);
    expect(colors.get("person")).toBe(PALETTE[0]);
    expect(colors.get("unknown")).toBe(OTHER_COLOR);
    expect(legend(small.nodes)[0]).toEqual({ type: "person", color: PALETTE[0], count: 2 });
  });
  it("sizes nodes by degree", () => {
    const d = degrees(small);
    expect(d.get("A")).toBe(2);
    expect(d.get("D")).toBe(0);
    expect(nodeSize(2, 2)).toBeGreaterThan(nodeSize(0, 2));
  });
  it("merges an expansion without duplicate nodes or edges (either direction)", () => {
    const extra: ApiGraph = { nodes: [node("C", "location"), node("E")], edges: [edge("C", "A"), edge("C", "E"), edge("C", "Z")] };
    const merged = mergeGraphs(small, extra);
    expect(merged.nodes.map((n) => n.id).sort()).toEqual(["A", "B", "C", "D", "E"]);
    expect(merged.edges).toHaveLength(3);
  });
  it("exports GraphML with escaped text and typed keys", () => {
    const g: ApiGraph = { nodes: [{ id: "R&D <lab>", properties: { description: 'say "hi"', rank: 3 } }, node("B")], edges: [edge("R&D <lab>", "B", { keywords: "a<b" })] };
    const xml = toGraphML(g);
    expect(xml).toContain('<node id="R&amp;D &lt;lab&gt;">');
    expect(xml).toContain("say &quot;hi&quot;");
    expect(xml).toContain('attr.name="rank" attr.type="double"');
    expect(xml).toContain('<edge id="e0" source="R&amp;D &lt;lab&gt;" target="B">');
    expect(xml).toContain("a&lt;b");
    expect(xml.match(/<node /g)).toHaveLength(2);
  });
  it("exports JSON that reads back to the same nodes and edges", () => {
    expect(JSON.parse(toJSON(small))).toEqual({ nodes: small.nodes, edges: small.edges });
  });
  it("makes seeded synthetic graphs of the asked size (the benchmark's input)", () => {
    const g = syntheticGraph(5000, 10000, 7);
    expect(g.nodes).toHaveLength(5000);
    expect(g.edges).toHaveLength(10000);
    expect(new Set(g.edges.map((e) => [e.source, e.target].sort().join("|"))).size).toBe(10000);
    expect(syntheticGraph(50, 80, 7)).toEqual(syntheticGraph(50, 80, 7));
  });
});
