"""Every /documents route documents itself in the OpenAPI document, with examples."""

from __future__ import annotations

from typing import Any

from lambdarag.api.app import create_app
from lambdarag.config import Settings


def examples(operation: dict[str, Any]) -> dict[str, Any]:
    """Response status -> example bodies, for the responses that carry one."""
    found = {}
    for code, response in operation["responses"].items():
        for content in response.get("content", {}).values():
            if "example" in content or "examples" in content:
                found[code] = content.get("example", content.get("examples"))
    return found


def test_every_documents_route_has_a_summary_a_description_and_examples(settings: Settings) -> None:
    paths = {p: ops for p, ops in create_app(settings).openapi()["paths"].items()
             if p.startswith("/documents")}
    assert len(paths) >= 17
    for path, operations in paths.items():
        for method, operation in operations.items():
            where = f"{method.upper()} {path}"
            assert operation.get("summary") and operation.get("description"), where
            assert "200" in examples(operation), where


def test_error_examples_show_the_literal_details(settings: Settings) -> None:
    paths = create_app(settings).openapi()["paths"]
    upload = examples(paths["/documents/upload"]["post"])
    assert {"400", "409", "413"} <= set(upload)
    assert upload["413"]["detail"].startswith("File too large. Maximum size: ")
    repair = examples(paths["/documents/source_conflicts/repair"]["post"])
    assert {"404", "409"} <= set(repair)
    assert examples(paths["/documents/texts"]["post"])["400"] == {
        "detail": "A valid file_source is required for each text"}
