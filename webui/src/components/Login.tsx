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
