"""Catalogue models: published models that the manifest lists with a ``download`` address, fetched on first use.

A fetch downloads the archive (resumable, size-bounded, SHA-256-verified: :func:`downloadVerified`), extracts it
safely (:func:`extractArchive`: no traversal, links or zip bombs), checks each file against the hashes the
catalogue lists (when it lists them), and only then renames the new folder onto its place in the model cache::

    <cache>/<id>-<version>/model/…            the model's files
    <cache>/<id>-<version>/fetched.json       the archive's address and SHA-256, the files' SHA-256
    <cache>/downloads/<id>-<version>.zip.partial   an interrupted download, resumed by the next fetch

So a killed fetch leaves no half model, and a model in the cache is always a verified one; every later load
still checks each file against ``fetched.json`` (:meth:`ModelFiles.checked`). An archive whose SHA-256 no
source publishes is never trusted on first use: the user pins its hash (``models fetch ID --sha256 HEX``).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import pathlib
import re
import shutil
from collections.abc import Callable

from VirtualBiopsy.errors import InputError, ModelError
from VirtualBiopsy.files import exclusiveLock, makeTemporaryFolder
from VirtualBiopsy.models.archives import ImportLimits, checkFolder, extractArchive, wrappedRoot
from VirtualBiopsy.models.download import downloadVerified, modelCacheFolder
from VirtualBiopsy.models.hashing import treeDigest, treeHashes
from VirtualBiopsy.models.modelEntry import ModelEntry
from VirtualBiopsy.models.verification import requireIntact
from VirtualBiopsy.progress import CancelToken, ProgressCallback, noProgress

logger = logging.getLogger(__name__)

#: The record of a fetched model, next to its ``model`` folder.
RECORD = "fetched.json"
_SHA256 = re.compile(r"[0-9a-f]{64}")
_MAX_RECORD_BYTES = 4 << 20
_DOWNLOAD_SHARE = 0.9


def cacheKey(entry: ModelEntry) -> str:
    """The cache folder name of a catalogue model: ``<id>-<version>`` (characters other than letters, digits,
    ``.``, ``_`` and ``-`` become ``_``)."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", f"{entry.id}-{entry.version}")


def pinnedHash(entry: ModelEntry, sha256: str | None = None) -> str | None:
    """The archive SHA-256 a fetch must match: the user's ``sha256``, else the catalogue's (``None``: none known).

    :raises InputError: for a malformed hash, or one that contradicts the catalogue's.
    """
    if entry.download is None:
        raise InputError(f"Model '{entry.id}' is not a catalogue model (it has no download address); nothing to fetch.")
    published = entry.download.sha256
    if sha256 is None:
        return published
    given = sha256.strip().lower()
    if not _SHA256.fullmatch(given):
        raise InputError(f"--sha256 {sha256!r} is not 64 hexadecimal digits; copy the archive's SHA-256 exactly.")
    if published and given != published:
        raise InputError(
            f"--sha256 {given} differs from the SHA-256 the catalogue records for '{entry.id}' ({published}); "
            "leave --sha256 out to use the catalogue's, or check which archive version you mean."
        )
    return given


def cachedModel(
    entry: ModelEntry, cacheFolder: str | os.PathLike | None = None, sha256: str | None = None
) -> ModelEntry | None:
    """The entry of a catalogue model as fetched into the cache (``path``: its absolute folder; ``files`` and
    ``sha256``: from the verified download), or ``None`` when it is not there or was fetched for another archive
    hash. Reads only the small record: no network, no file hashing.
    """
    folder = _cache(cacheFolder) / cacheKey(entry)
    record = _readRecord(folder / RECORD)
    if record is None:
        return None
    pin = pinnedHash(entry, sha256)
    if record.get("url") != entry.download.url or (pin is not None and record.get("archiveSha256") != pin):  # type: ignore[union-attr]
        return None
    files = record["files"]
    if entry.files and files != entry.files:
        return None
    return dataclasses.replace(entry, path=str(folder / "model"), files=dict(files), sha256=treeDigest(files))


def ensureModel(
    entry: ModelEntry,
    cacheFolder: str | os.PathLike | None = None,
    sha256: str | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    notify: Callable[[str], None] | None = None,
    timeout: float = 30.0,
) -> ModelEntry:
    """A catalogue model ready to load: from the cache when it is there and intact (no network), else fetched.

    :param entry: the catalogue entry (``entry.download`` set).
    :param cacheFolder: the model cache (default: :func:`modelCacheFolder`).
    :param sha256: the archive's SHA-256 pinned by the user; needed when the catalogue records none.
    :param progress: ``progress(fraction, message)``; the download is the first 90 %.
    :param cancel: checked between chunks; a cancelled download keeps its ``.partial`` file for the next fetch.
    :param notify: called with the licence terms before the first download of a model that states them.
    :returns: the entry with ``path`` the model's absolute folder in the cache and its files' hashes.
    :raises ModelError: when no SHA-256 is known (with the command that pins one), for a download or hash failure,
        or a file that differs from the catalogue's; nothing is left in the cache.
    :raises InputError: for a hostile archive (traversal, links, zip bomb); nothing is left in the cache.
    :raises CancelledError: when ``cancel`` is set.
    """
    progress = progress or noProgress
    cache = _cache(cacheFolder)
    pin = pinnedHash(entry, sha256)
    cached = cachedModel(entry, cache, sha256)
    if cached is not None:
        requireIntact(cached, pathlib.Path(cached.path))
        progress(1.0, f"Model '{entry.id}' is in the cache and verified")
        return cached
    if pin is None:
        raise ModelError(
            f"Model '{entry.id}' {entry.version} is not in the model cache, and no source publishes the SHA-256 of "
            f"its archive ({entry.download.url}), so it is not downloaded: Virtual Biopsy never trusts a download on "  # type: ignore[union-attr]
            "first use. Get the archive's SHA-256 from a source you trust (or download it yourself and run sha256sum), "
            f"then run: virtual-biopsy models fetch {entry.id} --sha256 HEX"
        )
    notice = licenceNotice(entry)
    if notice:
        logger.warning("%s", notice)
        if notify is not None:
            notify(notice)
    cache.mkdir(parents=True, exist_ok=True)
    with exclusiveLock(cache / ".locks" / f"{cacheKey(entry)}.lock"):
        cached = cachedModel(entry, cache, sha256)  # another process may have fetched it meanwhile
        if cached is not None:
            requireIntact(cached, pathlib.Path(cached.path))
            return cached
        return _fetch(entry, cache, pin, progress, cancel, timeout)


def licenceNotice(entry: ModelEntry) -> str:
    """The licence text shown before a catalogue model's first fetch (``""`` when it states no terms)."""
    download = entry.download
    if download is None or not download.licenceNotice:
        return ""
    where = f" ({download.licenceUrl})" if download.licenceUrl else ""
    return (
        f"Model '{entry.id}' is distributed under: {entry.licence or 'its own terms'}{where}. {download.licenceNotice} "
        "By fetching it you accept these terms."
    )


def downloadSummary(entry: ModelEntry) -> str:
    """For model lists: ``cached``, or ``download on first use, N MB, licence X`` (and ``SHA-256 to pin`` when the
    catalogue records none)."""
    download = entry.download
    if download is None or entry.isFetched:
        return "cached" if download is not None else "local"
    size = f"{download.sizeBytes / 1e6:.0f} MB" if download.sizeBytes else "size unknown"
    pin = "" if download.sha256 else ", SHA-256 to pin (--sha256)"
    return f"download on first use, {size}, licence {entry.licence or 'unstated'}{pin}"


def _fetch(
    entry: ModelEntry,
    cache: pathlib.Path,
    pin: str,
    progress: ProgressCallback,
    cancel: CancelToken | None,
    timeout: float,
) -> ModelEntry:
    download = entry.download
    assert download is not None  # checked by pinnedHash
    archive = cache / "downloads" / f"{cacheKey(entry)}.{download.format}"

    def downloading(fraction: float, message: str) -> None:
        progress(_DOWNLOAD_SHARE * fraction, message)

    downloadVerified(
        download.url, archive, pin, size=download.sizeBytes, progress=downloading, cancel=cancel, timeout=timeout
    )
    staging = makeTemporaryFolder(cache, prefix=f".staging-{cacheKey(entry)}-")
    try:
        extracted = staging / "extracted"
        extracted.mkdir()

        def extracting(fraction: float, message: str) -> None:
            progress(_DOWNLOAD_SHARE + 0.08 * fraction, message)

        try:
            extractArchive(archive, extracted, ImportLimits(), extracting, cancel)
        except InputError:
            archive.unlink(missing_ok=True)  # verified but hostile or corrupt: never extract it again
            raise
        root = _modelRoot(entry, extracted)
        checkFolder(root)
        progress(0.99, f"Checking the files of '{entry.id}'")
        tree, files = treeHashes(root)
        _requireListedFiles(entry, files)
        os.replace(root, staging / "model")
        shutil.rmtree(extracted, ignore_errors=True)
        record = {"id": entry.id, "version": entry.version, "url": download.url, "archiveSha256": pin, "files": files}
        (staging / RECORD).write_text(json.dumps(record, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        _publish(staging, cache / cacheKey(entry))
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    archive.unlink(missing_ok=True)
    progress(1.0, f"Model '{entry.id}' fetched and verified ({len(files)} file(s), tree sha256 {tree})")
    fetched = cachedModel(entry, cache, pin)
    if fetched is None:  # the record just written must describe this model
        raise ModelError(f"Model '{entry.id}': the cache record in {cache / cacheKey(entry)} could not be read back.")
    return fetched


def _modelRoot(entry: ModelEntry, extracted: pathlib.Path) -> pathlib.Path:
    root = entry.download.root if entry.download else ""
    if not root:
        return wrappedRoot(extracted)
    folder = extracted / root
    if not folder.is_dir() or folder.is_symlink():
        raise ModelError(
            f"The archive of model '{entry.id}' has no folder '{root}' (the catalogue's download.root); "
            "the archive does not match the catalogue entry: check the address and the version."
        )
    return folder


def _requireListedFiles(entry: ModelEntry, files: dict[str, str]) -> None:
    """:raises ModelError: when the catalogue lists file hashes and the archive's files differ from them."""
    if not entry.files:
        return
    changed = sorted(name for name in entry.files if name in files and files[name] != entry.files[name])
    missing = sorted(set(entry.files) - set(files))
    extra = sorted(set(files) - set(entry.files))
    if changed or missing or extra:
        parts = [
            f"{label}: {', '.join(names[:5])}"
            for label, names in (("changed", changed), ("missing", missing), ("extra", extra))
            if names
        ]
        raise ModelError(
            f"Model '{entry.id}' is refused: its archive matches the pinned SHA-256 but its files differ from those "
            f"the catalogue records ({'; '.join(parts)}). Nothing was added to the model cache; check that the "
            "pinned hash belongs to the catalogue's version of the model."
        )


def _publish(staging: pathlib.Path, final: pathlib.Path) -> None:
    """Rename ``staging`` onto ``final``, replacing an older fetch (another archive hash) only once the new one is
    complete."""
    old = None
    if final.exists():
        old = final.with_name(f".old-{final.name}-{os.getpid()}")
        os.replace(final, old)
    os.replace(staging, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _readRecord(path: pathlib.Path) -> dict | None:
    if not path.is_file() or path.is_symlink() or path.stat().st_size > _MAX_RECORD_BYTES:
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        logger.warning("Ignoring the unreadable cache record %s; the model will be fetched again.", path)
        return None
    files = record.get("files") if isinstance(record, dict) else None
    if (
        not isinstance(files, dict)
        or not files
        or not all(isinstance(k, str) and isinstance(v, str) and _SHA256.fullmatch(v) for k, v in files.items())
    ):
        logger.warning("Ignoring the malformed cache record %s; the model will be fetched again.", path)
        return None
    return record


def _cache(cacheFolder: str | os.PathLike | None) -> pathlib.Path:
    return pathlib.Path(cacheFolder).expanduser().absolute() if cacheFolder else modelCacheFolder().absolute()
