import { useApi } from "../context";
import { t } from "../i18n";
import { notify, notifyError } from "../notify";
import { pipelineProgress, type Pipeline } from "./types";

export function PipelinePanel(props: { pipeline: Pipeline | null; onChange: () => void }) {
  const api = useApi();
  const p = props.pipeline;
  const progress = pipelineProgress(p);
  const cancel = async () => {
    try {
      const reply = await api.json<{ message: string }>("documents/cancel_pipeline", { method: "POST" });
      notify(reply.message);
      props.onChange();
    } catch (exc) {
      notifyError(exc);
    }
  };
  const history = (p?.history_messages ?? []).slice(-8);
  return (
    <section class="pipeline card" aria-labelledby="pipeline-title">
      <div class="row between">
        <h2 id="pipeline-title">{t("pipeline.title")}</h2>
        <span class={`badge ${p?.busy ? "processing" : "idle"}`}>{p?.busy ? t("pipeline.busy") : t("pipeline.idle")}</span>
      </div>
      {p?.busy && (
        <>
          <p><strong>{t("pipeline.job")}</strong> {p.job_name}</p>
          <p class="small muted">{t("pipeline.batches", { cur: p.cur_batch ?? 0, total: p.batchs ?? 0, docs: p.docs ?? 0 })}</p>
          {progress !== null && <progress max={1} value={progress} aria-label={t("pipeline.progress")} />}
          <button type="button" class="danger" onClick={cancel} disabled={p.cancellation_requested}>
            {p.cancellation_requested ? t("pipeline.cancelling") : t("pipeline.cancel")}
          </button>
        </>
      )}
      {p?.latest_message && <p class="small"><strong>{t("pipeline.latest")}</strong> {p.latest_message}</p>}
      {history.length > 0 && (
        <details>
          <summary>{t("pipeline.history")}</summary>
          <pre class="log">{history.join("\n")}</pre>
        </details>
      )}
    </section>
  );
}
