"""MONAI Model Zoo bundles with one sigmoid per output channel (backend ``monai-bundle``), read as data.

The bundle's ``configs/inference.json`` is parsed as JSON (through :class:`ModelFiles`, hash checked) and never
handed to MONAI's ``ConfigParser``: no ``$`` expression is evaluated and no ``_target_`` is imported. Used:

- ``network_def``: an allow-listed network of ``monai.networks.nets`` with plain arguments
  (:func:`~VirtualBiopsy.models.monaiBundle.bundleNetwork`), else :class:`UnsafeModelError`; its weights,
  ``models/model.pt``, load weights-only through :meth:`ModelFiles.loadCheckpoint`;
- ``preprocessing``: ``LoadImage(d)``, ``EnsureChannelFirst(d)``, ``EnsureType(d)``, ``ToTensor(d)`` (nothing to
  do: the channels arrive loaded, channel first) and ``NormalizeIntensity(d)`` (``nonzero``, ``channel_wise``);
  any other transform is refused with a :class:`ModelError` naming it;
- ``inferer``: a ``SlidingWindowInferer``'s ``roi_size``, ``sw_batch_size``, ``overlap`` and ``mode``;
- ``postprocessing``: ``Activations(d)`` with ``sigmoid`` and ``AsDiscrete(d)`` with ``threshold`` (a voxel is in
  a region when its sigmoid is ≥ the threshold, as ``AsDiscrete`` does). ``Invertd`` (nothing to invert: no
  spatial preprocessing is supported), ``Lambda(d)`` (its function is never evaluated: the nesting rule below
  replaces it), ``SaveImage(d)``, ``EnsureType(d)`` and ``ToTensor(d)`` are skipped; any other transform is refused.

**Nesting rule.** The channels are overlapping regions (BraTS: enhancing ⊂ core ⊂ whole tumour). The entry's
``options.outputChannels`` gives each manifest label's channel and ``options.regionOrder`` the label names from
outermost to innermost; each voxel gets the value of the innermost region it belongs to (regions painted outermost
first, each inner one over it), and 0 when in none. Every non-zero voxel is thus in the outermost region's
prediction or in another region's: the union of all labels is the "whole tumour" a cohort run takes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import SimpleITK as sitk

from VirtualBiopsy.errors import ModelError, requirePackage
from VirtualBiopsy.models.modelEntry import ModelEntry
from VirtualBiopsy.models.modelFiles import ModelFiles
from VirtualBiopsy.progress import CancelToken, ProgressCallback, noProgress
from VirtualBiopsy.segment.backends.monaiBundleConfig import WEIGHTS, BundlePlan, readBundlePlan
from VirtualBiopsy.segment.backends.result import BackendResult
from VirtualBiopsy.segment.backends.torchSupport import torchDevice

__all__ = ["BundlePlan", "loadBundleNetwork", "nestedLabels", "predictBundle", "readBundlePlan", "regionsOf"]


def regionsOf(entry: ModelEntry, plan: BundlePlan) -> list[tuple[int, int]]:
    """``(label value, output channel)`` of every manifest label, outermost region first (``options.regionOrder``).

    :raises ModelError: when ``outputChannels`` or ``regionOrder`` do not name each label once, or a channel lies
        outside the network's outputs.
    """
    channels = entry.options.get("outputChannels")
    order = entry.options.get("regionOrder")
    names = [label.name for label in entry.labels]
    values = {label.name: label.value for label in entry.labels}
    if not isinstance(channels, Mapping) or not isinstance(order, list) or sorted(map(str, order)) != sorted(names):
        raise ModelError(
            f"Model '{entry.id}' (monai-bundle) needs options 'outputChannels' (label name → output channel) and "
            f"'regionOrder' (every label name once, outermost region first), for labels {names}; it has "
            f"{channels!r} and {order!r}. Fix the manifest entry."
        )
    regions = []
    for name in order:
        channel = channels.get(name)
        if type(channel) is not int or channel < 0 or (plan.outChannels and channel >= plan.outChannels):
            raise ModelError(
                f"Model '{entry.id}': outputChannels[{name!r}] is {channel!r}, not a channel of the network's "
                f"{plan.outChannels} outputs; fix the manifest entry."
            )
        regions.append((values[name], channel))
    return regions


def loadBundleNetwork(files: ModelFiles, plan: BundlePlan):
    """The bundle's network with ``models/model.pt`` loaded through ``files`` (weights-only unless trusted); the
    allow-list is checked again, trusted or not.

    :raises ModelError: for missing weights or weights that do not fit the network.
    """
    from VirtualBiopsy.segment.backends.monaiBackend import MonaiSettings, loadMonaiNetwork

    settings = MonaiSettings(network=plan.network, networkArgs=plan.networkArgs, weights=WEIGHTS)
    if not (files.root / WEIGHTS).is_file():
        raise ModelError(f"MONAI bundle {files.root} has no {WEIGHTS}; fetch or copy the whole bundle again.")
    return loadMonaiNetwork("monai-network", files.root, settings, None, files.loadCheckpoint, trusted=False)


def predictBundle(
    images: Sequence[sitk.Image],
    network,
    plan: BundlePlan,
    regions: Sequence[tuple[int, int]],
    device: str = "auto",
    progress: ProgressCallback = noProgress,
    cancel: CancelToken | None = None,
) -> BackendResult:
    """Segment one case (channels in the model's order, on one grid) with a bundle's network.

    :param regions: ``(label value, output channel)``, outermost first (:func:`regionsOf`).
    :returns: the nested label map, and each region's sigmoid probability (``labelValues``: each channel's value).
    """
    torch = requirePackage("torch")
    inferers = requirePackage("monai.inferers", "monai")
    transforms = requirePackage("monai.transforms", "monai")
    reference = images[0]
    voxels = np.stack([sitk.GetArrayFromImage(image).astype(np.float32).transpose(2, 1, 0) for image in images])
    tensor = torch.from_numpy(voxels)
    if plan.normalize:
        tensor = transforms.NormalizeIntensity(nonzero=plan.nonzero, channel_wise=plan.channelWise)(tensor)
    tensor = (tensor.as_tensor() if hasattr(tensor, "as_tensor") else tensor)[None]
    target = torchDevice(device)
    network = network.to(target).eval()
    done = {"count": 0}

    def predictor(window):
        if cancel is not None:
            cancel.raiseIfCancelled()
        done["count"] += 1
        progress(min(0.9, 0.1 + 0.02 * done["count"]), f"Sliding window batch {done['count']}")
        return network(window)

    with torch.inference_mode():
        logits = inferers.sliding_window_inference(
            tensor.to(target), plan.roiSize, plan.swBatchSize, predictor, overlap=plan.overlap, mode=plan.mode
        )
        logits = (logits.as_tensor() if hasattr(logits, "as_tensor") else logits).float()
        probabilities = torch.sigmoid(logits)[0].cpu().numpy().transpose(0, 3, 2, 1)
    labels = nestedLabels(probabilities >= plan.threshold, regions)
    labelMap = sitk.GetImageFromArray(labels)
    labelMap.CopyInformation(reference)
    channelValues = dict((channel, value) for value, channel in regions)
    used = sorted(channelValues)
    provenance = {
        "device": str(target),
        "regions": True,
        "regionOrder": [value for value, _ in regions],
        "testTimeAugmentation": False,
        "roiSize": list(plan.roiSize),
        "overlap": plan.overlap,
        "swBatchSize": plan.swBatchSize,
        "normalization": {"nonzero": plan.nonzero, "channelWise": plan.channelWise} if plan.normalize else None,
        "threshold": plan.threshold,
        "monaiVersion": requirePackage("monai").__version__,
        "torchVersion": torch.__version__,
    }
    progress(1.0, "MONAI bundle inference done")
    return BackendResult(
        labelMap,
        np.ascontiguousarray(probabilities[used], dtype=np.float32),
        tuple(channelValues[channel] for channel in used),
        None,
        provenance,
    )


def nestedLabels(masks: np.ndarray, regions: Sequence[tuple[int, int]]) -> np.ndarray:
    """The label map of overlapping region ``masks`` ``(channel, z, y, x)``: each voxel gets the value of the
    innermost region it is in (``regions``: ``(value, channel)``, outermost first), 0 when in none."""
    dtype = np.uint8 if max([value for value, _ in regions] + [0]) < 256 else np.uint16
    labels = np.zeros(masks.shape[1:], dtype)
    for value, channel in regions:
        labels[masks[channel]] = value
    return labels
