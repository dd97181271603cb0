// Messages for the person using the UI: errors are shown in words, never swallowed.

export interface Note { id: number; kind: "error" | "info"; text: string }
type Listener = (notes: Note[]) => void;

let notes: Note[] = [];
let nextId = 1;
const listeners = new Set<Listener>();

function emit(): void {
  listeners.forEach((l) => l(notes));
}

export function subscribe(listener: Listener): () => void {
  listeners.add(listener);
  listener(notes);
  return () => listeners.delete(listener);
}

export function notify(text: string, kind: Note["kind"] = "info"): void {
  const note = { id: nextId++, kind, text };
  notes = [...notes.filter((n) => n.text !== text), note].slice(-5);
  emit();
  if (kind === "info") setTimeout(() => dismiss(note.id), 5000);
}

export function notifyError(error: unknown): void {
  if ((error as Error)?.name === "AbortError") return;
  notify(error instanceof Error ? error.message : String(error), "error");
}

export function dismiss(id: number): void {
  notes = notes.filter((n) => n.id !== id);
  emit();
}
