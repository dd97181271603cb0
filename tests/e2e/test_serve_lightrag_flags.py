"""``lightrag-server`` started as a LightRAG 1.5.7 unit file starts it: every flag takes effect.

The process is the installed console script (``lambdarag serve`` under LightRAG's name), on
a real port, over https with a certificate made here, under an API prefix, with an API key.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import shutil
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.test_serve import free_port
from tests.fakes.llm_server import FakeLLMServer
from tests.functional.corpus import CORPUS, wait_for

KEY = "e2e-key-0123456789abcdef0123456789abcdef"
PREFIX = "/site01"


def make_certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key, as PEM files."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID
    except ImportError:
        if shutil.which("openssl") is None:
            pytest.skip("neither the cryptography package nor the openssl command is installed")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj",
                        "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                        "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
        return cert, key
    private = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(private.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                       critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(private, hashes.SHA256())
    )
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key.write_bytes(private.private_bytes(serialization.Encoding.PEM,
                                          serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    return cert, key


def trusting(cert: Path) -> ssl.SSLContext:
    """A client context that trusts exactly ``cert``."""
    return ssl.create_default_context(cafile=str(cert))


def lightrag_server() -> list[str]:
    script = Path(sys.executable).with_name("lightrag-server")
    assert script.exists(), "the lightrag-server console script is not installed (scripts/bootstrap)"
    return [str(script)]


@pytest.fixture
def server(tmp_path: Path, fake_llm: FakeLLMServer) -> Iterator[tuple[str, Path, Path, Path]]:
    cert, key = make_certificate(tmp_path)
    port = free_port()
    work, inputs = tmp_path / "kb" / "storage", tmp_path / "kb" / "files"
    # LightRAG's command line has no model or host flags: they come from the environment.
    env = {**os.environ, "LLM_MODEL": "fake-llm", "LLM_BINDING_HOST": fake_llm.openai_url,
           "EMBEDDING_MODEL": "fake-embed", "EMBEDDING_BINDING_HOST": fake_llm.openai_url,
           "EMBEDDING_DIM": "1024", "PORT": "1", "WORKSPACE": "from_env"}
    argv = [*lightrag_server(), "--host", "127.0.0.1", "--port", str(port),
            "--working-dir", str(work), "--input-dir", str(inputs), "--timeout", "150",
            "--max-async", "3", "--summary-max-tokens", "900", "--summary-context-size", "8000",
            "--summary-length-recommended", "300", "--log-level", "INFO", "--key", KEY,
            "--ssl", "--ssl-certfile", str(cert), "--ssl-keyfile", str(key),
            "--simulated-model-name", "mykb", "--simulated-model-tag", "v2",
            "--workspace", "team", "--api-prefix", PREFIX, "--workers", "2",
            "--llm-binding", "openai", "--embedding-binding", "openai",
            "--openai-llm-temperature", "0.25"]
    log_path = tmp_path / "server.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(argv, cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT)
        base = f"https://127.0.0.1:{port}"
        try:
            wait_for(lambda: _up(base, cert) or process.poll() is not None, timeout=40)
            assert process.poll() is None, log_path.read_text()
            yield base, cert, work, inputs
        finally:
            process.terminate()
            process.wait(timeout=15)


def _up(base: str, cert: Path) -> bool:
    try:
        return httpx.get(f"{base}{PREFIX}/health", verify=trusting(cert), timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def test_every_lightrag_flag_takes_effect(
    server: tuple[str, Path, Path, Path], fake_llm: FakeLLMServer, tmp_path: Path,
) -> None:
    base, cert, work, inputs = server
    with httpx.Client(base_url=base + PREFIX, verify=trusting(cert), timeout=30) as http:
        # --ssl with the given certificate: it verifies against exactly that certificate
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"http://127.0.0.1:{base.rsplit(':', 1)[1]}{PREFIX}/health", timeout=2)
        # --key: protected routes need it; /health and /api/* stay open (WHITELIST_PATHS)
        assert http.get("/documents/status_counts").status_code == 403
        keyed = {"X-API-Key": KEY}
        assert http.get("/documents/status_counts", headers=keyed).status_code == 200
        # --simulated-model-name and -tag
        names = [m["name"] for m in http.get("/api/tags").json()["models"]]
        assert "mykb:v2" in names
        # the folders, the workspace and the indexing flags, as /health reports them
        health = http.get("/health", headers=keyed).json()
        config = health["configuration"]
        assert (health["working_directory"], health["input_directory"]) == (str(work), str(inputs))
        assert (config["workspace"], config["max_async"], config["summary_max_tokens"],
                config["summary_context_size"]) == ("team", 3, 900, 8000)
        assert (config["llm_binding"], config["embedding_binding"]) == ("openai", "openai")
        assert health["workers"] == 1
        # --api-prefix: the routes and the web UI under it
        page = http.get("/webui/")
        assert page.status_code == 200 and "<html" in page.text.lower()
        assets = [a.split('"')[0] for a in page.text.split('src="./')[1:]]
        assert assets and all(http.get(f"/webui/{a}").status_code == 200 for a in assets)
        assert http.get("/", follow_redirects=False).headers["location"] == "webui/"
        # a document goes into the workspace's folders, and the LLM gets --openai-llm-temperature
        upload = http.post("/documents/upload", headers=keyed,
                           files={"file": ("acme.txt", CORPUS["acme.txt"].encode())})
        assert upload.status_code == 200, upload.text
        track = upload.json()["track_id"]

        def processed() -> bool:
            docs = http.get(f"/documents/track_status/{track}", headers=keyed).json()["documents"]
            return bool(docs) and docs[0]["status"] == "processed"

        wait_for(processed, timeout=40)
        assert (inputs / "team" / "acme.txt").is_file()
        assert (work / "team").is_dir() and any((work / "team").iterdir())
        chats = [b for p, b in fake_llm.requests if p.endswith("/chat/completions")]
        assert chats and all(b.get("temperature") == 0.25 for b in chats)
    # --workers 2 and --timeout have nothing to act on here, and say so in one line each
    log = (tmp_path / "server.log").read_text().splitlines()
    assert [line for line in log if line.startswith("lambdarag: --workers/WORKERS=2: ")]
    assert [line for line in log if line.startswith("lambdarag: --timeout/TIMEOUT=150: ")]


@pytest.mark.parametrize(("extra", "message"), [
    (["--ssl"], "lambdarag: --ssl/SSL needs --ssl-certfile/SSL_CERTFILE and "
                "--ssl-keyfile/SSL_KEYFILE: give the certificate and its private key (PEM files)"),
    (["--ssl", "--ssl-certfile", "none.pem", "--ssl-keyfile", "none.pem"],
     "lambdarag: SSL_CERTFILE: no such file: none.pem"),
    (["--api-prefix", "/a b"], "lambdarag: invalid setting: LIGHTRAG_API_PREFIX: must be a path "
                               "such as /site01 (no spaces, ?, #, % or //) (got '/a b')"),
])
def test_a_setup_that_cannot_start_as_asked_stops_in_one_line(
    tmp_path: Path, extra: list[str], message: str,
) -> None:
    result = subprocess.run([*lightrag_server(), "--port", str(free_port()), *extra],
                            cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [message]
