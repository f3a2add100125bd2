"""Apply a trained CycleGAN generator to a volume, slice by slice, on the volume's own grid.

The volume is scaled as in training (its own head percentiles to [-1, 1], -1 outside the head), each
slice across the third index axis is padded to the generator's size multiple, translated and cropped
back, and the result is mapped to the target domain's intensity range recorded at training. Voxels
outside the head are 0. The output has the input's size, spacing, origin and direction exactly.
"""

from __future__ import annotations

import json
import os
import pathlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import SimpleITK as sitk

from VirtualBiopsy.errors import InputError, ModelError, requirePackage
from VirtualBiopsy.harmonize.foreground import foregroundMask
from VirtualBiopsy.harmonize.styleTransfer.config import CycleGanConfig
from VirtualBiopsy.harmonize.styleTransfer.slices import (
    IntensityRange,
    fromUnitRange,
    paddedSize,
    requireFiniteVolume,
    robustRange,
    toUnitRange,
)
from VirtualBiopsy.models.cycleGanFolder import (
    CONFIG_NAME,
    KIND,
    WEIGHTS_NAME,
    parseConfigDocument,
)
from VirtualBiopsy.models.modelEntry import ModelEntry
from VirtualBiopsy.progress import CancelToken, ProgressCallback, noProgress
from VirtualBiopsy.workers.deviceFallback import resolveDevice


@dataclass
class StyleModel:
    """A loaded style-transfer model: its manifest entry, folder, ``config.json`` and generator (on the CPU)."""

    entry: ModelEntry
    root: pathlib.Path
    document: dict[str, Any]
    generator: Any

    @property
    def config(self) -> CycleGanConfig:
        return CycleGanConfig.fromDict(self.document["config"])

    @property
    def targetRange(self) -> IntensityRange:
        """The target domain's intensities that -1 and +1 map back to."""
        target = self.document["intensity"]["target"]
        return IntensityRange(float(target["lower"]), float(target["upper"]))


def loadStyleModel(model: str | os.PathLike | ModelEntry, registry=None) -> StyleModel:
    """Load a model folder (by path), a registered model (by id) or a manifest entry, checking its files' SHA-256.

    :param registry: the :class:`~VirtualBiopsy.models.registry.ModelRegistry` for ids and entries
        (default: the user's).
    :raises InputError: for an unknown id or a folder that is not a CycleGAN model.
    :raises ModelError: for any file that differs from the manifest (checked before anything is read; by path, the
        weights also against ``config.json``),
        a model of another backend, or weights that do not fit the recorded networks.
    """
    from VirtualBiopsy.models.checkpoints import loadCheckpoint, openVerified
    from VirtualBiopsy.models.modelDetection import entryFromPath
    from VirtualBiopsy.models.registry import ModelRegistry
    from VirtualBiopsy.models.verification import requireIntact

    byPath = not isinstance(model, ModelEntry) and pathlib.Path(model).is_dir()
    if byPath and not isinstance(model, ModelEntry):  # (the isinstance test again, for type checkers)
        entry = entryFromPath(model)
        root = pathlib.Path(entry.path)
    else:
        registry = registry or ModelRegistry()
        entry = model if isinstance(model, ModelEntry) else registry.get(str(model))
        root = registry.modelPath(entry)
    if entry.backend != KIND:
        raise ModelError(
            f"Model '{entry.id}' is a {entry.backend} model, not a style-transfer ({KIND}) model; "
            "choose a model trained with 'virtual-biopsy styletransfer train'."
        )
    requireIntact(entry, root)
    with openVerified(root / CONFIG_NAME, entry, root) as handle:
        try:
            document = parseConfigDocument(json.loads(handle.read().decode("utf-8")), str(root / CONFIG_NAME))
        except (ValueError, UnicodeDecodeError) as error:
            raise ModelError(f"{root / CONFIG_NAME} is not valid JSON ({error}); restore the model.") from error
    recorded = document["weights"].get(WEIGHTS_NAME) if isinstance(document["weights"], dict) else None
    if byPath and recorded != entry.files.get(WEIGHTS_NAME):
        raise ModelError(
            f"File '{WEIGHTS_NAME}' of model folder {root} does not match its config.json: SHA-256 "
            f"{entry.files.get(WEIGHTS_NAME)}, recorded {recorded}. The weights were changed or damaged "
            "and are not loaded; restore them or train the model again."
        )
    state = loadCheckpoint(root / WEIGHTS_NAME, entry, root)
    from VirtualBiopsy.harmonize.styleTransfer.networks import buildGenerator

    generator = buildGenerator(CycleGanConfig.fromDict(document["config"]))
    try:
        generator.load_state_dict(state, strict=True)
    except (RuntimeError, TypeError, AttributeError) as error:
        raise ModelError(
            f"The weights of model '{entry.id}' do not fit the generator its config.json describes "
            f"({str(error).splitlines()[0]}); the folder is inconsistent. Train the model again."
        ) from error
    return StyleModel(entry=entry, root=root, document=document, generator=generator.eval())


def applyStyleTransfer(
    image: sitk.Image,
    model: StyleModel | str | os.PathLike | ModelEntry,
    device: str = "auto",
    batchSize: int = 8,
    registry=None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> sitk.Image:
    """Translate ``image`` from the model's source domain to its target domain.

    :param model: a loaded :class:`StyleModel`, a model folder, a registered model's id or a manifest entry.
    :param device: ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
    :param batchSize: slices per network call.
    :returns: a Float32 image on exactly ``image``'s grid; 0 outside the head.
    :raises GeometryError: for a 2D/4D or vector image; :raises InputError: for NaN/Inf voxels, a constant head
        or a bad batch size; :raises ModelError: see :func:`loadStyleModel`.
    """
    torch = requirePackage("torch")
    progress = progress or noProgress
    if isinstance(batchSize, bool) or not isinstance(batchSize, int) or batchSize < 1:
        raise InputError(f"batchSize is {batchSize!r}; give a positive whole number of slices.")
    voxels = requireFiniteVolume(image, "image")
    device = resolveDevice(device)
    if not isinstance(model, StyleModel):
        model = loadStyleModel(model, registry)
    config = model.config
    mask = sitk.GetArrayFromImage(foregroundMask(image)).astype(bool)
    scaled = toUnitRange(voxels, robustRange(voxels, mask, config.lowerPercentile, config.upperPercentile))
    scaled[~mask] = -1.0
    from VirtualBiopsy.harmonize.styleTransfer.networks import SIZE_MULTIPLE

    slices, rows, columns = scaled.shape
    height, width = paddedSize(rows, SIZE_MULTIPLE), paddedSize(columns, SIZE_MULTIPLE)
    padded = np.full((slices, 1, height, width), -1.0, dtype=np.float32)
    padded[:, 0, :rows, :columns] = scaled
    translated = np.empty((slices, rows, columns), dtype=np.float32)
    generator = model.generator.to(device)
    try:
        with torch.inference_mode():
            for start in range(0, slices, batchSize):
                if cancel is not None:
                    cancel.raiseIfCancelled()
                batch = torch.from_numpy(padded[start : start + batchSize]).to(device)
                translated[start : start + batchSize] = generator(batch)[:, 0, :rows, :columns].float().cpu().numpy()
                progress(
                    min(start + batchSize, slices) / slices,
                    f"translated {min(start + batchSize, slices)} of {slices} slices",
                )
    finally:
        model.generator.to("cpu")
    output = fromUnitRange(translated, model.targetRange)
    output[~mask] = 0.0
    result = sitk.GetImageFromArray(output)
    result.CopyInformation(image)
    return result
