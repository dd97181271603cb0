// The Retrieval tab's parameters and the request body they make.

export const MODES = ["mix", "hybrid", "local", "global", "naive", "bypass"] as const;

export interface Params {
  mode: string; top_k: string; chunk_top_k: string; response_type: string; user_prompt: string;
  only_need_context: boolean; stream: boolean; history_turns: string;
}
export const DEFAULTS: Params = { mode: "mix", top_k: "", chunk_top_k: "", response_type: "Multiple Paragraphs", user_prompt: "", only_need_context: false, stream: true, history_turns: "3" };
export const PARAMS_KEY = "lambdarag.queryParams";

export function loadParams(storage: Pick<Storage, "getItem"> = localStorage): Params {
  try {
    return { ...DEFAULTS, ...JSON.parse(storage.getItem(PARAMS_KEY) ?? "{}") };
  } catch {
    return DEFAULTS;
  }
}

/** The request body for /query/stream and /query/data from the form's values. */
export function queryBody(query: string, p: Params, history: { role: string; content: string }[]): Record<string, unknown> {
  const body: Record<string, unknown> = { query, mode: p.mode, include_references: true, include_chunk_content: true, stream: p.stream };
  if (p.top_k) body.top_k = Number(p.top_k);
  if (p.chunk_top_k) body.chunk_top_k = Number(p.chunk_top_k);
  if (p.response_type.trim()) body.response_type = p.response_type.trim();
  if (p.user_prompt.trim()) body.user_prompt = p.user_prompt.trim();
  if (p.only_need_context) body.only_need_context = true;
  if (history.length) body.conversation_history = history;
  return body;
}
