import { useEffect, useRef, useState } from "preact/hooks";
import { Confirm, Dialog } from "../components/Dialog";
import { useApi } from "../context";
import { fileName, formatTime, matchesName, STATUSES } from "../format";
import { locale, t } from "../i18n";
import { notify, notifyError } from "../notify";
import { PipelinePanel } from "./PipelinePanel";
import { isActive, stalledMinutes, type Doc, type Page, type Pipeline, type SortField } from "./types";
import { Uploader } from "./Uploader";

const FAST_MS = 1500;
const SLOW_MS = 4000;
const COLUMNS: { field: SortField | null; key: string }[] = [
  { field: "file_path", key: "docs.col.file" },
  { field: null, key: "docs.col.status" },
  { field: null, key: "docs.col.chunks" },
  { field: "updated_at", key: "docs.col.updated" },
  { field: null, key: "docs.col.details" },
];

export function DocumentsTab() {
  const api = useApi();
  const [page, setPage] = useState<Page | null>(null);
  const [pipeline, setPipeline] = useState<Pipeline | null>(null);
  const [pageNo, setPageNo] = useState(1);
  const [pageSize, setPageSize] = useState(20);
  const [sort, setSort] = useState<{ field: SortField; dir: "asc" | "desc" }>({ field: "updated_at", dir: "desc" });
  const [status, setStatus] = useState<string>("");
  const [needle, setNeedle] = useState("");
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [confirm, setConfirm] = useState<null | { kind: "delete"; ids: string[] } | { kind: "clear" }>(null);
  const [details, setDetails] = useState<Doc | null>(null);
  const [loadError, setLoadError] = useState("");
  const timer = useRef<number>();
  const query = useRef({ pageNo, pageSize, sort, status });
  query.current = { pageNo, pageSize, sort, status };

  const refresh = async () => {
    window.clearTimeout(timer.current);
    const q = query.current;
    let active = false;
    try {
      const [p, pipe] = await Promise.all([
        api.json<Page>("documents/paginated", { json: {
          page: q.pageNo, page_size: q.pageSize, sort_field: q.sort.field, sort_direction: q.sort.dir,
          status_filter: q.status || null } }),
        api.json<Pipeline>("documents/pipeline_status"),
      ]);
      setPage(p);
      setPipeline(pipe);
      setLoadError("");
      active = isActive(p, pipe);
    } catch (exc) {
      setLoadError((exc as Error).message);
    }
    timer.current = window.setTimeout(refresh, active ? FAST_MS : SLOW_MS);
  };

  useEffect(() => {
    refresh();
    return () => window.clearTimeout(timer.current);
  }, [pageNo, pageSize, sort, status]);

  const run = async (path: string, options: Parameters<typeof api.json>[1]) => {
    try {
      const reply = await api.json<{ message?: string }>(path, options);
      if (reply?.message) notify(reply.message);
    } catch (exc) {
      notifyError(exc);
    }
    refresh();
  };
  const remove = async (ids: string[]) => {
    // one call per document: the server answers each with its own status (deletion runs beside indexing)
    for (const id of ids) await run("documents/delete_document", { method: "DELETE", json: { doc_ids: [id], delete_file: false } });
    setSelected(new Set());
  };

  const docs = (page?.documents ?? []).filter((d) => matchesName(d, needle));
  const counts = page?.status_counts ?? {};
  const total = Object.entries(counts).filter(([k]) => k !== "all").reduce((s, [, v]) => s + v, 0);
  const toggleSort = (field: SortField) =>
    setSort((s) => ({ field, dir: s.field === field && s.dir === "desc" ? "asc" : "desc" }));
  const allChecked = docs.length > 0 && docs.every((d) => selected.has(d.id));

  return (
    <div class="documents">
      <div class="docs-top">
        <Uploader onUploaded={refresh} />
        <PipelinePanel pipeline={pipeline} onChange={refresh} />
      </div>
      <div class="toolbar row wrap">
        <button type="button" onClick={() => run("documents/scan", { method: "POST" })}>{t("docs.scan")}</button>
        <button type="button" onClick={() => run("documents/reprocess_failed", { method: "POST" })} disabled={!counts.failed}>
          {t("docs.retryFailed")}{counts.failed ? ` (${counts.failed})` : ""}
        </button>
        <button type="button" disabled={!selected.size} onClick={() => setConfirm({ kind: "delete", ids: [...selected] })}>
          {t("docs.deleteSelected", { n: selected.size })}
        </button>
        <button type="button" class="danger" onClick={() => setConfirm({ kind: "clear" })}>{t("docs.clearAll")}</button>
        <button type="button" onClick={refresh}>{t("docs.refresh")}</button>
        <span class="spacer" />
        <label class="inline">{t("docs.filterName")}
          <input type="search" value={needle} onInput={(e) => setNeedle((e.currentTarget as HTMLInputElement).value)} />
        </label>
      </div>
      <div class="status-filter row wrap" role="group" aria-label={t("docs.filterStatus")}>
        <button type="button" aria-pressed={!status} onClick={() => { setStatus(""); setPageNo(1); }}>{t("status.all")} ({total})</button>
        {STATUSES.map((s) => (counts[s] || status === s) && (
          <button key={s} type="button" aria-pressed={status === s} class={`st-${s}`} onClick={() => { setStatus(s); setPageNo(1); }}>
            {t(`status.${s}`)} ({counts[s] ?? 0})
          </button>
        ))}
      </div>
      {loadError && <p role="alert" class="error-text">{t("docs.loadFailed", { error: loadError })}</p>}
      <div class="table-wrap">
        <table aria-label={t("docs.tableLabel")}>
          <thead>
            <tr>
              <th scope="col"><input type="checkbox" aria-label={t("docs.selectAll")} checked={allChecked}
                onChange={() => setSelected(allChecked ? new Set() : new Set(docs.map((d) => d.id)))} /></th>
              {COLUMNS.map((c) => (
                <th key={c.key} scope="col" aria-sort={c.field && sort.field === c.field ? (sort.dir === "asc" ? "ascending" : "descending") : undefined}>
                  {c.field ? (
                    <button type="button" class="sort" onClick={() => toggleSort(c.field!)}>
                      {t(c.key)} {sort.field === c.field ? (sort.dir === "asc" ? "▲" : "▼") : ""}
                    </button>
                  ) : t(c.key)}
                </th>
              ))}
              <th scope="col"><span class="sr-only">{t("docs.col.actions")}</span></th>
            </tr>
          </thead>
          <tbody>
            {docs.map((d) => (
              <tr key={d.id} class={`st-${d.status}`}>
                <td><input type="checkbox" aria-label={t("docs.select", { name: fileName(d.file_path, d.id) })} checked={selected.has(d.id)}
                  onChange={() => { const next = new Set(selected); if (next.has(d.id)) next.delete(d.id); else next.add(d.id); setSelected(next); }} /></td>
                <td class="file" title={d.file_path}>
                  <button type="button" class="link" onClick={() => setDetails(d)}>{fileName(d.file_path, d.id)}</button>
                  <div class="muted tiny">{d.id}</div>
                </td>
                <td><span class={`badge ${d.status}`}>{t(`status.${d.status}`)}</span></td>
                <td class="num">{d.chunks_count ?? ""}</td>
                <td class="nowrap">{formatTime(d.updated_at, locale())}</td>
                <td class="summary">{d.status === "failed" && d.error_msg
                  ? <span class="error-text">{d.error_msg}</span>
                  : <span class="muted">{d.content_summary}</span>}
                  {stalledMinutes(d, Date.now()) !== null && <div class="warn-text">{t("docs.stalled", { min: stalledMinutes(d, Date.now())! })}</div>}</td>
                <td><button type="button" class="small" aria-label={t("docs.deleteOne", { name: fileName(d.file_path, d.id) })}
                  onClick={() => setConfirm({ kind: "delete", ids: [d.id] })}>{t("common.delete")}</button></td>
              </tr>
            ))}
            {page && !docs.length && <tr><td colSpan={7} class="muted center">{t("docs.empty")}</td></tr>}
          </tbody>
        </table>
      </div>
      {page && (
        <div class="pager row">
          <button type="button" disabled={!page.pagination.has_prev} onClick={() => setPageNo(pageNo - 1)}>{t("docs.prev")}</button>
          <span>{t("docs.pageOf", { page: page.pagination.page, pages: Math.max(1, page.pagination.total_pages), total: page.pagination.total_count })}</span>
          <button type="button" disabled={!page.pagination.has_next} onClick={() => setPageNo(pageNo + 1)}>{t("docs.next")}</button>
          <label class="inline">{t("docs.pageSize")}
            <select value={pageSize} onChange={(e) => { setPageSize(Number((e.currentTarget as HTMLSelectElement).value)); setPageNo(1); }}>
              {[10, 20, 50, 100, 200].map((n) => <option key={n} value={n}>{n}</option>)}
            </select>
          </label>
        </div>
      )}
      {confirm?.kind === "delete" && (
        <Confirm title={t("docs.deleteTitle")} action={t("common.delete")} onClose={() => setConfirm(null)}
          message={t("docs.deleteMessage", { n: confirm.ids.length })} onConfirm={() => remove(confirm.ids)} />
      )}
      {confirm?.kind === "clear" && (
        <Confirm title={t("docs.clearTitle")} action={t("docs.clearAll")} confirmWord="clear" onClose={() => setConfirm(null)}
          message={t("docs.clearMessage")} onConfirm={() => run("documents", { method: "DELETE" })} />
      )}
      {details && (
        <Dialog title={fileName(details.file_path, details.id)} onClose={() => setDetails(null)} wide>
          <dl class="props">
            <dt>{t("docs.field.id")}</dt><dd>{details.id}</dd>
            <dt>{t("docs.field.path")}</dt><dd>{details.file_path}</dd>
            <dt>{t("docs.col.status")}</dt><dd>{t(`status.${details.status}`)}</dd>
            {details.error_msg && <><dt>{t("docs.field.error")}</dt><dd class="error-text">{details.error_msg}</dd></>}
            <dt>{t("docs.field.track")}</dt><dd>{details.track_id}</dd>
            <dt>{t("docs.field.created")}</dt><dd>{formatTime(details.created_at, locale())}</dd>
            <dt>{t("docs.col.updated")}</dt><dd>{formatTime(details.updated_at, locale())}</dd>
            <dt>{t("docs.col.chunks")}</dt><dd>{details.chunks_count ?? ""}</dd>
            <dt>{t("docs.field.length")}</dt><dd>{details.content_length}</dd>
            <dt>{t("docs.field.summary")}</dt><dd>{details.content_summary}</dd>
            {details.metadata && <><dt>{t("docs.field.metadata")}</dt><dd><pre class="log">{JSON.stringify(details.metadata, null, 2)}</pre></dd></>}
          </dl>
        </Dialog>
      )}
    </div>
  );
}
