import { useState } from "preact/hooks";
import { Dialog } from "../components/Dialog";
import { useApi } from "../context";
import { t } from "../i18n";
import { notify } from "../notify";
import { LabelSearch } from "./LabelSearch";

function useSubmit(onDone: (result?: string) => void) {
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const submit = async (work: () => Promise<string | undefined>) => {
    setBusy(true);
    setError("");
    try {
      onDone(await work());
    } catch (exc) {
      setError((exc as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return { error, busy, submit };
}

/** A form's error line and its Cancel / submit buttons. */
function Footer(props: { error: string; busy: boolean; onClose: () => void; action: string }) {
  return (
    <>
      {props.error && <p role="alert" class="error-text">{props.error}</p>}
      <div class="row end">
        <button type="button" onClick={props.onClose}>{t("common.cancel")}</button>
        <button type="submit" class="primary" disabled={props.busy}>{props.action}</button>
      </div>
    </>
  );
}

function fields(form: HTMLFormElement): Record<string, string> {
  return Object.fromEntries([...new FormData(form).entries()].map(([k, v]) => [k, String(v).trim()]));
}

/** Create an entity (no ``entity``) or edit one: name (renames), type, description. */
export function EntityEditor(props: { entity?: { name: string; type: string; description: string }; onClose: () => void; onSaved: (name: string) => void }) {
  const api = useApi();
  const { error, busy, submit } = useSubmit((name) => { props.onClose(); if (name) props.onSaved(name); });
  const editing = Boolean(props.entity);
  return (
    <Dialog title={editing ? t("graph.editEntity") : t("graph.createEntity")} onClose={props.onClose}>
      <form class="stack" onSubmit={(e) => {
        e.preventDefault();
        const f = fields(e.currentTarget as HTMLFormElement);
        submit(async () => {
          const data: Record<string, string> = { entity_type: f.entity_type, description: f.description };
          if (editing) {
            if (f.entity_name !== props.entity!.name) data.entity_name = f.entity_name;
            const reply = await api.json<{ message?: string }>("graph/entity/edit", { json: { entity_name: props.entity!.name, updated_data: data, allow_rename: true } });
            notify(reply.message ?? t("graph.saved"));
          } else {
            await api.json("graph/entity/create", { json: { entity_name: f.entity_name, entity_data: data } });
            notify(t("graph.created", { name: f.entity_name }));
          }
          return f.entity_name;
        });
      }}>
        <label>{t("graph.field.name")}<input name="entity_name" required defaultValue={props.entity?.name} /></label>
        <label>{t("graph.field.type")}<input name="entity_type" defaultValue={props.entity?.type} /></label>
        <label>{t("graph.field.description")}<textarea name="description" rows={6} defaultValue={props.entity?.description} /></label>
        <Footer error={error} busy={busy} onClose={props.onClose} action={t("common.save")} />
      </form>
    </Dialog>
  );
}

/** Create a relation (no ``relation``) or edit one: description, keywords, weight. */
export function RelationEditor(props: { relation?: { source: string; target: string; description: string; keywords: string; weight: number }; onClose: () => void; onSaved: (source: string) => void }) {
  const api = useApi();
  const r = props.relation;
  const { error, busy, submit } = useSubmit((source) => { props.onClose(); if (source) props.onSaved(source); });
  return (
    <Dialog title={r ? t("graph.editRelation") : t("graph.createRelation")} onClose={props.onClose}>
      <form class="stack" onSubmit={(e) => {
        e.preventDefault();
        const f = fields(e.currentTarget as HTMLFormElement);
        submit(async () => {
          const data = { description: f.description, keywords: f.keywords, weight: Number(f.weight) || 1 };
          if (r) {
            await api.json("graph/relation/edit", { json: { source_id: r.source, target_id: r.target, updated_data: data } });
            notify(t("graph.saved"));
            return r.source;
          }
          await api.json("graph/relation/create", { json: { source_entity: f.source, target_entity: f.target, relation_data: data } });
          notify(t("graph.relationCreated", { source: f.source, target: f.target }));
          return f.source;
        });
      }}>
        <label>{t("graph.field.source")}<input name="source" required defaultValue={r?.source} readOnly={Boolean(r)} /></label>
        <label>{t("graph.field.target")}<input name="target" required defaultValue={r?.target} readOnly={Boolean(r)} /></label>
        <label>{t("graph.field.description")}<textarea name="description" rows={5} defaultValue={r?.description} /></label>
        <label>{t("graph.field.keywords")}<input name="keywords" defaultValue={r?.keywords} /></label>
        <label>{t("graph.field.weight")}<input name="weight" type="number" step="any" min="0" defaultValue={String(r?.weight ?? 1)} /></label>
        <Footer error={error} busy={busy} onClose={props.onClose} action={t("common.save")} />
      </form>
    </Dialog>
  );
}

/** Merge other entities into ``target``: their relations and descriptions move to it. */
export function MergeDialog(props: { target: string; onClose: () => void; onMerged: (name: string) => void }) {
  const api = useApi();
  const [names, setNames] = useState<string[]>([]);
  const { error, busy, submit } = useSubmit((name) => { props.onClose(); if (name) props.onMerged(name); });
  return (
    <Dialog title={t("graph.mergeTitle", { name: props.target })} onClose={props.onClose}>
      <form class="stack" onSubmit={(e) => {
        e.preventDefault();
        submit(async () => {
          const reply = await api.json<{ message?: string }>("graph/entities/merge", { json: { entities_to_change: names, entity_to_change_into: props.target } });
          notify(reply.message ?? t("graph.merged"));
          return props.target;
        });
      }}>
        <p>{t("graph.mergeHelp", { name: props.target })}</p>
        <LabelSearch label={t("graph.mergeAdd")} clearOnPick onPick={(n) => n !== props.target && setNames((l) => [...new Set([...l, n])])} />
        <ul class="chips" aria-label={t("graph.mergeList")}>
          {names.map((n) => (
            <li key={n}>{n} <button type="button" class="icon" aria-label={t("graph.mergeRemove", { name: n })} onClick={() => setNames(names.filter((x) => x !== n))}>×</button></li>
          ))}
        </ul>
        <Footer error={error} busy={busy || !names.length} onClose={props.onClose} action={t("graph.merge")} />
      </form>
    </Dialog>
  );
}
