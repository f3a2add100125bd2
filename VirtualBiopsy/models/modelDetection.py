"""Tell what a model folder or file is, and describe it as a :class:`ModelEntry`.

Three layouts are recognised:

- **nnU-Net** trained-model folder: ``dataset.json``, ``plans.json`` and ``fold_*/checkpoint_final.pth``
  (or ``checkpoint_best.pth``), possibly one level down as in nnU-Net's results folders
  (``Dataset001_X/Trainer__Plans__configuration``). Inputs come from ``channel_names``, labels from ``labels``.
- **MONAI TorchScript**: a ``.pt``/``.ts`` TorchScript file with a sidecar ``<name>.json`` (inputs, labels).
- **MONAI network**: a folder with a metadata ``.json`` naming the ``network`` (and ``networkArgs``) and a
  state-dict weights file (``weights``, or the folder's single ``.pt``/``.pth``/``.ckpt`` file).

Metadata files give ``inputs`` (``[{"sequence", "channel"}]``, ``["T1c", "FLAIR"]`` or ``{"0": "T1c"}``) and
``labels`` (``[{"value", "name", "color", "terminology"}]``, ``{"tumour": 1}`` or ``{"1": "tumour"}``); other
keys (``roiSize``, ``spacing``, …) become the entry's ``options``.
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import stat
import zipfile
from typing import Any

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.models.cycleGanFolder import cycleGanLayout, isCycleGanFolder
from VirtualBiopsy.models.hashing import fileSha256, treeDigest
from VirtualBiopsy.models.manifest import unsafeRelativePath
from VirtualBiopsy.models.modelEntry import ModelEntry, ModelLabel
from VirtualBiopsy.models.modelLayout import ModelLayout
from VirtualBiopsy.models.modelMetadata import parseInputs, parseLabels, readJsonObject
from VirtualBiopsy.models.monaiBundle import bundleLayout, isMonaiBundle
from VirtualBiopsy.models.tarArchives import TAR_SUFFIXES

TORCHSCRIPT_SUFFIXES = (".pt", ".ts", ".pth")
WEIGHTS_SUFFIXES = (".pt", ".pth", ".ckpt")
CHECKPOINT_NAMES = ("checkpoint_final.pth", "checkpoint_best.pth")
_DESCRIPTIVE_KEYS = ("inputs", "labels", "version", "licence", "license", "source", "description", "id")
_FOLD = re.compile(r"^fold_(\d+|all)$")
_ID_CHARACTERS = re.compile(r"[^A-Za-z0-9._-]+")


def entryFromPath(path: str | os.PathLike, modelId: str | None = None) -> ModelEntry:
    """The entry of a model folder or file used in place (not imported): absolute path, hashes computed now,
    not trusted.

    :param modelId: the entry's id (default: from the path's name).
    :raises InputError: when the path is not a recognisable model or holds links.
    """
    layout = detectModel(path)
    hashes = {name: fileSha256(_plainFile(layout.root, name)) for name in layout.files}
    return layoutEntry(
        layout, requireModelId(modelId or defaultModelId(path)), str(layout.root.resolve()), hashes, trusted=False
    )


def layoutEntry(layout: ModelLayout, modelId: str, path: str, hashes: dict[str, str], trusted: bool) -> ModelEntry:
    """The entry of a detected model whose files have the given hashes."""
    return ModelEntry(
        id=modelId,
        version=layout.version,
        backend=layout.backend,
        path=path,
        inputs=layout.inputs,
        labels=layout.labels,
        sha256=treeDigest(hashes),
        files=dict(sorted(hashes.items())),
        trusted=trusted,
        licence=layout.licence,
        source=layout.source,
        description=layout.description,
        options=dict(layout.options),
    )


def detectModel(path: str | os.PathLike) -> ModelLayout:
    """The layout of the model at ``path`` (folder or TorchScript file).

    :raises InputError: naming what is missing when the path is no model Virtual Biopsy can run.
    """
    path = pathlib.Path(path)
    if path.is_symlink() or not path.exists():
        raise InputError(
            f"Model path {path} "
            + (
                "is a symbolic link; give the real file or folder."
                if path.is_symlink()
                else "does not exist; check the path."
            )
        )
    if path.is_file():
        if path.suffix.lower() == ".zip" or path.name.lower().endswith(TAR_SUFFIXES):
            kind = "a zip" if path.suffix.lower() == ".zip" else "a tar"
            raise InputError(f"{path} is {kind} archive; import it first: virtual-biopsy models import {path}")
        if isTorchScript(path):
            return _torchScriptLayout(path)
        raise InputError(
            f"{path} is not a TorchScript file; give a TorchScript .pt file (torch.jit.save), "
            "an nnU-Net trained-model folder, or a MONAI network folder (weights saved with "
            "torch.save need one, with a metadata .json naming the network)."
        )
    if not path.is_dir():
        raise InputError(f"Model path {path} is neither a regular file nor a folder; give a model file or folder.")
    if isCycleGanFolder(path):
        return cycleGanLayout(path)
    if isMonaiBundle(path):
        return bundleLayout(path)
    nnunetFolder = _nnunetFolder(path)
    if nnunetFolder is not None:
        return _nnunetLayout(nnunetFolder)
    metadata = [child for child in sorted(path.glob("*.json")) if _isNetworkMetadata(child)]
    if len(metadata) > 1:
        names = ", ".join(m.name for m in metadata)
        raise InputError(f"Model folder {path} has several network metadata files ({names}); keep one.")
    if metadata:
        return _networkLayout(metadata[0])
    scripts = [
        child
        for child in sorted(path.iterdir())
        if child.suffix in TORCHSCRIPT_SUFFIXES and child.is_file() and not child.is_symlink() and isTorchScript(child)
    ]
    if len(scripts) == 1:
        return _torchScriptLayout(scripts[0])
    found = ", ".join(sorted(child.name for child in path.iterdir())[:8]) or "nothing"
    raise InputError(
        f"Cannot tell what model {path} is (it holds {found}). Expected an nnU-Net trained-model folder "
        "(dataset.json, plans.json, fold_N/checkpoint_final.pth), a folder with one TorchScript file and its "
        "<name>.json, or a MONAI network folder (a .json with 'network' and 'networkArgs', and the weights)."
    )


def isTorchScript(path: pathlib.Path) -> bool:
    """Whether ``path`` is a TorchScript archive (``torch.jit.save``), not a plain ``torch.save`` file."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError):
        return False
    tops = {name.split("/", 1)[0] for name in names}
    if len(tops) != 1:
        return False
    top = tops.pop()
    return f"{top}/data.pkl" in names and (
        f"{top}/constants.pkl" in names or any(name.startswith(f"{top}/code/") for name in names)
    )


def defaultModelId(path: str | os.PathLike) -> str:
    """An id made from the path's name (``Dataset001_Brain.zip``, ``Dataset001_Brain.tar.gz`` → ``Dataset001_Brain``)."""
    path = pathlib.Path(path)
    tarSuffix = next((suffix for suffix in TAR_SUFFIXES if path.name.lower().endswith(suffix)), "")
    name = path.name if path.is_dir() else path.name[: -len(tarSuffix)] if tarSuffix else path.stem
    candidate = _ID_CHARACTERS.sub("-", name).lstrip("._-")[:64].rstrip("._-")
    return candidate or "model"


def requireModelId(modelId: str) -> str:
    """``modelId`` if it is a valid id (letters, digits, ``.``, ``_``, ``-``; at most 64; starts alphanumeric).

    :raises InputError: otherwise.
    """
    if not re.fullmatch(r"[A-Za-z0-9]([A-Za-z0-9._-]{0,62}[A-Za-z0-9_-])?", modelId or "") or modelId.endswith(
        ".partial"
    ):
        raise InputError(
            f"Model id '{modelId}' is not valid; use up to 64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit and not ending with '.' (e.g. --id brain-tumour)."
        )
    if modelId.split(".")[0].upper() in {
        "CON",
        "PRN",
        "AUX",
        "NUL",
        *(f"COM{i}" for i in range(10)),
        *(f"LPT{i}" for i in range(10)),
    }:
        raise InputError(f"Model id '{modelId}' is a reserved device name on Windows; choose another --id.")
    return modelId


def _nnunetFolder(path: pathlib.Path) -> pathlib.Path | None:
    if _looksLikeNnunet(path):
        return path
    children = [
        child
        for child in sorted(path.iterdir())
        if child.is_dir() and not child.is_symlink() and _looksLikeNnunet(child)
    ]
    if len(children) > 1:
        names = ", ".join(child.name for child in children)
        raise InputError(f"{path} holds several nnU-Net trained models ({names}); give the folder of one of them.")
    return children[0] if children else None


def _looksLikeNnunet(folder: pathlib.Path) -> bool:
    return (
        (folder / "dataset.json").exists()
        or (folder / "plans.json").exists()
        or any(_FOLD.match(child.name) and child.is_dir() for child in folder.iterdir())
    )


def _nnunetLayout(folder: pathlib.Path) -> ModelLayout:
    for name in ("dataset.json", "plans.json"):
        if not (folder / name).is_file():
            raise InputError(
                f"nnU-Net model folder {folder} has no {name}; copy the whole trained-model folder "
                "(dataset.json, plans.json, fold_N/) from nnU-Net's results."
            )
    dataset = readJsonObject(folder / "dataset.json")
    plans = readJsonObject(folder / "plans.json")
    folds = {
        match.group(1): child
        for child in folder.iterdir()
        if (match := _FOLD.match(child.name)) and child.is_dir() and not child.is_symlink()
    }
    checkpoint, chosen = next(
        (
            (name, [fold for fold, child in folds.items() if (child / name).is_file()])
            for name in CHECKPOINT_NAMES
            if any((child / name).is_file() for child in folds.values())
        ),
        (None, []),
    )
    if checkpoint is None:
        raise InputError(
            f"nnU-Net model folder {folder} has no fold_N/checkpoint_final.pth or checkpoint_best.pth "
            f"(folds: {', '.join(sorted(folds)) or 'none'}); copy the trained folds too."
        )
    foldNames = sorted(chosen, key=lambda fold: (fold == "all", int(fold) if fold.isdigit() else 0))
    parts = folder.name.split("__")
    configurations = list(plans.get("configurations", {})) if isinstance(plans, dict) else []
    options: dict[str, Any] = {
        "trainer": parts[0] if len(parts) == 3 else "",
        "plans": parts[1] if len(parts) == 3 else str(plans.get("plans_name", "")),
        "configuration": parts[2] if len(parts) == 3 else (configurations[0] if len(configurations) == 1 else ""),
        "folds": [int(fold) if fold.isdigit() else fold for fold in foldNames],
        "checkpoint": checkpoint,
    }
    channels = dataset.get("channel_names", dataset.get("modality"))
    return ModelLayout(
        backend="nnunet",
        root=folder,
        files=("dataset.json", "plans.json", *(f"fold_{fold}/{checkpoint}" for fold in foldNames)),
        inputs=parseInputs(channels, folder / "dataset.json", "channel_names"),
        labels=_nnunetLabels(dataset, folder / "dataset.json"),
        version=str(dataset.get("release") or "unversioned"),
        licence=str(dataset.get("licence") or dataset.get("license") or ""),
        source=str(dataset.get("reference") or ""),
        description=str(dataset.get("description") or dataset.get("name") or ""),
        options=options,
    )


def _nnunetLabels(dataset: dict[str, Any], where: pathlib.Path) -> tuple[ModelLabel, ...]:
    labels = dataset.get("labels")
    if not isinstance(labels, dict) or not labels:
        raise InputError(f'{where} has no \'labels\' mapping (e.g. {{"background": 0, "tumour": 1}}); fix the file.')
    labels = {name: value for name, value in labels.items() if name != "ignore"}  # nnU-Net never predicts it
    if any(isinstance(value, list) for value in labels.values()):
        order = dataset.get("regions_class_order")
        regions = [name for name, value in labels.items() if value not in (0, [0])]
        if not isinstance(order, list) or len(order) != len(regions):
            raise InputError(
                f"{where} defines regions but 'regions_class_order' ({order!r}) does not give one label "
                f"value per region ({len(regions)}); fix the file."
            )
        return parseLabels([{"name": name, "value": value} for name, value in zip(regions, order)], where)
    parsed = parseLabels(labels, where)
    if sorted(label.value for label in parsed) != list(range(1, len(parsed) + 1)):
        raise InputError(
            f"{where}: nnU-Net labels must be consecutive (0, 1, 2, …); got {labels!r}. nnU-Net's "
            "output value is the class index, so fix the file to the labels the model was trained with."
        )
    return parsed


def _torchScriptLayout(path: pathlib.Path) -> ModelLayout:
    sidecar = path.with_suffix(".json")
    if not sidecar.is_file() or sidecar.is_symlink():
        raise InputError(
            f"TorchScript model {path} needs its metadata file {sidecar.name} next to it, with the "
            'inputs and labels, e.g. {"inputs": ["T1c", "FLAIR"], "labels": {"tumour": 1}}.'
        )
    metadata = readJsonObject(sidecar)
    return _describedLayout("monai-torchscript", path, (path.name,), metadata, sidecar, companions=(sidecar,))


def _networkLayout(metadataPath: pathlib.Path) -> ModelLayout:
    folder = metadataPath.parent
    metadata = readJsonObject(metadataPath)
    if not isinstance(metadata.get("network"), str) or not isinstance(metadata.get("networkArgs", {}), dict):
        raise InputError(
            f"{metadataPath}: 'network' must name a network (e.g. \"monai.networks.nets.UNet\") and "
            "'networkArgs' must be a mapping of its arguments."
        )
    weights = metadata.get("weights")
    if weights is None:
        candidates = [child.name for child in sorted(folder.iterdir()) if child.suffix in WEIGHTS_SUFFIXES]
        if len(candidates) != 1:
            raise InputError(
                f"MONAI network folder {folder} has {len(candidates)} weights files "
                f"({', '.join(candidates) or 'none'}); give one, or name it in {metadataPath.name} "
                'as "weights".'
            )
        weights = candidates[0]
    if not isinstance(weights, str) or unsafeRelativePath(weights) or not (folder / weights).is_file():
        raise InputError(f"{metadataPath}: weights file {weights!r} is not a file inside {folder}; fix 'weights'.")
    layout = _describedLayout("monai-network", folder, (metadataPath.name, weights), metadata, metadataPath)
    return ModelLayout(
        **{**layout.__dict__, "options": {**layout.options, "weights": weights, "metadata": metadataPath.name}}
    )


def _describedLayout(
    backend: str,
    root: pathlib.Path,
    files: tuple[str, ...],
    metadata: dict[str, Any],
    where: pathlib.Path,
    companions: tuple[pathlib.Path, ...] = (),
) -> ModelLayout:
    options = {key: value for key, value in metadata.items() if key not in _DESCRIPTIVE_KEYS}
    return ModelLayout(
        backend=backend,
        root=root,
        files=files,
        inputs=parseInputs(metadata.get("inputs"), where, "inputs"),
        labels=parseLabels(metadata.get("labels"), where),
        version=str(metadata.get("version") or "unversioned"),
        licence=str(metadata.get("licence") or metadata.get("license") or ""),
        source=str(metadata.get("source") or ""),
        description=str(metadata.get("description") or ""),
        options=options,
        companions=companions,
    )


def _isNetworkMetadata(path: pathlib.Path) -> bool:
    if path.is_symlink() or not path.is_file() or path.stat().st_size > 1 << 20:
        return False
    try:
        return "network" in json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, TypeError, UnicodeDecodeError):
        return False


def _plainFile(root: pathlib.Path, name: str) -> pathlib.Path:
    """``root/name`` (or the file root), after checking no component under the root is a link."""
    if not root.is_dir():
        return root
    current = root
    for part in name.split("/"):
        current = current / part
        if stat.S_ISLNK(current.lstat().st_mode):
            raise InputError(f"{current} is a symbolic link; models must be plain files and folders.")
    return current
