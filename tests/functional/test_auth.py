"""Authentication through HTTP: every mode and branch of LightRAG's decision order,
/login, /auth-status and /auth/verify, forged tokens, renewal, throttling, CORS, body limits,
the API key as a Bearer token on the chat APIs, and per-account workspaces.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import bcrypt
import jwt
import openai
import pytest
from fastapi.testclient import TestClient
from openai import OpenAI

from lambdarag.api.app import create_app
from lambdarag.config import DEFAULT_TOKEN_SECRET
from tests.fakes.llm_server import FakeLLMServer
from tests.functional.conftest import fake_settings, serve

KEY = "test-api-key-4f1c2a9e"
SECRET = "0123456789abcdef" * 4 + "-test"  # 69 bytes: long enough for HS512 too
CAROL_HASH = bcrypt.hashpw(b"carol-pw", bcrypt.gensalt(rounds=4)).decode()
ACCOUNTS = f"alice:alice-pw,bob:bob-pw,carol:{{bcrypt}}{CAROL_HASH}"
PROTECTED = "/documents/status_counts"
CHAT = {"model": "lightrag:latest", "stream": False,
        "messages": [{"role": "user", "content": "/bypass Say hi"}]}
OPENAI_CHAT = {"model": "lightrag:latest",
               "messages": [{"role": "user", "content": "/bypass Say hi"}]}


@contextmanager
def running(tmp_path: Path, fake: FakeLLMServer, **settings: Any) -> Iterator[TestClient]:
    with TestClient(create_app(fake_settings(tmp_path, fake, **settings))) as client:
        yield client


def accounts(**extra: Any) -> dict[str, Any]:
    return {"auth_accounts": ACCOUNTS, "token_secret": SECRET, **extra}


def detail(response: Any) -> str:
    return response.json()["detail"]  # type: ignore[no-any-return]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def login(client: TestClient, user: str, password: str) -> str:
    response = client.post("/login", data={"username": user, "password": password})
    assert response.status_code == 200, response.text
    return response.json()["access_token"]  # type: ignore[no-any-return]


def forge(secret: str = SECRET, algorithm: str = "HS256", **claims: Any) -> str:
    """A token signed with ``secret``; claims given as None are left out."""
    payload = {"sub": "alice", "role": "user", "exp": int(time.time()) + 3600,
               "metadata": {"auth_mode": "enabled"}, **claims}
    return jwt.encode({k: v for k, v in payload.items() if v is not None}, secret,
                      algorithm=algorithm)


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


# ------------------------------------------------------------------------ open mode


def test_open_mode_lets_everyone_in_and_hands_out_guest_tokens(
        tmp_path: Path, fake_llm: FakeLLMServer) -> None:
    with running(tmp_path, fake_llm) as client:
        # GIVEN no accounts and no key: every route answers without credentials
        assert client.get(PROTECTED).status_code == 200
        # WHEN the WebUI asks how to log in THEN it gets a guest token
        status = client.get("/auth-status").json()
        assert (status["auth_configured"], status["auth_mode"], status["token_type"]) == (
            False, "disabled", "bearer")
        assert status["message"] == "Authentication is disabled. Using guest access."
        claims = jwt.decode(status["access_token"], DEFAULT_TOKEN_SECRET, algorithms=["HS256"])
        assert (claims["sub"], claims["role"], claims["metadata"]) == (
            "guest", "guest", {"auth_mode": "disabled"})
        assert 23.9 * 3600 < claims["exp"] - time.time() <= 24 * 3600  # GUEST_TOKEN_EXPIRE_HOURS
        # AND /login gives one too, without a password check
        guest = client.post("/login", data={"username": "x", "password": "y"}).json()
        assert guest["auth_mode"] == "disabled" and "auth_configured" not in guest
        # AND a guest token is accepted, a user token is not
        assert client.get(PROTECTED, headers=bearer(guest["access_token"])).status_code == 200
        user = forge(DEFAULT_TOKEN_SECRET)
        response = client.get(PROTECTED, headers=bearer(user))
        assert (response.status_code, detail(response)) == (401, "Invalid token. Please login again.")
        response = client.get(PROTECTED, headers=bearer("a.b.c"))
        assert (response.status_code, detail(response)) == (401, "Invalid token")
        assert client.get("/auth/verify").json() == {"status": "ok"}


# --------------------------------------------------------------------- API-key mode


def test_api_key_mode_follows_the_decision_order(tmp_path: Path, fake_llm: FakeLLMServer) -> None:
    with running(tmp_path, fake_llm, lightrag_api_key=KEY) as client:
        response = client.get(PROTECTED)
        assert (response.status_code, detail(response)) == (403, "API Key required")
        response = client.get(PROTECTED, headers={"X-API-Key": "wrong"})
        assert (response.status_code, detail(response)) == (403, "Invalid API Key")
        assert client.get(PROTECTED, headers={"X-API-Key": KEY}).status_code == 200
        # A guest token is forgeable (public secret): it is ignored, the key still required
        guest = client.get("/auth-status").json()["access_token"]
        response = client.get(PROTECTED, headers=bearer(guest))
        assert (response.status_code, detail(response)) == (403, "API Key required")
        assert client.get(PROTECTED, headers={**bearer(guest), "X-API-Key": KEY}).status_code == 200
        # A user token cannot exist without accounts: refused
        response = client.get(PROTECTED, headers=bearer(forge(DEFAULT_TOKEN_SECRET)))
        assert (response.status_code, detail(response)) == (401, "Invalid token. Please login again.")
        # The key is a Bearer token on the chat APIs only
        response = client.get(PROTECTED, headers=bearer(KEY))
        assert (response.status_code, detail(response)) == (401, "Invalid token")


def test_whitelisted_and_public_routes_need_no_key(tmp_path: Path, fake_llm: FakeLLMServer) -> None:
    with running(tmp_path, fake_llm, lightrag_api_key=KEY) as client:
        # GIVEN the default WHITELIST_PATHS=/health,/api/*
        health = client.get("/health")
        assert health.status_code == 200
        # THEN anonymous callers get liveness only, key holders the configuration
        assert "configuration" not in health.json() and "working_directory" not in health.json()
        assert "configuration" in client.get("/health", headers={"X-API-Key": KEY}).json()
        assert client.get("/api/tags").status_code == 200
        assert client.get("/api/v1/models").status_code == 200  # under /api/*
        for path in ("/docs", "/openapi.json", "/auth-status"):
            assert client.get(path).status_code == 200, path
        assert client.post("/login", data={"username": "u", "password": "p"}).status_code == 200
        # AND /auth/verify ignores the whitelist
        response = client.get("/auth/verify")
        assert (response.status_code, detail(response)) == (403, "API Key required")
        assert client.get("/auth/verify", headers={"X-API-Key": KEY}).json() == {"status": "ok"}
        # AND the key scheme is documented
        schemes = client.get("/openapi.json").json()["components"]["securitySchemes"]
        assert schemes["APIKeyHeader"] == {"type": "apiKey", "in": "header", "name": "X-API-Key",
                                           "description": "LIGHTRAG_API_KEY."}


def test_whitelist_prefixes_match_whole_path_segments(tmp_path: Path, fake_llm: FakeLLMServer) -> None:
    whitelist = "/graph/*,/documents/status_counts"
    with running(tmp_path, fake_llm, lightrag_api_key=KEY, whitelist_paths=whitelist) as client:
        assert client.get("/graph/label/list").status_code == 200
        assert client.get("/graphs", params={"label": "*"}).status_code == 403  # not /graph/...
        assert client.get("/documents/status_counts").status_code == 200  # exact entry
        assert client.get("/documents/pipeline_status").status_code == 403
        assert client.get("/health").status_code == 403  # protected once it is not listed
        assert client.get("/api/tags").status_code == 403  # /api/* no longer listed
    with running(tmp_path, fake_llm, lightrag_api_key=KEY, whitelist_paths="/*") as client:
        assert client.get(PROTECTED).status_code == 200


# ---------------------------------------------------------------------- accounts mode


def test_accounts_mode_logs_in_and_requires_a_token(tmp_path: Path, fake_llm: FakeLLMServer) -> None:
    with running(tmp_path, fake_llm, **accounts()) as client:
        response = client.get(PROTECTED)
        assert (response.status_code, detail(response)) == (401, "No credentials provided. Please login.")
        status = client.get("/auth-status").json()
        assert (status["auth_configured"], status["auth_mode"]) == (True, "enabled")
        assert "access_token" not in status
        assert client.get("/health").json()["auth_mode"] == "enabled"
        # WHEN alice logs in THEN her token opens every protected route
        answer = client.post("/login", data={"username": "alice", "password": "alice-pw"})
        body = answer.json()
        assert (body["token_type"], body["auth_mode"]) == ("bearer", "enabled")
        assert {"core_version", "api_version", "webui_title"} <= set(body)
        claims = jwt.decode(body["access_token"], SECRET, algorithms=["HS256"])
        assert (claims["sub"], claims["role"], claims["metadata"]) == (
            "alice", "user", {"auth_mode": "enabled"})
        assert 47.9 * 3600 < claims["exp"] - time.time() <= 48 * 3600  # TOKEN_EXPIRE_HOURS
        assert "workspaces" not in claims  # not limited
        assert client.get(PROTECTED, headers=bearer(body["access_token"])).status_code == 200
        assert client.get("/auth/verify", headers=bearer(body["access_token"])).json() == {
            "status": "ok"}
        # AND a bcrypt account works, wrong passwords and unknown users do not
        assert client.get(PROTECTED, headers=bearer(login(client, "carol", "carol-pw"))).status_code == 200
        for user, password in (("carol", "nope"), ("alice", "bob-pw"), ("mallory", "x")):
            response = client.post("/login", data={"username": user, "password": password})
            assert (response.status_code, detail(response)) == (401, "Incorrect credentials")
        # AND the form is validated: both fields required, grant_type must be "password"
        assert client.post("/login", data={"username": "alice"}).status_code == 422
        assert client.post("/login", data={"username": "alice", "password": "alice-pw",
                                           "grant_type": "client_credentials"}).status_code == 422
        # AND a guest token (even one signed with the real secret) is refused
        guest = forge(sub="guest", role="guest")
        response = client.get(PROTECTED, headers=bearer(guest))
        assert (response.status_code, detail(response)) == (401, "Invalid token. Please login again.")


def test_an_api_key_works_instead_of_a_token(tmp_path: Path, fake_llm: FakeLLMServer) -> None:
    with running(tmp_path, fake_llm, **accounts(lightrag_api_key=KEY)) as client:
        assert client.get(PROTECTED, headers={"X-API-Key": KEY}).status_code == 200
        # In accounts mode a missing token comes first, even with a wrong key
        response = client.get(PROTECTED, headers={"X-API-Key": "wrong"})
        assert (response.status_code, detail(response)) == (401, "No credentials provided. Please login.")


def test_tokens_of_removed_accounts_stop_working(tmp_path: Path, fake_llm: FakeLLMServer) -> None:
    with running(tmp_path, fake_llm, **accounts()) as client:
        token = login(client, "bob", "bob-pw")
    with running(tmp_path, fake_llm, **accounts(auth_accounts="alice:alice-pw")) as client:
        response = client.get(PROTECTED, headers=bearer(token))
        assert (response.status_code, detail(response)) == (401, "Invalid token. Please login again.")


@pytest.mark.parametrize(("name", "make", "message"), [
    ("alg none", lambda: _b64({"alg": "none", "typ": "JWT"}) + "."
     + _b64({"sub": "alice", "role": "user", "exp": int(time.time()) + 3600}) + ".",
     "Invalid token"),
    ("wrong secret", lambda: forge("another-secret-that-is-long-enough-0000"), "Invalid token"),
    ("other algorithm", lambda: forge(algorithm="HS512"), "Invalid token"),
    ("expired", lambda: forge(exp=int(time.time()) - 10), "Token expired"),
    ("missing sub", lambda: forge(sub=None), "Invalid token"),
    ("missing exp", lambda: forge(exp=None), "Invalid token"),
    ("unknown role", lambda: forge(role="admin"), "Invalid token"),
    ("bad workspaces claim", lambda: forge(workspaces="finance"), "Invalid token"),
    ("tampered claims", lambda: _tampered(forge(sub="bob"), sub="alice"), "Invalid token"),
    ("garbage", lambda: "not-a-token-at-all.x.y", "Invalid token"),
])
def test_forged_tokens_are_rejected(tmp_path: Path, fake_llm: FakeLLMServer, name: str,
                                    make: Any, message: str) -> None:
    with running(tmp_path, fake_llm, **accounts()) as client:
        response = client.get(PROTECTED, headers=bearer(make()))
        assert (response.status_code, detail(response)) == (401, message), name
        assert response.headers["www-authenticate"] == "Bearer"


def _tampered(token: str, **changes: Any) -> str:
    head, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return ".".join((head, _b64({**claims, **changes}), signature))


# --------------------------------------------------------------------------- renewal


def test_tokens_near_expiry_are_renewed_in_x_new_token(tmp_path: Path, fake_llm: FakeLLMServer) -> None:
    with running(tmp_path, fake_llm, **accounts(cors_origins="https://ui.example")) as client:
        # GIVEN a token with 10 minutes left of 48 hours (below TOKEN_RENEW_THRESHOLD=0.5)
        near = forge(exp=int(time.time()) + 600)
        # WHEN it is used on a polled route THEN it is not renewed there
        assert "x-new-token" not in client.get("/documents/pipeline_status",
                                               headers=bearer(near)).headers
        # WHEN it is used elsewhere THEN a fresh 48-hour token comes back, exposed to browsers
        response = client.get(PROTECTED, headers={**bearer(near), "Origin": "https://ui.example"})
        assert response.status_code == 200
        fresh = jwt.decode(response.headers["x-new-token"], SECRET, algorithms=["HS256"])
        assert (fresh["sub"], fresh["role"]) == ("alice", "user")
        assert fresh["exp"] - time.time() > 47.9 * 3600
        assert "X-New-Token" in response.headers["access-control-expose-headers"]
        # AND at most once a minute per user
        assert "x-new-token" not in client.get(PROTECTED, headers=bearer(near)).headers
        # AND a fresh token is left alone
        assert "x-new-token" not in client.get(
            PROTECTED, headers=bearer(login(client, "bob", "bob-pw"))).headers


def test_renewal_can_be_switched_off(tmp_path: Path, fake_llm: FakeLLMServer) -> None:
    with running(tmp_path, fake_llm, **accounts(token_auto_renew=False)) as client:
        near = forge(exp=int(time.time()) + 600)
        assert "x-new-token" not in client.get(PROTECTED, headers=bearer(near)).headers


# -------------------------------------------------------------------------- throttle


def test_failed_logins_are_throttled_per_client_and_user(
        tmp_path: Path, fake_llm: FakeLLMServer) -> None:
    with running(tmp_path, fake_llm, **accounts()) as client:
        # GIVEN LOGIN_MAX_FAILED_ATTEMPTS=5 failures for alice
        for _ in range(5):
            response = client.post("/login", data={"username": "alice", "password": "guess"})
            assert response.status_code == 401
        # WHEN she tries again, even with the right password THEN 429 with Retry-After
        response = client.post("/login", data={"username": "alice", "password": "alice-pw"})
        assert (response.status_code, detail(response)) == (
            429, "Too many failed login attempts. Please try again later.")
        assert 1 <= int(response.headers["retry-after"]) <= 300
        # AND another username from the same client is not affected
        assert client.post("/login", data={"username": "bob", "password": "bob-pw"}).status_code == 200


def test_the_lockout_ends_after_the_window(tmp_path: Path, fake_llm: FakeLLMServer) -> None:
    with running(tmp_path, fake_llm, **accounts(login_max_failed_attempts=2,
                                                login_lockout_window_seconds=1)) as client:
        for _ in range(2):
            client.post("/login", data={"username": "alice", "password": "guess"})
        response = client.post("/login", data={"username": "alice", "password": "alice-pw"})
        assert (response.status_code, response.headers["retry-after"]) == (429, "1")
        time.sleep(1.1)
        assert client.post("/login", data={"username": "alice", "password": "alice-pw"}).status_code == 200


# ---------------------------------------------------------------------- CORS, limits


def test_cors_preflight_is_answered_without_credentials(
        tmp_path: Path, fake_llm: FakeLLMServer) -> None:
    preflight = {"Origin": "https://ui.example", "Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "x-api-key,content-type"}
    with running(tmp_path, fake_llm, lightrag_api_key=KEY) as client:
        response = client.options("/query", headers=preflight)
        assert response.status_code == 200
        assert response.headers["access-control-allow-origin"] == "*"
        assert "access-control-allow-credentials" not in response.headers
    with running(tmp_path, fake_llm, lightrag_api_key=KEY,
                 cors_origins="https://ui.example,https://admin.example") as client:
        response = client.options("/query", headers=preflight)
        assert response.headers["access-control-allow-origin"] == "https://ui.example"
        assert response.headers["access-control-allow-credentials"] == "true"
        assert client.options("/query", headers={**preflight, "Origin": "https://evil.example"}
                              ).status_code == 400


def test_bodies_over_the_limit_are_413(tmp_path: Path, fake_llm: FakeLLMServer) -> None:
    with running(tmp_path, fake_llm, max_request_body_bytes=1000, max_upload_size=1000) as client:
        message = "Request body too large. This endpoint accepts at most 1000 bytes."
        response = client.post("/query", json={"query": "x" * 2000})
        assert (response.status_code, detail(response)) == (413, message)

        def chunks() -> Iterator[bytes]:  # no Content-Length: the streamed bytes are counted
            yield b'{"query": "'
            for _ in range(10):
                yield b"x" * 200
            yield b'"}'

        response = client.post("/query", content=chunks(), headers={"Content-Type": "application/json"})
        assert (response.status_code, detail(response)) == (413, message)
        response = client.post("/documents/text", json={"text": "x" * 2000})  # set explicitly
        assert (response.status_code, detail(response)) == (413, message)
        # /documents/upload allows MAX_UPLOAD_SIZE plus 1 MiB of multipart framing ...
        big = {"file": ("big.txt", b"x" * (1 << 20) + b"x" * 2000, "text/plain")}
        response = client.post("/documents/upload", files=big)
        assert (response.status_code, detail(response)) == (
            413, "Request body too large. This endpoint accepts at most 1049576 bytes.")
        # ... and the file itself MAX_UPLOAD_SIZE (the route's own check)
        response = client.post("/documents/upload", files={"file": ("a.txt", b"x" * 2000)})
        assert response.status_code == 413 and detail(response).startswith("File too large.")
        # AND small bodies pass
        assert client.post("/query", json={"query": "/bypass hi", "mode": "bypass"}).status_code == 200


def test_text_routes_accept_50_mib_unless_the_limit_is_set(
        tmp_path: Path, fake_llm: FakeLLMServer) -> None:
    with running(tmp_path, fake_llm) as client:
        big = json.dumps({"texts": "not a list", "pad": "x" * (2 << 20)})
        # past the 1 MiB default for ordinary routes, but parsed (422) on /documents/texts
        assert client.post("/documents/texts", content=big,
                           headers={"Content-Type": "application/json"}).status_code == 422
        assert client.post("/query", content=big,
                           headers={"Content-Type": "application/json"}).status_code == 413


# ---------------------------------------------------------------- chat API bearer keys


def test_chat_apis_take_the_api_key_as_a_bearer_token(
        tmp_path: Path, fake_llm: FakeLLMServer) -> None:
    with running(tmp_path, fake_llm, lightrag_api_key=KEY, whitelist_paths="/health") as client:
        # Ollama routes: the contract's statuses, with "detail" and "error"
        response = client.get("/api/tags")
        assert (response.status_code, response.json()) == (
            403, {"detail": "API Key required", "error": "API Key required"})
        response = client.get("/api/tags", headers=bearer("wrong-key"))
        assert (response.status_code, response.json()["error"]) == (403, "Invalid API Key")
        assert client.get("/api/tags", headers={"X-API-Key": KEY}).status_code == 200
        response = client.post("/api/chat", json=CHAT, headers=bearer(KEY))
        assert response.status_code == 200 and response.json()["done"] is True
        # OpenAI routes: 401 in OpenAI's error shape
        response = client.post("/v1/chat/completions", json=OPENAI_CHAT)
        assert response.status_code == 401
        assert response.json() == {"error": {"message": "API Key required",
                                             "type": "invalid_request_error", "param": None,
                                             "code": "invalid_api_key"}}
        response = client.get("/api/v1/models", headers=bearer("wrong-key"))
        assert (response.status_code, response.json()["error"]["message"]) == (401, "Invalid API Key")
        response = client.post("/v1/chat/completions", json=OPENAI_CHAT, headers=bearer(KEY))
        assert response.status_code == 200
        assert response.json()["choices"][0]["message"]["content"]


def test_the_openai_sdk_authenticates_with_its_api_key(
        tmp_path: Path, fake_llm: FakeLLMServer) -> None:
    app = create_app(fake_settings(tmp_path, fake_llm, lightrag_api_key=KEY))
    with serve(app) as url:
        with OpenAI(base_url=f"{url}/v1", api_key=KEY, max_retries=0) as sdk:
            assert [m.id for m in sdk.models.list()] == ["lightrag:latest"]
            answer = sdk.chat.completions.create(model="lightrag:latest", messages=[
                {"role": "user", "content": "/bypass Say hi"}])
            assert answer.choices[0].message.content
        with OpenAI(base_url=f"{url}/v1", api_key="sk-wrong", max_retries=0) as sdk, \
                pytest.raises(openai.AuthenticationError) as refused:
            sdk.models.list()
        assert refused.value.code == "invalid_api_key"


def test_chat_apis_take_login_tokens(tmp_path: Path, fake_llm: FakeLLMServer) -> None:
    with running(tmp_path, fake_llm, **accounts(whitelist_paths="/health")) as client:
        token = login(client, "alice", "alice-pw")
        assert client.get("/v1/models", headers=bearer(token)).status_code == 200
        assert client.post("/api/chat", json=CHAT, headers=bearer(token)).status_code == 200
        response = client.get("/api/tags", headers=bearer("not-a-jwt"))
        assert (response.status_code, response.json()["error"]) == (401, "Invalid token")
    with running(tmp_path, fake_llm, **accounts(whitelist_paths="/health",
                                                lightrag_api_key=KEY)) as client:
        assert client.get("/api/tags", headers=bearer(KEY)).status_code == 200
        response = client.get("/api/tags", headers=bearer("sk-wrong"))  # a key, not a token
        assert (response.status_code, response.json()["error"]) == (401, "Invalid API Key")


# ------------------------------------------------------------- per-account workspaces


@pytest.fixture
def tenants(tmp_path: Path, fake_llm: FakeLLMServer) -> Iterator[tuple[TestClient, str, str]]:
    """Alice may use finance and hr; bob everything. finance, hr and legal exist."""
    settings = accounts(auth_account_workspaces="alice:finance|hr,bob:*",
                        whitelist_paths="/health")
    with running(tmp_path, fake_llm, **settings) as client:
        bob = login(client, "bob", "bob-pw")
        for name in ("finance", "hr", "legal"):
            response = client.get(PROTECTED, headers={**bearer(bob), "LIGHTRAG-WORKSPACE": name})
            assert response.status_code == 200
        yield client, login(client, "alice", "alice-pw"), bob


def test_accounts_use_only_their_workspaces(tenants: tuple[TestClient, str, str]) -> None:
    client, alice, bob = tenants
    # GIVEN alice's token carries her workspaces
    assert jwt.decode(alice, SECRET, algorithms=["HS256"])["workspaces"] == ["finance", "hr"]
    # THEN another workspace is 403 on every kind of route, one of hers works
    for method, path, body in (("GET", PROTECTED, None), ("POST", "/query/data", {"query": "Who founded Acme Corp?"}),
                               ("GET", "/graph/label/list", None)):
        for name, status in (("legal", 403), ("hr", 200)):
            response = client.request(method, path, json=body,
                                      headers={**bearer(alice), "LIGHTRAG-WORKSPACE": name})
            assert response.status_code == status, (path, name, response.text)
        response = client.request(method, path, json=body,
                                  headers={**bearer(alice), "LIGHTRAG-WORKSPACE": "legal"})
        assert detail(response) == "Workspace 'legal' is not allowed for this account"
    # AND without a header her default is her first workspace (WORKSPACE "" is not hers)
    health = client.get("/health", headers=bearer(alice)).json()
    assert health["configuration"]["workspace"] == "finance"
    assert client.get(PROTECTED, headers={**bearer(bob), "LIGHTRAG-WORKSPACE": "legal"}).status_code == 200
    # AND a token from before a limit was tightened is narrowed by today's settings
    old = forge(workspaces=["finance", "hr", "legal"])
    response = client.get(PROTECTED, headers={**bearer(old), "LIGHTRAG-WORKSPACE": "legal"})
    assert response.status_code == 403


def test_chat_apis_list_and_open_only_allowed_knowledge_bases(
        tenants: tuple[TestClient, str, str]) -> None:
    client, alice, bob = tenants
    tags = [m["name"] for m in client.get("/api/tags", headers=bearer(alice)).json()["models"]]
    assert tags == ["lightrag:latest", "lightrag:hr"]  # latest is finance, her default
    models = [m["id"] for m in client.get("/v1/models", headers=bearer(alice)).json()["data"]]
    assert models == ["lightrag:latest", "lightrag:hr"]
    everything = [m["id"] for m in client.get("/v1/models", headers=bearer(bob)).json()["data"]]
    assert {"lightrag:finance", "lightrag:hr", "lightrag:legal"} <= set(everything)
    # WHEN alice names another knowledge base THEN 403, whether or not it exists
    for model in ("lightrag:legal", "lightrag:nowhere"):
        response = client.post("/api/chat", json={**CHAT, "model": model}, headers=bearer(alice))
        message = f"Workspace '{model.split(':')[1]}' is not allowed for this account"
        assert (response.status_code, response.json()) == (403, {"detail": message, "error": message})
        response = client.post("/v1/chat/completions", json={**OPENAI_CHAT, "model": model},
                               headers=bearer(alice))
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "workspace_not_allowed"
    assert client.post("/api/chat", json={**CHAT, "model": "lightrag:hr"},
                       headers=bearer(alice)).status_code == 200
    # AND for bob an unknown model is still 404
    response = client.post("/api/chat", json={**CHAT, "model": "lightrag:nowhere"}, headers=bearer(bob))
    assert response.status_code == 404
