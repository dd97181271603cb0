// The conversation of the Retrieval tab, kept in the browser per workspace.

export interface Reference { reference_id: string; file_path: string; content?: string[]; pages?: number[]; slides?: number[]; sheets?: string[] }
export interface Turn {
  role: "user" | "assistant";
  content: string;
  references?: Reference[];
  error?: string;
  mode?: string;
  at: number;
}

const PREFIX = "lambdarag.history.";
export const MAX_TURNS = 100;

export function historyKey(workspace: string): string {
  return PREFIX + (workspace || "_default");
}

export function loadHistory(storage: Pick<Storage, "getItem">, workspace: string): Turn[] {
  try {
    const value = JSON.parse(storage.getItem(historyKey(workspace)) ?? "[]");
    return Array.isArray(value) ? value.filter((t) => t && (t.role === "user" || t.role === "assistant")) : [];
  } catch {
    return [];
  }
}

export function saveHistory(storage: Pick<Storage, "setItem">, workspace: string, turns: Turn[]): void {
  storage.setItem(historyKey(workspace), JSON.stringify(turns.slice(-MAX_TURNS)));
}

/** The previous turns as the API's conversation_history (answered turns only). */
export function conversationHistory(turns: Turn[], maxTurns: number): { role: string; content: string }[] {
  const done = turns.filter((t) => t.content && !t.error);
  if (maxTurns <= 0) return [];
  return done.slice(-maxTurns * 2).map((t) => ({ role: t.role, content: t.content.slice(0, 32000) }));
}

/** "report.pdf (pages 2, 3)" */
export function referenceLabel(ref: Reference, words: { pages: string; slides: string; sheets: string }): string {
  const name = ref.file_path.split(/[\\/]/).pop() || ref.file_path;
  for (const key of ["pages", "slides", "sheets"] as const) {
    const values = ref[key];
    if (values && values.length) return `${name} (${words[key]} ${values.join(", ")})`;
  }
  return name;
}
