import { useEffect, useState } from "preact/hooks";
import { t } from "../i18n";
import { dismiss, subscribe, type Note } from "../notify";

export function Notes() {
  const [notes, setNotes] = useState<Note[]>([]);
  useEffect(() => subscribe(setNotes), []);
  return (
    <div class="notes" aria-live="polite">
      {notes.map((n) => (
        <div key={n.id} class={`note ${n.kind}`} role={n.kind === "error" ? "alert" : "status"}>
          <span>{n.text}</span>
          <button type="button" class="icon" aria-label={t("common.dismiss")} onClick={() => dismiss(n.id)}>×</button>
        </div>
      ))}
    </div>
  );
}
