"""The API documentation: /docs, /redoc and an OpenAPI document that describes every route.

Each area's routes are checked by path prefix; add a prefix to ``DOCUMENTED`` to cover
another area (``"/documents"`` once its routes carry examples).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import jsonschema_rs
import pytest
import schemathesis
from fastapi.testclient import TestClient

from lambdarag.api.app import create_app
from tests.fakes.llm_server import FakeLLMServer
from tests.functional.conftest import fake_settings

# The query, graph and health routes, and the LightRAG 1.4 graph aliases under /documents.
DOCUMENTED = ["/query", "/graph", "/graphs", "/health", "/documents/delete_entity",
              "/documents/delete_relation"]
Operation = tuple[str, str, dict[str, Any]]


@pytest.fixture(scope="module")
def docs_client(
    tmp_path_factory: pytest.TempPathFactory, fake_llm_session: FakeLLMServer
) -> Iterator[TestClient]:
    """A client that never starts the engine: serving the docs needs none."""
    settings = fake_settings(tmp_path_factory.mktemp("docs"), fake_llm_session)
    yield TestClient(create_app(settings))


@pytest.fixture(scope="module")
def spec(docs_client: TestClient) -> dict[str, Any]:
    response = docs_client.get("/openapi.json")
    assert response.status_code == 200
    return response.json()


def operations(spec: dict[str, Any], prefix: str) -> list[Operation]:
    """(path, method, operation) for every path equal to ``prefix`` or below it."""
    return [(path, method, op) for path, item in spec["paths"].items()
            if path == prefix or path.startswith(prefix + "/") for method, op in item.items()]


def media_examples(media: dict[str, Any]) -> list[Any]:
    """The example bodies of one OpenAPI media type object."""
    if "example" in media:
        return [media["example"]]
    return [named["value"] for named in media.get("examples", {}).values()]


def bodies(op: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """("request" or the status code, media type object) for the operation's bodies."""
    for media in op.get("requestBody", {}).get("content", {}).values():
        yield "request", media
    for status, response in op["responses"].items():
        for media in response.get("content", {}).values():
            yield status, media


def has_example(spec: dict[str, Any], op: dict[str, Any]) -> bool:
    """A media-type example anywhere, or ``examples`` on the request body's schema."""
    if any(media_examples(media) for _, media in bodies(op)):
        return True
    schema = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
    if schema and "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return bool(schema and (schema.get("examples") or any(
        p.get("examples") for p in schema.get("properties", {}).values())))


# ------------------------------------------------------------------------- tests


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_docs_pages_are_html(docs_client: TestClient, path: str) -> None:
    response = docs_client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "openapi.json" in response.text  # relative: a stage path or prefix is kept


def test_openapi_document_is_valid(spec: dict[str, Any]) -> None:
    schemathesis.openapi.from_dict(spec).validate()
    assert spec["info"]["title"] == "LambdaRAG" and spec["info"]["description"]
    assert {tag["name"] for tag in spec["tags"]} >= {"health", "documents", "query", "graph"}


@pytest.mark.parametrize("prefix", DOCUMENTED)
def test_every_operation_has_summary_description_and_example(
    spec: dict[str, Any], prefix: str
) -> None:
    found = operations(spec, prefix)
    assert found, f"no route under {prefix}"
    for path, method, op in found:
        where = f"{method.upper()} {path}"
        assert op.get("summary"), f"{where} has no summary"
        assert op.get("description"), f"{where} has no description"
        assert has_example(spec, op), f"{where} has no example"


@pytest.mark.parametrize("prefix", DOCUMENTED)
def test_examples_match_their_schemas(spec: dict[str, Any], prefix: str) -> None:
    """Every example validates against the schema documented next to it."""
    components = {"components": spec["components"]}
    for path, method, op in operations(spec, prefix):
        for status, media in bodies(op):
            if "schema" not in media:
                continue
            validator = jsonschema_rs.Draft202012Validator({**media["schema"], **components})
            for example in media_examples(media):
                errors = [e.message for e in validator.iter_errors(example)]
                assert not errors, f"{method.upper()} {path} {status}: {errors}"


def test_stream_is_documented_as_ndjson(spec: dict[str, Any]) -> None:
    ok = spec["paths"]["/query/stream"]["post"]["responses"]["200"]["content"]
    assert list(ok) == ["application/x-ndjson"]
    lines = ok["application/x-ndjson"]["example"].splitlines()
    assert lines[0].startswith('{"references"') and lines[1].startswith('{"response"')


@pytest.mark.parametrize(
    ("path", "method", "status"),
    [
        ("/query", "post", "422"),
        ("/query/stream", "post", "422"),
        ("/query/data", "post", "400"),
        ("/graphs", "get", "422"),
        ("/graph/label/search", "get", "422"),
        ("/graph/entity/create", "post", "400"),
        ("/graph/entity/edit", "post", "400"),
        ("/graph/relation/create", "post", "400"),
        ("/graph/relation/edit", "post", "400"),
        ("/graph/entities/merge", "post", "400"),
        ("/graph/entity/delete", "delete", "404"),
        ("/graph/relation/delete", "delete", "404"),
        ("/documents/delete_entity", "delete", "404"),
    ],
)
def test_main_errors_have_examples(spec: dict[str, Any], path: str, method: str, status: str) -> None:
    response = spec["paths"][path][method]["responses"][status]
    assert media_examples(response["content"]["application/json"]), (path, status)
