"""Harmonization preprocessing and registration on volume nodes.

Each call reads its input nodes through :mod:`VirtualBiopsy.mrml`, runs the pure
SimpleITK algorithm and writes a new node (inputs are never modified). Settings
and QC are recorded on the output nodes as JSON attributes
(``VirtualBiopsy.preprocessing``, ``VirtualBiopsy.registration``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence

import SimpleITK as sitk

from VirtualBiopsy import __version__
from VirtualBiopsy.errors import InputError
from VirtualBiopsy.harmonize.biasField import correctBiasField
from VirtualBiopsy.harmonize.denoising import denoiseImage
from VirtualBiopsy.harmonize.foreground import foregroundMask
from VirtualBiopsy.harmonize.registration import (
    LINEAR_STAGES,
    RegistrationResult,
    RegistrationSettings,
    registerImages,
)
from VirtualBiopsy.harmonize.resampling import resampleImage
from VirtualBiopsy.mrml.images import imageToVolumeNode, volumeNodeToImage
from VirtualBiopsy.mrml.segmentations import segmentationToLabelmapImage
from VirtualBiopsy.mrml.transforms import transformToNode
from VirtualBiopsy.progress import CancelToken, ProgressCallback, noProgress

logger = logging.getLogger(__name__)

PREPROCESSING_ATTRIBUTE = "VirtualBiopsy.preprocessing"
REGISTRATION_ATTRIBUTE = "VirtualBiopsy.registration"


class PreprocessingLogic:
    """N4, denoising, resampling and the head mask of the volumes of one scene.

    :param scene: the MRML scene that holds the inputs and receives the outputs.
    """

    def __init__(self, scene) -> None:
        self.scene = scene

    def correctBiasField(self, volumeNode, maskNode=None, shrinkFactor: int = 4,
                         iterations: Sequence[int] = (50, 50, 50, 50), convergenceThreshold: float = 1e-6,
                         outputVolume=None, biasFieldVolume=None, progress: ProgressCallback | None = None,
                         cancel: CancelToken | None = None):
        """N4-correct ``volumeNode`` (see :func:`~VirtualBiopsy.harmonize.biasField.correctBiasField`).

        :param maskNode: labelmap volume or segmentation (all segments) on the volume's grid; default: the head.
        :param biasFieldVolume: a volume node that receives the estimated bias field, if given.
        :returns: the corrected volume node (``<name>_n4`` when created).
        """
        image = volumeNodeToImage(volumeNode)
        mask = maskImage(maskNode, volumeNode)
        corrected, bias = correctBiasField(image, mask, shrinkFactor, iterations, convergenceThreshold, progress, cancel)
        settings = {"method": "n4", "shrinkFactor": shrinkFactor, "iterations": list(iterations),
                    "convergenceThreshold": convergenceThreshold, "mask": maskNode.GetName() if maskNode else "foreground"}
        if biasFieldVolume is not None:
            imageToVolumeNode(bias, self.scene, biasFieldVolume.GetName(), volumeNode=biasFieldVolume)
        return self._output(corrected, volumeNode, outputVolume, "n4", settings)

    def denoise(self, volumeNode, method: str = "nlm", outputVolume=None, progress: ProgressCallback | None = None,
                cancel: CancelToken | None = None, **options):
        """Denoise ``volumeNode`` (see :func:`~VirtualBiopsy.harmonize.denoising.denoiseImage`).

        The filters report no progress of their own: ``cancel`` is checked before they start.

        :returns: the denoised volume node (``<name>_denoised`` when created).
        """
        _starting(progress, cancel, f"Denoising ({method})")
        denoised = denoiseImage(volumeNodeToImage(volumeNode), method, **options)
        return self._output(denoised, volumeNode, outputVolume, "denoised", {"method": method, **options})

    def resample(self, volumeNode, preset: str = "isotropic", spacingMm: float = 1.0, interpolator: str = "bspline",
                 referenceVolume=None, outputVolume=None, progress: ProgressCallback | None = None,
                 cancel: CancelToken | None = None):
        """Resample ``volumeNode`` (see :func:`~VirtualBiopsy.harmonize.resampling.resampleImage`);
        ``cancel`` is checked before it starts.

        :param referenceVolume: the volume whose grid preset ``reference`` resamples onto.
        :returns: the resampled volume node (``<name>_resampled`` when created).
        """
        _starting(progress, cancel, f"Resampling ({preset})")
        reference = volumeNodeToImage(referenceVolume) if referenceVolume is not None else None
        resampled = resampleImage(volumeNodeToImage(volumeNode), preset, spacingMm, interpolator, reference)
        settings = {"method": "resample", "preset": preset, "spacingMm": spacingMm, "interpolator": interpolator,
                    "reference": referenceVolume.GetName() if referenceVolume is not None else None}
        return self._output(resampled, volumeNode, outputVolume, "resampled", settings)

    def headMask(self, volumeNode, outputLabelmap=None, progress: ProgressCallback | None = None,
                 cancel: CancelToken | None = None):
        """The head (foreground) of ``volumeNode`` as a labelmap node (1: head), on the volume's grid.

        See :func:`~VirtualBiopsy.harmonize.foreground.foregroundMask`.

        :returns: the labelmap volume node (``<name>_head`` when created).
        """
        _starting(progress, cancel, "Finding the head")
        mask = foregroundMask(volumeNodeToImage(volumeNode))
        name = outputLabelmap.GetName() if outputLabelmap is not None else f"{volumeNode.GetName()}_head"
        output = imageToVolumeNode(mask, self.scene, name, volumeNode=outputLabelmap, labelmap=True)
        output.SetAttribute(PREPROCESSING_ATTRIBUTE, json.dumps({"method": "headMask", "input": volumeNode.GetName(),
                                                                  "virtualBiopsyVersion": __version__}))
        return output

    def _output(self, image: sitk.Image, volumeNode, outputVolume, suffix: str, settings: dict):
        if outputVolume is volumeNode:
            raise InputError(f"The output volume is the input volume '{volumeNode.GetName()}'; inputs are never "
                             "modified. Pass a new node or outputVolume=None.")
        name = outputVolume.GetName() if outputVolume is not None else f"{volumeNode.GetName()}_{suffix}"
        output = imageToVolumeNode(image, self.scene, name, volumeNode=outputVolume)
        output.SetAttribute(PREPROCESSING_ATTRIBUTE, json.dumps(
            {**settings, "input": volumeNode.GetName(), "virtualBiopsyVersion": __version__,
             "simpleItkVersion": sitk.Version.VersionString()}, default=str))
        return output


class RegistrationLogic:
    """Register two volumes of one patient and put the result in the scene.

    :param scene: the MRML scene that holds the volumes and receives the transform and resampled volume.
    """

    def __init__(self, scene) -> None:
        self.scene = scene
        #: The :class:`~VirtualBiopsy.harmonize.registration.RegistrationResult` of the last :meth:`run`.
        self.result: RegistrationResult | None = None

    def run(self, fixedVolume, movingVolume, maskSegmentationOrLabelmap=None, stages: Sequence[str] = LINEAR_STAGES,
            bspline: bool = False, focusOnMask: bool = False, settings: RegistrationSettings | None = None,
            outputVolume=None, progress: ProgressCallback | None = None, cancel: CancelToken | None = None, **options):
        """Register ``movingVolume`` onto ``fixedVolume``.

        :param maskSegmentationOrLabelmap: tumour mask on the fixed volume (segmentation: all segments;
            labelmap: non-zero voxels, on the fixed grid).
        :param options: further arguments of :func:`~VirtualBiopsy.harmonize.registration.registerImages`.
        :returns: ``(transformNode, resampledVolume)``: the transform (put ``movingVolume`` under it to
            align it with ``fixedVolume``) and the moving volume resampled on the fixed grid. Both carry the
            settings and QC in the ``VirtualBiopsy.registration`` attribute.
        """
        if outputVolume is not None and outputVolume in (fixedVolume, movingVolume):
            raise InputError(f"The output volume is the input volume '{outputVolume.GetName()}'; inputs are never "
                             "modified. Pass a new node or outputVolume=None.")
        fixed, moving = volumeNodeToImage(fixedVolume), volumeNodeToImage(movingVolume)
        mask = maskImage(maskSegmentationOrLabelmap, fixedVolume)
        settings = settings or RegistrationSettings()
        result = registerImages(fixed, moving, mask, stages, bspline, focusOnMask, settings=settings,
                                progress=progress, cancel=cancel, **options)
        self.result = result
        base = f"{movingVolume.GetName()}_to_{fixedVolume.GetName()}"
        transformNode = transformToNode(result.transform, self.scene, base)
        name = outputVolume.GetName() if outputVolume is not None else f"{base}_registered"
        resampled = imageToVolumeNode(result.resampled, self.scene, name, volumeNode=outputVolume)
        record = json.dumps({
            "fixed": fixedVolume.GetName(), "moving": movingVolume.GetName(), "stages": list(stages), "bspline": bspline,
            "focusOnMask": focusOnMask, "mask": maskSegmentationOrLabelmap.GetName() if maskSegmentationOrLabelmap else None,
            "settings": settings.toDict(), "options": options, "qcPassed": result.qcPassed, "retried": result.retried,
            "metricMask": result.metricMask, "metrics": result.metrics, "virtualBiopsyVersion": __version__,
            "simpleItkVersion": sitk.Version.VersionString()}, default=str)
        for node in (transformNode, resampled):
            node.SetAttribute(REGISTRATION_ATTRIBUTE, record)
        return transformNode, resampled


def maskImage(maskNode, volumeNode) -> sitk.Image | None:
    """A 0/1 mask on ``volumeNode``'s grid from a segmentation (all segments) or a labelmap volume node.

    A labelmap is taken as it lies; the algorithms refuse it when it is on another grid.
    """
    if maskNode is None:
        return None
    if maskNode.IsA("vtkMRMLSegmentationNode"):
        labelmap, _infos = segmentationToLabelmapImage(maskNode, volumeNode)
        return sitk.Cast(labelmap > 0, sitk.sitkUInt8)
    if maskNode.IsA("vtkMRMLScalarVolumeNode"):
        return volumeNodeToImage(maskNode)
    raise InputError(f"The mask '{maskNode.GetName()}' is a {maskNode.GetClassName()}; give a segmentation or a "
                     "labelmap volume node.")


def _starting(progress: ProgressCallback | None, cancel: CancelToken | None, message: str) -> None:
    """For steps whose filters report no progress: stop now if cancelled, else say what starts."""
    if cancel is not None:
        cancel.raiseIfCancelled()
    (progress or noProgress)(0.0, message)
