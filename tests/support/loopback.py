"""One HTTP server on 127.0.0.1 in a daemon thread: the lifecycle the loopback catchers share.

A free port is taken at start, requests are served on their own threads, and `stop()` frees the
port; the catchers supply only the request handler, so what they answer is all they define.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class LoopbackServer:
    """Serves `handler` on a free loopback port until stopped."""

    def __init__(self, handler: type[BaseHTTPRequestHandler], name: str) -> None:
        self._handler = handler
        self._name = name
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> int:
        """Listen and serve in a daemon thread; returns the port."""
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name=self._name, daemon=True
        )
        self._thread.start()
        return self.port

    @property
    def port(self) -> int:
        """The port, once started."""
        if self._server is None:
            raise RuntimeError(f"{self._name} not started")
        return int(self._server.server_address[1])

    def stop(self) -> None:
        """Stop listening and free the port."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
