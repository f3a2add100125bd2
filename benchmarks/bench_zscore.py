"""Masked z-score of a 256³ float32 volume: ours against plain numpy and the memory-bandwidth floor.

Prints ratios; run with ``.venv/bin/python benchmarks/bench_zscore.py``.
"""

import time

import numpy as np
import SimpleITK as sitk

from VirtualBiopsy.harmonize.zscore import zScoreNormalize


def best(function, repeats=5):
    """Best wall time of ``repeats`` calls, in seconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def main():
    rng = np.random.default_rng(0)
    voxels = rng.normal(100, 20, (256, 256, 256)).astype(np.float32)
    maskArray = np.zeros(voxels.shape, np.uint8)
    maskArray[32:224, 32:224, 32:224] = 1
    image, mask = sitk.GetImageFromArray(voxels), sitk.GetImageFromArray(maskArray)

    def plainNumpy():
        inside = maskArray > 0
        values = voxels[inside]
        out = np.zeros_like(voxels)
        out[inside] = (values - values.mean()) / values.std()
        return out

    def plainNumpyToImage():
        output = sitk.GetImageFromArray(plainNumpy())
        output.CopyInformation(image)
        return output

    ours = best(lambda: zScoreNormalize(image, mask))
    plain = best(plainNumpy)
    plainImage = best(plainNumpyToImage)
    # read input + mask once, write output once
    floor = (voxels.nbytes * 2 + maskArray.nbytes) / 24e9
    print(f"zScoreNormalize 256³ masked: {ours:.3f} s; plain numpy {plain:.3f} s; ratio {ours / plain:.2f}")
    print(
        f"plain numpy + SimpleITK image of the result (what ours returns): {plainImage:.3f} s; "
        f"ratio {ours / plainImage:.2f}"
    )
    print(f"memory-bandwidth floor (~24 GB/s): {floor:.4f} s; ours / floor = {ours / floor:.1f}")


if __name__ == "__main__":
    main()
