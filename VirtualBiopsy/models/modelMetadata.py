"""Model metadata: input sequences and output labels as nnU-Net's ``dataset.json`` and MONAI metadata files
give them, turned into :class:`ModelInput` and :class:`ModelLabel`."""

from __future__ import annotations

import json
import pathlib
from typing import Any

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.models.modelEntry import ModelInput, ModelLabel

#: Label colours in order (Okabe–Ito, readable by colour-blind viewers), used when the model gives none.
PALETTE = (
    (0.902, 0.624, 0.0),
    (0.337, 0.706, 0.914),
    (0.0, 0.620, 0.451),
    (0.941, 0.894, 0.259),
    (0.0, 0.447, 0.698),
    (0.835, 0.369, 0.0),
    (0.800, 0.475, 0.655),
)


def parseInputs(value: Any, where: pathlib.Path, key: str) -> tuple[ModelInput, ...]:
    """Input channels from a metadata value: ``{"0": "T1c"}``, ``["T1c"]`` or ``[{"sequence", "channel"}]``.

    :raises InputError: naming ``where`` and ``key`` unless every channel 0…n-1 has one distinct name.
    """
    example = f'e.g. "{key}": {{"0": "T1c", "1": "FLAIR"}} or ["T1c", "FLAIR"]'
    try:
        if isinstance(value, dict):
            pairs = [(int(channel), str(name)) for channel, name in value.items()]
        elif isinstance(value, list) and all(isinstance(item, dict) for item in value):
            pairs = [(int(item["channel"]), str(item["sequence"])) for item in value]
        elif isinstance(value, list):
            pairs = [(channel, str(name)) for channel, name in enumerate(value)]
        else:
            raise TypeError(type(value).__name__)
    except (KeyError, TypeError, ValueError) as error:
        raise InputError(
            f"{where}: '{key}' ({value!r}) does not name the input sequences ({error}); {example}."
        ) from error
    channels = sorted(channel for channel, _ in pairs)
    if not pairs or channels != list(range(len(pairs))) or len({n.lower() for _, n in pairs}) != len(pairs):
        raise InputError(
            f"{where}: '{key}' ({value!r}) must name each channel 0…n-1 once with distinct sequence names; {example}."
        )
    return tuple(ModelInput(sequence=name, channel=channel) for channel, name in sorted(pairs))


def parseLabels(value: Any, where: pathlib.Path) -> tuple[ModelLabel, ...]:
    """Foreground labels from ``{"tumour": 1}``, ``{"1": "tumour"}`` or ``[{"value", "name", "color", "terminology"}]``;
    value 0 (background) is dropped, missing colours come from :data:`PALETTE`.

    :raises InputError: naming ``where`` unless each label has a distinct value ≥ 1 and a name.
    """
    example = 'e.g. "labels": {"background": 0, "tumour": 1} or [{"value": 1, "name": "tumour"}]'
    try:
        if isinstance(value, dict) and all(isinstance(v, int) and not isinstance(v, bool) for v in value.values()):
            items = [{"name": name, "value": number} for name, number in value.items()]
        elif isinstance(value, dict):
            items = [{"name": name, "value": int(number)} for number, name in value.items()]
        elif isinstance(value, list):
            items = [dict(item) for item in value]
        else:
            raise TypeError(f"not a mapping or list but {type(value).__name__}")
        items = [item for item in items if item["value"] != 0]
        labels = tuple(
            ModelLabel(
                value=_wholeNumber(item["value"]),
                name=str(item["name"]),
                color=_colour(item.get("color"), index),
                terminology=str(item.get("terminology") or ""),
            )
            for index, item in enumerate(items)
        )
    except (KeyError, TypeError, ValueError) as error:
        raise InputError(f"{where}: 'labels' ({value!r}) is not understood ({error}); {example}.") from error
    values = [label.value for label in labels]
    if not labels or min(values) < 1 or len(set(values)) != len(values) or any(not label.name for label in labels):
        raise InputError(
            f"{where}: 'labels' ({value!r}) must give each foreground label (value ≥ 1) once, with a name; {example}."
        )
    return labels


def _wholeNumber(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"label value {value!r} is not a whole number")
    return value


def _colour(value: Any, index: int) -> tuple[float, float, float]:
    if value is None:
        return PALETTE[index % len(PALETTE)]
    colour = tuple(float(c) for c in value)
    if len(colour) != 3 or not all(0.0 <= c <= 1.0 for c in colour):
        raise ValueError(f"colour {value!r} is not three numbers in [0, 1]")
    return colour


def readJsonObject(path: pathlib.Path) -> dict[str, Any]:
    """The JSON object in ``path``.

    :raises InputError: for a link, invalid JSON or another top-level type.
    """
    if path.is_symlink():
        raise InputError(f"{path} is a symbolic link; models must be plain files.")
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as error:
        raise InputError(f"{path} is not valid JSON ({error}); fix the file.") from error
    if not isinstance(document, dict):
        raise InputError(f"{path} must hold a JSON object, not a {type(document).__name__}.")
    return document
