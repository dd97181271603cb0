import { useRef, useState } from "preact/hooks";
import { useApi } from "../context";
import { CHUNKING_LETTERS, type ChunkingLetter, formatBytes, hintedName } from "../format";
import { t } from "../i18n";

interface Upload { key: string; name: string; size: number; progress: number; state: "uploading" | "done" | "failed"; message: string }

/** Drag-and-drop (or choose) several files; each gets its own progress bar. */
export function Uploader(props: { onUploaded: () => void }) {
  const api = useApi();
  const input = useRef<HTMLInputElement>(null);
  const [over, setOver] = useState(false);
  const [uploads, setUploads] = useState<Upload[]>([]);
  const [chunking, setChunking] = useState<ChunkingLetter>("");

  const update = (key: string, change: Partial<Upload>) =>
    setUploads((list) => list.map((u) => (u.key === key ? { ...u, ...change } : u)));

  const send = async (files: File[]) => {
    const batch = files.map((f, i) => ({ key: `${Date.now()}-${i}-${f.name}`, name: f.name, size: f.size, progress: 0, state: "uploading" as const, message: "" }));
    setUploads((list) => [...batch, ...list].slice(0, 50));
    // two at a time: enough to keep the link busy without queueing everything at once
    const queue = files.map((f, i) => [f, batch[i].key] as const);
    const worker = async () => {
      for (let next = queue.shift(); next; next = queue.shift()) {
        const [file, key] = next;
        try {
          const reply = await api.upload(file, (p) => update(key, { progress: p }), hintedName(file.name, chunking));
          update(key, { state: reply.status === "success" ? "done" : "failed", message: reply.message, progress: 1 });
        } catch (exc) {
          update(key, { state: "failed", message: (exc as Error).message });
        }
        props.onUploaded();
      }
    };
    await Promise.all([worker(), worker()]);
  };

  return (
    <div class="uploader">
      <div class={`dropzone ${over ? "over" : ""}`} role="button" tabIndex={0} aria-label={t("docs.dropzone")}
        onClick={() => input.current?.click()}
        onKeyDown={(e) => (e.key === "Enter" || e.key === " ") && (e.preventDefault(), input.current?.click())}
        onDragOver={(e) => { e.preventDefault(); setOver(true); }}
        onDragLeave={() => setOver(false)}
        onDrop={(e) => {
          e.preventDefault();
          setOver(false);
          const files = [...(e.dataTransfer?.files ?? [])];
          if (files.length) send(files);
        }}>
        <strong>{t("docs.dropzone")}</strong>
        <span class="muted small">{t("docs.dropzoneHint")}</span>
      </div>
      <label class="inline small chunking">
        <span>{t("docs.chunking")}</span>
        <select aria-label={t("docs.chunking")} value={chunking} onChange={(e) => setChunking((e.currentTarget as HTMLSelectElement).value as ChunkingLetter)}>
          {CHUNKING_LETTERS.map((letter) => <option key={letter} value={letter}>{t(`docs.chunking.${letter || "default"}`)}</option>)}
        </select>
      </label>
      <input ref={input} type="file" multiple hidden aria-label={t("docs.chooseFiles")} data-testid="file-input"
        onChange={(e) => {
          const el = e.currentTarget as HTMLInputElement;
          const files = [...(el.files ?? [])];
          el.value = "";
          if (files.length) send(files);
        }} />
      {uploads.length > 0 && (
        <ul class="uploads" aria-label={t("docs.uploads")}>
          {uploads.map((u) => (
            <li key={u.key} class={u.state}>
              <span class="name">{u.name}</span>
              <span class="muted small">{formatBytes(u.size)}</span>
              <progress max={1} value={u.progress} aria-label={t("docs.uploadProgress", { name: u.name })} />
              <span class="small">{u.state === "uploading" ? `${Math.round(u.progress * 100)}%` : u.state === "done" ? t("docs.uploaded") : u.message}</span>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
