import { useEffect, useRef, useState } from "preact/hooks";
import { Dialog } from "../components/Dialog";
import { useApi } from "../context";
import { t } from "../i18n";
import { readNdjson } from "../ndjson";
import { conversationHistory, loadHistory, referenceLabel, saveHistory, type Reference, type Turn } from "./history";
import { renderMarkdown } from "./markdown";
import { loadParams, MODES, PARAMS_KEY, queryBody, type Params } from "./query";
import { RetrievedView, type QueryData } from "./RetrievedView";

function Answer({ turn, onOpen }: { turn: Turn; onOpen: (ref: Reference) => void }) {
  const words = { pages: t("retrieval.pages"), slides: t("retrieval.slides"), sheets: t("retrieval.sheets") };
  return (
    <article class={`turn ${turn.role}`} aria-label={turn.role === "user" ? t("retrieval.question") : t("retrieval.answer")}>
      {turn.role === "user" ? <p class="question">{turn.content}</p>
        : <div class="markdown" dangerouslySetInnerHTML={{ __html: renderMarkdown(turn.content || "…") }} />}
      {turn.error && <p role="alert" class="error-text">{turn.error}</p>}
      {turn.references && turn.references.length > 0 && (
        <div class="references">
          <h3>{t("retrieval.references")}</h3>
          <ol>
            {turn.references.map((r) => (
              <li key={r.reference_id}>
                <button type="button" class="link" onClick={() => onOpen(r)}>[{r.reference_id}] {referenceLabel(r, words)}</button>
              </li>
            ))}
          </ol>
        </div>
      )}
    </article>
  );
}

export function RetrievalTab() {
  const api = useApi();
  const workspace = api.session.workspace;
  const [turns, setTurns] = useState<Turn[]>(() => loadHistory(localStorage, workspace));
  const [params, setParams] = useState<Params>(() => loadParams());
  const [busy, setBusy] = useState(false);
  const [reference, setReference] = useState<Reference | null>(null);
  const [retrieved, setRetrieved] = useState<{ query: string; data: QueryData | null; error?: string } | null>(null);
  const abort = useRef<AbortController | null>(null);
  const input = useRef<HTMLTextAreaElement>(null);
  const end = useRef<HTMLDivElement>(null);

  useEffect(() => saveHistory(localStorage, workspace, turns), [turns]);
  useEffect(() => localStorage.setItem(PARAMS_KEY, JSON.stringify(params)), [params]);
  useEffect(() => end.current?.scrollIntoView?.({ block: "end" }), [turns.length]);

  const set = (key: keyof Params) => (e: Event) => {
    const el = e.currentTarget as HTMLInputElement;
    setParams({ ...params, [key]: el.type === "checkbox" ? el.checked : el.value });
  };
  const lastQuestion = [...turns].reverse().find((x) => x.role === "user")?.content ?? "";

  const ask = async (e: Event) => {
    e.preventDefault();
    const query = input.current?.value.trim() ?? "";
    if (!query || busy) return;
    input.current!.value = "";
    const history = conversationHistory(turns, Number(params.history_turns) || 0);
    const answer: Turn = { role: "assistant", content: "", at: Date.now(), mode: params.mode };
    setTurns((list) => [...list, { role: "user", content: query, at: Date.now() }, answer]);
    const patch = (change: Partial<Turn>) => { Object.assign(answer, change); setTurns((list) => [...list.slice(0, -1), { ...answer }]); };
    setBusy(true);
    abort.current = new AbortController();
    try {
      const response = await api.fetch("query/stream", { json: queryBody(query, params, history), signal: abort.current.signal });
      let text = "";
      for await (const line of readNdjson(response.body!)) {
        if (Array.isArray(line.references)) patch({ references: line.references as Reference[] });
        if (typeof line.response === "string") { text += line.response; patch({ content: text }); }
        if (typeof line.error === "string") patch({ error: line.error });
      }
      if (!text && !answer.error) patch({ content: t("retrieval.emptyAnswer") });
    } catch (exc) {
      if ((exc as Error).name === "AbortError") patch({ error: t("retrieval.stopped") });
      else patch({ error: (exc as Error).message });
    } finally {
      setBusy(false);
      abort.current = null;
    }
  };

  const showRetrieved = async () => {
    const query = input.current?.value.trim() || lastQuestion;
    if (!query) return;
    setRetrieved({ query, data: null });
    try {
      const data = await api.json<QueryData>("query/data", { json: { ...queryBody(query, { ...params, stream: false }, []), include_scores: true } });
      setRetrieved({ query, data });
    } catch (exc) {
      setRetrieved({ query, data: null, error: (exc as Error).message });
    }
  };

  return (
    <div class="retrieval">
      <div class="chat">
        <div class="turns" aria-live="polite">
          {!turns.length && <p class="muted center">{t("retrieval.empty")}</p>}
          {turns.map((turn, i) => <Answer key={i} turn={turn} onOpen={setReference} />)}
          <div ref={end} />
        </div>
        <form class="ask" onSubmit={ask}>
          <label class="sr-only" for="question">{t("retrieval.question")}</label>
          <textarea id="question" ref={input} rows={2} placeholder={t("retrieval.placeholder")} aria-label={t("retrieval.question")}
            onKeyDown={(e) => { if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); (e.currentTarget.form as HTMLFormElement).requestSubmit(); } }} />
          <div class="row">
            {busy ? <button type="button" onClick={() => abort.current?.abort()}>{t("retrieval.stop")}</button>
              : <button type="submit" class="primary">{t("retrieval.send")}</button>}
            <button type="button" onClick={showRetrieved}>{t("retrieval.showRetrieved")}</button>
            <button type="button" onClick={() => setTurns([])} disabled={!turns.length || busy}>{t("retrieval.clear")}</button>
          </div>
        </form>
      </div>
      <aside class="params card stack" aria-labelledby="params-title">
        <h2 id="params-title">{t("retrieval.params")}</h2>
        <label>{t("retrieval.mode")}
          <select value={params.mode} onChange={set("mode")}>{MODES.map((m) => <option key={m} value={m}>{m}</option>)}</select>
        </label>
        <label>{t("retrieval.responseType")}<input value={params.response_type} onInput={set("response_type")} /></label>
        <label>top_k<input type="number" min={1} max={1000} placeholder="40" value={params.top_k} onInput={set("top_k")} /></label>
        <label>chunk_top_k<input type="number" min={1} max={1000} placeholder="20" value={params.chunk_top_k} onInput={set("chunk_top_k")} /></label>
        <label>{t("retrieval.historyTurns")}<input type="number" min={0} max={20} value={params.history_turns} onInput={set("history_turns")} /></label>
        <label>{t("retrieval.userPrompt")}<textarea rows={3} value={params.user_prompt} onInput={set("user_prompt")} /></label>
        <label class="check"><input type="checkbox" checked={params.only_need_context} onChange={set("only_need_context")} />{t("retrieval.onlyContext")}</label>
        <label class="check"><input type="checkbox" checked={params.stream} onChange={set("stream")} />{t("retrieval.stream")}</label>
      </aside>
      {reference && (
        <Dialog title={t("retrieval.referenceTitle", { id: reference.reference_id, file: reference.file_path })} onClose={() => setReference(null)} wide>
          {(reference.content ?? []).length ? reference.content!.map((c, i) => (
            <section key={i} class="chunk" aria-label={t("retrieval.chunk", { n: i + 1 })}>
              <h3 class="small muted">{t("retrieval.chunk", { n: i + 1 })}</h3>
              <pre class="chunk-text">{c}</pre>
            </section>
          )) : <p class="muted">{t("retrieval.noChunkText")}</p>}
        </Dialog>
      )}
      {retrieved && (
        <Dialog title={t("retrieval.retrievedTitle", { query: retrieved.query })} onClose={() => setRetrieved(null)} wide>
          {retrieved.error ? <p role="alert" class="error-text">{retrieved.error}</p>
            : retrieved.data ? <RetrievedView data={retrieved.data} /> : <p class="muted">{t("common.loading")}</p>}
        </Dialog>
      )}
      {busy && <span class="sr-only" role="status">{t("retrieval.answering")}</span>}
    </div>
  );
}
