"""Serving the dashboard: ``/`` (the page) and ``/static/…`` (its script, style and the vendored
Chart.js), cheaply enough that it does not slow the API.

Everything is read once when the app is built and answered from memory, with no database call
and no authentication (the page holds no data; every number it shows comes from the ``/v1`` API
with the token the user typed in, kept in the tab's ``sessionStorage``):

* assets are named in the page with a content hash (``/static/app.js?v=<hash>``) and served with
  ``Cache-Control: public, max-age=31536000, immutable``: a browser fetches each once per
  version;
* the page itself is ``Cache-Control: no-cache`` with an ``ETag``: a reload costs one
  ``304 Not Modified``;
* the page carries a strict ``Content-Security-Policy`` (scripts, styles and connections from
  the same origin only; no inline script) so that an injected string cannot run as script.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import Response

STATIC = Path(__file__).parent / "static"

#: Asset suffix → content type.
TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".md": "text/plain; charset=utf-8",
    ".svg": "image/svg+xml",
}

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; base-uri 'none'; frame-ancestors 'none'"
)


@dataclass(frozen=True)
class Asset:
    """One file served from memory."""

    body: bytes
    content_type: str
    etag: str


def _etag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:20] + '"'


def load_assets(root: Path = STATIC) -> tuple[Asset, dict[str, Asset]]:
    """The page (with asset hashes filled in for its ``{{name}}`` placeholders) and the assets
    by path relative to ``root``."""
    assets: dict[str, Asset] = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.suffix in TYPES:
            body = path.read_bytes()
            assets[path.relative_to(root).as_posix()] = Asset(body, TYPES[path.suffix], _etag(body))
    page = (root / "index.html").read_text(encoding="utf-8")
    for name, asset in assets.items():
        page = page.replace("{{" + name + "}}", asset.etag.strip('"'))
    body = page.encode()
    return Asset(body, "text/html; charset=utf-8", _etag(body)), assets


def _answer(request: Request, asset: Asset, cache: str) -> Response:
    headers = {"Cache-Control": cache, "ETag": asset.etag, "X-Content-Type-Options": "nosniff"}
    if asset.content_type.startswith("text/html"):
        headers["Content-Security-Policy"] = CSP
        headers["Referrer-Policy"] = "no-referrer"
    if request.headers.get("if-none-match") == asset.etag:
        return Response(status_code=304, headers=headers)
    return Response(asset.body, media_type=asset.content_type, headers=headers)


def mount_dashboard(app: FastAPI) -> None:
    """Add ``GET /`` and ``GET /static/{path}`` to ``app`` (not in the OpenAPI schema)."""
    page, assets = load_assets()

    @app.get("/", include_in_schema=False)
    async def dashboard(request: Request) -> Response:
        return _answer(request, page, "no-cache")

    @app.get("/static/{path:path}", include_in_schema=False)
    async def static(path: str, request: Request) -> Response:
        asset = assets.get(path)
        if asset is None:
            return Response(b'{"detail":"no such file","field":null}', status_code=404,
                            media_type="application/json")
        return _answer(request, asset, "public, max-age=31536000, immutable")
