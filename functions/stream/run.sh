#!/bin/bash
# Entry point of StreamFunction (template.yaml): Lambda Web Adapter (AWS_LAMBDA_EXEC_WRAPPER
# =/opt/bootstrap) runs this script, waits until the app answers on $PORT, then forwards each
# function URL request to it and streams the response back (AWS_LWA_INVOKE_MODE=response_stream).
# The layers (/opt/python) and this folder must be importable: the wrapper does not set them up.
export PYTHONPATH="${LAMBDA_TASK_ROOT:-.}:/opt/python${PYTHONPATH:+:$PYTHONPATH}"
exec python -m uvicorn app:create_app --factory --host 0.0.0.0 --port "${PORT:-8080}" \
  --no-access-log --timeout-graceful-shutdown 2
