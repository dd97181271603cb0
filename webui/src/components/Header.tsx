import { useEffect, useState } from "preact/hooks";
import { WORKSPACE_NAME } from "../api";
import type { AuthStatus } from "../App";
import { useApi } from "../context";
import { LOCALES, locale, setLocale, t } from "../i18n";
import { currentTheme, setTheme } from "../theme";

const KNOWN_KEY = "lambdarag.workspaces";
const NEW = "\u0000new";

function knownWorkspaces(): string[] {
  try {
    const value = JSON.parse(localStorage.getItem(KNOWN_KEY) ?? "[]");
    return Array.isArray(value) ? value.filter((v) => typeof v === "string") : [];
  } catch {
    return [];
  }
}

/** Names of workspaces the server lists as chat models (``lightrag:<workspace>``). */
export function workspacesFromTags(models: { name: string }[]): string[] {
  return models.map((m) => m.name.split(":").slice(1).join(":")).filter((w) => w && w !== "latest" && WORKSPACE_NAME.test(w));
}

function WorkspaceSwitcher() {
  const api = useApi();
  const session = api.session;
  const [names, setNames] = useState<string[]>(() => [...new Set([...knownWorkspaces(), session.workspace].filter(Boolean))].sort());
  const [creating, setCreating] = useState(false);
  const [error, setError] = useState("");

  useEffect(() => {
    api.json<{ models: { name: string }[] }>("api/tags")
      .then((r) => setNames((old) => [...new Set([...old, ...workspacesFromTags(r.models ?? [])])].sort()))
      .catch(() => undefined); // the list is a convenience: any name can still be typed
  }, [session.token]);

  const open = (name: string) => {
    const all = [...new Set([...names, name].filter(Boolean))].sort();
    localStorage.setItem(KNOWN_KEY, JSON.stringify(all));
    setNames(all);
    session.setWorkspace(name);
  };
  const submit = (e: Event) => {
    e.preventDefault();
    const name = String(new FormData(e.currentTarget as HTMLFormElement).get("workspace") ?? "").trim();
    if (!WORKSPACE_NAME.test(name)) {
      setError(t("workspace.invalid"));
      return;
    }
    setError("");
    setCreating(false);
    open(name);
  };
  // An account limited to some workspaces has them in its token: offer exactly those.
  const allowed = session.claims()?.workspaces;
  const options = allowed?.length ? [...new Set(["", ...allowed, session.workspace])] : [...new Set(["", ...names, session.workspace])];
  return (
    <div class="workspace">
      <label>
        {t("workspace.label")}
        <select value={session.workspace} onChange={(e) => {
          const value = (e.currentTarget as HTMLSelectElement).value;
          if (value === NEW) setCreating(true);
          else open(value);
        }}>
          {options.map((w) => <option key={w} value={w}>{w || t("workspace.default")}</option>)}
          <option value={NEW}>{t("workspace.new")}</option>
        </select>
      </label>
      {creating && (
        <form onSubmit={submit} class="row">
          <label class="sr-only" for="new-workspace">{t("workspace.newName")}</label>
          <input id="new-workspace" name="workspace" placeholder={t("workspace.newName")} aria-label={t("workspace.newName")} autoFocus
            aria-invalid={error ? "true" : undefined} />
          <button type="submit">{t("workspace.open")}</button>
          <button type="button" onClick={() => { setCreating(false); setError(""); }}>{t("common.cancel")}</button>
          {error && <span role="alert" class="error-text">{error}</span>}
        </form>
      )}
    </div>
  );
}

export function Header(props: { status: AuthStatus; onLogout: () => void; onForgetKey: () => void; onLanguage: () => void }) {
  const api = useApi();
  const [theme, setThemeState] = useState(currentTheme());
  const claims = api.session.claims();
  const loggedIn = props.status.auth_configured && api.session.token;
  return (
    <header class="top">
      <div class="brand">
        <img src="./favicon.svg" alt="" width="24" height="24" />
        <span class="title">{props.status.webui_title || "LambdaRAG"}</span>
        {props.status.webui_description && <span class="muted small">{props.status.webui_description}</span>}
      </div>
      {(!props.status.auth_configured || loggedIn) && <WorkspaceSwitcher />}
      <div class="row tools">
        <label class="sr-only" for="language">{t("app.language")}</label>
        <select id="language" aria-label={t("app.language")} value={locale()} onChange={(e) => {
          setLocale((e.currentTarget as HTMLSelectElement).value);
          props.onLanguage();
        }}>
          {Object.entries(LOCALES).map(([code, m]) => <option key={code} value={code}>{m._name ?? code}</option>)}
        </select>
        <button type="button" aria-pressed={theme === "dark"} onClick={() => {
          const next = theme === "dark" ? "light" : "dark";
          setTheme(next);
          setThemeState(next);
        }}>{t("app.darkTheme")}</button>
        {props.status.auth_configured ? (
          loggedIn && <>
            <span class="user">{t("auth.signedInAs", { name: claims?.sub ?? "" })}</span>
            <button type="button" onClick={props.onLogout}>{t("auth.logout")}</button>
          </>
        ) : api.session.apiKey ? <button type="button" onClick={props.onForgetKey}>{t("auth.keyForget")}</button>
          : <span class="muted small" title={t("auth.guestHint")}>{t("auth.guest")}</span>}
      </div>
    </header>
  );
}
