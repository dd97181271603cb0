import { useEffect, useState } from "preact/hooks";
import type { Api } from "./api";
import { ApiContext } from "./context";
import { Tabs, type TabId } from "./components/Tabs";
import { Header } from "./components/Header";
import { ApiKeyForm, Login } from "./components/Login";
import { Notes } from "./components/Notes";
import { Lazy } from "./components/Lazy";
import { DocumentsTab } from "./documents/DocumentsTab";
import { ApiTab } from "./components/ApiTab";
import { t } from "./i18n";
import { notify, notifyError } from "./notify";

export interface AuthStatus {
  auth_configured: boolean;
  access_token?: string;
  webui_title?: string | null;
  webui_description?: string | null;
  core_version?: string;
}

const TABS: TabId[] = ["documents", "graph", "retrieval", "api"];

function tabFromHash(): TabId {
  const id = location.hash.replace(/^#\/?/, "") as TabId;
  return TABS.includes(id) ? id : "documents";
}

export function App({ api }: { api: Api }) {
  const session = api.session;
  const [status, setStatus] = useState<AuthStatus | null>(null);
  const [loginMessage, setLoginMessage] = useState<string>("");
  const [keyMessage, setKeyMessage] = useState<string>("");
  const [, setVersion] = useState(0);
  const [tab, setTab] = useState<TabId>(tabFromHash());
  const [, setLanguage] = useState(0);

  useEffect(() => session.subscribe(() => setVersion((v) => v + 1)), []);
  useEffect(() => {
    const onHash = () => setTab(tabFromHash());
    window.addEventListener("hashchange", onHash);
    return () => window.removeEventListener("hashchange", onHash);
  }, []);
  useEffect(() => {
    api.json<AuthStatus>("auth-status").then((s) => {
      if (!s.auth_configured && s.access_token && session.claims()?.role !== "guest") session.setToken(s.access_token);
      if (s.auth_configured && session.claims()?.role !== "user") session.setToken(null);
      if (s.webui_title) document.title = s.webui_title;
      setStatus(s);
    }, notifyError);
    session.onApiKeyNeeded = (message) => {
      if (session.apiKey) session.setApiKey(null);
      setKeyMessage(message);
    };
    session.onUnauthorized = (message) => {
      if (!session.token) return;
      session.setToken(null);
      setLoginMessage(message);
      // Without accounts an expired guest token is simply replaced by a fresh one.
      api.json<AuthStatus>("auth-status").then((s) => {
        if (!s.auth_configured && s.access_token) session.setToken(s.access_token);
      }, notifyError);
    };
  }, []);

  const choose = (id: TabId) => {
    history.replaceState(null, "", `#/${id}`);
    setTab(id);
  };

  if (!status) return <main class="boot"><p class="muted">{t("common.loading")}</p><Notes /></main>;
  const needsLogin = status.auth_configured && !session.token;
  const logout = () => {
    session.setToken(null);
    setLoginMessage("");
    notify(t("auth.loggedOut"));
  };

  return (
    <ApiContext.Provider value={api}>
      <Header status={status} onLogout={logout} onForgetKey={() => { session.setApiKey(null); setKeyMessage(t("auth.keyForgotten")); }} onLanguage={() => setLanguage((v) => v + 1)} />
      {needsLogin ? (
        <Login message={loginMessage} title={status.webui_title || "LambdaRAG"} onLoggedIn={() => setLoginMessage("")} />
      ) : keyMessage ? (
        <ApiKeyForm message={keyMessage} onSaved={() => setKeyMessage("")} />
      ) : (
        <Tabs tabs={TABS} active={tab} onChoose={choose} key={`${session.workspace}|${session.apiKey ?? ""}`}>
          {(id) => {
            if (id === "documents") return <DocumentsTab />;
            if (id === "graph") return <Lazy load={() => import("./graph/GraphTab").then((m) => m.GraphTab)} props={{}} />;
            if (id === "retrieval") return <Lazy load={() => import("./retrieval/RetrievalTab").then((m) => m.RetrievalTab)} props={{}} />;
            return <ApiTab />;
          }}
        </Tabs>
      )}
      <Notes />
    </ApiContext.Provider>
  );
}
