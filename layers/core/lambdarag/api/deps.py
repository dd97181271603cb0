"""FastAPI dependencies: the engine, the settings and the request's workspace."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from lambdarag.config import Settings
from lambdarag.engine import Engine
from lambdarag.utils import sanitise_workspace
from lambdarag.workspace import Workspace

WORKSPACE_HEADER = "LIGHTRAG-WORKSPACE"


def get_engine(request: Request) -> Engine:
    return request.app.state.engine  # type: ignore[no-any-return]


def get_settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


async def get_workspace(
    engine: Annotated[Engine, Depends(get_engine)],
    workspace: Annotated[
        str | None,
        Header(alias=WORKSPACE_HEADER, description="Workspace to use (default: WORKSPACE)."),
    ] = None,
) -> Workspace:
    name = sanitise_workspace(workspace) if workspace else None
    return await engine.workspace(name)


EngineDep = Annotated[Engine, Depends(get_engine)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
WorkspaceDep = Annotated[Workspace, Depends(get_workspace)]
