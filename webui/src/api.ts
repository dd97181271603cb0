// The HTTP client of the UI: relative URLs, the session's token and workspace on every
// call, renewed tokens picked up, and every failure turned into words (ApiError).

export const WORKSPACE_HEADER = "LIGHTRAG-WORKSPACE";
const TOKEN_KEY = "lambdarag.token";
const WORKSPACE_KEY = "lambdarag.workspace";
const API_KEY_KEY = "lambdarag.apiKey";
export const API_KEY_HEADER = "X-API-Key";
/** The server's 403 messages when LIGHTRAG_API_KEY is set and the key is missing or wrong. */
export const API_KEY_MESSAGES = ["API Key required", "Invalid API Key", "API Key required or login authentication required."];

export class ApiError extends Error {
  constructor(public status: number, message: string) {
    super(message);
    this.name = "ApiError";
  }
}

type Listener = () => void;

/** Who is calling and in which workspace; kept in localStorage across reloads. */
export class Session {
  token: string | null;
  workspace: string;
  apiKey: string | null;
  private listeners = new Set<Listener>();
  onUnauthorized: ((message: string) => void) | null = null;
  onApiKeyNeeded: ((message: string) => void) | null = null;

  constructor(private storage: Pick<Storage, "getItem" | "setItem" | "removeItem"> | null) {
    this.token = storage?.getItem(TOKEN_KEY) ?? null;
    this.workspace = storage?.getItem(WORKSPACE_KEY) ?? "";
    this.apiKey = storage?.getItem(API_KEY_KEY) ?? null;
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private changed(): void {
    this.listeners.forEach((l) => l());
  }

  setToken(token: string | null): void {
    this.token = token;
    if (token) this.storage?.setItem(TOKEN_KEY, token);
    else this.storage?.removeItem(TOKEN_KEY);
    this.changed();
  }

  setApiKey(key: string | null): void {
    this.apiKey = key;
    if (key) this.storage?.setItem(API_KEY_KEY, key);
    else this.storage?.removeItem(API_KEY_KEY);
    this.changed();
  }

  /** Tells the app that the server refused the call for its credentials. */
  refused(status: number, message: string): void {
    if (status === 401) this.onUnauthorized?.(message);
    if (status === 403 && API_KEY_MESSAGES.includes(message)) this.onApiKeyNeeded?.(message);
  }

  setWorkspace(name: string): void {
    this.workspace = name;
    if (name) this.storage?.setItem(WORKSPACE_KEY, name);
    else this.storage?.removeItem(WORKSPACE_KEY);
    this.changed();
  }

  headers(extra: Record<string, string> = {}): Record<string, string> {
    const headers: Record<string, string> = { ...extra };
    if (this.token) headers.Authorization = `Bearer ${this.token}`;
    if (this.apiKey) headers[API_KEY_HEADER] = this.apiKey;
    if (this.workspace) headers[WORKSPACE_HEADER] = this.workspace;
    return headers;
  }

  /** The claims of the current token (unverified: for display only). */
  claims(): Claims | null {
    return decodeClaims(this.token);
  }
}

/** A token's claims: ``workspaces`` when the account is limited (AUTH_ACCOUNT_WORKSPACES). */
export interface Claims { sub?: string; role?: string; exp?: number; workspaces?: string[] }

export function decodeClaims(token: string | null): Claims | null {
  const part = token?.split(".")[1];
  if (!part) return null;
  try {
    const json = atob(part.replace(/-/g, "+").replace(/_/g, "/"));
    return JSON.parse(decodeURIComponent(escape(json)));
  } catch {
    return null;
  }
}

/** Workspace names the server accepts (the same rule as the API). */
export const WORKSPACE_NAME = /^[A-Za-z0-9_]{1,64}$/;

/** The error message of a failed response body, in words. */
export function describeError(status: number, statusText: string, body: string): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    const text = body.trim();
    return text && text.length < 300 && !text.startsWith("<") ? `${status}: ${text}` : `${status} ${statusText || "error"}`;
  }
  const p = parsed as Record<string, unknown>;
  const detail = p?.detail ?? p?.message ?? (p?.error as Record<string, unknown>)?.message ?? p?.error;
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) {
    return detail
      .map((d: { loc?: unknown[]; msg?: string }) => {
        const loc = d.loc ?? [];
        const where = (["body", "query", "path", "header"].includes(String(loc[0])) ? loc.slice(1) : loc).join(".");
        return where ? `${where}: ${d.msg}` : String(d.msg);
      })
      .join("; ");
  }
  return `${status} ${statusText || "error"}`;
}

export interface RequestOptions {
  method?: string;
  json?: unknown;
  form?: URLSearchParams | FormData;
  signal?: AbortSignal;
  query?: Record<string, string | number | boolean | undefined>;
}

export class Api {
  /** ``base`` is the server root: the folder above /webui/, keeping any stage prefix. */
  constructor(public session: Session, public base: string) {}

  url(path: string, query?: RequestOptions["query"]): string {
    const url = new URL(path.replace(/^\//, ""), this.base);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    return url.toString();
  }

  /** The raw response of a successful call; ApiError otherwise. */
  async fetch(path: string, options: RequestOptions = {}): Promise<Response> {
    const extra: Record<string, string> = {};
    let body: BodyInit | undefined;
    if (options.json !== undefined) {
      extra["Content-Type"] = "application/json";
      body = JSON.stringify(options.json);
    } else if (options.form) {
      body = options.form;
    }
    let response: Response;
    try {
      response = await fetch(this.url(path, options.query), {
        method: options.method ?? (body ? "POST" : "GET"),
        headers: this.session.headers(extra),
        body,
        signal: options.signal,
      });
    } catch (exc) {
      if ((exc as Error).name === "AbortError") throw exc;
      throw new ApiError(0, `The server cannot be reached (${(exc as Error).message})`);
    }
    this.renew(response.headers.get("X-New-Token"));
    if (!response.ok) {
      const message = describeError(response.status, response.statusText, await response.text());
      this.session.refused(response.status, message);
      throw new ApiError(response.status, message);
    }
    return response;
  }

  async json<T = unknown>(path: string, options: RequestOptions = {}): Promise<T> {
    const response = await this.fetch(path, options);
    return (await response.json()) as T;
  }

  renew(token: string | null): void {
    if (token) this.session.setToken(token);
  }

  /** Upload one file with progress (fetch has no upload progress: XMLHttpRequest). */
  upload(file: File, onProgress: (fraction: number) => void, name = file.name): Promise<{ status: string; message: string; track_id: string }> {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open("POST", this.url("documents/upload"));
      for (const [k, v] of Object.entries(this.session.headers())) xhr.setRequestHeader(k, v);
      xhr.upload.onprogress = (e) => e.lengthComputable && onProgress(e.loaded / e.total);
      xhr.onerror = () => reject(new ApiError(0, "The upload was interrupted: the server cannot be reached"));
      xhr.onload = () => {
        this.renew(xhr.getResponseHeader("X-New-Token"));
        if (xhr.status >= 200 && xhr.status < 300) {
          onProgress(1);
          resolve(JSON.parse(xhr.responseText));
        } else {
          const message = describeError(xhr.status, xhr.statusText, xhr.responseText);
          this.session.refused(xhr.status, message);
          reject(new ApiError(xhr.status, message));
        }
      };
      const form = new FormData();
      form.append("file", file, name);
      xhr.send(form);
    });
  }
}
