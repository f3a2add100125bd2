"""Segmentation QA metrics of two tumour-sized masks in a 256 × 256 × 128 volume (0.5 × 0.5 × 1.5 mm):
our full set (overlap, HD/HD95/MSD/surface DSC, rates, AUC) against MONAI's HD95 + ASSD + surface DSC
and SimpleITK's overlap + Hausdorff filters on the same masks.

Prints seconds and ratios; run with ``.venv/bin/python benchmarks/bench_qa_metrics.py``.
"""

import time

import numpy as np
import SimpleITK as sitk
from scipy import ndimage

from VirtualBiopsy.segment.qa.metrics import computeMetrics


def best(function, repeats=3):
    """Best wall time of ``repeats`` calls, in seconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def masks():
    shape = (128, 256, 256)
    k, j, i = np.ogrid[: shape[0], : shape[1], : shape[2]]
    radius = np.sqrt(((k - 64) * 1.5) ** 2 + ((j - 128) * 0.5) ** 2 + ((i - 128) * 0.5) ** 2)
    noise = ndimage.gaussian_filter(np.random.default_rng(0).normal(size=shape), 4) * 40
    reference = radius + noise < 30  # ~30 mm radius: about 110 ml
    prediction = radius + np.roll(noise, 3, axis=2) < 31
    images = []
    for voxels in (reference, prediction):
        image = sitk.GetImageFromArray(voxels.astype(np.uint8))
        image.SetSpacing((0.5, 0.5, 1.5))
        images.append(image)
    probabilities = sitk.GetImageFromArray(np.clip(1 - (radius + noise - 31) / 10, 0, 1).astype(np.float32))
    probabilities.CopyInformation(images[0])
    return images[0], images[1], probabilities


def main():
    import torch
    from monai.metrics import compute_average_surface_distance, compute_hausdorff_distance, compute_surface_dice

    reference, prediction, probabilities = masks()
    spacing = reference.GetSpacing()[::-1]
    oneHot = [
        torch.cat([1 - t, t], 1)
        for t in (
            torch.from_numpy(sitk.GetArrayFromImage(m).astype(np.float32))[None, None] for m in (reference, prediction)
        )
    ]

    def monai():
        y, yPred = oneHot
        compute_hausdorff_distance(yPred, y, percentile=95, spacing=spacing)
        compute_average_surface_distance(yPred, y, symmetric=True, spacing=spacing)
        compute_surface_dice(yPred, y, [1.0], spacing=spacing)

    def simpleItk():
        sitk.LabelOverlapMeasuresImageFilter().Execute(prediction, reference)
        sitk.HausdorffDistanceImageFilter().Execute(reference, prediction)

    metrics = computeMetrics(reference, prediction, probabilities)
    print(
        f"masks {reference.GetSize()}, reference {metrics.referenceMl:.1f} ml, DSC {metrics.dsc:.3f}, "
        f"HD95 {metrics.hd95Mm:.2f} mm"
    )
    ours = best(lambda: computeMetrics(reference, prediction))
    oursAuc = best(lambda: computeMetrics(reference, prediction, probabilities))
    theirs = best(monai)
    itk = best(simpleItk)
    print(
        f"ours (no AUC): {ours:.3f} s; with voxel AUC over {metrics.trueNegatives + metrics.truePositives + metrics.falsePositives + metrics.falseNegatives:,} voxels: {oursAuc:.3f} s"
    )
    print(f"MONAI HD95 + ASSD + surface DSC: {theirs:.3f} s (ours / MONAI = {ours / theirs:.2f})")
    print(f"SimpleITK overlap + Hausdorff: {itk:.3f} s (ours / SimpleITK = {ours / itk:.2f})")


if __name__ == "__main__":
    main()
