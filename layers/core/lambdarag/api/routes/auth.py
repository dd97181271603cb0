"""``/auth-status``, ``/login`` and ``/auth/verify``.

``/auth-status`` and ``/login`` never need credentials. Without AUTH_ACCOUNTS both hand
out a guest token; with accounts, ``/login`` checks the password (throttled per client IP
and username) and returns a user token. ``/auth/verify`` checks whatever credentials the
request carries, ignoring WHITELIST_PATHS.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.security import OAuth2PasswordRequestForm

from lambdarag import API_VERSION, __version__
from lambdarag.api.auth import (
    API_KEY_HEADER,
    INCORRECT_CREDENTIALS,
    TOO_MANY_ATTEMPTS,
    BearerDep,
    authenticator,
)
from lambdarag.api.deps import SettingsDep
from lambdarag.api.schemas import error_response, example_response
from lambdarag.config import Settings

router = APIRouter(tags=["auth"])

GUEST_MESSAGE = "Authentication is disabled. Using guest access."
TOKEN_EXAMPLE = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl"


def _about(settings: Settings) -> dict[str, Any]:
    return {"core_version": __version__, "api_version": API_VERSION,
            "webui_title": settings.webui_title, "webui_description": settings.webui_description,
            "ai_content_notice_enabled": False}


def _guest(request: Request, settings: Settings) -> dict[str, Any]:
    return {"access_token": authenticator(request).guest_token(), "token_type": "bearer",
            "auth_mode": "disabled", "message": GUEST_MESSAGE, **_about(settings)}


@router.get(
    "/auth-status", summary="Authentication mode (and a guest token when it is off)",
    responses={200: example_response(
        "Without AUTH_ACCOUNTS: a guest token. With accounts: auth_configured true, no token.",
        {"auth_configured": False, "access_token": TOKEN_EXAMPLE, "token_type": "bearer",
         "auth_mode": "disabled", "message": GUEST_MESSAGE, "core_version": "0.1.0",
         "api_version": "0344", "webui_title": None, "webui_description": None,
         "ai_content_notice_enabled": False})},
)
async def auth_status(request: Request, settings: SettingsDep) -> dict[str, Any]:
    """Whether login is required. Never needs credentials."""
    if not settings.accounts:
        return {"auth_configured": False, **_guest(request, settings)}
    return {"auth_configured": True, "auth_mode": "enabled", **_about(settings)}


@router.post(
    "/login", summary="Log in (OAuth2 password form) for a bearer token",
    responses={
        200: example_response("A token to send as Authorization: Bearer <token>.",
                              {"access_token": TOKEN_EXAMPLE, "token_type": "bearer",
                               "auth_mode": "enabled", "core_version": "0.1.0",
                               "api_version": "0344", "webui_title": None,
                               "webui_description": None, "ai_content_notice_enabled": False}),
        401: error_response("Wrong username or password.", INCORRECT_CREDENTIALS),
        429: error_response("Too many failures from this client for this username; see the "
                            "Retry-After header.", TOO_MANY_ATTEMPTS),
    },
)
async def login(form: Annotated[OAuth2PasswordRequestForm, Depends()], request: Request,
                settings: SettingsDep) -> dict[str, Any]:
    """Check ``username`` and ``password`` against AUTH_ACCOUNTS and return a token valid
    for TOKEN_EXPIRE_HOURS. Without accounts, a guest token (no password needed).

    After LOGIN_MAX_FAILED_ATTEMPTS failures from one client IP for one username within
    LOGIN_LOCKOUT_WINDOW_SECONDS, further attempts get 429 with ``Retry-After``.
    """
    if not settings.accounts:
        return _guest(request, settings)
    client = request.client.host if request.client else "unknown"
    token = await authenticator(request).login(form.username, form.password, client)
    return {"access_token": token, "token_type": "bearer", "auth_mode": "enabled",
            **_about(settings)}


@router.get(
    "/auth/verify", summary="Check the request's credentials",
    responses={200: example_response("The credentials are valid.", {"status": "ok"}),
               401: error_response("Missing, invalid or expired token.", "Token expired"),
               403: error_response("Missing or wrong API key.", "Invalid API Key")},
)
async def verify(request: Request, bearer: BearerDep) -> dict[str, str]:
    """``{"status": "ok"}`` when the bearer token or ``X-API-Key`` would be accepted on a
    protected route. WHITELIST_PATHS does not apply here."""
    authenticator(request).authorize(request, bearer, request.headers.get(API_KEY_HEADER),
                                     ignore_whitelist=True)
    return {"status": "ok"}
