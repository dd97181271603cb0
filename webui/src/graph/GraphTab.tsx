import Graph from "graphology";
import { circular, random } from "graphology-layout";
import forceAtlas2 from "graphology-layout-forceatlas2";
import FA2Layout from "graphology-layout-forceatlas2/worker";
import Sigma from "sigma";
import { EdgeLineProgram } from "sigma/rendering";
import { useEffect, useRef, useState } from "preact/hooks";
import { Confirm } from "../components/Dialog";
import { useApi } from "../context";
import { formatTime, splitSep } from "../format";
import { locale, t } from "../i18n";
import { notify, notifyError } from "../notify";
import { currentTheme, THEME_EVENT } from "../theme";
import { EntityEditor, MergeDialog, RelationEditor } from "./Editors";
import { LabelSearch } from "./LabelSearch";
import { degrees, legend, mergeGraphs, nodeSize, toGraphML, toJSON, typeColors, type ApiGraph } from "./model";

type Selection = { kind: "node"; id: string } | { kind: "edge"; source: string; target: string } | null;
type Dialogs = "createEntity" | "createRelation" | "editEntity" | "editRelation" | "merge" | "delete" | null;
const START = "*";
const EDGE_EVENTS_MAX = 2000;

function download(name: string, text: string, type: string): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = Object.assign(document.createElement("a"), { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

function themeSettings() {
  const dark = currentTheme() === "dark";
  return { labelColor: { color: dark ? "#e9ecef" : "#212529" }, defaultEdgeColor: dark ? "#5c5f66" : "#ced4da" };
}

/** graphology graph from the API's subgraph: colour by type, size by degree, random start positions. */
function buildGraph(data: ApiGraph): Graph {
  const graph = new Graph({ type: "undirected", multi: false });
  const colors = typeColors(data.nodes);
  const deg = degrees(data);
  const max = Math.max(1, ...deg.values());
  for (const n of data.nodes) {
    const type = String(n.properties.entity_type ?? "unknown").toLowerCase();
    graph.mergeNode(n.id, { label: n.id, size: nodeSize(deg.get(n.id) ?? 0, max), color: colors.get(type), x: Math.random(), y: Math.random(), props: n.properties });
  }
  for (const e of data.edges) {
    if (graph.hasNode(e.source) && graph.hasNode(e.target) && e.source !== e.target)
      graph.mergeEdge(e.source, e.target, { size: Math.min(4, 0.5 + Number(e.properties.weight ?? 1) / 4), props: e.properties });
  }
  circular.assign(graph, { scale: 100 });
  return graph;
}

export function GraphTab() {
  const api = useApi();
  const container = useRef<HTMLDivElement>(null);
  const sigma = useRef<Sigma | null>(null);
  const layout = useRef<FA2Layout | null>(null);
  const graphRef = useRef<Graph | null>(null);
  const data = useRef<ApiGraph>({ nodes: [], edges: [] });
  const hovered = useRef<string | null>(null);
  const selectedRef = useRef<Selection>(null);
  const [label, setLabel] = useState(START);
  const [depth, setDepth] = useState(2);
  const [maxNodes, setMaxNodes] = useState(500);
  const [popular, setPopular] = useState<string[]>([]);
  const [shown, setShown] = useState({ nodes: 0, edges: 0, truncated: false });
  const [legendItems, setLegend] = useState<ReturnType<typeof legend>>([]);
  const [selection, setSelection] = useState<Selection>(null);
  const [dialog, setDialog] = useState<Dialogs>(null);
  const [running, setRunning] = useState(false);
  const [loading, setLoading] = useState(false);
  const [, setTick] = useState(0);
  selectedRef.current = selection;

  const stopLayout = () => {
    layout.current?.kill();
    layout.current = null;
    setRunning(false);
  };
  const runLayout = (ms?: number) => {
    const graph = graphRef.current;
    if (!graph || !graph.order) return;
    stopLayout();
    const fa2 = new FA2Layout(graph, { settings: { ...forceAtlas2.inferSettings(graph), slowDown: 5, gravity: 1, strongGravityMode: graph.order < 2000 } });
    layout.current = fa2;
    fa2.start();
    setRunning(true);
    const time = ms ?? Math.min(8000, 1500 + graph.order * 1.2);
    window.setTimeout(() => { if (layout.current === fa2) stopLayout(); }, time);
  };

  const draw = (next: ApiGraph) => {
    stopLayout();
    data.current = next;
    const graph = buildGraph(next);
    graphRef.current = graph;
    sigma.current?.kill();
    const dark = () => currentTheme() === "dark";
    const renderer = new Sigma(graph, container.current!, {
      // Thin GL lines, and edge picking only on small graphs: at 10,000 edges each costs a
      // full extra pass (relations stay selectable from the entity panel's list).
      renderEdgeLabels: false, enableEdgeEvents: graph.size <= EDGE_EVENTS_MAX, hideEdgesOnMove: graph.size > EDGE_EVENTS_MAX,
      defaultEdgeType: "line", edgeProgramClasses: { line: EdgeLineProgram },
      labelRenderedSizeThreshold: 7, labelDensity: 0.5, ...themeSettings(), zIndex: graph.order <= EDGE_EVENTS_MAX,
      nodeReducer: (node, attrs) => {
        const focus = hovered.current ?? (selectedRef.current?.kind === "node" ? selectedRef.current.id : null);
        if (!focus) return attrs;
        if (node === focus) return { ...attrs, highlighted: true, zIndex: 2 };
        if (graph.areNeighbors(node, focus)) return { ...attrs, zIndex: 1 };
        return { ...attrs, color: dark() ? "#343a40" : "#e9ecef", label: "", zIndex: 0 };
      },
      edgeReducer: (edge, attrs) => {
        const focus = hovered.current ?? (selectedRef.current?.kind === "node" ? selectedRef.current.id : null);
        const sel = selectedRef.current;
        if (sel?.kind === "edge" && graph.hasEdge(sel.source, sel.target) && graph.edge(sel.source, sel.target) === edge)
          return { ...attrs, color: "#f03e3e", size: (attrs.size ?? 1) + 2 };
        if (!focus) return attrs;
        return graph.hasExtremity(edge, focus) ? { ...attrs, color: "#4263eb" } : { ...attrs, hidden: true };
      },
    });
    let renders = 0;
    const started = performance.now();
    renderer.on("afterRender", () => {
      renders += 1;
      if (renders === 1) performance.measure("graph-first-draw", { start: started });
      container.current?.setAttribute("data-renders", String(renders));
    });
    renderer.on("enterNode", ({ node }) => { hovered.current = node; renderer.refresh({ skipIndexation: true }); });
    renderer.on("leaveNode", () => { hovered.current = null; renderer.refresh({ skipIndexation: true }); });
    renderer.on("clickNode", ({ node }) => setSelection({ kind: "node", id: node }));
    renderer.on("clickEdge", ({ edge }) => setSelection({ kind: "edge", source: graph.source(edge), target: graph.target(edge) }));
    renderer.on("clickStage", () => setSelection(null));
    renderer.on("doubleClickNode", ({ node, preventSigmaDefault }) => { preventSigmaDefault(); expand(node); });
    sigma.current = renderer;
    setShown({ nodes: graph.order, edges: graph.size, truncated: Boolean(next.is_truncated) });
    setLegend(legend(next.nodes));
    runLayout();
  };

  const load = async (name: string, keepSelection = false) => {
    setLoading(true);
    try {
      const next = await api.json<ApiGraph>("graphs", { query: { label: name, max_depth: depth, max_nodes: maxNodes } });
      setLabel(name);
      if (!keepSelection) setSelection(name !== START && next.nodes.some((n) => n.id === name) ? { kind: "node", id: name } : null);
      draw(next);
      if (!next.nodes.length && name !== START) notify(t("graph.notFound", { name }));
    } catch (exc) {
      notifyError(exc);
    } finally {
      setLoading(false);
    }
  };
  const expand = async (name: string) => {
    try {
      const extra = await api.json<ApiGraph>("graphs", { query: { label: name, max_depth: 1, max_nodes: maxNodes } });
      draw(mergeGraphs(data.current, extra));
      setSelection({ kind: "node", id: name });
    } catch (exc) {
      notifyError(exc);
    }
  };

  useEffect(() => {
    api.json<string[]>("graph/label/popular", { query: { limit: 30 } }).then(setPopular, notifyError);
    load(START);
    return () => { stopLayout(); sigma.current?.kill(); };
  }, []);
  useEffect(() => { sigma.current?.refresh({ skipIndexation: true }); }, [selection]);
  useEffect(() => {
    const onTheme = () => {
      const renderer = sigma.current;
      if (!renderer) return;
      for (const [key, value] of Object.entries(themeSettings())) renderer.setSetting(key as "labelColor", value as never);
    };
    window.addEventListener(THEME_EVENT, onTheme);
    return () => window.removeEventListener(THEME_EVENT, onTheme);
  }, []);

  const graph = graphRef.current;
  const nodeProps = selection?.kind === "node" && graph?.hasNode(selection.id) ? graph.getNodeAttribute(selection.id, "props") as Record<string, unknown> : null;
  const edgeProps = selection?.kind === "edge" && graph?.hasEdge(selection.source, selection.target) ? graph.getEdgeAttribute(selection.source, selection.target, "props") as Record<string, unknown> : null;
  const reload = (name?: string) => load(name ?? label, false);
  const layoutWith = (kind: "circular" | "random") => {
    if (!graph) return;
    stopLayout();
    if (kind === "circular") circular.assign(graph, { scale: 100 });
    else random.assign(graph, { scale: 100 });
    sigma.current?.getCamera().animatedReset();
    setTick((v) => v + 1);
  };
  const remove = async () => {
    try {
      if (selection?.kind === "node") await api.json("graph/entity/delete", { method: "DELETE", json: { entity_name: selection.id } });
      else if (selection?.kind === "edge") await api.json("graph/relation/delete", { method: "DELETE", json: { source_entity: selection.source, target_entity: selection.target } });
      notify(t("graph.deleted"));
      setSelection(null);
      reload(selection?.kind === "node" && selection.id === label ? START : undefined);
    } catch (exc) {
      notifyError(exc);
    }
  };

  return (
    <div class="graph-tab">
      <aside class="graph-side stack">
        <LabelSearch label={t("graph.search")} placeholder={t("graph.searchHint")} onPick={(n) => load(n)} />
        <div class="row">
          <label class="inline">{t("graph.depth")}<input type="number" min={1} max={6} value={depth} onChange={(e) => setDepth(Number((e.currentTarget as HTMLInputElement).value) || 1)} /></label>
          <label class="inline">{t("graph.maxNodes")}<input type="number" min={1} max={10000} step={50} value={maxNodes} onChange={(e) => setMaxNodes(Number((e.currentTarget as HTMLInputElement).value) || 100)} /></label>
        </div>
        <div class="row wrap">
          <button type="button" onClick={() => reload()}>{t("graph.reload")}</button>
          <button type="button" onClick={() => load(START)}>{t("graph.showAll")}</button>
        </div>
        <details open>
          <summary>{t("graph.popular")}</summary>
          <ul class="chips" aria-label={t("graph.popular")}>
            {popular.map((p) => <li key={p}><button type="button" class="chip" onClick={() => load(p)}>{p}</button></li>)}
          </ul>
        </details>
        <fieldset>
          <legend>{t("graph.layout")}</legend>
          <div class="row wrap">
            <button type="button" onClick={() => runLayout(6000)} aria-pressed={running}>{t("graph.layoutForce")}</button>
            <button type="button" onClick={() => layoutWith("circular")}>{t("graph.layoutCircular")}</button>
            <button type="button" onClick={() => layoutWith("random")}>{t("graph.layoutRandom")}</button>
            <button type="button" onClick={stopLayout} disabled={!running}>{t("graph.layoutStop")}</button>
          </div>
        </fieldset>
        <fieldset>
          <legend>{t("graph.edit")}</legend>
          <div class="row wrap">
            <button type="button" onClick={() => setDialog("createEntity")}>{t("graph.createEntity")}</button>
            <button type="button" onClick={() => setDialog("createRelation")}>{t("graph.createRelation")}</button>
          </div>
        </fieldset>
        <fieldset>
          <legend>{t("graph.export")}</legend>
          <div class="row wrap">
            <button type="button" disabled={!shown.nodes} onClick={() => download("graph.graphml", toGraphML(data.current), "application/graphml+xml")}>GraphML</button>
            <button type="button" disabled={!shown.nodes} onClick={() => download("graph.json", toJSON(data.current), "application/json")}>JSON</button>
          </div>
        </fieldset>
      </aside>
      <div class="graph-main">
        <p class="graph-status" role="status">
          {loading ? t("common.loading") : t("graph.shown", { nodes: shown.nodes, edges: shown.edges, label: label === START ? t("graph.all") : label })}
          {shown.truncated && <span class="muted"> · {t("graph.truncated")}</span>}
        </p>
        <div ref={container} class="sigma" aria-label={t("graph.canvas")} role="img" />
        {legendItems.length > 0 && (
          <ul class="legend" aria-label={t("graph.legend")}>
            {legendItems.slice(0, 13).map((l) => <li key={l.type}><i style={{ background: l.color }} />{l.type} <span class="muted">{l.count}</span></li>)}
          </ul>
        )}
        <details class="node-list">
          <summary>{t("graph.listShown")}</summary>
          <ul aria-label={t("graph.listShown")}>
            {data.current.nodes.slice(0, 300).map((n) => <li key={n.id}><button type="button" class="link" onClick={() => setSelection({ kind: "node", id: n.id })}>{n.id}</button></li>)}
          </ul>
        </details>
      </div>
      {(nodeProps || edgeProps) && (
        <aside class="graph-props card" aria-labelledby="props-title">
          <div class="row between">
            <h2 id="props-title">{nodeProps ? t("graph.entity") : t("graph.relation")}</h2>
            <button type="button" class="icon" aria-label={t("common.close")} onClick={() => setSelection(null)}>×</button>
          </div>
          {nodeProps && selection?.kind === "node" && (
            <>
              <h3 class="entity-name">{selection.id}</h3>
              <dl class="props">
                <dt>{t("graph.field.type")}</dt><dd>{String(nodeProps.entity_type ?? "")}</dd>
                <dt>{t("graph.field.description")}</dt><dd class="description">{splitSep(nodeProps.description).join("\n\n")}</dd>
                <dt>{t("graph.field.degree")}</dt><dd>{graph!.degree(selection.id)}</dd>
                <dt>{t("graph.field.files")}</dt><dd>{splitSep(nodeProps.file_path).join(", ")}</dd>
                <dt>{t("graph.field.chunks")}</dt><dd>{splitSep(nodeProps.source_id).length}</dd>
                {nodeProps.created_at !== undefined && <><dt>{t("graph.field.created")}</dt><dd>{formatTime(nodeProps.created_at as number, locale())}</dd></>}
              </dl>
              <details>
                <summary>{t("graph.relations", { n: graph!.degree(selection.id) })}</summary>
                <ul class="relations" aria-label={t("graph.relationsOf", { name: selection.id })}>
                  {graph!.neighbors(selection.id).slice(0, 200).map((other) => (
                    <li key={other}><button type="button" class="link" onClick={() => setSelection({ kind: "edge", source: selection.id, target: other })}>{selection.id} — {other}</button></li>
                  ))}
                </ul>
              </details>
              <div class="row wrap">
                <button type="button" onClick={() => setDialog("editEntity")}>{t("common.edit")}</button>
                <button type="button" onClick={() => setDialog("merge")}>{t("graph.mergeInto")}</button>
                <button type="button" onClick={() => expand(selection.id)}>{t("graph.expand")}</button>
                <button type="button" class="danger" onClick={() => setDialog("delete")}>{t("common.delete")}</button>
              </div>
            </>
          )}
          {edgeProps && selection?.kind === "edge" && (
            <>
              <h3>{selection.source} — {selection.target}</h3>
              <dl class="props">
                <dt>{t("graph.field.description")}</dt><dd class="description">{splitSep(edgeProps.description).join("\n\n")}</dd>
                <dt>{t("graph.field.keywords")}</dt><dd>{String(edgeProps.keywords ?? "")}</dd>
                <dt>{t("graph.field.weight")}</dt><dd>{String(edgeProps.weight ?? "")}</dd>
                <dt>{t("graph.field.files")}</dt><dd>{splitSep(edgeProps.file_path).join(", ")}</dd>
              </dl>
              <div class="row wrap">
                <button type="button" onClick={() => setDialog("editRelation")}>{t("common.edit")}</button>
                <button type="button" class="danger" onClick={() => setDialog("delete")}>{t("common.delete")}</button>
              </div>
            </>
          )}
        </aside>
      )}
      {dialog === "createEntity" && <EntityEditor onClose={() => setDialog(null)} onSaved={(n) => load(n)} />}
      {dialog === "createRelation" && <RelationEditor onClose={() => setDialog(null)} onSaved={(n) => load(n)} />}
      {dialog === "editEntity" && selection?.kind === "node" && nodeProps && (
        <EntityEditor entity={{ name: selection.id, type: String(nodeProps.entity_type ?? ""), description: String(nodeProps.description ?? "") }}
          onClose={() => setDialog(null)} onSaved={(n) => { load(label === selection.id ? n : label, true).then(() => setSelection({ kind: "node", id: n })); }} />
      )}
      {dialog === "editRelation" && selection?.kind === "edge" && edgeProps && (
        <RelationEditor relation={{ source: selection.source, target: selection.target, description: String(edgeProps.description ?? ""), keywords: String(edgeProps.keywords ?? ""), weight: Number(edgeProps.weight ?? 1) }}
          onClose={() => setDialog(null)} onSaved={() => reload()} />
      )}
      {dialog === "merge" && selection?.kind === "node" && <MergeDialog target={selection.id} onClose={() => setDialog(null)} onMerged={(n) => load(n)} />}
      {dialog === "delete" && selection && (
        <Confirm title={t("graph.deleteTitle")} action={t("common.delete")} onClose={() => setDialog(null)} onConfirm={remove}
          message={selection.kind === "node" ? t("graph.deleteEntity", { name: selection.id }) : t("graph.deleteRelation", { source: selection.source, target: selection.target })} />
      )}
    </div>
  );
}
