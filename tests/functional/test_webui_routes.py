"""The web UI's routes: the bundle, redirects, caching, offline API docs, LightRAG's
/ui/customization, and the committed bundle being in step with webui/'s sources."""

from __future__ import annotations

import gzip
import importlib.util
import json
import re
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from fastapi.testclient import TestClient

from lambdarag.api.app import create_app
from lambdarag.api.routes.webui import WEBUI_DIR, resolve
from tests.fakes.llm_server import FakeLLMServer
from tests.functional.conftest import fake_settings

ROOT = Path(__file__).resolve().parents[2]
JS_BUDGET_GZIP = 500 * 1024  # the three main tabs; LightRAG 1.5.7: ~950 KB


def hash_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("webui_hash", ROOT / "scripts" / "webui_hash.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def asset_names(html: str) -> list[str]:
    return re.findall(r'(?:src|href)="\./(assets/[^"]+)"', html)


@pytest.fixture
def open_client(tmp_path: Path, fake_llm: FakeLLMServer) -> Iterator[TestClient]:
    with TestClient(create_app(fake_settings(tmp_path, fake_llm))) as client:
        yield client


@pytest.fixture
def auth_client(tmp_path: Path, fake_llm: FakeLLMServer) -> TestClient:
    return TestClient(create_app(fake_settings(
        tmp_path, fake_llm, auth_accounts="alice:wonderland-pw", token_secret="s" * 40,
        whitelist_paths="/health", webui_title="Team RAG", webui_description="Our notes")))


# ------------------------------------------------------------------ the bundle


def test_committed_bundle_matches_its_sources() -> None:
    # GIVEN the sources in webui/ and the bundle committed in the package
    module = hash_module()
    # THEN the bundle records the hash of exactly these sources (no Node needed to check)
    assert module.recorded_hash() == module.source_hash(), (
        "layers/core/lambdarag/webui/ is stale against webui/: run scripts/build-webui "
        "and commit the result")


def test_index_references_only_files_that_exist() -> None:
    html = (WEBUI_DIR / "index.html").read_text()
    names = asset_names(html)
    assert names and all((WEBUI_DIR / n).is_file() for n in names)
    assert "http://" not in html and "https://" not in html  # nothing from a CDN


def test_javascript_of_the_three_main_tabs_is_under_budget() -> None:
    # Every script of the bundle counts: the entry, and the lazily loaded tab chunks.
    scripts = sorted((WEBUI_DIR / "assets").glob("*.js"))
    total = sum(len(gzip.compress(p.read_bytes(), 9)) for p in scripts)
    assert {p.name.split("-")[0] for p in scripts} >= {"index", "GraphTab", "RetrievalTab"}
    assert total < JS_BUDGET_GZIP, f"{total} bytes of gzipped JavaScript"


# ------------------------------------------------------------------- serving


def test_root_and_webui_redirect_relatively(open_client: TestClient) -> None:
    for path in ("/", "/webui"):
        response = open_client.get(path, follow_redirects=False)
        assert response.status_code == 307
        # relative, so a gateway stage (/prod/) or an API prefix is kept
        assert response.headers["location"] == "webui/"
    assert open_client.get("/").url.path == "/webui/"


def test_index_is_revalidated_and_assets_are_immutable(open_client: TestClient) -> None:
    index = open_client.get("/webui/")
    assert index.status_code == 200
    assert index.headers["content-type"].startswith("text/html")
    assert index.headers["cache-control"] == "no-cache"
    for name in asset_names(index.text):
        asset = open_client.get(f"/webui/{name}")
        assert asset.status_code == 200
        assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"
        expected = "text/javascript" if name.endswith(".js") else "text/css"
        assert asset.headers["content-type"].startswith(expected)
        assert asset.content == (WEBUI_DIR / name).read_bytes()


def test_assets_are_gzipped_for_clients_that_accept_it(open_client: TestClient) -> None:
    name = next(n for n in asset_names(open_client.get("/webui/").text) if n.endswith(".js"))
    raw = open_client.get(f"/webui/{name}", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in raw.headers
    zipped = open_client.get(f"/webui/{name}", headers={"Accept-Encoding": "gzip, br"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert "Accept-Encoding" in zipped.headers["vary"]
    assert zipped.content == raw.content  # httpx decodes it
    assert int(zipped.headers["content-length"]) < len(raw.content)


def test_the_page_has_a_strict_content_security_policy(open_client: TestClient) -> None:
    csp = open_client.get("/webui/").headers["content-security-policy"]
    assert "script-src 'self';" in csp and "frame-ancestors 'self'" in csp
    assert "unsafe-eval" not in csp and "http" not in csp
    assert open_client.head("/webui/").status_code == 200
    assert open_client.head("/", follow_redirects=False).status_code == 307


def test_etag_answers_304(open_client: TestClient) -> None:
    first = open_client.get("/webui/")
    again = open_client.get("/webui/", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304 and not again.content


@pytest.mark.parametrize("path", [
    "/webui/assets/missing-0000.js", "/webui/nope.png", "/webui/../../etc/passwd",
    "/webui/..%2f..%2fetc%2fpasswd", "/webui/assets/..%2f..%2f..%2fapi%2fapp.py",
    "/webui/%5c..%5capp.py", "/webui/assets//x.js",
])
def test_missing_files_and_ways_out_are_404(open_client: TestClient, path: str) -> None:
    response = open_client.get(path)
    assert response.status_code == 404, path
    assert "detail" in response.json()


def test_resolve_stays_inside_the_bundle(tmp_path: Path) -> None:
    (tmp_path / "ok.txt").write_text("x")
    (tmp_path.parent / "secret.txt").write_text("s")
    assert resolve("ok.txt", tmp_path) == (tmp_path / "ok.txt").resolve()
    for bad in ("../secret.txt", "a/../../secret.txt", "", "./ok.txt", "C:/x", "ok.txt\x00"):
        assert resolve(bad, tmp_path) is None, bad


def test_unknown_app_paths_get_the_app_with_a_base(open_client: TestClient) -> None:
    top = open_client.get("/webui/documents")
    assert top.status_code == 200 and "<base" not in top.text
    for path in ("/webui/graph/Acme", "/webui/graph/"):
        deep = open_client.get(path)
        assert deep.status_code == 200
        assert '<head><base href="../">' in deep.text, path
    assert '<base href="../../">' in open_client.get("/webui/a/b/c").text


def test_health_reports_the_web_ui(open_client: TestClient) -> None:
    assert open_client.get("/health").json()["webui_available"] is True


# ------------------------------------------------------------- auth and docs


def test_ui_routes_need_no_credentials_when_auth_is_on(auth_client: TestClient) -> None:
    # GIVEN accounts configured and /health protected WHEN no credentials are sent
    assert auth_client.get("/documents/status_counts").status_code == 401
    for path in ("/webui/", "/docs", "/redoc", "/openapi.json", "/ui/customization",
                 "/docs-assets/swagger-ui.css", "/auth-status"):
        assert auth_client.get(path).status_code == 200, path
    assert auth_client.get("/", follow_redirects=False).status_code == 307


def test_ui_customization_answers_as_lightrag_without_a_bundle(
        open_client: TestClient, auth_client: TestClient) -> None:
    assert open_client.get("/ui/customization", params={"locale": "zh"}).json() == {
        "customized": False, "brand": {"title": "LightRAG", "description": "Simple and Fast RAG"}}
    assert auth_client.get("/ui/customization").json() == {
        "customized": False, "brand": {"title": "Team RAG", "description": "Our notes"}}


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_api_docs_load_their_assets_from_this_server(open_client: TestClient, path: str) -> None:
    html = open_client.get(path).text
    urls = re.findall(r'(?:src|href)=["\']([^"\']+)', html) + re.findall(r"url: *'([^']+)'", html)
    assert urls and not [u for u in urls if u.startswith(("http:", "https:", "//"))], urls
    for url in re.findall(r'(?:src|href)=["\'](docs-assets/[^"\']+)', html):
        response = open_client.get("/" + url)
        assert response.status_code == 200 and len(response.content) > 1000, url


def test_docs_oauth_redirect_and_unknown_assets(open_client: TestClient) -> None:
    assert open_client.get("/docs/oauth2-redirect").status_code == 200
    assert open_client.get("/docs-assets/../pyproject.toml").status_code == 404
    assert open_client.get("/docs-assets/core.py").status_code == 404


def test_build_info_is_valid_json() -> None:
    info = json.loads((WEBUI_DIR / "build-info.json").read_text())
    assert set(info) == {"source_sha256", "rebuild"}


def test_query_data_gives_scores_when_asked(indexed: TestClient) -> None:
    # GIVEN an indexed corpus WHEN the retrieved view asks /query/data for scores
    body = {"query": "Who founded Acme Corp?", "mode": "mix"}
    plain = indexed.post("/query/data", json=body).json()["data"]
    scored = indexed.post("/query/data", json={**body, "include_scores": True}).json()["data"]
    # THEN entities and relations carry their rank, vector-found chunks their score
    assert not any("rank" in e for e in plain["entities"])  # LightRAG's shape by default
    assert scored["entities"] and all(isinstance(e["rank"], int) for e in scored["entities"])
    assert all(isinstance(r["rank"], int) for r in scored["relationships"])
    assert any(isinstance(c.get("score"), float) for c in scored["chunks"])
    assert [e["entity_name"] for e in scored["entities"]] == [
        e["entity_name"] for e in plain["entities"]]
