"""A small HTTP server on 127.0.0.1 for the downloader tests (never the internet).

It serves in-memory files, honours ``Range: bytes=N-`` (206 / 416) unless told not to, records
every request, and can drop the connection after a number of bytes or pause half-way.
"""

from __future__ import annotations

import re
import time
from http.server import BaseHTTPRequestHandler

from helpers.local_server import LocalServer


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's naming)
        srv = self.server
        srv.requests.append({"path": self.path, "range": self.headers.get("Range")})
        body = srv.files.get(self.path)
        if body is None:
            self.send_error(404, "Not Found")
            return
        start = 0
        rng = self.headers.get("Range")
        if rng and srv.honour_range:
            match = re.fullmatch(r"bytes=(\d+)-", rng)
            start = int(match.group(1))
            if start >= len(body):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(body)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(body) - start))
        self.send_header("Content-Type", "application/octet-stream")
        self.end_headers()
        payload = body[start:]
        if srv.drop_after is not None:  # send some bytes, then hang up mid-response
            self.wfile.write(payload[: srv.drop_after])
            self.wfile.flush()
            srv.drop_after = None  # only once
            return
        if srv.pause_at is not None and srv.on_pause is not None:
            self.wfile.write(payload[: srv.pause_at])
            self.wfile.flush()
            srv.on_pause()
            payload = payload[srv.pause_at:]
        self.wfile.write(payload)

    def log_message(self, *args):  # keep the test output clean
        pass


class CorpusServer(LocalServer):
    """Context manager: ``with CorpusServer({"/a.zip": data}) as s: s.url("a.zip")``."""

    def __init__(self, files: dict[str, bytes]):
        super().__init__(_Handler, files=dict(files), requests=[], honour_range=True,
                         drop_after=None, pause_at=None, on_pause=None)

    @property
    def requests(self) -> list[dict]:
        return self.httpd.requests


def wait_for(predicate, timeout: float = 10.0) -> bool:
    """Poll ``predicate`` until it is true or ``timeout`` seconds pass."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.01)
    return False
