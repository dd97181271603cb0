"""``lambdarag serve`` (and ``lightrag-server``): uvicorn over the app, http or https.

LightRAG's process options that this server has no use for are accepted, and said so in
one line each; one that would leave the server other than asked (https without a
certificate) stops start-up instead.
"""

from __future__ import annotations

import sys
from typing import Any

from lambdarag.config import Settings


class ServeError(ValueError):
    """The server cannot start as configured; the message names the setting."""


def notes(settings: Settings) -> list[str]:
    """One line per process option that does not apply here, as set."""
    lines = []
    if settings.workers > 1:
        lines.append(f"--workers/WORKERS={settings.workers}: this server runs one process "
                     "(its indexing pipeline and the embedded store's writers live in it); "
                     "starting one worker")
    if "timeout" in settings.model_fields_set:
        lines.append(f"--timeout/TIMEOUT={settings.timeout}: LightRAG's gunicorn worker "
                     "timeout; this server has no worker to time out, and provider calls "
                     f"stop after LLM_TIMEOUT ({settings.llm_timeout:g} s) and "
                     f"EMBEDDING_TIMEOUT ({settings.embedding_timeout:g} s)")
    if settings.lightrag_default_ui == "workspace":
        lines.append("--default-ui/LIGHTRAG_DEFAULT_UI=workspace: there is no separate "
                     "query-user UI; / opens the web UI")
    if not settings.ssl and (settings.ssl_certfile or settings.ssl_keyfile):
        lines.append("SSL_CERTFILE/SSL_KEYFILE are set but --ssl/SSL is not: serving http")
    return lines


def ssl_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's certificate arguments for ``--ssl``; ServeError when they are missing."""
    if not settings.ssl:
        return {}
    missing = [name for name, path in (("--ssl-certfile/SSL_CERTFILE", settings.ssl_certfile),
                                       ("--ssl-keyfile/SSL_KEYFILE", settings.ssl_keyfile))
               if path is None]
    if missing:
        raise ServeError(f"--ssl/SSL needs {' and '.join(missing)}: give the certificate "
                         "and its private key (PEM files)")
    for name, path in (("SSL_CERTFILE", settings.ssl_certfile),
                       ("SSL_KEYFILE", settings.ssl_keyfile)):
        if path is not None and not path.is_file():
            raise ServeError(f"{name}: no such file: {path}")
    return {"ssl_certfile": str(settings.ssl_certfile), "ssl_keyfile": str(settings.ssl_keyfile)}


def serve(settings: Settings) -> int:
    import uvicorn

    from lambdarag.api.app import create_app

    try:
        tls = ssl_options(settings)
    except ServeError as exc:
        sys.stderr.write(f"lambdarag: {exc}\n")
        return 2
    for line in notes(settings):
        sys.stderr.write(f"lambdarag: {line}\n")
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port,
                log_level=settings.log_level.lower(), **tls)
    return 0
