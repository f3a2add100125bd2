"""Harmonization preprocessing: our N4, resampling and z-score against the same SimpleITK / numpy
calls made directly (target: ratio ≤ 1.1), and z-score throughput against the memory-copy bandwidth.

Run with ``nice -n 10 .venv/bin/python benchmarks/bench_harmonize_preprocessing.py [--size 128]``.
Times are the best of several runs (ours and direct interleaved), so load from other processes
inflates both alike.
"""

import argparse
import time

import numpy as np
import SimpleITK as sitk

from VirtualBiopsy.data.virtualCohort import generateCase
from VirtualBiopsy.harmonize.biasField import correctBiasField, fittingMask
from VirtualBiopsy.harmonize.foreground import foregroundMask
from VirtualBiopsy.harmonize.resampling import presetGrid, resampleImage
from VirtualBiopsy.harmonize.zscore import zScoreNormalize


def best(functions, repeats):
    """Best wall time (s) of each function over ``repeats`` interleaved rounds."""
    times = [[] for _ in functions]
    for _ in range(repeats):
        for index, function in enumerate(functions):
            start = time.perf_counter()
            function()
            times[index].append(time.perf_counter() - start)
    return [min(t) for t in times]


def benchN4(image, mask, repeats):
    iterations = [50, 50, 50, 50]

    def direct():
        corrector = sitk.N4BiasFieldCorrectionImageFilter()
        corrector.SetMaximumNumberOfIterations(iterations)
        corrector.SetConvergenceThreshold(1e-6)
        corrector.Execute(sitk.Shrink(image, [4] * 3), sitk.Shrink(fitting, [4] * 3))
        return image / sitk.Exp(corrector.GetLogBiasFieldAsImage(image))

    fitting = fittingMask(image, mask)
    ours, plain = best([lambda: correctBiasField(image, mask, 4, iterations), direct], repeats)
    print(
        f"N4 (shrink 4, 4 × 50 iterations) {image.GetSize()}: ours {ours:.3f} s, SimpleITK {plain:.3f} s, "
        f"ratio {ours / plain:.2f}"
    )


def benchResampling(image, repeats):
    grid = presetGrid(image, "isotropic", 1.0)
    low, high = (float(v) for v in (sitk.GetArrayViewFromImage(image).min(), sitk.GetArrayViewFromImage(image).max()))

    def direct():
        resampled = sitk.Resample(image, grid, sitk.Transform(), sitk.sitkBSpline, 0.0, sitk.sitkFloat32)
        return sitk.Clamp(resampled, sitk.sitkFloat32, low, high)

    for interpolator, kind in (("bspline", sitk.sitkBSpline), ("linear", sitk.sitkLinear)):
        if interpolator == "linear":

            def direct():  # noqa: F811 (no clamp for linear interpolation)
                return sitk.Resample(image, grid, sitk.Transform(), sitk.sitkLinear, 0.0, sitk.sitkFloat32)

        ours, plain = best([lambda: resampleImage(image, "isotropic", 1.0, interpolator), direct], repeats)
        print(
            f"resample {image.GetSize()} {image.GetSpacing()[0]:.3g} mm → 1 mm {grid.GetSize()}, {interpolator}: ours "
            f"{ours:.3f} s, SimpleITK {plain:.3f} s, ratio {ours / plain:.2f}"
        )


def benchZScore(repeats):
    rng = np.random.default_rng(0)
    voxels = rng.normal(100, 20, (256, 256, 256)).astype(np.float32)
    maskArray = np.zeros(voxels.shape, np.uint8)
    maskArray[32:224, 32:224, 32:224] = 1
    image, mask = sitk.GetImageFromArray(voxels), sitk.GetImageFromArray(maskArray)
    target = np.empty_like(voxels)

    def plainNumpy():
        inside = maskArray > 0
        values = voxels[inside]
        out = np.zeros_like(voxels)
        out[inside] = (values - values.mean(dtype=np.float64)) / values.std(dtype=np.float64)
        return out

    ours, plain, copy = best(
        [lambda: zScoreNormalize(image, mask), plainNumpy, lambda: np.copyto(target, voxels)], repeats
    )
    bandwidth = 2 * voxels.nbytes / copy  # read + write
    throughput = voxels.nbytes / ours
    print(f"z-score 256³ float32 masked: ours {ours:.3f} s, numpy {plain:.3f} s, ratio {ours / plain:.2f}")
    print(
        f"np.copyto 256³ float32: {copy:.4f} s ({bandwidth / 1e9:.1f} GB/s read+write); z-score throughput "
        f"{throughput / 1e9:.2f} GB/s of input = {ours / copy:.1f}× the time of one copy"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=128, help="virtual-cohort grid size for N4 and resampling")
    parser.add_argument("--repeats", type=int, default=3)
    arguments = parser.parse_args()
    image = sitk.Cast(generateCase(0, 0, arguments.size).images["T1c"], sitk.sitkFloat32)
    benchN4(image, foregroundMask(image), arguments.repeats)
    benchResampling(image, arguments.repeats)
    benchZScore(arguments.repeats + 2)


if __name__ == "__main__":
    main()
