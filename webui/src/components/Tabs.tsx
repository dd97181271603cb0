import type { ComponentChildren } from "preact";
import { useRef, useState } from "preact/hooks";
import { t } from "../i18n";

export type TabId = "documents" | "graph" | "retrieval" | "api";

/** WAI-ARIA tabs: arrow keys move between tabs; a panel stays mounted once visited. */
export function Tabs(props: { tabs: TabId[]; active: TabId; onChoose: (id: TabId) => void; children: (id: TabId) => ComponentChildren }) {
  const [visited, setVisited] = useState<Set<TabId>>(new Set([props.active]));
  const refs = useRef<Record<string, HTMLButtonElement | null>>({});
  if (!visited.has(props.active)) setVisited(new Set([...visited, props.active]));
  const onKey = (e: KeyboardEvent, index: number) => {
    const step = e.key === "ArrowRight" ? 1 : e.key === "ArrowLeft" ? -1 : 0;
    const jump = e.key === "Home" ? 0 : e.key === "End" ? props.tabs.length - 1 : null;
    if (!step && jump === null) return;
    e.preventDefault();
    const next = props.tabs[jump ?? (index + step + props.tabs.length) % props.tabs.length];
    props.onChoose(next);
    refs.current[next]?.focus();
  };
  return (
    <>
      <nav class="tabs" role="tablist" aria-label={t("app.sections")}>
        {props.tabs.map((id, i) => (
          <button key={id} ref={(el) => { refs.current[id] = el; }} role="tab" id={`tab-${id}`}
            aria-selected={props.active === id} aria-controls={`panel-${id}`}
            tabIndex={props.active === id ? 0 : -1} onClick={() => props.onChoose(id)} onKeyDown={(e) => onKey(e, i)}>
            {t(`tab.${id}`)}
          </button>
        ))}
      </nav>
      {props.tabs.filter((id) => visited.has(id)).map((id) => (
        <section key={id} role="tabpanel" id={`panel-${id}`} aria-labelledby={`tab-${id}`} hidden={props.active !== id} class={`panel panel-${id}`}>
          {props.children(id)}
        </section>
      ))}
    </>
  );
}
