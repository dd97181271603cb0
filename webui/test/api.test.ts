import { describe, expect, it } from "vitest";
import { Api, decodeClaims, describeError, Session, WORKSPACE_HEADER, WORKSPACE_NAME } from "../src/api";

function memory(): Storage {
  const data = new Map<string, string>();
  return {
    getItem: (k: string) => data.get(k) ?? null,
    setItem: (k: string, v: string) => void data.set(k, v),
    removeItem: (k: string) => void data.delete(k),
    clear: () => data.clear(), key: () => null, length: 0,
  } as Storage;
}

function token(claims: object): string {
  const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString("base64url");
  return `${b64({ alg: "HS256" })}.${b64(claims)}.sig`;
}

describe("describeError", () => {
  it("reads FastAPI's detail string", () => {
    expect(describeError(401, "Unauthorized", '{"detail":"Token expired"}')).toBe("Token expired");
  });
  it("turns validation lists into field: message", () => {
    const body = JSON.stringify({ detail: [{ loc: ["body", "query"], msg: "String should have at least 1 character" }, { loc: ["query", "limit"], msg: "too big" }] });
    expect(describeError(422, "", body)).toBe("query: String should have at least 1 character; limit: too big");
  });
  it("reads /query/data's message and OpenAI's error object", () => {
    expect(describeError(400, "", '{"status":"failure","message":"Validation error: x"}')).toBe("Validation error: x");
    expect(describeError(401, "", '{"error":{"message":"bad key"}}')).toBe("bad key");
  });
  it("never shows an HTML page, only the status", () => {
    expect(describeError(502, "Bad Gateway", "<html>proxy</html>")).toBe("502 Bad Gateway");
    expect(describeError(500, "", "")).toBe("500 error");
    expect(describeError(503, "", "upstream down")).toBe("503: upstream down");
  });
});

describe("Session", () => {
  it("sends the token and the workspace header, and remembers both", () => {
    const storage = memory();
    const session = new Session(storage);
    expect(session.headers()).toEqual({});
    session.setToken("abc");
    session.setWorkspace("team_a");
    expect(session.headers({ X: "1" })).toEqual({ X: "1", Authorization: "Bearer abc", [WORKSPACE_HEADER]: "team_a" });
    const again = new Session(storage);
    expect(again.token).toBe("abc");
    expect(again.workspace).toBe("team_a");
    again.setWorkspace("");
    again.setToken(null);
    expect(new Session(storage).headers()).toEqual({});
  });
  it("sends an API key once given, and asks for one when the server refuses it", () => {
    const session = new Session(memory());
    const asked: string[] = [];
    const unauthorized: string[] = [];
    session.onApiKeyNeeded = (m) => asked.push(m);
    session.onUnauthorized = (m) => unauthorized.push(m);
    session.refused(403, "API Key required");
    session.refused(403, "Access to workspace 'x' is not allowed");
    session.refused(401, "Token expired");
    expect(asked).toEqual(["API Key required"]);
    expect(unauthorized).toEqual(["Token expired"]);
    session.setApiKey("k-123");
    expect(session.headers()["X-API-Key"]).toBe("k-123");
    session.setApiKey(null);
    expect(session.headers()).toEqual({});
  });
  it("tells listeners about changes", () => {
    const session = new Session(memory());
    let calls = 0;
    const stop = session.subscribe(() => calls++);
    session.setWorkspace("x");
    stop();
    session.setWorkspace("y");
    expect(calls).toBe(1);
  });
  it("decodes the claims of a token for display", () => {
    expect(decodeClaims(token({ sub: "alice", role: "user" }))).toMatchObject({ sub: "alice", role: "user" });
    expect(decodeClaims("not-a-jwt")).toBeNull();
    expect(decodeClaims(null)).toBeNull();
  });
});

describe("Api", () => {
  it("builds relative URLs below the server root, keeping a stage prefix", () => {
    const api = new Api(new Session(null), "https://example.com/prod/");
    expect(api.url("documents/paginated")).toBe("https://example.com/prod/documents/paginated");
    expect(api.url("/graphs", { label: "Acme Corp", max_depth: 2, skip: undefined })).toBe("https://example.com/prod/graphs?label=Acme+Corp&max_depth=2");
  });
  it("accepts the workspace names the server accepts", () => {
    expect(WORKSPACE_NAME.test("team_a1")).toBe(true);
    expect(WORKSPACE_NAME.test("team-a")).toBe(false);
    expect(WORKSPACE_NAME.test("x".repeat(65))).toBe(false);
  });
});

describe("claims", () => {
  it("carry the workspaces of a limited account", () => {
    const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString("base64url");
    const jwt = `${b64({ alg: "HS256" })}.${b64({ sub: "bob", role: "user", workspaces: ["legal"] })}.x`;
    const session = new Session(null);
    session.setToken(jwt);
    expect(session.claims()?.workspaces).toEqual(["legal"]);
  });
});
