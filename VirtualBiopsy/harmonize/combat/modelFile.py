"""The ComBat model file: versioned JSON, written atomically and never over an existing file.

Numbers are written with Python's shortest round-trip text, so a saved and loaded model
holds the same float64 values bit for bit.  Layout (``schemaVersion`` 1)::

    {"format": "VirtualBiopsy.ComBatModel", "schemaVersion": 1, "libraryVersion": "...",
     "method": "parametric", "batchName": "site", "referenceBatch": null, "features": [...],
     "batches": [{"name": "A", "cases": 20}, ...],
     "covariates": [{"name": "age", "kind": "numeric", "levels": []},
                    {"name": "sex", "kind": "categorical", "levels": ["F", "M"]}],
     "parameters": {"grandMean": [...], "pooledVariance": [...],
                    "covariateCoefficients": {"age": [...], "sex=M": [...]},
                    "gammaStar": {"A": [...], ...}, "deltaStar": {"A": [...], ...},
                    "iterations": {"A": 12, ...}},
     "inputHash": "sha256:..."}
"""

from __future__ import annotations

import json
import os
import pathlib
from typing import Any

import numpy as np

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.files import makeTemporaryFile
from VirtualBiopsy.harmonize.combat.estimation import METHODS
from VirtualBiopsy.harmonize.combat.inputs import CovariateEncoding

FORMAT = "VirtualBiopsy.ComBatModel"
SCHEMA_VERSION = 1
#: The largest model file read (10,000 features over 20 batches take about 10 MiB).
MAX_MODEL_BYTES = 64 << 20


def modelToDict(model) -> dict[str, Any]:
    """The JSON-ready dictionary of a :class:`~VirtualBiopsy.harmonize.combat.model.ComBatModel`."""

    def numbers(array) -> list[float]:
        return [float(value) for value in array]

    return {
        "format": FORMAT,
        "schemaVersion": SCHEMA_VERSION,
        "libraryVersion": model.libraryVersion,
        "method": model.method,
        "batchName": model.batchName,
        "referenceBatch": model.referenceBatch,
        "features": list(model.features),
        "batches": [{"name": name, "cases": count} for name, count in zip(model.batches, model.batchCounts)],
        "covariates": [{"name": c.name, "kind": c.kind, "levels": list(c.levels)} for c in model.covariates],
        "parameters": {
            "grandMean": numbers(model.grandMean),
            "pooledVariance": numbers(model.pooledVariance),
            "covariateCoefficients": {
                column: numbers(row) for column, row in zip(model.designColumns, model.covariateCoefficients)
            },
            "gammaStar": {name: numbers(row) for name, row in zip(model.batches, model.gammaStar)},
            "deltaStar": {name: numbers(row) for name, row in zip(model.batches, model.deltaStar)},
            "iterations": {name: int(count) for name, count in zip(model.batches, model.iterations)},
        },
        "inputHash": model.inputHash,
    }


def saveModel(model, path: str | os.PathLike) -> pathlib.Path:
    """Write ``model`` to the new file ``path``: complete under its name, or absent.

    :raises InputError: when ``path`` exists (it is left as it was) or its folder does not.
    """
    path = pathlib.Path(path)
    if path.exists():
        raise InputError(f"ComBat model file {path} exists already; nothing is overwritten. Choose a new name.")
    if not path.parent.is_dir():
        raise InputError(f"The folder of {path} does not exist; create it first.")
    return writeNewText(json.dumps(modelToDict(model), indent=1, allow_nan=False) + "\n", path)


def writeNewText(text: str, path: str | os.PathLike) -> pathlib.Path:
    """Write ``text`` (UTF-8) to the new file ``path`` atomically: complete under its name or absent.

    :raises InputError: when ``path`` exists, appears meanwhile (it is left as it is) or has no folder.
    """
    path = pathlib.Path(path)
    if path.exists():
        raise InputError(f"Output file {path} exists already; nothing is overwritten. Choose a new name.")
    if not path.parent.is_dir():
        raise InputError(f"The folder of {path} does not exist; create it first.")
    handle, temporary = makeTemporaryFile(path.parent, prefix=f".{path.name}.", suffix=".partial")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as stream:
            stream.write(text)
        os.link(temporary, path)  # unlike a rename, a link never replaces a file that appeared meanwhile
    except FileExistsError as error:
        raise InputError(f"Output file {path} appeared while writing; it was left as it is.") from error
    finally:
        temporary.unlink(missing_ok=True)
    return path


def loadModel(path: str | os.PathLike, modelClass: type):
    """Read and check a model file.

    :param modelClass: the class to build (:class:`~VirtualBiopsy.harmonize.combat.model.ComBatModel`).

    :raises InputError: for a missing file, a file over :data:`MAX_MODEL_BYTES`, invalid JSON, another format, a
        newer schema version, or parameters whose sizes or values do not fit the model (non-finite, variances ≤ 0).
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise InputError(f"ComBat model file {path} not found; give a file written by 'virtual-biopsy combat fit'.")
    size = path.stat().st_size
    if size > MAX_MODEL_BYTES:
        raise InputError(
            f"ComBat model file {path} is {size} bytes, more than the {MAX_MODEL_BYTES >> 20} MiB a ComBat model "
            "takes; it is not a model file. Give a file written by 'virtual-biopsy combat fit'."
        )
    try:
        with open(path, "rb") as handle:
            data = json.loads(handle.read(MAX_MODEL_BYTES + 1).decode("utf-8"), parse_constant=_refuseConstant)
    except (ValueError, UnicodeDecodeError) as error:
        raise InputError(f"ComBat model file {path} is not valid JSON ({error}); refit the model.") from error
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise InputError(
            f"{path} is not a Virtual Biopsy ComBat model (format {_get(data, 'format')!r}); give a file "
            "written by 'virtual-biopsy combat fit'."
        )
    version = data.get("schemaVersion")
    if not isinstance(version, int) or version < 1 or version > SCHEMA_VERSION:
        raise InputError(
            f"ComBat model file {path} has schema version {version!r}; this Virtual Biopsy reads version "
            f"{SCHEMA_VERSION} and older. Update Virtual Biopsy or refit the model."
        )
    try:
        model = _modelFromDict(data, modelClass)
    except (KeyError, TypeError, ValueError) as error:
        raise InputError(
            f"ComBat model file {path} is damaged ({type(error).__name__}: {error}); refit the model."
        ) from error
    return model


def _modelFromDict(data: dict[str, Any], modelClass):
    method = data["method"]
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}")
    features = tuple(str(name) for name in data["features"])
    batches = tuple(str(entry["name"]) for entry in data["batches"])
    counts = tuple(int(entry["cases"]) for entry in data["batches"])
    reference = data["referenceBatch"]
    if reference is not None and reference not in batches:
        raise ValueError(f"reference batch {reference!r} is not among the batches")
    covariates = tuple(
        CovariateEncoding(str(c["name"]), str(c["kind"]), tuple(map(str, c["levels"]))) for c in data["covariates"]
    )
    if any(c.kind not in ("numeric", "categorical") or (c.kind == "categorical") != bool(c.levels) for c in covariates):
        raise ValueError("a covariate has an unknown kind or levels that do not fit its kind")
    parameters = data["parameters"]
    p = len(features)
    designColumns = [column for encoding in covariates for column in encoding.columns]
    coefficients = parameters["covariateCoefficients"]
    if list(coefficients) != designColumns:
        raise ValueError(f"covariate coefficients {list(coefficients)} do not match the covariates {designColumns}")
    model = modelClass(
        method=method,
        features=features,
        batches=batches,
        batchCounts=counts,
        referenceBatch=reference,
        covariates=covariates,
        grandMean=_vector(parameters["grandMean"], p, "grandMean"),
        pooledVariance=_vector(parameters["pooledVariance"], p, "pooledVariance"),
        covariateCoefficients=np.array([_vector(coefficients[c], p, c) for c in designColumns]).reshape(-1, p),
        gammaStar=np.array([_vector(parameters["gammaStar"][b], p, f"gammaStar {b}") for b in batches]),
        deltaStar=np.array([_vector(parameters["deltaStar"][b], p, f"deltaStar {b}") for b in batches]),
        iterations=np.array([int(parameters["iterations"][b]) for b in batches], dtype=np.int64),
        inputHash=str(data["inputHash"]),
        libraryVersion=str(data["libraryVersion"]),
        batchName=None if data["batchName"] is None else str(data["batchName"]),
    )
    if len(set(features)) != p or len(set(batches)) != len(batches) or len(batches) < 2:
        raise ValueError("features or batches are repeated, or fewer than 2 batches")
    if not (np.all(model.pooledVariance > 0) and np.all(model.deltaStar > 0)):
        raise ValueError("a variance (pooledVariance or deltaStar) is not positive")
    return model


def _vector(values, size: int, what: str) -> np.ndarray:
    if not isinstance(values, list) or len(values) != size:
        raise ValueError(f"{what} should hold {size} numbers")
    if not all(isinstance(value, (int, float)) and not isinstance(value, bool) for value in values):
        raise TypeError(f"{what} holds something other than numbers")
    array = np.array(values, dtype=np.float64)
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{what} holds a non-finite number")
    return array


def _refuseConstant(name: str):
    raise ValueError(f"{name} is not a number ComBat can use")


def _get(data: Any, key: str) -> Any:
    return data.get(key) if isinstance(data, dict) else None
