import { useState } from "preact/hooks";
import { splitSep } from "../format";
import { t } from "../i18n";

export interface QueryData {
  status: string;
  message: string;
  data: { entities?: Record<string, unknown>[]; relationships?: Record<string, unknown>[]; chunks?: Record<string, unknown>[]; references?: { reference_id: string; file_path: string }[] };
  metadata?: { keywords?: { high_level?: string[]; low_level?: string[] }; processing_info?: Record<string, number>; query_mode?: string };
}

const SCORE_KEYS = ["score", "rank", "weight"];

function score(row: Record<string, unknown>): string {
  return SCORE_KEYS.filter((k) => typeof row[k] === "number").map((k) => `${k} ${Number(row[k]).toFixed(k === "rank" ? 0 : 3)}`).join(" · ");
}

/** What /query/data retrieved: keywords, entities, relations and chunks with their scores. */
export function RetrievedView({ data }: { data: QueryData }) {
  const [tab, setTab] = useState<"entities" | "relationships" | "chunks">("entities");
  if (data.status !== "success") return <p class="muted">{data.message}</p>;
  const d = data.data;
  const kw = data.metadata?.keywords;
  const lists = { entities: d.entities ?? [], relationships: d.relationships ?? [], chunks: d.chunks ?? [] };
  return (
    <div class="retrieved stack">
      {kw && <p class="small"><strong>{t("retrieval.keywords")}</strong> {[...(kw.high_level ?? []), ...(kw.low_level ?? [])].join(", ")}</p>}
      <div class="row" role="group" aria-label={t("retrieval.retrievedKinds")}>
        {(Object.keys(lists) as (keyof typeof lists)[]).map((k) => (
          <button key={k} type="button" aria-pressed={tab === k} onClick={() => setTab(k)}>{t(`retrieval.${k}`)} ({lists[k].length})</button>
        ))}
      </div>
      <table aria-label={t(`retrieval.${tab}`)}>
        <thead><tr>
          <th scope="col">#</th>
          <th scope="col">{tab === "entities" ? t("graph.entity") : tab === "relationships" ? t("graph.relation") : t("retrieval.file")}</th>
          <th scope="col">{tab === "chunks" ? t("retrieval.text") : t("graph.field.description")}</th>
          <th scope="col">{t("retrieval.score")}</th>
        </tr></thead>
        <tbody>
          {lists[tab].map((row, i) => (
            <tr key={i}>
              <td class="num">{tab === "chunks" ? `[${row.reference_id ?? ""}]` : i + 1}</td>
              <td>{tab === "entities" ? `${row.entity_name} (${row.entity_type ?? ""})` : tab === "relationships" ? `${row.src_id} — ${row.tgt_id}` : String(row.file_path ?? "")}</td>
              <td class="clip">{tab === "chunks" ? String(row.content ?? "") : splitSep(row.description).join("\n")}</td>
              <td class="nowrap small">{score(row)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
