"""Fetching a model file by URL: resumable, bounded in size, and verified by SHA-256 before it gets its name.

The bytes go to ``<destination>.partial``; a re-run resumes it with an HTTP ``Range`` request. Only when the
whole file matches the expected SHA-256 is it renamed (atomically) onto the destination, so a file with the
final name is always a verified one. Standard library only (``urllib.request``).
"""

from __future__ import annotations

import hashlib
import http.client
import os
import pathlib
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping

from VirtualBiopsy.errors import InputError, ModelError
from VirtualBiopsy.progress import CancelToken, ProgressCallback, noProgress

_SCHEMES = ("http", "https", "file")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)")
_RETRY = "Check the address and the network connection, then try again"


def modelCacheFolder(environ: Mapping[str, str] | None = None) -> pathlib.Path:
    """The folder where downloaded models are cached (not created here).

    ``$VIRTUAL_BIOPSY_CACHE/models`` when that variable is set, else ``$XDG_CACHE_HOME/virtual-biopsy/models``,
    else ``~/.cache/virtual-biopsy/models``.

    :param environ: the environment to read (default: ``os.environ``).
    """
    environ = os.environ if environ is None else environ
    if environ.get("VIRTUAL_BIOPSY_CACHE"):
        return pathlib.Path(environ["VIRTUAL_BIOPSY_CACHE"]).expanduser() / "models"
    cacheHome = environ.get("XDG_CACHE_HOME") or str(pathlib.Path.home() / ".cache")
    return pathlib.Path(cacheHome).expanduser() / "virtual-biopsy" / "models"


def downloadVerified(
    url: str,
    destination: str | os.PathLike,
    sha256: str,
    *,
    size: int | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    timeout: float = 30.0,
    chunkSize: int = 1 << 20,
) -> pathlib.Path:
    """Download ``url`` to ``destination`` unless a file with the right SHA-256 is already there.

    :param url: an ``https://``, ``http://`` or ``file://`` (local mirror) address.
    :param destination: the final file; it appears only once its hash is verified.
    :param sha256: the expected SHA-256 (hex).
    :param size: the expected size in bytes; a response announcing or streaming more is refused.
    :param progress: ``progress(fraction, message)``; the fraction is 0 until the size is known.
    :param cancel: checked between chunks; a cancelled download keeps its partial file for resume.
    :param timeout: seconds to wait for the connection and for each read.
    :param chunkSize: bytes read per chunk.
    :returns: ``destination`` as a path.
    :raises InputError: for an unsupported URL scheme, a malformed hash or a bad size.
    :raises ModelError: for network and HTTP failures (the partial file is kept), an oversized response or a
        hash mismatch (the partial file is deleted).
    :raises CancelledError: when ``cancel`` is set.
    """
    scheme = urllib.parse.urlsplit(url).scheme.lower()
    if scheme not in _SCHEMES:
        raise InputError(f"Model URL {url!r} is refused: only https://, http:// and file:// addresses are supported.")
    expected = sha256.strip().lower()
    if not _SHA256.fullmatch(expected):
        raise InputError(f"SHA-256 {sha256!r} for {url} is not 64 hexadecimal digits; copy it from the model's page.")
    if size is not None and size < 0:
        raise InputError(f"Size {size} for {url} is negative; give the file size in bytes or leave it out.")
    progress = progress or noProgress
    destination = pathlib.Path(destination)
    if destination.is_file() and not destination.is_symlink() and _fileSha256(destination) == expected:
        progress(1.0, f"{destination.name} is already downloaded and verified")
        return destination
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(destination.name + ".partial")
    if partial.exists() and size is not None and partial.stat().st_size > size:
        partial.unlink()
    for _attempt in range(3):
        if cancel is not None:
            cancel.raiseIfCancelled()
        offset = partial.stat().st_size if partial.exists() else 0
        if _fetch(url, partial, expected, offset, size, progress, cancel, timeout, chunkSize):
            os.replace(partial, destination)
            progress(1.0, f"{destination.name} downloaded and verified")
            return destination
    raise ModelError(f"Download of {url} kept restarting; {_RETRY}.")


def _fetch(
    url: str,
    partial: pathlib.Path,
    expected: str,
    offset: int,
    size: int | None,
    progress: ProgressCallback,
    cancel: CancelToken | None,
    timeout: float,
    chunkSize: int,
) -> bool:
    """One request; ``True`` when ``partial`` is complete and verified, ``False`` to restart from zero."""
    request = urllib.request.Request(url, headers={"Range": f"bytes={offset}-"} if offset else {})
    opener = urllib.request.build_opener(_SafeRedirects)
    try:
        response = opener.open(request, timeout=timeout)
    except urllib.error.HTTPError as error:
        error.close()
        if error.code == 416 and offset:
            if _fileSha256(partial) == expected:
                return True
            partial.unlink()
            return False
        raise ModelError(
            f"Download of {url} failed: HTTP {error.code} {error.reason}. {_RETRY}"
            + ("; the partial file is kept, so a re-run resumes." if offset else ".")
        ) from error
    except (OSError, http.client.HTTPException) as error:
        raise _networkError(url, error, partial) from error
    with response:
        status = response.status or 200  # file:// answers without a status: a whole file
        start = 0
        if status == 206:
            match = _CONTENT_RANGE.fullmatch((response.headers.get("Content-Range") or "").strip())
            if match is None or int(match.group(1)) != offset:
                partial.unlink(missing_ok=True)
                return False
            start = offset
        length = response.headers.get("Content-Length")
        total = start + int(length) if length and length.isdigit() else size
        if size is not None and total is not None and total > size:
            partial.unlink(missing_ok=True)
            raise _oversized(url, total, size)
        total = size if size is not None else total
        digest = hashlib.sha256()
        if start:
            _hashInto(partial, digest)
        written = start
        try:
            with open(partial, "ab" if start else "wb") as stream:
                while True:
                    if cancel is not None:
                        cancel.raiseIfCancelled()
                    chunk = response.read(chunkSize)
                    if not chunk:
                        break
                    if size is not None and written + len(chunk) > size:
                        stream.close()
                        partial.unlink(missing_ok=True)
                        raise _oversized(url, written + len(chunk), size)
                    stream.write(chunk)
                    digest.update(chunk)
                    written += len(chunk)
                    fraction = min(written / total, 1.0) if total else 0.0
                    progress(fraction, f"Downloading {partial.name[: -len('.partial')]}: {_megabytes(written, total)}")
                stream.flush()
                os.fsync(stream.fileno())
        except (OSError, http.client.HTTPException) as error:
            raise _networkError(url, error, partial) from error
    if total is not None and written < total:
        raise ModelError(
            f"Download of {url} stopped after {written} of {total} bytes (the connection was closed). "
            f"{_RETRY}; the partial file {partial} is kept, so a re-run resumes."
        )
    actual = digest.hexdigest()
    if actual != expected:
        partial.unlink(missing_ok=True)
        raise ModelError(
            f"Download of {url} is refused: its SHA-256 is {actual} but {expected} was expected. The file was "
            "deleted. Check that the address and the hash belong to the same model version, or that no proxy "
            "altered the file."
        )
    return True


class _SafeRedirects(urllib.request.HTTPRedirectHandler):
    """Follows redirects only to http(s) addresses."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        scheme = urllib.parse.urlsplit(newurl).scheme.lower()
        if scheme not in ("http", "https"):
            raise ModelError(
                f"Download of {req.full_url} is refused: the server redirects to {newurl!r}, which is not an "
                "http(s) address. Use the model's direct https:// address."
            )
        return super().redirect_request(req, fp, code, msg, headers, newurl)

    def http_error_302(self, req, fp, code, msg, headers):
        newurl = urllib.parse.urljoin(req.full_url, headers.get("location") or headers.get("uri") or "")
        if urllib.parse.urlsplit(newurl).scheme.lower() not in ("http", "https"):
            self.redirect_request(req, fp, code, msg, headers, newurl)
        return super().http_error_302(req, fp, code, msg, headers)

    http_error_301 = http_error_303 = http_error_307 = http_error_308 = http_error_302


def _networkError(url: str, error: BaseException, partial: pathlib.Path) -> ModelError:
    reason = getattr(error, "reason", None) or error
    kept = f"; the partial file {partial} is kept, so a re-run resumes." if partial.exists() else "."
    return ModelError(f"Download of {url} failed ({type(error).__name__}: {reason}). {_RETRY}{kept}")


def _oversized(url: str, bytesSeen: int, size: int) -> ModelError:
    return ModelError(
        f"Download of {url} is refused: the response has at least {bytesSeen} bytes but the model is {size} bytes. "
        "Nothing was kept; check that the address belongs to this model version."
    )


def _megabytes(written: int, total: int | None) -> str:
    return f"{written / 1e6:.1f} of {total / 1e6:.1f} MB" if total else f"{written / 1e6:.1f} MB"


def _hashInto(path: pathlib.Path, digest) -> None:
    with open(path, "rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)


def _fileSha256(path: pathlib.Path) -> str:
    digest = hashlib.sha256()
    _hashInto(path, digest)
    return digest.hexdigest()
