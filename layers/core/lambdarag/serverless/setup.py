"""Stores made ahead by the stack: a CloudFormation custom resource served by the trigger Lambda.

The stack declares the DynamoDB table itself. The vector indexes are per workspace and only
code inside the VPC reaches them, so the template's ``StoreSetup`` custom resource invokes
the trigger function on stack create and update: it creates every store's resources for the
listed workspaces (:meth:`~lambdarag.storage.stores.Stores.ensure`), so that no step Lambda creates
them under load, and reports drift (an index built with another dimension or space) as a
failed deployment that names the setting. Creation stays lazy and race-free for workspaces
opened later. Stack deletion keeps the data: a Delete request only answers SUCCESS.

CloudFormation waits for the answer, a JSON document PUT to the request's presigned
``ResponseURL`` (an S3 URL, reached through the VPC's S3 gateway endpoint).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lambdarag.utils import check_workspace_name

if TYPE_CHECKING:
    from lambdarag.runtime.engine import Engine

logger = logging.getLogger(__name__)

REQUIRED = ("RequestType", "ResponseURL", "StackId", "RequestId", "LogicalResourceId")


@dataclass(frozen=True)
class SetupResult:
    status: str  # SUCCESS or FAILED
    reason: str
    workspaces: list[str]

    def as_dict(self) -> dict[str, Any]:
        return {"status": self.status, "reason": self.reason, "workspaces": self.workspaces}


def is_request(event: Any) -> bool:
    """Whether ``event`` is a CloudFormation custom resource request."""
    return isinstance(event, dict) and all(key in event for key in REQUIRED)


def workspaces_of(event: dict[str, Any], default: str) -> list[str]:
    """The ``Workspaces`` property (comma-separated); empty means the default workspace."""
    raw = (event.get("ResourceProperties") or {}).get("Workspaces", "")
    names = raw if isinstance(raw, list) else str(raw).split(",")
    chosen = [name.strip() for name in names if str(name).strip()] or [default]
    for name in chosen:
        if name:
            check_workspace_name(name)
    return chosen


async def handle(engine: Engine, event: dict[str, Any]) -> SetupResult:
    """Create the stores' resources (Create, Update), then answer CloudFormation."""
    names: list[str] = []
    try:
        names = workspaces_of(event, engine.settings.workspace)
        if event["RequestType"] in ("Create", "Update"):
            for name in names:
                checked = await (await engine.workspace(name)).stores.ensure()
                logger.info("workspace %r: %d stores ready", name, len(checked))
        result = SetupResult("SUCCESS", "stores ready", names)
    except Exception as exc:  # any failure, a bad workspace name too, must reach CloudFormation
        logger.exception("store setup failed")
        result = SetupResult("FAILED", f"{type(exc).__name__}: {exc}"[:1000], names)
    await respond(event, result)
    return result


async def respond(event: dict[str, Any], result: SetupResult) -> None:
    """PUT the custom resource response to ``ResponseURL`` (an empty Content-Type, as S3 wants)."""
    import httpx

    body = {
        "Status": result.status,
        "Reason": result.reason,
        "PhysicalResourceId": event.get("PhysicalResourceId") or "lambdarag-stores",
        "StackId": event["StackId"],
        "RequestId": event["RequestId"],
        "LogicalResourceId": event["LogicalResourceId"],
        "NoEcho": False,
        "Data": {"Workspaces": ",".join(result.workspaces)},
    }
    async with httpx.AsyncClient(timeout=30) as http:
        response = await http.put(event["ResponseURL"], content=json.dumps(body).encode(),
                                  headers={"Content-Type": ""})
    response.raise_for_status()
