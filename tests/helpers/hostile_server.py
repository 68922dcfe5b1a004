"""A hostile HTTP server on 127.0.0.1 for the download integrity tests (never the internet).

Paths: ``/drip`` sends a byte every ``drip_seconds`` without a Content-Length;
``/flood`` sends ``flood_bytes`` without a Content-Length; ``/redirect?to=URL`` answers
302 to URL; anything in ``files`` is served whole with its length.
"""

from __future__ import annotations

import time
import urllib.parse
from http.server import BaseHTTPRequestHandler

from helpers.local_server import LocalServer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"  # the body ends when the connection closes

    def do_GET(self):  # noqa: N802 (http.server's naming)
        srv = self.server
        url = urllib.parse.urlsplit(self.path)
        try:
            if url.path == "/drip":
                self.send_response(200)
                self.end_headers()
                for _ in range(srv.drip_count):
                    self.wfile.write(b"x")
                    self.wfile.flush()
                    time.sleep(srv.drip_seconds)
            elif url.path == "/flood":
                self.send_response(200)
                self.end_headers()
                block = b"\0" * 65536
                for _ in range(srv.flood_bytes // len(block)):
                    self.wfile.write(block)
            elif url.path == "/redirect":
                target = urllib.parse.parse_qs(url.query)["to"][0]
                self.send_response(302)
                self.send_header("Location", target)
                self.send_header("Content-Length", "0")
                self.end_headers()
            elif url.path in srv.files:
                body = srv.files[url.path]
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            else:
                self.send_error(404, "Not Found")
        except (BrokenPipeError, ConnectionResetError):  # the client gave up: as intended
            pass

    def log_message(self, *args):  # keep the test output clean
        pass


class HostileServer(LocalServer):
    """Context manager: ``with HostileServer() as s: s.url("drip")``."""

    def __init__(self, files: dict[str, bytes] | None = None, drip_seconds: float = 0.3,
                 drip_count: int = 200, flood_bytes: int = 8 << 20):
        super().__init__(_Handler, files=dict(files or {}), drip_seconds=drip_seconds,
                         drip_count=drip_count, flood_bytes=flood_bytes)
