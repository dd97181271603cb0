import { describe, expect, it } from "vitest";
import { isActive, pipelineProgress, stalledMinutes, type Page } from "../src/documents/types";
import { fileName, hintedName, matchesName, splitNames, splitSep } from "../src/format";
import { workspacesFromTags } from "../src/components/Header";
import { conversationHistory, loadHistory, referenceLabel, saveHistory, MAX_TURNS, type Turn } from "../src/retrieval/history";
import { DEFAULTS, loadParams, queryBody, PARAMS_KEY } from "../src/retrieval/query";

const store = () => {
  const data = new Map<string, string>();
  return { getItem: (k: string) => data.get(k) ?? null, setItem: (k: string, v: string) => void data.set(k, v) };
};

describe("documents", () => {
  it("shows file names, not paths or ids, when a path is known", () => {
    expect(fileName("inputs/sub/report.pdf", "doc-1")).toBe("report.pdf");
    expect(fileName("C:\\docs\\a.txt", "doc-1")).toBe("a.txt");
    expect(fileName("unknown_source", "doc-1")).toBe("doc-1");
    expect(fileName("", "doc-2")).toBe("doc-2");
  });
  it("names an upload for its chunking strategy with LightRAG's hint", () => {
    expect(hintedName("notes.md", "R")).toBe("notes.[-R].md");
    expect(hintedName("a.b.txt", "V")).toBe("a.b.[-V].txt");
    expect(hintedName("notes.md", "")).toBe("notes.md");
    expect(hintedName("q1.[mineru].pdf", "R")).toBe("q1.[mineru].pdf");
    expect(hintedName("README", "R")).toBe("README");
  });
  it("filters by name or id, any case", () => {
    expect(matchesName({ id: "doc-abc", file_path: "Report.PDF" }, "report")).toBe(true);
    expect(matchesName({ id: "doc-abc", file_path: "x.txt" }, "ABC")).toBe(true);
    expect(matchesName({ id: "doc-abc", file_path: "x.txt" }, "zzz")).toBe(false);
  });
  it("refreshes quickly while anything is pending or processing", () => {
    const page = (counts: Record<string, number>) => ({ status_counts: counts }) as unknown as Page;
    expect(isActive(page({ processed: 3 }), { busy: false })).toBe(false);
    expect(isActive(page({ pending: 1 }), { busy: false })).toBe(true);
    expect(isActive(page({}), { busy: true })).toBe(true);
    expect(pipelineProgress({ busy: true, batchs: 4, cur_batch: 1 })).toBe(0.25);
    expect(pipelineProgress({ busy: false, batchs: 4, cur_batch: 1 })).toBeNull();
  });
  it("flags documents pending or processing without change for 10 minutes", () => {
    const now = Date.parse("2026-12-03T12:30:00Z");
    expect(stalledMinutes({ status: "processing", updated_at: "2026-12-03T12:05:00Z" }, now)).toBe(25);
    expect(stalledMinutes({ status: "processing", updated_at: "2026-12-03T12:25:00Z" }, now)).toBeNull();
    expect(stalledMinutes({ status: "processed", updated_at: "2026-12-03T10:00:00Z" }, now)).toBeNull();
    expect(stalledMinutes({ status: "pending", updated_at: "not a date" }, now)).toBeNull();
  });
  it("splits name lists and <SEP> values", () => {
    expect(splitNames("a, b;a\n c")).toEqual(["a", "b", "c"]);
    expect(splitSep("chunk-1<SEP>chunk-2")).toEqual(["chunk-1", "chunk-2"]);
    expect(splitSep(undefined)).toEqual([]);
  });
  it("lists workspaces from the chat model names", () => {
    expect(workspacesFromTags([{ name: "lightrag:latest" }, { name: "lightrag:team_a" }, { name: "lightrag:bad-name" }])).toEqual(["team_a"]);
  });
});

describe("retrieval", () => {
  it("keeps the conversation per workspace, at most MAX_TURNS", () => {
    const s = store();
    const turns: Turn[] = Array.from({ length: MAX_TURNS + 5 }, (_, i) => ({ role: i % 2 ? "assistant" : "user", content: `m${i}`, at: i }));
    saveHistory(s, "a", turns);
    expect(loadHistory(s, "a")).toHaveLength(MAX_TURNS);
    expect(loadHistory(s, "b")).toEqual([]);
    s.setItem("lambdarag.history.c", "{broken");
    expect(loadHistory(s, "c")).toEqual([]);
  });
  it("sends the last answered turns as conversation_history", () => {
    const turns: Turn[] = [
      { role: "user", content: "q1", at: 1 }, { role: "assistant", content: "a1", at: 2 },
      { role: "user", content: "q2", at: 3 }, { role: "assistant", content: "", error: "failed", at: 4 },
    ];
    expect(conversationHistory(turns, 1)).toEqual([{ role: "assistant", content: "a1" }, { role: "user", content: "q2" }]);
    expect(conversationHistory(turns, 0)).toEqual([]);
  });
  it("labels references by file name and pages", () => {
    const words = { pages: "pages", slides: "slides", sheets: "sheets" };
    expect(referenceLabel({ reference_id: "1", file_path: "docs/report.pdf", pages: [2, 3] }, words)).toBe("report.pdf (pages 2, 3)");
    expect(referenceLabel({ reference_id: "2", file_path: "notes.txt" }, words)).toBe("notes.txt");
  });
  it("builds the query body from the parameters, leaving defaults to the server", () => {
    expect(queryBody("q", DEFAULTS, [])).toEqual({ query: "q", mode: "mix", include_references: true, include_chunk_content: true, stream: true, response_type: "Multiple Paragraphs" });
    const body = queryBody("q", { ...DEFAULTS, top_k: "5", chunk_top_k: "3", user_prompt: " be brief ", only_need_context: true, mode: "local" }, [{ role: "user", content: "x" }]);
    expect(body).toMatchObject({ top_k: 5, chunk_top_k: 3, user_prompt: "be brief", only_need_context: true, mode: "local", conversation_history: [{ role: "user", content: "x" }] });
  });
  it("restores saved parameters over the defaults", () => {
    const s = store();
    s.setItem(PARAMS_KEY, JSON.stringify({ mode: "naive" }));
    expect(loadParams(s)).toEqual({ ...DEFAULTS, mode: "naive" });
    s.setItem(PARAMS_KEY, "nope");
    expect(loadParams(s)).toEqual(DEFAULTS);
  });
});
