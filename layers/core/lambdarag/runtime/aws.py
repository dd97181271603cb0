"""The AWS runtime's composition root: Step Functions, the S3 drop folder, delete jobs.

The API Lambda, the pipeline and trigger Lambdas build their Engine here. Each piece is
taken from its own setting, so a step Lambda (no state machine of its own to start)
still runs steps in-process:

=============================  ==========================  ===========================
setting                        set                         unset
=============================  ==========================  ===========================
LAMBDARAG_STATE_MACHINE_ARN    one execution per document  the in-process LocalRunner
LAMBDARAG_INPUT_BUCKET         the S3 drop folder          the INPUT_DIR folder
LAMBDARAG_DELETE_FUNCTION      a job in its own Lambda     the server's background
=============================  ==========================  ===========================

This module and ``lambdarag.serverless`` are the only ones that import the AWS pieces.
"""

from __future__ import annotations

from typing import Any

from lambdarag.config import Settings
from lambdarag.documents.local import BackgroundDeletes, FolderInputStore
from lambdarag.documents.ports import DeleteQueue, InputStore
from lambdarag.pipeline.ports import Runner, WorkspaceOpener
from lambdarag.pipeline.runner import LocalRunner
from lambdarag.runtime.engine import Engine, RuntimePorts


def aws_ports(settings: Settings) -> RuntimePorts:
    def runner(open_workspace: WorkspaceOpener) -> Runner:
        if not settings.lambdarag_state_machine_arn:
            return LocalRunner(open_workspace, settings.max_parallel_insert)
        from lambdarag.serverless.sfn import StepFunctionsRunner

        return StepFunctionsRunner(open_workspace, settings.lambdarag_state_machine_arn)

    inputs: InputStore = FolderInputStore()
    deletes: DeleteQueue = BackgroundDeletes()
    if settings.lambdarag_input_bucket or settings.lambdarag_delete_function:
        from lambdarag.serverless.inputs import DropFolderInputStore, LambdaDeletes

        if settings.lambdarag_input_bucket:
            inputs = DropFolderInputStore(settings.lambdarag_input_bucket,
                                          settings.lambdarag_input_prefix)
        if settings.lambdarag_delete_function:
            deletes = LambdaDeletes(settings.lambdarag_delete_function)
    return RuntimePorts(runner=runner, inputs=inputs, deletes=deletes)


def build_engine(settings: Settings, **overrides: Any) -> Engine:
    """The Engine of a Lambda; ``overrides`` are the Engine's own keywords."""
    return Engine(settings, ports=aws_ports(settings), **overrides)

