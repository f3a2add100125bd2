"""Saved classifiers: a versioned folder with the skops model and ``model.json``.

``DIR/models/<name>/`` holds ``model.skops`` (scikit-learn pipeline saved by skops, no
pickle) and ``model.json``: schema version, model name, feature schema (names, order and
dtypes of the training table's feature columns, and the ones the model uses), target and
classes, positive class, Youden threshold, training-data hash, library versions,
cross-validated performance and the SHA-256 of ``model.skops``. Loading checks the schema
version and the hash, and loads only the types of :data:`TRUSTED_TYPES` beyond skops' defaults.
"""

from __future__ import annotations

import json
import os
import pathlib
import platform
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from VirtualBiopsy.errors import InputError, ModelError, requirePackage
from VirtualBiopsy.files import sha256File, writeTextAtomically
from VirtualBiopsy.outcome.classification.comparison import FittedClassifier
from VirtualBiopsy.outcome.classification.models import EXPLAINED_QUANTITY, modelScore
from VirtualBiopsy.outcome.classification.trainingData import BinaryTarget

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

#: Version of the ``model.json`` layout; a folder with another version is refused.
SCHEMA_VERSION = 1
MODEL_FILE = "model.skops"
CARD_FILE = "model.json"
#: Types loaded beyond skops' own trusted scikit-learn types (found by skops.io.get_untrusted_types).
TRUSTED_TYPES = ("numpy.dtype", "sklearn.tree._tree.Tree")
#: At most this many feature names are listed in one message.
_LISTED = 5


@dataclass
class SavedClassifier:
    """A classifier loaded from its folder.

    :ivar card: the parsed ``model.json``.
    """

    folder: pathlib.Path
    pipeline: Pipeline
    card: dict

    @property
    def name(self) -> str:
        return self.card["model"]

    @property
    def inputFeatures(self) -> list[str]:
        """The feature columns a table must have, in this order."""
        return [entry["name"] for entry in self.card["features"]]

    @property
    def modelFeatures(self) -> list[str]:
        """The features the pipeline takes (the input features less the dropped ones), in order."""
        return list(self.card["modelFeatures"])

    @property
    def target(self) -> BinaryTarget:
        target = self.card["target"]
        return BinaryTarget(target["column"], target["positiveClass"], list(target["negativeClasses"]))

    @property
    def explainedQuantity(self) -> str:
        return self.card["explainedQuantity"]

    def modelInput(self, features: pd.DataFrame) -> pd.DataFrame:
        """The columns the pipeline takes, after checking ``features`` against the feature schema.

        :param features: feature columns only (patients as the index).
        :raises InputError: for missing, extra, reordered or non-numeric features (named).
        """
        requireMatchingFeatures(list(map(str, features.columns)), self.inputFeatures, self.folder)
        nonNumeric = [
            str(c)
            for c in features.columns
            if not pd.api.types.is_numeric_dtype(features[c]) or pd.api.types.is_bool_dtype(features[c])
        ]
        if nonNumeric:
            raise InputError(
                f"Feature column(s) {', '.join(nonNumeric[:_LISTED])} are not numeric but the model "
                f"{self.folder} was trained on numbers; fix the feature table."
            )
        return features[self.modelFeatures].astype(float)

    def score(self, features: pd.DataFrame) -> np.ndarray:
        """The model's score (:attr:`explainedQuantity`) of each patient of ``features``."""
        return modelScore(self.pipeline, self.name, self.modelInput(features).to_numpy())


def requireMatchingFeatures(given: list[str], expected: list[str], where: object) -> None:
    """Raise :class:`InputError` naming the missing, extra or reordered features."""
    if given == expected:
        return
    missing = [name for name in expected if name not in given]
    extra = [name for name in given if name not in expected]
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing ({_listed(missing)})")
    if extra:
        problems.append(f"{len(extra)} extra ({_listed(extra)})")
    if not problems:
        moved = [
            f"{name} (column {given.index(name) + 1}, expected {position + 1})"
            for position, name in enumerate(expected)
            if given[position] != name
        ]
        problems.append(f"{len(moved)} reordered ({_listed(moved)})")
    raise InputError(
        f"The feature table does not match the features of the model {where}: {'; '.join(problems)}. "
        f"Give a table with exactly the model's {len(expected)} features in its order (see its "
        "model.json), "
        "e.g. one extracted with the same settings."
    )


def saveClassifier(model: FittedClassifier, folder: str | os.PathLike) -> pathlib.Path:
    """Save ``model`` into the new folder ``folder`` (created; an existing folder is refused).

    :returns: the folder.
    :raises InputError: when ``folder`` exists already.
    """
    sio = requirePackage("skops.io", "skops")
    folder = pathlib.Path(folder)
    if folder.exists():
        raise InputError(f"Model folder {folder} exists already; nothing is overwritten. Choose a new folder.")
    folder.mkdir(parents=True)
    try:
        sio.dump(model.pipeline, folder / MODEL_FILE)
        card = {
            "schemaVersion": SCHEMA_VERSION,
            "kind": "VirtualBiopsy.classifier",
            "model": model.name,
            "explainedQuantity": EXPLAINED_QUANTITY[model.name],
            "features": [{"name": name, "dtype": dtype} for name, dtype in model.inputColumns],
            "modelFeatures": model.features,
            "droppedFeatures": model.dropped,
            "target": model.target.toDict(),
            "classes": {"0": model.target.negativeLabel, "1": model.target.positiveClass},
            "threshold": model.threshold,
            "trainingData": {
                "sha256": model.trainingHash,
                "patients": model.performance.get("patients"),
                "positives": model.performance.get("positives"),
            },
            "performance": {key: _finiteOrNone(value) for key, value in model.performance.items()},
            "settings": model.settings,
            "versions": libraryVersions(),
            "modelFile": MODEL_FILE,
            "modelSha256": sha256File(folder / MODEL_FILE),
        }
        writeTextAtomically(json.dumps(card, indent=2, default=_plain), folder / CARD_FILE)
    except BaseException:
        import shutil

        shutil.rmtree(folder, ignore_errors=True)
        raise
    return folder


def loadClassifier(folder: str | os.PathLike) -> SavedClassifier:
    """Load a classifier saved by :func:`saveClassifier`.

    :raises ModelError: for a missing or unreadable file, another schema version, a hash that does not
        match ``model.json``, or types in the skops file beyond the trusted ones.
    """
    sio = requirePackage("skops.io", "skops")
    folder = pathlib.Path(folder)
    cardPath, modelPath = folder / CARD_FILE, folder / MODEL_FILE
    for path in (cardPath, modelPath):
        if not path.is_file():
            raise ModelError(
                f"{path} not found: {folder} is not a saved classifier. Give a folder DIR/models/<name> "
                "written by 'virtual-biopsy outcome classify'."
            )
    try:
        card = json.loads(cardPath.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ModelError(f"{cardPath} is not valid JSON ({error}); save the model again.") from error
    if not isinstance(card, dict) or card.get("schemaVersion") != SCHEMA_VERSION:
        version = card.get("schemaVersion") if isinstance(card, dict) else None
        raise ModelError(
            f"{cardPath} has schema version {version!r}; this version of Virtual Biopsy reads version "
            f"{SCHEMA_VERSION}. Retrain the model with this version."
        )
    missingKeys = [key for key in ("model", "features", "modelFeatures", "target", "modelSha256") if key not in card]
    if missingKeys or card["model"] not in EXPLAINED_QUANTITY:
        raise ModelError(f"{cardPath} lacks {', '.join(missingKeys) or 'a known model name'}; save the model again.")
    digest = sha256File(modelPath)
    if digest != card["modelSha256"]:
        raise ModelError(
            f"{modelPath} has SHA-256 {digest} but {CARD_FILE} records {card['modelSha256']}: the file "
            "changed after it was saved. Restore it or retrain the model."
        )
    try:
        untrusted = [name for name in sio.get_untrusted_types(file=modelPath) if name not in TRUSTED_TYPES]
        if not untrusted:
            pipeline = sio.load(modelPath, trusted=list(TRUSTED_TYPES))
    except Exception as error:  # skops raises many kinds (zip, JSON, type) on a damaged file
        raise ModelError(
            f"{modelPath} could not be read by skops ({type(error).__name__}: {error}); retrain the "
            "model or restore the file."
        ) from error
    if untrusted:
        raise ModelError(
            f"{modelPath} holds types that are not trusted ({', '.join(untrusted[:_LISTED])}); it was not "
            "loaded. Retrain the model with Virtual Biopsy."
        )
    if not hasattr(pipeline, "steps"):
        raise ModelError(
            f"{modelPath} holds a {type(pipeline).__name__}, not a scikit-learn pipeline; retrain the model."
        )
    return SavedClassifier(folder, pipeline, card)


def libraryVersions() -> dict[str, str]:
    """Versions of the libraries that fit and save the models."""
    from importlib.metadata import PackageNotFoundError, version

    import VirtualBiopsy

    versions = {"virtualBiopsy": VirtualBiopsy.__version__, "python": platform.python_version()}
    for package in ("scikit-learn", "skops", "numpy", "scipy", "pandas"):
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            versions[package] = "unknown"
    return versions


def _plain(value):
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _finiteOrNone(value):
    return None if isinstance(value, float) and not np.isfinite(value) else value


def _listed(names: list[str]) -> str:
    return ", ".join(names[:_LISTED]) + (", ..." if len(names) > _LISTED else "")
