"""A local HTTP server on 127.0.0.1 (random port, own thread) for catalogue-model tests, and a small real catalogue
model: a MONAI network folder zipped, listed in a user manifest with its download address."""

from __future__ import annotations

import dataclasses
import hashlib
import http.server
import pathlib
import re
import threading

from modelFolders import writeNetworkModel, zipFolder

from VirtualBiopsy.models.manifest import writeManifest
from VirtualBiopsy.models.modelDetection import entryFromPath
from VirtualBiopsy.models.modelEntry import ModelDownload, ModelEntry

MODEL_ID = "tiny-cat"


class _Handler(http.server.BaseHTTPRequestHandler):
    server: CatalogueServer

    def do_GET(self) -> None:
        server = self.server
        server.requests.append((self.path, self.headers.get("Range")))
        body = server.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        start = 0
        match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
        if match:
            start = int(match.group(1))
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(body) - start))
        self.send_header("Connection", "close")
        self.end_headers()
        sent = body[start:]
        if server.dropAfter is not None:  # the connection breaks once, after dropAfter bytes
            sent, server.dropAfter = sent[: server.dropAfter], None
        try:
            self.wfile.write(sent)
        except (BrokenPipeError, ConnectionResetError):
            pass
        self.close_connection = True

    def log_message(self, format, *args) -> None:
        pass


class CatalogueServer(http.server.ThreadingHTTPServer):
    """Serves ``files`` (path → bytes) with ``Range: bytes=N-`` support; logs ``(path, Range)`` per request."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.files: dict[str, bytes] = {}
        self.requests: list[tuple[str, str | None]] = []
        self.dropAfter: int | None = None
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)
        self._thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{path}"

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


def modelArchive(folder: pathlib.Path) -> tuple[ModelEntry, bytes]:
    """A MONAI network model (its entry, as detected) and a zip of it wrapped in one folder, as releases are."""
    model = writeNetworkModel(folder / MODEL_ID)
    entry = entryFromPath(model, MODEL_ID)
    archive = zipFolder(model, folder / "archive.zip", prefix=f"{MODEL_ID}-1.0/")
    return entry, archive.read_bytes()


def catalogueEntry(
    local: ModelEntry, url: str, sha256: str | None, listFiles: bool = False, notice: str = ""
) -> ModelEntry:
    """``local`` as a catalogue entry fetched from ``url`` (listing its files' hashes when ``listFiles``)."""
    return dataclasses.replace(
        local,
        path=MODEL_ID,
        sha256=local.sha256 if listFiles else "",
        files=dict(local.files) if listFiles else {},
        licence="CC-BY-4.0",
        download=ModelDownload(url=url, sha256=sha256, licenceNotice=notice),
    )


def publish(userFolder: pathlib.Path, entry: ModelEntry) -> None:
    """List ``entry`` in the user manifest of ``userFolder``."""
    userFolder.mkdir(parents=True, exist_ok=True)
    writeManifest(userFolder / "models.json", [entry])


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
