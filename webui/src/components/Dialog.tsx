import type { ComponentChildren } from "preact";
import { useEffect, useRef } from "preact/hooks";
import { t } from "../i18n";

/** A modal <dialog> with a title; Escape or the close button closes it. */
export function Dialog(props: { title: string; onClose: () => void; children: ComponentChildren; wide?: boolean }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const dialog = ref.current;
    if (dialog && !dialog.open) dialog.showModal();
    return () => dialog?.close();
  }, []);
  return (
    <dialog ref={ref} class={props.wide ? "wide" : ""} aria-label={props.title}
      onCancel={(e) => { e.preventDefault(); props.onClose(); }}>
      <header class="dialog-head">
        <h2>{props.title}</h2>
        <button type="button" class="icon" aria-label={t("common.close")} onClick={props.onClose}>×</button>
      </header>
      {props.children}
    </dialog>
  );
}

/** Asks before something that cannot be undone; ``confirmWord`` must be typed when given. */
export function Confirm(props: { title: string; message: string; action: string; confirmWord?: string; onConfirm: () => void; onClose: () => void }) {
  const input = useRef<HTMLInputElement>(null);
  const submit = (e: Event) => {
    e.preventDefault();
    if (props.confirmWord && input.current?.value.trim() !== props.confirmWord) {
      input.current?.setCustomValidity(t("common.typeToConfirm", { word: props.confirmWord }));
      input.current?.reportValidity();
      return;
    }
    props.onConfirm();
    props.onClose();
  };
  return (
    <Dialog title={props.title} onClose={props.onClose}>
      <form onSubmit={submit} class="stack">
        <p>{props.message}</p>
        {props.confirmWord && (
          <label>
            {t("common.typeToConfirm", { word: props.confirmWord })}
            <input ref={input} autoComplete="off" onInput={() => input.current?.setCustomValidity("")} />
          </label>
        )}
        <div class="row end">
          <button type="button" onClick={props.onClose}>{t("common.cancel")}</button>
          <button type="submit" class="danger">{props.action}</button>
        </div>
      </form>
    </Dialog>
  );
}
