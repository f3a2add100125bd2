"""The checks a model passes before it is used: its files match its manifest entry, and an untrusted model's
configuration names only allow-listed classes.

The segmentation command runs them before it reads an image or starts a worker, so a changed or unsafe model is
refused at once; the worker checks again as it loads (:class:`~VirtualBiopsy.models.modelFiles.ModelFiles`), so a
file swapped in between is still caught.
"""

from __future__ import annotations

import os
import pathlib

from VirtualBiopsy.models.allowList import checkMonaiNetwork, checkNnunetDataset, checkNnunetPlans
from VirtualBiopsy.models.modelEntry import ModelEntry
from VirtualBiopsy.models.modelFiles import ModelFiles


def checkModelBeforeUse(entry: ModelEntry, root: str | os.PathLike) -> ModelFiles:
    """The model's files, after checking every one against ``entry`` and, unless the model is trusted, every
    class path and name its configuration would make nnU-Net or MONAI import.

    :param root: the model's folder or file (:meth:`ModelRegistry.modelPath`).
    :raises ModelError: for a changed, missing or unsafe file (all listed).
    :raises UnsafeModelError: naming the file, the field and the value outside the allow-list.
    """
    root = pathlib.Path(root)
    files = ModelFiles.checked(entry, root)
    if files.trusted:
        return files
    if entry.backend == "nnunet":
        for name in sorted(entry.files):
            path = root / name
            if pathlib.PurePosixPath(name).name == "plans.json":
                checkNnunetPlans(files.readJson(path), str(path))
            elif pathlib.PurePosixPath(name).name == "dataset.json":
                checkNnunetDataset(files.readJson(path), str(path))
    elif entry.backend == "monai-network":
        where = root / str(entry.options.get("metadata") or "")
        checkMonaiNetwork(entry.options.get("network"), entry.options.get("networkArgs"), str(where))
    return files
