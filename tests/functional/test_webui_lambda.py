"""The web UI through the real API Lambda handler (Mangum) with API Gateway events.

Gzipped assets leave the handler base64-encoded, which HTTP APIs (v2) decode for the
browser; REST APIs (v1) do so because the template sets BinaryMediaTypes ``*/*``.
The handler module and its event builders are those of tests/aws/test_api_handler.py.
"""

from __future__ import annotations

import gzip
import re

import pytest

from tests.aws.test_api_handler import Api, lambda_module

__all__ = ["lambda_module"]  # the fixture, imported for these tests


@pytest.mark.parametrize("kind", ["http", "rest"])
def test_webui_and_an_asset_through_the_handler(lambda_module, kind: str) -> None:  # noqa: ANN001
    api = Api(lambda_module, kind)
    # WHEN the browser asks for the page without credentials (the API key is on)
    index = api.request("GET", "/webui/", key=None, headers={"Accept-Encoding": "gzip"})
    # THEN it gets the HTML; the redirect from / is relative (the stage path is kept)
    assert index.status == 200, index.text
    assert index.headers["content-type"].startswith("text/html")
    assert index.headers["cache-control"] == "no-cache"
    root = api.request("GET", "/", key=None)
    assert root.status == 307 and root.headers["location"] == "webui/"
    # AND a gzipped script arrives base64-encoded, and decodes to the file
    name = re.search(r'src="\./(assets/index-[^"]+\.js)"', index.text)
    assert name, index.text
    asset = api.request("GET", f"/webui/{name.group(1)}", key=None,
                        headers={"Accept-Encoding": "gzip, deflate, br"})
    assert asset.status == 200
    assert asset.raw["isBase64Encoded"] is True
    assert asset.headers["content-encoding"] == "gzip"
    assert asset.headers["content-type"].startswith("text/javascript")
    # AND without gzip it is plain text (no binary media type needed)
    plain = api.request("GET", f"/webui/{name.group(1)}", key=None)
    assert plain.raw["isBase64Encoded"] is False and plain.body == gzip.decompress(asset.body)
