"""Path rules of authentication: WHITELIST_PATHS matching, the API prefix, chat routes, body limits."""

from __future__ import annotations

import pytest

from lambdarag.api.auth import is_chat_path, is_openai_path, route_path, whitelisted
from lambdarag.api.middleware import body_limit
from lambdarag.config import Settings


@pytest.mark.parametrize(("path", "patterns", "expected"), [
    ("/api", ("/api/*",), True),
    ("/api/tags", ("/api/*",), True),
    ("/api/v1/models", ("/api/*",), True),
    ("/apix", ("/api/*",), False),
    ("/apix/tags", ("/api/*",), False),
    ("/health", ("/health",), True),
    ("/health/x", ("/health",), False),  # exact entries are exact
    ("/healthz", ("/health",), False),
    ("/anything/at/all", ("/*",), True),
    ("/graph/label/list", ("/graph/*",), True),
    ("/graphs", ("/graph/*",), False),
    ("/health", (), False),
])
def test_whitelist_matches_on_segment_boundaries(path: str, patterns: tuple[str, ...],
                                                 expected: bool) -> None:
    assert whitelisted(path, patterns) is expected


def test_the_api_prefix_is_removed_before_matching() -> None:
    scope = {"path": "/site01/api/tags", "root_path": "/site01"}
    assert route_path(scope) == "/api/tags"
    assert route_path({"path": "/site01x/api", "root_path": "/site01"}) == "/site01x/api"
    assert route_path({"path": "/site01", "root_path": "/site01/"}) == "/"
    assert route_path({"path": "/query"}) == "/query"


def test_chat_routes() -> None:
    assert all(is_chat_path(p) for p in ("/api", "/api/chat", "/v1/models", "/api/v1/models"))
    assert not any(is_chat_path(p) for p in ("/apix", "/v1", "/query", "/documents/text"))
    assert is_openai_path("/api/v1/chat/completions") and not is_openai_path("/api/chat")


def test_body_limits_per_route() -> None:
    defaults = Settings()
    assert body_limit("/query", defaults) == 1 << 20
    assert body_limit("/documents/text", defaults) == 50 << 20
    assert body_limit("/documents/texts", defaults) == 50 << 20
    assert body_limit("/documents/upload", defaults) == 104857600 + (1 << 20)
    assert body_limit("/api/chat", defaults) is None  # the chat routes cap their own reads
    assert body_limit("/v1/chat/completions", defaults) is None
    explicit = Settings(max_request_body_bytes=5000, max_upload_size=0)
    assert body_limit("/documents/text", explicit) == 5000
    assert body_limit("/documents/upload", explicit) is None  # MAX_UPLOAD_SIZE=0: unlimited
    assert body_limit("/query", Settings(max_request_body_bytes=0)) is None  # 0 disables all
