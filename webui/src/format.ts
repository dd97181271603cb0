// Small formatting helpers shared by the tabs.

export const STATUSES = ["processed", "preprocessed", "processing", "pending", "failed"] as const;

/** A document's name: the file name of its path, else its id. */
export function fileName(path: string | null | undefined, id: string): string {
  if (!path || path === "unknown_source" || path === "no-file-path") return id;
  const parts = path.split(/[\\/]/);
  return parts[parts.length - 1] || path;
}

export function formatTime(value: string | number | null | undefined, locale: string): string {
  if (value === null || value === undefined || value === "") return "";
  const date = typeof value === "number" ? new Date(value < 1e12 ? value * 1000 : value) : new Date(value);
  if (Number.isNaN(date.getTime())) return String(value);
  return date.toLocaleString(locale === "zh" ? "zh-CN" : locale, {
    year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit",
  });
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

/** Documents whose name or id contains ``needle`` (any case). */
export function matchesName(doc: { id: string; file_path: string }, needle: string): boolean {
  const n = needle.trim().toLowerCase();
  return !n || doc.file_path.toLowerCase().includes(n) || doc.id.toLowerCase().includes(n);
}

/** Splits "a, b;c" into trimmed, unique, non-empty names. */
export function splitNames(text: string): string[] {
  return [...new Set(text.split(/[,;\n]/).map((s) => s.trim()).filter(Boolean))];
}

/** The <SEP>-joined values LightRAG stores in source_id and file_path. */
export function splitSep(value: unknown): string[] {
  return typeof value === "string" ? value.split("<SEP>").filter(Boolean) : [];
}

/** The chunking strategies a file name's hint can pick (LightRAG 1.5's letters); "" is the server's default. */
export const CHUNKING_LETTERS = ["", "R", "V", "P", "F"] as const;
export type ChunkingLetter = (typeof CHUNKING_LETTERS)[number];

/** ``notes.md`` named for a strategy: ``notes.[-R].md``. A name with a hint already, or
 * without an extension, is sent as it is. */
export function hintedName(name: string, letter: ChunkingLetter): string {
  const dot = name.lastIndexOf(".");
  if (!letter || dot <= 0 || /\.\[[^\]]*\]\.[^.]+$/.test(name)) return name;
  return `${name.slice(0, dot)}.[-${letter}]${name.slice(dot)}`;
}
