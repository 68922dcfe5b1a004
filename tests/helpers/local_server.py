"""An HTTP server on 127.0.0.1 (a free port) in a daemon thread: the base of the test servers
(``tests/corpora_server.py``, ``tests/helpers/hostile_server.py``); never the internet."""

from __future__ import annotations

import threading
from http.server import ThreadingHTTPServer


class LocalServer:
    """Serves ``handler`` while used as a context manager; ``state`` becomes attributes of
    the server, where the handler reads them (``self.server.files``, ...)."""

    def __init__(self, handler, **state):
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        for name, value in state.items():
            setattr(self.httpd, name, value)
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def base(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def url(self, path: str) -> str:
        return f"{self.base}/{path}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)
