"""The data a model was trained on, and warnings for images far outside it.

A model trained on one kind of image (one cohort, scanner, sequence and voxel size) gives no sign when it is
applied to another: it still segments something, and the result can be entirely wrong. nnU-Net records a
*dataset fingerprint* in ``plans.json``; :meth:`TrainingDomain.fromNnunetPlans` reads from it, per input
channel, the training spacing and the intensity statistics of the foreground, and :func:`domainWarnings`
compares the images about to be segmented with them.

Which voxels are compared. nnU-Net's statistics are over the *labelled* foreground of the training cases (the
voxels of the segmented structures). Those are not known before the model has run, so by default an image's
foreground is the voxels above its Otsu threshold (the head or body, not the air around it): MR background
is noise, not exact zeros, so "non-zero voxels" would count the air too. Pass ``mask`` (a reference
segmentation) to compare the very voxels nnU-Net's statistics describe. Because the default compares a
wider region than the training statistics cover, the thresholds below are deliberately coarse: they flag
images *far* outside the training data, not small scanner differences.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import SimpleITK as sitk

from VirtualBiopsy.errors import ModelError
from VirtualBiopsy.imageGeometry import requireSameGrid

__all__ = [
    "INTENSITY_PERCENTILES",
    "INTENSITY_SCALE_FACTOR",
    "MEDIAN_MARGIN",
    "SPACING_RATIO_RANGE",
    "ChannelDomain",
    "TrainingDomain",
    "domainWarnings",
]

#: An axis whose spacing is below half or above twice the training spacing is flagged: nnU-Net resamples
#: to its target spacing, but past a factor 2 the resampled image has detail (or slice thickness, partial
#: volume) the network has never seen, and a tumour spans a very different number of acquired voxels.
SPACING_RATIO_RANGE = (0.5, 2.0)

#: The image's median intensity is flagged when it lies outside the training foreground's 0.5–99.5
#: percentile range widened by this factor, ``[p0.5 / 2, p99.5 × 2]``. Without the margin, images inside the
#: domain would be flagged: the default foreground (the head) is darker than the hyperintense tumours the
#: training statistics describe (virtual cohort, FLAIR: the head's median goes down to 0.7 × the tumours'
#: 0.5th percentile). A median beyond the margin means another intensity scale, unit or sequence.
MEDIAN_MARGIN = 2.0

#: An image whose robust spread (99.5 − 0.5 percentile) is more than 4 times the training one is flagged:
#: differences of a factor 2–3 are common between MR scanners and protocols of one sequence. Only a *wider*
#: spread is flagged: one image (one scanner; with ``mask``, one tumour) spans less than the training cases
#: pooled over patients and sites (virtual cohort: down to 0.26 × for the head, 0.05 × for one tumour), so an
#: image scaled down is caught by its median instead.
INTENSITY_SCALE_FACTOR = 4.0

#: The percentiles compared: nnU-Net's fingerprint records the 0.5th, 50th and 99.5th.
INTENSITY_PERCENTILES = (0.5, 50.0, 99.5)

_CONSEQUENCE = "The model is being used outside the data it was trained on; its results may be wrong."


@dataclass(frozen=True)
class ChannelDomain:
    """The training data of one input channel.

    :ivar index: the network's input channel.
    :ivar sequence: the sequence the channel expects (``FLAIR``, ``T1c``, …).
    :ivar spacing: the training cases' median voxel spacing in mm, x/y/z (SimpleITK's order), or ``None``.
    :ivar percentile005: 0.5th percentile of the training foreground intensities, or ``None`` if not recorded.
    :ivar median: their median, or ``None``.
    :ivar percentile995: their 99.5th percentile, or ``None``.
    :ivar mean: their mean, or ``None``.
    :ivar std: their standard deviation, or ``None``.
    """

    index: int
    sequence: str
    spacing: tuple[float, float, float] | None
    percentile005: float | None = None
    median: float | None = None
    percentile995: float | None = None
    mean: float | None = None
    std: float | None = None

    @property
    def hasIntensities(self) -> bool:
        """Whether the robust intensity statistics (percentiles and median) are recorded."""
        return None not in (self.percentile005, self.median, self.percentile995)


@dataclass(frozen=True)
class TrainingDomain:
    """What a model was trained on, per input channel.

    :ivar model: the model's name, for messages.
    :ivar channels: one :class:`ChannelDomain` per input channel, in channel order.
    """

    model: str
    channels: tuple[ChannelDomain, ...]

    @classmethod
    def fromNnunetPlans(
        cls,
        plans: Mapping[str, Any],
        datasetJson: Mapping[str, Any] | None = None,
        sequences: Sequence[str] | None = None,
        model: str | None = None,
    ) -> TrainingDomain:
        """The domain in nnU-Net's dataset fingerprint.

        :param plans: ``plans.json`` (``foreground_intensity_properties_per_channel``,
            ``original_median_spacing_after_transp`` in nnU-Net's transposed z/y/x order, ``transpose_forward``).
        :param datasetJson: ``dataset.json``, whose ``channel_names`` name the sequences.
        :param sequences: sequence names by channel index, overriding ``channel_names`` (e.g. the manifest's).
        :param model: the model's name (default: the plans' ``dataset_name``).
        :raises ModelError: for a fingerprint whose values are not numbers.
        """
        name = model or str(plans.get("dataset_name") or "the model")
        intensities = plans.get("foreground_intensity_properties_per_channel") or {}
        names = {str(k): str(v) for k, v in ((datasetJson or {}).get("channel_names") or {}).items()}
        count = max(len(intensities), len(names), len(sequences or ()))
        try:
            spacing = _spacingXyz(plans)
            channels = tuple(
                _channel(index, sequences, names, intensities.get(str(index)) or {}, spacing) for index in range(count)
            )
        except (TypeError, ValueError, IndexError) as error:
            raise ModelError(
                f"The dataset fingerprint in plans.json of {name} is malformed ({error}); restore the model's "
                "plans.json from its source."
            ) from error
        return cls(model=name, channels=channels)


def domainWarnings(
    domain: TrainingDomain, images: Mapping[str, sitk.Image], mask: sitk.Image | None = None
) -> list[str]:
    """Warnings for the images that lie far outside the data the model was trained on (none when inside).

    :param domain: the model's training domain.
    :param images: the input images by sequence name (matched case-insensitively; other names are ignored).
    :param mask: voxels to compare (non-zero; on the images' grid), e.g. a reference segmentation; default:
        each image's Otsu foreground.
    :raises GeometryError: for a mask off an image's grid.
    """
    byName = {name.lower(): image for name, image in images.items()}
    matched = [
        (channel, byName[channel.sequence.lower()]) for channel in domain.channels if channel.sequence.lower() in byName
    ]
    warnings = _spacingWarnings(domain, matched)
    for channel, image in matched:
        if channel.hasIntensities:
            warnings += _intensityWarnings(domain, channel, image, mask)
    return warnings


def _spacingXyz(plans: Mapping[str, Any]) -> tuple[float, float, float] | None:
    """The median training spacing in x/y/z: nnU-Net stores it as z/y/x after ``transpose_forward``."""
    transposed = plans.get("original_median_spacing_after_transp")
    if not transposed:
        return None
    order = plans.get("transpose_forward") or list(range(len(transposed)))
    zyx = [0.0] * len(transposed)
    for position, axis in enumerate(order):
        zyx[int(axis)] = float(transposed[position])
    if len(zyx) != 3:
        return None  # a 2D dataset: no 3D spacing to compare
    return (zyx[2], zyx[1], zyx[0])


def _channel(index, sequences, names, values, spacing) -> ChannelDomain:
    def number(key: str) -> float | None:
        return float(values[key]) if values.get(key) is not None else None

    sequence = sequences[index] if sequences and index < len(sequences) else names.get(str(index), f"channel {index}")
    return ChannelDomain(
        index=index,
        sequence=sequence,
        spacing=spacing,
        percentile005=number("percentile_00_5"),
        median=number("median"),
        percentile995=number("percentile_99_5"),
        mean=number("mean"),
        std=number("std"),
    )


def _spacingWarnings(domain: TrainingDomain, matched: list[tuple[ChannelDomain, sitk.Image]]) -> list[str]:
    """One warning per spacing far from training (channels on one grid share it)."""
    low, high = SPACING_RATIO_RANGE
    groups: dict[tuple, list[str]] = {}
    for channel, image in matched:
        if channel.spacing is None or image.GetDimension() != 3:
            continue
        spacing = tuple(float(v) for v in image.GetSpacing())
        ratios = tuple(s / t for s, t in zip(spacing, channel.spacing))
        if any(not low <= ratio <= high for ratio in ratios):
            groups.setdefault((spacing, channel.spacing, ratios), []).append(channel.sequence)
    warnings = []
    for (spacing, training, ratios), sequences in groups.items():
        axes = ", ".join(f"{axis} ×{ratio:.2g}" for axis, ratio in zip("xyz", ratios) if not low <= ratio <= high)
        warnings.append(
            f"Model {domain.model!r}, {_listed(sequences)}: voxel spacing {_mm(spacing)} mm (x × y × z) is far from "
            f"the {_mm(training)} mm it was trained on ({axes} the training spacing; "
            f"{low:g}–{high:g}× is expected). {_CONSEQUENCE} Use a model trained on images of this resolution, "
            "or check the segmentation carefully."
        )
    return warnings


def _intensityWarnings(
    domain: TrainingDomain, channel: ChannelDomain, image: sitk.Image, mask: sitk.Image | None
) -> list[str]:
    assert channel.percentile005 is not None and channel.median is not None and channel.percentile995 is not None
    voxels = _foreground(image, mask)
    if voxels.size == 0:
        return []
    low, median, high = (float(v) for v in np.percentile(voxels, INTENSITY_PERCENTILES))
    problems = []
    if not channel.percentile005 / MEDIAN_MARGIN <= median <= channel.percentile995 * MEDIAN_MARGIN:
        problems.append(
            f"its median lies outside the training 0.5–99.5 percentile range, even widened {MEDIAN_MARGIN:g}-fold"
        )
    scale, trainingScale = high - low, channel.percentile995 - channel.percentile005
    if trainingScale > 0 and scale > INTENSITY_SCALE_FACTOR * trainingScale:
        problems.append(
            f"its spread (99.5 − 0.5 percentile) is {scale / trainingScale:.3g} times the training one "
            f"(more than {INTENSITY_SCALE_FACTOR:g} times)"
        )
    if not problems:
        return []
    region = "masked" if mask is not None else "foreground"
    return [
        f"Model {domain.model!r}, sequence {channel.sequence!r}: {region} intensities (median {median:.4g}, "
        f"0.5–99.5 percentiles {low:.4g}–{high:.4g}) are far from those it was trained on (median "
        f"{channel.median:.4g}, 0.5–99.5 percentiles {channel.percentile005:.4g}–{channel.percentile995:.4g}): "
        f"{'; '.join(problems)}. The image likely comes from another scanner, sequence or intensity scale. "
        f"{_CONSEQUENCE} Use a model trained on such images, or harmonize the intensities as the model expects "
        "(virtual-biopsy harmonize)."
    ]


def _foreground(image: sitk.Image, mask: sitk.Image | None) -> np.ndarray:
    """The voxels compared: the mask's, or those above the image's Otsu threshold (all, if none is)."""
    voxels = sitk.GetArrayViewFromImage(image)
    if mask is not None:
        requireSameGrid(image, mask, "domain-check mask")
        return np.asarray(voxels[sitk.GetArrayViewFromImage(mask) != 0], dtype=np.float64)
    values = np.asarray(voxels, dtype=np.float64)
    finite = values[np.isfinite(values)]
    if finite.size == 0 or finite.min() == finite.max():
        return finite
    otsu = sitk.OtsuThresholdImageFilter()
    otsu.Execute(sitk.Cast(image, sitk.sitkFloat32))
    threshold = otsu.GetThreshold()
    foreground = finite[finite > threshold]
    return foreground if foreground.size else finite


def _mm(values: Sequence[float]) -> str:
    return " × ".join(f"{v:.3g}" for v in values)


def _listed(sequences: list[str]) -> str:
    quoted = ", ".join(repr(name) for name in sequences)
    return f"sequence {quoted}" if len(sequences) == 1 else f"sequences {quoted}"
