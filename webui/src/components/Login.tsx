import { useState } from "preact/hooks";
import { useApi } from "../context";
import { t } from "../i18n";

export function Login(props: { message: string; title: string; onLoggedIn: () => void }) {
  const api = useApi();
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    const form = new FormData(e.currentTarget as HTMLFormElement);
    setBusy(true);
    setError("");
    try {
      const body = new URLSearchParams({ username: String(form.get("username")), password: String(form.get("password")) });
      const reply = await api.json<{ access_token: string }>("login", { form: body, method: "POST" });
      api.session.setToken(reply.access_token);
      props.onLoggedIn();
    } catch (exc) {
      setError((exc as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="login">
      <form class="card stack" onSubmit={submit} aria-labelledby="login-title">
        <h1 id="login-title">{t("auth.title", { title: props.title })}</h1>
        {props.message && <p class="muted">{props.message}</p>}
        <label>{t("auth.username")}<input name="username" autoComplete="username" required /></label>
        <label>{t("auth.password")}<input name="password" type="password" autoComplete="current-password" required /></label>
        {error && <p role="alert" class="error-text">{error}</p>}
        <button type="submit" class="primary" disabled={busy}>{t("auth.login")}</button>
      </form>
    </main>
  );
}

/** With LIGHTRAG_API_KEY set (and no accounts) every call needs the key: ask for it once. */
export function ApiKeyForm(props: { message: string; onSaved: () => void }) {
  const api = useApi();
  return (
    <main class="login">
      <form class="card stack" aria-labelledby="key-title" onSubmit={(e) => {
        e.preventDefault();
        const key = String(new FormData(e.currentTarget as HTMLFormElement).get("key") ?? "").trim();
        if (!key) return;
        api.session.setApiKey(key);
        props.onSaved();
      }}>
        <h1 id="key-title">{t("auth.keyTitle")}</h1>
        <p class="muted">{t("auth.keyHelp")}</p>
        {props.message && <p role="alert" class="error-text">{props.message}</p>}
        <label>{t("auth.key")}<input name="key" type="password" autoComplete="off" required /></label>
        <button type="submit" class="primary">{t("auth.keySave")}</button>
      </form>
    </main>
  );
}
