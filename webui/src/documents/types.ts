export interface Doc {
  id: string;
  content_summary: string;
  content_length: number;
  status: string;
  created_at: string;
  updated_at: string;
  track_id?: string | null;
  chunks_count?: number | null;
  error_msg?: string | null;
  metadata?: Record<string, unknown> | null;
  file_path: string;
}

export interface Page {
  documents: Doc[];
  pagination: { page: number; page_size: number; total_count: number; total_pages: number; has_next: boolean; has_prev: boolean };
  status_counts: Record<string, number>;
}

export interface Pipeline {
  busy: boolean;
  job_name?: string;
  job_start?: string | null;
  docs?: number;
  batchs?: number;
  cur_batch?: number;
  latest_message?: string;
  history_messages?: string[];
  cancellation_requested?: boolean;
}

export type SortField = "updated_at" | "created_at" | "file_path" | "id";

/** Whether the table should keep refreshing quickly. */
export function isActive(page: Page | null, pipeline: Pipeline | null): boolean {
  const counts = page?.status_counts ?? {};
  return Boolean(pipeline?.busy || counts.pending || counts.processing || counts.preprocessed);
}

/** A progress fraction for the pipeline panel, or null when unknown. */
export function pipelineProgress(p: Pipeline | null): number | null {
  if (!p?.busy || !p.batchs) return null;
  return Math.min(1, Math.max(0, (p.cur_batch ?? 0) / p.batchs));
}

export const STALL_MINUTES = 10;

/** Minutes without change of a document still pending or processing, once that looks stuck. */
export function stalledMinutes(doc: Pick<Doc, "status" | "updated_at">, now: number): number | null {
  if (doc.status !== "pending" && doc.status !== "processing") return null;
  const updated = Date.parse(doc.updated_at);
  if (Number.isNaN(updated)) return null;
  const minutes = Math.floor((now - updated) / 60000);
  return minutes >= STALL_MINUTES ? minutes : null;
}
