"""Serves the chat page on http://localhost:8080/ (`make run` starts it next to Rasa), and the
operator page at /operator when `TRUST_API_TOKEN` is set (bot/web/operator.py).

    python -m bot.web.server [--port 8080] [--rasa-port 5005] [--rasa-url URL] [--exit-url URL]
                             [--endpoints endpoints.yml]

Everything the page loads comes from here: the page, its script and style, and the
rasa-webchat bundle from node_modules (installed by `npm ci` from package-lock.json) with its
one outside request, a Google Fonts import, removed. A Content-Security-Policy keeps the page
from loading or connecting anywhere but here and the Rasa server.
"""

from __future__ import annotations

import argparse
import json
import logging
import mimetypes
import os
import re
from functools import lru_cache
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bot.paths import REPO_ROOT
from bot.safety.referral import resources
from bot.web.operator import OperatorPages, operator_pages_from_environment

STATIC_DIR = Path(__file__).resolve().parent / "static"
WEBCHAT_BUNDLE = REPO_ROOT / "node_modules" / "rasa-webchat" / "lib" / "index.js"
# The bundle's CSS starts with this import in several places; the page uses system fonts.
FONT_IMPORT = re.compile(r"@import url\(https://fonts\.googleapis\.com/[^)]*\);")
DEFAULT_EXIT_URL = "https://www.google.com/"
logger = logging.getLogger(__name__)


@lru_cache(maxsize=1)
def webchat_bundle() -> bytes:
    """rasa-webchat's UMD bundle without its font import."""
    if not WEBCHAT_BUNDLE.exists():
        raise FileNotFoundError(f"{WEBCHAT_BUNDLE} is missing: run `make web` (npm ci) first")
    return FONT_IMPORT.sub("", WEBCHAT_BUNDLE.read_text(encoding="utf-8")).encode("utf-8")


def page_config(rasa_port: int, rasa_url: str | None, exit_url: str) -> dict[str, Any]:
    """What the page's script needs; countries come from the crisis resources file."""
    countries = [{"code": code, "name": name} for code, name in resources()["countries"].items()]
    return {"rasaPort": rasa_port, "rasaUrl": rasa_url, "exitUrl": exit_url, "countries": countries}


def render_page(config: dict[str, Any]) -> bytes:
    """index.html with the page's configuration as JSON (`<` escaped so it cannot end the tag)."""
    page = (STATIC_DIR / "index.html").read_text(encoding="utf-8")
    return page.replace("{{CONFIG}}", json.dumps(config).replace("<", "\\u003c")).encode()


def content_security_policy(rasa_origin: str) -> str:
    websocket = rasa_origin.replace("http://", "ws://").replace("https://", "wss://")
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            # rasa-webchat injects its CSS and React sets inline styles.
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data:",
            f"connect-src 'self' {rasa_origin} {websocket}",
            "font-src 'self' data:",  # the widget's icon fonts are inlined
            "frame-ancestors 'none'",
            "base-uri 'none'",
            "form-action 'none'",
        ]
    )


class PageHandler(BaseHTTPRequestHandler):
    """GET / (the page), /static/*, /vendor/webchat.js, /favicon.ico (none) and /health."""

    server_version = "trust-web"
    config: dict[str, Any] = {}
    page = b""  # index.html with `config` filled in, rendered once by make_server
    operator: OperatorPages | None = None  # None: /operator is off (404)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        logger.debug(format, *args)

    def _rasa_origin(self) -> str:
        if self.config["rasaUrl"]:
            parts = urlsplit(self.config["rasaUrl"])
            return f"{parts.scheme}://{parts.netloc}"
        host = urlsplit(f"http://{self.headers.get('Host') or 'localhost'}").hostname or "localhost"
        return f"http://{host}:{self.config['rasaPort']}"

    def _send(self, status: int, body: bytes, content_type: str, cache: str = "no-store", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", cache)
        headers = headers or {}
        if "Content-Security-Policy" not in headers:
            self.send_header("Content-Security-Policy", content_security_policy(self._rasa_origin()))
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _operator(self, method: str) -> bool:
        """Answers /operator and below; False for every other path."""
        parts = urlsplit(self.path)
        if parts.path != "/operator" and not parts.path.startswith("/operator/"):
            return False
        if self.operator is None:
            self._send(HTTPStatus.NOT_FOUND, b"not found", "text/plain")
            return True
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(min(length, 16_384)) if method == "POST" else b""
        self._send(*self.operator.answer(method, parts.path, parts.query, self.headers, body))
        return True

    def do_POST(self) -> None:  # noqa: N802
        if not self._operator("POST"):
            self._send(HTTPStatus.METHOD_NOT_ALLOWED, b"not allowed", "text/plain")

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        path = urlsplit(self.path).path
        if self._operator(self.command):
            return
        if path in ("/", "/index.html"):
            self._send(HTTPStatus.OK, self.page, "text/html; charset=utf-8")
        elif path == "/vendor/webchat.js":
            self._send(HTTPStatus.OK, webchat_bundle(), "text/javascript; charset=utf-8", "max-age=3600")
        elif path.startswith("/static/") and (STATIC_DIR / path[len("/static/") :]).resolve().parent == STATIC_DIR:
            file = STATIC_DIR / path[len("/static/") :]
            if not file.is_file():
                self._send(HTTPStatus.NOT_FOUND, b"not found", "text/plain")
                return
            content_type = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
            self._send(HTTPStatus.OK, file.read_bytes(), f"{content_type}; charset=utf-8")
        elif path == "/favicon.ico":
            self._send(HTTPStatus.NO_CONTENT, b"", "image/x-icon")
        elif path == "/health":
            self._send(HTTPStatus.OK, b'{"status": "ok"}', "application/json")
        else:
            self._send(HTTPStatus.NOT_FOUND, b"not found", "text/plain")

    def do_HEAD(self) -> None:  # noqa: N802
        self.do_GET()


def make_server(host: str, port: int, config: dict[str, Any], operator: OperatorPages | None = None) -> ThreadingHTTPServer:
    handler = type("ConfiguredPageHandler", (PageHandler,), {"config": config, "page": render_page(config), "operator": operator})
    webchat_bundle()  # fail at start, not on the first visitor, when the bundle is missing
    return ThreadingHTTPServer((host, port), handler)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=os.environ.get("TRUST_WEB_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("TRUST_WEB_PORT", "8080")))
    parser.add_argument("--rasa-port", type=int, default=5005, help="Rasa's port on the page's host")
    parser.add_argument("--rasa-url", default=None, help="Rasa's full URL when it is on another host")
    parser.add_argument("--exit-url", default=os.environ.get("TRUST_EXIT_URL", DEFAULT_EXIT_URL))
    parser.add_argument("--endpoints", default="endpoints.yml", help="the tracker store the operator page reads")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s - %(message)s")
    operator = operator_pages_from_environment(args.endpoints)
    server = make_server(args.host, args.port, page_config(args.rasa_port, args.rasa_url, args.exit_url), operator)
    logger.info("Chat page on http://localhost:%d/ (Rasa on port %d)", args.port, args.rasa_port)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
