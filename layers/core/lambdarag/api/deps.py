"""FastAPI dependencies: the engine, the settings, the caller and the request's workspace."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from lambdarag.api.auth import ApiError, Principal
from lambdarag.chat.conversation import ModelInfo, list_models, workspace_for_model
from lambdarag.config import Settings
from lambdarag.runtime.engine import Engine
from lambdarag.utils import InvalidWorkspaceName, check_workspace_name
from lambdarag.workspace.workspace import Workspace

WORKSPACE_HEADER = "LIGHTRAG-WORKSPACE"


def get_engine(request: Request) -> Engine:
    return request.app.state.engine  # type: ignore[no-any-return]


def get_settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


def get_principal(request: Request) -> Principal:
    """The caller, as the router's auth guard (``auth.guard``) recorded it."""
    principal = getattr(request.state, "principal", None)
    if principal is None:  # fail closed: a router was included without the guard
        raise RuntimeError(f"{request.url.path} has no auth guard; include its router in "
                           "create_app with dependencies=[Depends(auth.guard(settings))]")
    return principal  # type: ignore[no-any-return]


EngineDep = Annotated[Engine, Depends(get_engine)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]


def not_allowed(workspace: str) -> ApiError:
    return ApiError(403, f"Workspace '{workspace}' is not allowed for this account",
                    code="workspace_not_allowed")


def resolve_workspace(header: str | None, settings: Settings, principal: Principal) -> str:
    """The workspace a request names: 400 for an invalid name, 403 for one the account may
    not use; without a name, WORKSPACE (or the account's first workspace)."""
    name = (header or "").strip()
    if not name:
        return principal.default_workspace(settings.workspace)
    try:
        check_workspace_name(name)
    except InvalidWorkspaceName as exc:
        raise ApiError(400, str(exc), code="invalid_workspace") from None
    if not principal.allows(name):
        raise not_allowed(name)
    return name


def get_workspace_name(
    settings: SettingsDep,
    principal: PrincipalDep,
    workspace: Annotated[
        str | None,
        Header(alias=WORKSPACE_HEADER,
               description="Workspace to use (default: WORKSPACE): 1 to 64 characters from "
                           "A-Z, a-z, 0-9 and _."),
    ] = None,
) -> str:
    return resolve_workspace(workspace, settings, principal)


WorkspaceNameDep = Annotated[str, Depends(get_workspace_name)]


async def get_workspace(engine: EngineDep, name: WorkspaceNameDep) -> Workspace:
    return await engine.workspace(name)


WorkspaceDep = Annotated[Workspace, Depends(get_workspace)]


# ------------------------------------------------------- knowledge bases as chat models


def visible_models(engine: Engine, settings: Settings, default: str,
                   principal: Principal) -> list[ModelInfo]:
    """The knowledge bases the caller may use, as models (``chat.list_models``)."""
    return [m for m in list_models(engine, settings, default) if principal.allows(m.workspace)]


def model_workspace(model: str | None, engine: Engine, settings: Settings, default: str,
                    principal: Principal) -> str:
    """The workspace a chat ``model`` names (``chat.workspace_for_model``), 403 when the
    account may not use it. Checked before existence, so a 403 reveals nothing."""
    prefix = f"{settings.ollama_emulating_model_name}:"
    if model and model.startswith(prefix):
        tag = model[len(prefix):]
        if tag != settings.ollama_emulating_model_tag and not principal.allows(tag):
            raise not_allowed(tag)
    return workspace_for_model(model, engine, settings, default)
