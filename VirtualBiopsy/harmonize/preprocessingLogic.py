"""Harmonization preprocessing and registration on volume nodes.

Each call takes its nodes and a config (:mod:`VirtualBiopsy.harmonize.preprocessingConfig`, the
panel's, the command line's and the console's), plus ``progress`` and ``cancel``; it reads its input
nodes through :mod:`VirtualBiopsy.mrml`, runs the pure SimpleITK algorithm with the config's
settings and writes a new node (inputs are never modified). Settings
and QC are recorded on the output nodes as JSON attributes
(``VirtualBiopsy.preprocessing``, ``VirtualBiopsy.registration``).
"""

from __future__ import annotations

import json
import logging

import SimpleITK as sitk

from VirtualBiopsy import __version__
from VirtualBiopsy.errors import InputError
from VirtualBiopsy.harmonize.biasField import correctBiasField
from VirtualBiopsy.harmonize.denoising import denoiseImage
from VirtualBiopsy.harmonize.foreground import foregroundMask
from VirtualBiopsy.harmonize.preprocessingConfig import PreprocessingConfig, RegistrationConfig
from VirtualBiopsy.harmonize.registration import RegistrationResult, registerImages
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

    def correctBiasField(
        self,
        volumeNode,
        config: PreprocessingConfig,
        outputVolume=None,
        *,
        mask=None,
        biasFieldVolume=None,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ):
        """N4-correct ``volumeNode`` with the ``n4*`` settings of ``config``
        (see :func:`~VirtualBiopsy.harmonize.biasField.correctBiasField`).

        :param outputVolume: the volume node that receives the result, or ``None`` for a new ``<name>_n4``.
        :param mask: labelmap volume or segmentation (all segments) on the volume's grid; default: the head.
        :param biasFieldVolume: a volume node that receives the estimated bias field, if given.
        :returns: the corrected volume node.
        """
        config.validate()
        arguments = config.biasFieldArguments()
        image = volumeNodeToImage(volumeNode)
        corrected, bias = correctBiasField(
            image, maskImage(mask, volumeNode), progress=progress, cancel=cancel, **arguments
        )
        settings = {"method": "n4", **arguments, "mask": mask.GetName() if mask else "foreground"}
        if biasFieldVolume is not None:
            imageToVolumeNode(bias, self.scene, biasFieldVolume.GetName(), volumeNode=biasFieldVolume)
        return self._output(corrected, volumeNode, outputVolume, "n4", settings)

    def denoise(
        self,
        volumeNode,
        config: PreprocessingConfig,
        outputVolume=None,
        *,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ):
        """Denoise ``volumeNode`` with ``config.denoisingMethod`` and that method's default options
        (see :func:`~VirtualBiopsy.harmonize.denoising.denoiseImage`).

        The filters report no progress of their own: ``cancel`` is checked before they start.

        :returns: the denoised volume node (``<name>_denoised`` when created).
        """
        config.validate()
        arguments = config.denoisingArguments()
        _starting(progress, cancel, f"Denoising ({arguments['method']})")
        denoised = denoiseImage(volumeNodeToImage(volumeNode), **arguments)
        return self._output(denoised, volumeNode, outputVolume, "denoised", arguments)

    def resample(
        self,
        volumeNode,
        config: PreprocessingConfig,
        outputVolume=None,
        *,
        reference=None,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ):
        """Resample ``volumeNode`` with the ``resampling*`` settings of ``config``
        (see :func:`~VirtualBiopsy.harmonize.resampling.resampleImage`); ``cancel`` is checked before it starts.

        :param reference: the volume whose grid preset ``reference`` resamples onto (given exactly with that preset).
        :returns: the resampled volume node (``<name>_resampled`` when created).
        """
        config.validate()
        arguments = config.resamplingArguments()
        _starting(progress, cancel, f"Resampling ({arguments['preset']})")
        referenceImage = volumeNodeToImage(reference) if reference is not None else None
        resampled = resampleImage(volumeNodeToImage(volumeNode), reference=referenceImage, **arguments)
        settings = {
            "method": "resample",
            **arguments,
            "reference": reference.GetName() if reference is not None else None,
        }
        return self._output(resampled, volumeNode, outputVolume, "resampled", settings)

    def headMask(
        self,
        volumeNode,
        outputLabelmap=None,
        *,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ):
        """The head (foreground) of ``volumeNode`` as a labelmap node (1: head), on the volume's grid.

        See :func:`~VirtualBiopsy.harmonize.foreground.foregroundMask`.

        :returns: the labelmap volume node (``<name>_head`` when created).
        """
        _starting(progress, cancel, "Finding the head")
        mask = foregroundMask(volumeNodeToImage(volumeNode))
        name = outputLabelmap.GetName() if outputLabelmap is not None else f"{volumeNode.GetName()}_head"
        output = imageToVolumeNode(mask, self.scene, name, volumeNode=outputLabelmap, labelmap=True)
        output.SetAttribute(
            PREPROCESSING_ATTRIBUTE,
            json.dumps({"method": "headMask", "input": volumeNode.GetName(), "virtualBiopsyVersion": __version__}),
        )
        return output

    def _output(self, image: sitk.Image, volumeNode, outputVolume, suffix: str, settings: dict):
        if outputVolume is volumeNode:
            raise InputError(
                f"The output volume is the input volume '{volumeNode.GetName()}'; inputs are never "
                "modified. Pass a new node or outputVolume=None."
            )
        name = outputVolume.GetName() if outputVolume is not None else f"{volumeNode.GetName()}_{suffix}"
        output = imageToVolumeNode(image, self.scene, name, volumeNode=outputVolume)
        output.SetAttribute(
            PREPROCESSING_ATTRIBUTE,
            json.dumps(
                {
                    **settings,
                    "input": volumeNode.GetName(),
                    "virtualBiopsyVersion": __version__,
                    "simpleItkVersion": sitk.Version.VersionString(),
                },
                default=str,
            ),
        )
        return output


class RegistrationLogic:
    """Register two volumes of one patient and put the result in the scene.

    :param scene: the MRML scene that holds the volumes and receives the transform and resampled volume.
    """

    def __init__(self, scene) -> None:
        self.scene = scene
        #: The :class:`~VirtualBiopsy.harmonize.registration.RegistrationResult` of the last :meth:`run`.
        self.result: RegistrationResult | None = None

    def run(
        self,
        fixedVolume,
        movingVolume,
        config: RegistrationConfig,
        outputVolume=None,
        *,
        mask=None,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ):
        """Register ``movingVolume`` onto ``fixedVolume`` with the settings of ``config``
        (see :func:`~VirtualBiopsy.harmonize.registration.registerImages`).

        :param outputVolume: the volume node that receives the moving volume resampled on the fixed grid, or
            ``None`` for a new one.
        :param mask: tumour mask on the fixed volume (segmentation: all segments; labelmap: non-zero voxels,
            on the fixed grid).
        :returns: ``(transformNode, resampledVolume)``: the transform (put ``movingVolume`` under it to
            align it with ``fixedVolume``) and the moving volume resampled on the fixed grid. Both carry the
            settings and QC in the ``VirtualBiopsy.registration`` attribute; :attr:`result` holds the metrics.
        """
        if outputVolume is not None and outputVolume in (fixedVolume, movingVolume):
            raise InputError(
                f"The output volume is the input volume '{outputVolume.GetName()}'; inputs are never "
                "modified. Pass a new node or outputVolume=None."
            )
        config.validate()
        arguments = config.registrationArguments()
        fixed, moving = volumeNodeToImage(fixedVolume), volumeNodeToImage(movingVolume)
        result = registerImages(
            fixed, moving, maskImage(mask, fixedVolume), progress=progress, cancel=cancel, **arguments
        )
        self.result = result
        base = f"{movingVolume.GetName()}_to_{fixedVolume.GetName()}"
        transformNode = transformToNode(result.transform, self.scene, base)
        name = outputVolume.GetName() if outputVolume is not None else f"{base}_registered"
        resampled = imageToVolumeNode(result.resampled, self.scene, name, volumeNode=outputVolume)
        record = json.dumps(
            {
                "fixed": fixedVolume.GetName(),
                "moving": movingVolume.GetName(),
                "config": config.toDict(),
                "stages": list(arguments["stages"]),
                "mask": mask.GetName() if mask else None,
                "settings": arguments["settings"].toDict(),
                "qcPassed": result.qcPassed,
                "retried": result.retried,
                "metricMask": result.metricMask,
                "metrics": result.metrics,
                "virtualBiopsyVersion": __version__,
                "simpleItkVersion": sitk.Version.VersionString(),
            },
            default=str,
        )
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
    raise InputError(
        f"The mask '{maskNode.GetName()}' is a {maskNode.GetClassName()}; give a segmentation or a "
        "labelmap volume node."
    )


def _starting(progress: ProgressCallback | None, cancel: CancelToken | None, message: str) -> None:
    """For steps whose filters report no progress: stop now if cancelled, else say what starts."""
    if cancel is not None:
        cancel.raiseIfCancelled()
    (progress or noProgress)(0.0, message)
