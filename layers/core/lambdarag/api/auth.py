"""Authentication and authorisation (docs/SECURITY.md).

Three modes, from the settings: *open* (no AUTH_ACCOUNTS, no LIGHTRAG_API_KEY), *API key*
(``X-API-Key``) and *accounts* (``/login`` issues an HS256 JWT, sent as
``Authorization: Bearer``; an API key, if configured, is accepted instead). A route's guard
(:func:`guard`) applies LightRAG's decision order in :meth:`Authenticator.authorize`
and leaves a :class:`Principal` on ``request.state``, from which ``deps`` picks the
workspaces the caller may use (AUTH_ACCOUNT_WORKSPACES, carried in the token's
``workspaces`` claim).

The chat APIs (``/api/*``, ``/v1/*``) also take the API key as ``Authorization: Bearer
<key>``, which is how Open WebUI, Dify and the OpenAI SDK send keys; their errors use their
own shapes (see :class:`ApiError`).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import math
import re
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import Depends, HTTPException, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from starlette.types import Scope

from lambdarag.config import BCRYPT_PREFIX, Settings

API_KEY_HEADER = "X-API-Key"
NEW_TOKEN_HEADER = "X-New-Token"
USER, GUEST = "user", "guest"
# Polled often by the WebUI, so never renewed; sub-paths included.
NO_RENEWAL_PATHS = ("/health", "/documents/paginated", "/documents/pipeline_status")
RENEWAL_INTERVAL = 60.0  # seconds: at most one renewal per username
MAX_TRACKED = 10_000  # keys kept by the throttle and the renewal log before pruning
BCRYPT_MAX_BYTES = 72  # bcrypt reads no further; older libraries truncated silently

# LightRAG's literal messages: clients may match on them.
INVALID_TOKEN = "Invalid token"
TOKEN_EXPIRED = "Token expired"
LOGIN_AGAIN = "Invalid token. Please login again."
NO_CREDENTIALS = "No credentials provided. Please login."
INVALID_API_KEY = "Invalid API Key"
API_KEY_REQUIRED = "API Key required"
KEY_OR_LOGIN = "API Key required or login authentication required."
INCORRECT_CREDENTIALS = "Incorrect credentials"
TOO_MANY_ATTEMPTS = "Too many failed login attempts. Please try again later."

Mode = Literal["open", "api_key", "accounts"]
_JWT_SHAPE = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")


class ApiError(HTTPException):
    """An error in the shape of the route family that raised it.

    The app answers ``{"detail": ...}``, adding ``"error"`` on the Ollama routes; the
    OpenAI routes answer ``{"error": {message, type, param, code}}`` with ``code``.
    """

    def __init__(self, status_code: int, detail: str, *, code: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(status_code, detail, headers)
        self.code = code


@dataclass(frozen=True)
class Principal:
    """Who is calling: ``workspaces`` None means every workspace."""

    kind: Literal["anonymous", "open", "guest", "user", "api_key"]
    authenticated: bool
    name: str | None = None
    workspaces: tuple[str, ...] | None = None

    def allows(self, workspace: str) -> bool:
        return self.workspaces is None or workspace in self.workspaces

    def default_workspace(self, configured: str) -> str:
        """WORKSPACE when allowed, else the first workspace of the account's list."""
        if self.workspaces is None or configured in self.workspaces:
            return configured
        return self.workspaces[0]


# ------------------------------------------------------------------------------ paths


def route_path(scope: Scope) -> str:
    """The request path without the ASGI ``root_path`` (LIGHTRAG_API_PREFIX, a gateway stage)."""
    path: str = scope["path"]
    root = scope.get("root_path", "").rstrip("/")
    if root and (path == root or path.startswith(root + "/")):
        path = path[len(root):] or "/"
    return path


def whitelisted(path: str, patterns: tuple[str, ...]) -> bool:
    """WHITELIST_PATHS: ``/x/*`` matches ``/x`` and ``/x/...`` (not ``/xy``); ``/*``
    matches everything; any other entry must equal the path."""
    for pattern in patterns:
        if pattern.endswith("/*"):
            prefix = pattern[:-2]
            if not prefix or path == prefix or path.startswith(prefix + "/"):
                return True
        elif path == pattern:
            return True
    return False


def is_openai_path(path: str) -> bool:
    """The OpenAI-shaped routes: ``/v1/*``, ``/api/v1/*``, and Open WebUI's chat and models."""
    return path.startswith(("/v1/", "/api/v1/")) or path in ("/api/chat/completions",
                                                            "/api/models")


def is_chat_path(path: str) -> bool:
    """The Ollama (``/api/*``, and ``/ollama/api/*`` as Open WebUI proxies it), OpenAI
    (``/v1/*``, ``/api/v1/*``) and Open WebUI (``/api/*``) routes."""
    return path == "/api" or path.startswith(("/api/", "/v1/", "/ollama/"))


def _same(given: str, expected: str) -> bool:
    """Constant-time equality of two secrets (digests, so lengths leak nothing either)."""
    return hmac.compare_digest(hashlib.sha256(given.encode()).digest(),
                               hashlib.sha256(expected.encode()).digest())


# ----------------------------------------------------------------------------- tokens


class Tokens:
    """Issues and checks the server's JWTs: ``sub``, ``exp``, ``role``, ``metadata``,
    plus ``workspaces`` for an account limited by AUTH_ACCOUNT_WORKSPACES."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def lifetime(self, role: str) -> float:
        hours = self.settings.token_expire_hours if role == USER else (
            self.settings.guest_token_expire_hours)
        return hours * 3600

    def issue(self, sub: str, role: str, workspaces: tuple[str, ...] | None = None) -> str:
        now = time.time()
        claims: dict[str, Any] = {
            "sub": sub, "exp": int(now + self.lifetime(role)), "role": role,
            "metadata": {"auth_mode": "enabled" if role == USER else "disabled"},
        }
        if workspaces is not None:
            claims["workspaces"] = list(workspaces)
        import jwt  # PyJWT (and its crypto backends) only once a token is made or read

        return jwt.encode(claims, self.settings.jwt_secret, algorithm=self.settings.jwt_algorithm)

    def decode(self, token: str) -> dict[str, Any]:
        """The claims of a valid token; 401 ``Token expired`` or ``Invalid token`` otherwise."""
        import jwt

        try:
            claims = jwt.decode(token, self.settings.jwt_secret,
                                algorithms=[self.settings.jwt_algorithm],
                                options={"require": ["exp", "sub"]})
        except jwt.ExpiredSignatureError:
            raise ApiError(401, TOKEN_EXPIRED) from None
        except jwt.InvalidTokenError:
            raise ApiError(401, INVALID_TOKEN) from None
        sub, workspaces = claims.get("sub"), claims.get("workspaces")
        if (not isinstance(sub, str) or not sub or len(sub) > 256
                or claims.get("role") not in (USER, GUEST)
                or (workspaces is not None and not (
                    isinstance(workspaces, list) and all(isinstance(w, str) for w in workspaces)))):
            raise ApiError(401, INVALID_TOKEN)
        return claims


# ------------------------------------------------------------------------ throttling


class LoginThrottle:
    """Failed logins per (client IP, username) in a sliding window.

    An attempt counts as failed from the moment it starts and is forgiven when it
    succeeds, so concurrent guesses cannot slip past the limit. ``max_failures`` 0
    disables the throttle.
    """

    def __init__(self, max_failures: int, window: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_failures = max_failures
        self.window = window
        self.clock = clock
        self._failures: dict[tuple[str, str], deque[float]] = {}

    def _recent(self, key: tuple[str, str]) -> deque[float]:
        now = self.clock()
        times = self._failures.setdefault(key, deque())
        while times and times[0] <= now - self.window:
            times.popleft()
        return times

    def retry_after(self, key: tuple[str, str]) -> int | None:
        """Seconds until ``key`` may try again, or None when it may try now."""
        if not self.max_failures:
            return None
        times = self._recent(key)
        if len(times) < self.max_failures:
            return None
        return max(1, math.ceil(times[0] + self.window - self.clock()))

    def attempt(self, key: tuple[str, str]) -> None:
        if self.max_failures:
            self._prune()
            self._recent(key).append(self.clock())

    def succeeded(self, key: tuple[str, str]) -> None:
        self._failures.pop(key, None)

    def _prune(self) -> None:
        if len(self._failures) >= MAX_TRACKED:
            cutoff = self.clock() - self.window
            for key in [k for k, t in self._failures.items() if not t or t[-1] <= cutoff]:
                del self._failures[key]


# ------------------------------------------------------------------------- passwords


def check_password(stored: str, given: str) -> bool:
    """``given`` against an AUTH_ACCOUNTS secret: ``{bcrypt}<hash>`` or plaintext.

    Both comparisons take constant time. Blocking (bcrypt takes ~0.2 s at cost 12):
    call it in a thread.
    """
    if stored.startswith(BCRYPT_PREFIX):
        import bcrypt

        password = given.encode()[:BCRYPT_MAX_BYTES]
        return bcrypt.checkpw(password, stored[len(BCRYPT_PREFIX):].encode())
    return _same(given, stored)


# ----------------------------------------------------------------------- the decision


class Authenticator:
    """One app's authentication state: settings, token issuer, login throttle, renewals."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.tokens = Tokens(settings)
        self.throttle = LoginThrottle(settings.login_max_failed_attempts,
                                      settings.login_lockout_window_seconds)
        self._renewed: dict[str, float] = {}
        self._decoy: str | None = None

    @property
    def mode(self) -> Mode:
        if self.settings.accounts:
            return "accounts"
        return "api_key" if self.settings.lightrag_api_key else "open"

    def authorize(self, request: Request, bearer: str | None, api_key: str | None, *,
                  ignore_whitelist: bool = False) -> Principal:
        """The caller of ``request``, or ApiError (401/403) in LightRAG's order.

        A whitelisted path lets everyone in; credentials that happen to be valid still
        identify the caller (for /health's details and workspace limits).
        """
        path = route_path(request.scope)
        if ignore_whitelist or not whitelisted(path, self.settings.whitelist):
            return self._decide(request, path, bearer, api_key)
        try:
            return self._decide(request, path, bearer, api_key)
        except ApiError:
            return Principal("anonymous", authenticated=False)

    def _decide(self, request: Request, path: str, bearer: str | None,
                api_key: str | None) -> Principal:
        key, mode = self.settings.lightrag_api_key, self.mode
        key_as_bearer = False
        if bearer and is_chat_path(path) and (key or mode == "open"):
            # Chat clients send API keys as Bearer tokens (OpenAI SDK, Open WebUI, Dify): the
            # key, or any value that is not a JWT, is checked as an API key (ignored when open).
            key_as_bearer = bool(key and _same(bearer, key)) or not _JWT_SHAPE.fullmatch(bearer)
            if key_as_bearer:
                bearer, api_key = None, bearer
        if bearer:
            try:
                claims = self.tokens.decode(bearer)
            except ApiError as exc:
                raise self._refuse(exc.status_code, str(exc.detail), path) from None
            role = claims["role"]
            if mode == "open" and role == GUEST:
                self._renew(request, path, claims)
                return Principal("guest", authenticated=True, name=claims["sub"])
            if mode == "accounts" and role != GUEST:
                principal = self._user(claims, path)
                self._renew(request, path, claims)
                return principal
            if not (mode == "api_key" and role == GUEST):
                raise self._refuse(401, LOGIN_AGAIN, path)
            # API-key mode: guest tokens are signed with the public fallback secret, so
            # anyone can make one; ignore it and require the key (as LightRAG 1.5 does).
        if mode == "open":
            return Principal("open", authenticated=True)
        if key and api_key and _same(api_key, key):
            return Principal("api_key", authenticated=True, name="api_key")
        if mode == "accounts":  # (any token was accepted or refused above)
            raise self._refuse(401, INVALID_API_KEY if key_as_bearer else NO_CREDENTIALS, path)
        if key and api_key:
            raise self._refuse(403, INVALID_API_KEY, path)
        if key:
            raise self._refuse(403, API_KEY_REQUIRED, path)
        raise self._refuse(403, KEY_OR_LOGIN, path)

    def _user(self, claims: dict[str, Any], path: str) -> Principal:
        """An account's principal: its token's workspaces, narrowed by today's settings.

        A token of an account removed from AUTH_ACCOUNTS no longer works.
        """
        name = claims["sub"]
        if name not in self.settings.accounts:
            raise self._refuse(401, LOGIN_AGAIN, path)
        configured = self.settings.account_workspaces.get(name)
        claimed = claims.get("workspaces")
        allowed = configured
        if claimed is not None:
            base = configured if configured is not None else tuple(claimed)
            allowed = tuple(w for w in base if w in claimed)
        if allowed == ():
            raise self._refuse(401, LOGIN_AGAIN, path)
        return Principal("user", authenticated=True, name=name, workspaces=allowed)

    @staticmethod
    def _refuse(status: int, message: str, path: str) -> ApiError:
        """Credential errors; OpenAI's API answers every one with 401 ``invalid_api_key``."""
        if is_openai_path(path):
            status = 401
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return ApiError(status, message, code="invalid_api_key", headers=headers)

    def _renew(self, request: Request, path: str, claims: dict[str, Any]) -> None:
        """Sliding expiry: a fresh token in ``X-New-Token`` once less than
        TOKEN_RENEW_THRESHOLD of its lifetime is left, at most once a minute per user."""
        settings, role, name = self.settings, claims["role"], claims["sub"]
        if not settings.token_auto_renew or any(
                path == p or path.startswith(p + "/") for p in NO_RENEWAL_PATHS):
            return
        if claims["exp"] - time.time() >= settings.token_renew_threshold * self.tokens.lifetime(
                role):
            return
        now = time.monotonic()
        last = self._renewed.get(name)
        if last is not None and now - last < RENEWAL_INTERVAL:
            return
        if len(self._renewed) >= MAX_TRACKED:
            self._renewed = {k: t for k, t in self._renewed.items()
                             if now - t < RENEWAL_INTERVAL}
        self._renewed[name] = now
        workspaces = settings.account_workspaces.get(name) if role == USER else None
        request.state.new_token = self.tokens.issue(name, role, workspaces)

    # ------------------------------------------------------------------- logging in

    def guest_token(self) -> str:
        return self.tokens.issue(GUEST, GUEST)

    async def login(self, username: str, password: str, client: str) -> str:
        """A user token for valid credentials; 401, or 429 with Retry-After when throttled."""
        key = (client, username)
        wait = self.throttle.retry_after(key)
        if wait is not None:
            raise ApiError(429, TOO_MANY_ATTEMPTS, headers={"Retry-After": str(wait)})
        self.throttle.attempt(key)
        if not await asyncio.to_thread(self._verify, username, password):
            raise ApiError(401, INCORRECT_CREDENTIALS)
        self.throttle.succeeded(key)
        return self.tokens.issue(username, USER, self.settings.account_workspaces.get(username))

    def _verify(self, username: str, password: str) -> bool:
        stored = self.settings.accounts.get(username)
        if stored is None:  # as slow as a real check, so timing does not reveal names
            check_password(self._decoy_secret(), password)
            return False
        return check_password(stored, password)

    def _decoy_secret(self) -> str:
        if self._decoy is None:
            hashes = [s for s in self.settings.accounts.values() if s.startswith(BCRYPT_PREFIX)]
            if hashes:
                import bcrypt

                cost = max(int(h[len(BCRYPT_PREFIX):].split("$")[2]) for h in hashes)
                salt = bcrypt.gensalt(rounds=cost)
                self._decoy = BCRYPT_PREFIX + bcrypt.hashpw(b"decoy", salt).decode()
            else:
                self._decoy = "decoy-" + hashlib.sha256(b"decoy").hexdigest()
        return self._decoy


# ------------------------------------------------------------------- the dependency

_bearer_scheme = HTTPBearer(
    auto_error=False, bearerFormat="JWT",
    description="A token from POST /login (AUTH_ACCOUNTS). On the chat APIs (/api/*, /v1/*) "
                "the API key is also accepted here.")
_api_key = APIKeyHeader(name=API_KEY_HEADER, auto_error=False,
                        description="LIGHTRAG_API_KEY.")


def _bearer(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer_scheme)],
) -> str | None:
    return credentials.credentials if credentials else None


BearerDep = Annotated[str | None, Depends(_bearer)]


def authenticator(request: Request) -> Authenticator:
    return request.app.state.auth  # type: ignore[no-any-return]


async def _guard_with_key(request: Request, bearer: BearerDep,
                          api_key: Annotated[str | None, Depends(_api_key)]) -> Principal:
    principal = authenticator(request).authorize(request, bearer, api_key)
    request.state.principal = principal
    return principal


async def _guard_without_key(request: Request, bearer: BearerDep) -> Principal:
    principal = authenticator(request).authorize(request, bearer, None)
    request.state.principal = principal
    return principal


def guard(settings: Settings) -> Callable[..., Any]:
    """The dependency every protected router is included with.

    The ``X-API-Key`` scheme appears in the OpenAPI document only when a key is configured.
    """
    return _guard_with_key if settings.lightrag_api_key else _guard_without_key
