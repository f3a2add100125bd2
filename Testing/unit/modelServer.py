"""A local HTTP server on 127.0.0.1 (random port, its own thread) that serves model files for download tests,
with ``Range: bytes=N-`` support and switches that make it misbehave (errors, redirects, ignored ranges, broken
connections, wrong bytes, no length)."""

from __future__ import annotations

import http.server
import re
import threading


class ModelHandler(http.server.BaseHTTPRequestHandler):
    """Serves ``server.files``, honouring ``Range: bytes=N-`` unless told otherwise by the server's switches."""

    server: ModelServer

    def do_GET(self) -> None:
        server = self.server
        server.requests.append((self.path, self.headers.get("Range")))
        if server.status is not None:
            self.send_error(server.status)
            return
        if server.redirectTo is not None:
            self.send_response(302)
            self.send_header("Location", server.redirectTo)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = server.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        if server.wrongBytes:
            body = bytes(255 - b for b in body[:16]) + body[16:]
        match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
        if match and not server.ignoreRange:
            start = int(match.group(1))
            if start >= len(body):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(body)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
            body = body[start:]
        else:
            self.send_response(200)
        if not server.noLength:
            self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        if server.dropAfter is not None:
            body = body[: server.dropAfter]
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client stopped reading (cancel, size limit)
        self.close_connection = True

    def log_message(self, format, *args) -> None:
        pass


class ModelServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), ModelHandler)
        self.files: dict[str, bytes] = {}
        self.requests: list[tuple[str, str | None]] = []
        self.status: int | None = None
        self.redirectTo: str | None = None
        self.ignoreRange = False
        self.dropAfter: int | None = None
        self.wrongBytes = False
        self.noLength = False

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{path}"

    def handle_error(self, request, client_address) -> None:
        pass

    def start(self) -> ModelServer:
        """Serve in a daemon thread until :meth:`stop`."""
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        self._thread.join(timeout=5)
