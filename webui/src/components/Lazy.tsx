import type { FunctionComponent } from "preact";
import { useEffect, useState } from "preact/hooks";
import { t } from "../i18n";
import { notifyError } from "../notify";

/** Renders the component a dynamic import() gives, once loaded (keeps tab code split). */
export function Lazy<P extends object>(props: { load: () => Promise<FunctionComponent<P>>; props: P }) {
  const [Component, setComponent] = useState<FunctionComponent<P> | null>(null);
  useEffect(() => {
    props.load().then((c) => setComponent(() => c), notifyError);
  }, []);
  return Component ? <Component {...props.props} /> : <p class="muted">{t("common.loading")}</p>;
}
