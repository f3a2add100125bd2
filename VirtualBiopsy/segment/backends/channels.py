"""Map named input images to a model's input channels by sequence name, never by position alone.

Names match case-insensitively, ignoring spaces, ``-``, ``_`` and ``.``, and
through :data:`SEQUENCE_ALIASES`: each group lists names of one sequence, the
first being the canonical one (``T1Gd`` given for a model that wants ``T1c`` is
fine). A single unnamed image (name ``""`` or ``None``) feeds a one-channel
model. Extra sequences are ignored with a warning; a missing one is an error.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import SimpleITK as sitk

from VirtualBiopsy.errors import GeometryError, InputError
from VirtualBiopsy.imageGeometry import gridDifferences, requireScalar3D
from VirtualBiopsy.models.modelEntry import ModelInput

logger = logging.getLogger(__name__)

#: Names of one sequence, canonical name first.
SEQUENCE_ALIASES: tuple[tuple[str, ...], ...] = (
    ("T1c", "T1ce", "T1Gd", "T1post", "T1contrast", "T1CE", "T1wCE", "T1C+", "T1+C"),
    ("T1", "T1w", "T1native", "T1pre"),
    ("T2", "T2w"),
    ("FLAIR", "T2FLAIR", "T2-FLAIR"),
    ("ADC",),
    ("DWI", "DW", "Diffusion", "Trace"),
)


@dataclass(frozen=True)
class ChannelMapping:
    """The images in channel order and where each came from.

    :ivar images: one image per model input, in channel order.
    :ivar mapping: model sequence name → the name the image was given under (recorded in provenance).
    :ivar ignored: names of the given images that no channel uses.
    """

    images: tuple[sitk.Image, ...]
    mapping: dict[str, str]
    ignored: tuple[str, ...]


def canonicalSequence(name: str) -> str:
    """The canonical, lower-case key of a sequence name (``"t1-gd"`` → ``"t1c"``)."""
    key = _normalize(name)
    for group in SEQUENCE_ALIASES:
        if key in {_normalize(alias) for alias in group}:
            return _normalize(group[0])
    return key


def mapChannels(
    images: Mapping[str, sitk.Image] | Mapping[str | None, sitk.Image], inputs: Sequence[ModelInput]
) -> ChannelMapping:
    """Order ``images`` as the model's ``inputs`` need them.

    :param images: ``{sequence name: image}``; one image may be unnamed (``None`` or ``""``) for a one-channel model.
    :param inputs: the model's inputs (sequence and channel index).
    :raises InputError: for no image, a missing sequence (naming it and the names given), two given names
        for one sequence, or channel indices that are not 0..n-1.
    :raises GeometryError: when the images do not share one grid.
    """
    if not images:
        raise InputError("No input image was given; give one image per model input sequence.")
    ordered = sorted(inputs, key=lambda modelInput: modelInput.channel)
    if [modelInput.channel for modelInput in ordered] != list(range(len(ordered))):
        raise InputError(
            f"The model's input channels are {[i.channel for i in ordered]}; they must be 0..n-1. "
            "Fix the model's manifest entry."
        )
    for name, image in images.items():
        requireScalar3D(image, f"image '{name or ''}'")
    unnamed = [name for name in images if not name]
    if unnamed and len(images) > 1:
        raise InputError(
            f"{len(images)} images were given but one has no name; name every sequence "
            f"(e.g. {', '.join(i.sequence for i in ordered)})."
        )
    if unnamed:
        if len(ordered) != 1:
            raise InputError(
                f"One unnamed image was given but the model needs {len(ordered)} sequences "
                f"({', '.join(i.sequence for i in ordered)}); give each as NAME=PATH."
            )
        only = next(iter(images.values()))
        logger.info("The single unnamed image feeds the model's only input '%s'.", ordered[0].sequence)
        return ChannelMapping((only,), {ordered[0].sequence: ""}, ())

    named = {name: image for name, image in images.items() if name}  # all of them: none is unnamed here
    byKey: dict[str, str] = {}
    for name in named:
        key = canonicalSequence(name)
        if key in byKey:
            raise InputError(f"Images '{byKey[key]}' and '{name}' are the same sequence; give each sequence once.")
        byKey[key] = name
    chosen, mapping, missing = [], {}, []
    for modelInput in ordered:
        name = byKey.get(canonicalSequence(modelInput.sequence))
        if name is None:
            missing.append(modelInput.sequence)
            continue
        chosen.append(named[name])
        mapping[modelInput.sequence] = name
    if missing:
        raise InputError(
            f"The model needs the sequence(s) {', '.join(missing)} but the images given are named "
            f"{', '.join(repr(n) for n in named)}. Give the missing sequence(s) (known aliases: "
            f"{_aliasesOf(missing)})."
        )
    ignored = tuple(name for name in named if name not in mapping.values())
    if ignored:
        logger.warning(
            "Images %s are not model inputs and are ignored (the model uses %s).",
            ", ".join(ignored),
            ", ".join(mapping),
        )
    _requireOneGrid(chosen, list(mapping.values()))
    return ChannelMapping(tuple(chosen), mapping, ignored)


def _requireOneGrid(images: list[sitk.Image], names: list[str]) -> None:
    first = images[0]
    for image, name in zip(images[1:], names[1:]):
        problems = gridDifferences(first, image, what=f"image '{name}'")
        if problems:
            raise GeometryError(
                f"Image '{name}' is not on the grid of image '{names[0]}': {'; '.join(problems)}. "
                "Register and resample every sequence onto one grid first (e.g. the Harmonization stage)."
            )


def _normalize(name: str) -> str:
    return re.sub(r"[\s\-_.]", "", str(name)).lower()


def _aliasesOf(sequences: list[str]) -> str:
    parts = []
    for sequence in sequences:
        key = canonicalSequence(sequence)
        group = next((g for g in SEQUENCE_ALIASES if _normalize(g[0]) == key), (sequence,))
        parts.append(f"{sequence}: {', '.join(group)}")
    return "; ".join(parts)


def sequenceFromName(volumeName: str, inputs: Sequence[ModelInput]) -> str | None:
    """The model input sequence that a volume's name names, or ``None``.

    The whole name, then each of its parts split at spaces, ``_``, ``-`` and ``.`` (``VB0001_FLAIR``,
    ``t1 gd``), is compared through :data:`SEQUENCE_ALIASES`; a name that names no input, or more than
    one, gives ``None``.
    """
    wanted = {canonicalSequence(modelInput.sequence): modelInput.sequence for modelInput in inputs}
    if canonicalSequence(volumeName) in wanted:
        return wanted[canonicalSequence(volumeName)]
    parts = [part for part in re.split(r"[\s_.\-]+", volumeName) if part]
    candidates = {
        canonicalSequence(" ".join(parts[start:end]))
        for start in range(len(parts))
        for end in range(start + 1, len(parts) + 1)
    }
    found = {wanted[key] for key in candidates if key in wanted}
    return found.pop() if len(found) == 1 else None
