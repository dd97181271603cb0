"""Start, watch and stop the two servers under test as child processes.

Both run as their users run them: LambdaRAG with ``lambdarag serve``, LightRAG 1.5.7 with
``lightrag-server`` from its own venv (``.venv-lightrag``), both on the same fake provider,
configured only through LightRAG's environment variables, each with a fresh working
directory. LightRAG runs inside its input folder (it resolves uploads against the
working directory) and reads tiktoken's o200k table from a local cache folder (it has no
network for the download).
"""

from __future__ import annotations

import gzip
import hashlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
LAMBDARAG_BIN = ROOT / ".venv" / "bin" / "lambdarag"
LIGHTRAG_BIN = ROOT / ".venv-lightrag" / "bin" / "lightrag-server"
O200K_ASSET = ROOT / "layers" / "core" / "lambdarag" / "assets" / "o200k_base.tiktoken.gz"
O200K_URL = "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken"
MAX_ASYNC = 4
EMBEDDING_SLOTS = 8  # EMBEDDING_FUNC_MAX_ASYNC: 8 by default in both servers
LAMBDARAG, LIGHTRAG = "LambdaRAG", "LightRAG"


@dataclass
class Server:
    """A running server: its name, URL, process and log file."""

    name: str
    url: str
    process: subprocess.Popen[bytes]
    log: Path
    extra: dict[str, str] = field(default_factory=dict)

    def rss_mb(self) -> tuple[float, float]:
        """(current, peak) resident memory of the process in MB, from /proc."""
        fields = {}
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            fields[key] = value.strip()
        kb = lambda key: float(fields.get(key, "0 kB").split()[0])  # noqa: E731
        return kb("VmRSS") / 1024, kb("VmHWM") / 1024

    def cpu_seconds(self) -> float:
        """User + system CPU time the process has used so far."""
        stat = Path(f"/proc/{self.process.pid}/stat").read_text()
        parts = stat[stat.rindex(")") + 2 :].split()
        return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def tiktoken_cache(folder: Path) -> Path:
    """A TIKTOKEN_CACHE_DIR holding o200k_base under the name tiktoken looks for."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / hashlib.sha1(O200K_URL.encode()).hexdigest()
    if not target.exists():
        target.write_bytes(gzip.decompress(O200K_ASSET.read_bytes()))
    return folder


def provider_env(provider_url: str) -> dict[str, str]:
    """The LLM and embedding settings both servers read (LightRAG's variable names)."""
    return {
        "LLM_BINDING": "openai", "LLM_MODEL": "fake-llm", "LLM_BINDING_HOST": f"{provider_url}/v1",
        "LLM_BINDING_API_KEY": "unused",
        "EMBEDDING_BINDING": "openai", "EMBEDDING_MODEL": "fake-embed",
        "EMBEDDING_BINDING_HOST": f"{provider_url}/v1", "EMBEDDING_BINDING_API_KEY": "unused",
        "EMBEDDING_DIM": "1024", "MAX_ASYNC": str(MAX_ASYNC), "LOG_LEVEL": "WARNING",
    }


def _base_env() -> dict[str, str]:
    """A clean environment: no LLM_*, LIGHTRAG_* or AWS_* of the caller leaks in."""
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")
    return {k: os.environ[k] for k in keep if k in os.environ}


def _wait_ready(server: Server, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"{server.name} exited at start-up; see {server.log}:\n"
                               + server.log.read_text()[-3000:])
        try:
            if httpx.get(f"{server.url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{server.name} did not answer /health within {timeout:.0f} s; see {server.log}")


@contextmanager
def running(name: str, workdir: Path, provider_url: str,
            extra_env: dict[str, str] | None = None, timeout: float = 120) -> Iterator[Server]:
    """Run ``name`` (LAMBDARAG or LIGHTRAG) on a fresh port with storage under ``workdir``."""
    port = free_port()
    work, inputs = workdir / "rag_storage", workdir / "inputs"
    work.mkdir(parents=True, exist_ok=True)
    inputs.mkdir(parents=True, exist_ok=True)
    env = {**_base_env(), **provider_env(provider_url), "HOST": "127.0.0.1", "PORT": str(port),
           "WORKING_DIR": str(work), "INPUT_DIR": str(inputs), **(extra_env or {})}
    if name == LIGHTRAG:
        env["TIKTOKEN_CACHE_DIR"] = str(tiktoken_cache(workdir.parent / "tiktoken"))
        command, cwd = [str(LIGHTRAG_BIN)], inputs
    else:
        command, cwd = [str(LAMBDARAG_BIN), "serve"], workdir
    log = workdir / f"{name.lower()}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    server = Server(name, f"http://127.0.0.1:{port}", process, log)
    try:
        _wait_ready(server, timeout)
        yield server
    finally:
        stop(server)


def stop(server: Server) -> None:
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGINT)
        try:
            server.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait(timeout=10)
