"""Import a model folder, TorchScript file, ``.zip`` or tar archive into a models folder.

The source is checked first (see :mod:`~VirtualBiopsy.models.archives`), then only the files the
model needs are copied into a hidden staging folder, hashed there, and the folder is renamed to
``<models folder>/<id>``: a model appears whole or not at all, and an existing one is never replaced.
Recording the entry in a manifest is the registry's job (:meth:`ModelRegistry.importModel`).
"""

from __future__ import annotations

import os
import pathlib
import shutil
import tempfile

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.models.allowList import checkMonaiNetwork, checkNnunetDataset, checkNnunetPlans
from VirtualBiopsy.models.archives import (
    ImportLimits,
    checkArchive,
    checkFolder,
    extractArchive,
    requireFreeSpace,
    wrappedRoot,
)
from VirtualBiopsy.models.hashing import fileSha256
from VirtualBiopsy.models.modelDetection import (
    ModelLayout,
    defaultModelId,
    detectModel,
    entryFromPath,
    layoutEntry,
    requireModelId,
)
from VirtualBiopsy.models.modelEntry import ModelEntry
from VirtualBiopsy.models.modelMetadata import readJsonObject
from VirtualBiopsy.models.tarArchives import checkTarArchive, extractTarArchive, isTarName
from VirtualBiopsy.progress import CancelToken, ProgressCallback, noProgress

__all__ = ["ImportLimits", "entryFromPath", "installModel", "importedId", "requireAllowedConfiguration"]


def importedId(source: str | os.PathLike, modelId: str | None = None) -> str:
    """The id an import of ``source`` gets: ``modelId`` (checked) or one made from the source's name."""
    return requireModelId(modelId or defaultModelId(source))


def installModel(
    source: str | os.PathLike,
    modelsFolder: str | os.PathLike,
    modelId: str,
    trust: bool = False,
    limits: ImportLimits = ImportLimits(),
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> ModelEntry:
    """Copy the model at ``source`` into ``modelsFolder/modelId`` and describe it.

    :param source: an nnU-Net or MONAI model folder, a TorchScript file (with its ``<name>.json``), or a ``.zip``
        or tar archive (``.tar``, ``.tar.gz``, ``.tgz``, …) holding one of them.
    :param trust: record the model as trusted (its checkpoints may be fully unpickled once their hash matches).
    :returns: the entry, with ``path`` relative to ``modelsFolder`` (``<id>`` or ``<id>/<file>``).
    :raises InputError: for an unsafe or unrecognised source, or when ``modelsFolder/modelId`` exists.
    :raises UnsafeModelError: when an untrusted model's configuration names a class or expression outside the
        allow-list (:mod:`~VirtualBiopsy.models.allowList`); nothing is written.
    :raises CancelledError: when cancelled; nothing is left behind.
    """
    source = pathlib.Path(source)
    modelsFolder = pathlib.Path(modelsFolder)
    progress = progress or noProgress
    requireModelId(modelId)
    final = modelsFolder / modelId
    _requireAbsent(final, modelId)
    if not source.exists() or source.is_symlink():
        raise InputError(
            f"Model source {source} "
            + (
                "is a symbolic link; give the real file or folder."
                if source.is_symlink()
                else "does not exist; check the path."
            )
        )
    tar = source.is_file() and isTarName(source)
    archive = tar or (source.is_file() and source.suffix.lower() == ".zip")
    if archive:
        (checkTarArchive if tar else checkArchive)(source, limits)
    else:
        if source.is_dir():
            checkFolder(source)
        layout = detectModel(source)
    modelsFolder.mkdir(parents=True, exist_ok=True)
    staging = pathlib.Path(tempfile.mkdtemp(prefix=f".{modelId}.", suffix=".partial", dir=modelsFolder))
    try:
        if archive:
            extracted = staging / "extracted"
            extracted.mkdir()
            (extractTarArchive if tar else extractArchive)(
                source, extracted, limits, lambda f, m: progress(0.5 * f, m), cancel
            )
            layout = detectModel(wrappedRoot(extracted))
        model = staging / "model"
        model.mkdir()
        pairs = _copies(layout, model)
        if not archive:
            requireFreeSpace(modelsFolder, sum(src.stat().st_size for src, _ in pairs))
        for index, (src, dst) in enumerate(pairs):
            if cancel is not None:
                cancel.raiseIfCancelled()
            dst.parent.mkdir(parents=True, exist_ok=True)
            if archive:  # extracted into the staging folder already: move
                os.replace(src, dst)
            else:
                shutil.copyfile(src, dst, follow_symlinks=False)
            progress(0.5 + 0.4 * (index + 1) / len(pairs), f"copied {dst.relative_to(model).as_posix()}")
        if not trust:  # the copies (the files that will be hashed and loaded), named as the user knows them
            requireAllowedConfiguration(layout, model, f"{source}: " if archive else layout.root)
        hashes = {name: fileSha256(model / name) for name in layout.files}
        path = f"{modelId}/{layout.files[0]}" if not layout.root.is_dir() else modelId
        entry = layoutEntry(layout, modelId, path, hashes, trust)
        _requireAbsent(final, modelId)
        try:
            os.rename(model, final)
        except OSError as error:
            raise InputError(
                f"Cannot move the imported model into {final} ({error.strerror}); nothing was imported. "
                f"Check that the folder is writable and that '{modelId}' is not in use."
            ) from error
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    progress(1.0, f"imported {modelId}")
    return entry


def requireAllowedConfiguration(
    layout: ModelLayout, root: pathlib.Path | None = None, shownAs: str | pathlib.Path | None = None
) -> None:
    """Check every class path and importable name the model's configuration would make a library resolve.

    :param root: where the model's files are (default: ``layout.root``), e.g. a copy of them.
    :param shownAs: the folder messages name the files in (a source folder, or an archive's path followed by
        ``": "``; default: ``root``).
    :raises UnsafeModelError: naming the file, the field and the value outside the allow-list.
    """
    root = root or layout.root

    def shown(name: str) -> str:
        if shownAs is None:
            return str(root / name)
        return f"{shownAs}{name}" if isinstance(shownAs, str) else str(pathlib.Path(shownAs) / name)

    if layout.backend == "nnunet":
        checkNnunetPlans(readJsonObject(root / "plans.json"), shown("plans.json"))
        checkNnunetDataset(readJsonObject(root / "dataset.json"), shown("dataset.json"))
    elif layout.backend == "monai-network":
        where = shown(str(layout.options.get("metadata", "")))
        checkMonaiNetwork(layout.options.get("network"), layout.options.get("networkArgs"), where)


def _copies(layout, model: pathlib.Path) -> list[tuple[pathlib.Path, pathlib.Path]]:
    """(source, destination) of every file to copy: the model's files, and a file model's companions."""
    if not layout.root.is_dir():
        return [
            (layout.root, model / layout.root.name),
            *((companion, model / companion.name) for companion in layout.companions),
        ]
    return [(layout.root / name, model / name) for name in layout.files]


def _requireAbsent(final: pathlib.Path, modelId: str) -> None:
    if final.exists() or final.is_symlink():
        raise InputError(
            f"A model folder '{modelId}' exists already in {final.parent}; nothing is replaced. "
            f"Import under another id (--id {modelId}-2), or remove the old model first."
        )
