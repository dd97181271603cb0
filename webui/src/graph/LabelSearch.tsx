import { useEffect, useRef, useState } from "preact/hooks";
import { useApi } from "../context";
import { notifyError } from "../notify";

let counter = 0;

/** A combobox over /graph/label/search: type, pick with the arrow keys and Enter. */
export function LabelSearch(props: { label: string; placeholder?: string; onPick: (name: string) => void; clearOnPick?: boolean; initial?: string }) {
  const api = useApi();
  const [text, setText] = useState(props.initial ?? "");
  const [options, setOptions] = useState<string[]>([]);
  const [open, setOpen] = useState(false);
  const [active, setActive] = useState(-1);
  const id = useRef(`label-search-${++counter}`).current;
  const seq = useRef(0);

  useEffect(() => {
    const q = text.trim();
    if (!q) { setOptions([]); return; }
    const mine = ++seq.current;
    const handle = window.setTimeout(() => {
      api.json<string[]>("graph/label/search", { query: { q, limit: 20 } }).then((names) => {
        if (mine === seq.current) { setOptions(names); setActive(-1); }
      }, notifyError);
    }, 180);
    return () => window.clearTimeout(handle);
  }, [text]);

  const pick = (name: string) => {
    setOpen(false);
    setText(props.clearOnPick ? "" : name);
    props.onPick(name);
  };
  const onKey = (e: KeyboardEvent) => {
    if (e.key === "ArrowDown") { e.preventDefault(); setOpen(true); setActive((a) => Math.min(options.length - 1, a + 1)); }
    else if (e.key === "ArrowUp") { e.preventDefault(); setActive((a) => Math.max(-1, a - 1)); }
    else if (e.key === "Escape") setOpen(false);
    else if (e.key === "Enter") {
      e.preventDefault();
      const name = active >= 0 ? options[active] : options.find((o) => o.toLowerCase() === text.trim().toLowerCase()) ?? text.trim();
      if (name) pick(name);
    }
  };
  const expanded = open && options.length > 0;
  return (
    <div class="combo">
      <input role="combobox" aria-label={props.label} aria-autocomplete="list" aria-expanded={expanded} aria-controls={`${id}-list`}
        aria-activedescendant={expanded && active >= 0 ? `${id}-${active}` : undefined} placeholder={props.placeholder}
        value={text} onInput={(e) => { setText((e.currentTarget as HTMLInputElement).value); setOpen(true); }}
        onKeyDown={onKey} onFocus={() => setOpen(true)} onBlur={() => window.setTimeout(() => setOpen(false), 150)} />
      <ul id={`${id}-list`} role="listbox" aria-label={props.label} hidden={!expanded}>
        {options.map((o, i) => (
          <li key={o} id={`${id}-${i}`} role="option" aria-selected={i === active} class={i === active ? "active" : ""}
            onMouseDown={(e) => { e.preventDefault(); pick(o); }}>{o}</li>
        ))}
      </ul>
    </div>
  );
}
