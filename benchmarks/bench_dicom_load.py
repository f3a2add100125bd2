"""Loading a 300-slice 256×256 DICOM series into a volume node, against SimpleITK's series reader.

- **plain**: ``sitk.ImageSeriesReader`` with ``GetGDCMSeriesFileNames`` + ``Execute`` on the folder;
- **ours**: :func:`VirtualBiopsy.mrml.dicomNodes.loadDicomSeriesNode` (pydicom reads every file, the
  slices are checked, the volume is built and copied into a new volume node of a headless scene).

Both run ``--repeats`` times (default 3), alternating, after one warm-up each (file cache warm);
the best time of each is kept. It prints both times, the ratio (target ≤ 1.2×) and whether the
voxels and geometry are the same.

Run: ``.venv/bin/python benchmarks/bench_dicom_load.py [--slices N] [--repeats N]``
"""

from __future__ import annotations

import argparse
import os
import pathlib
import tempfile
import time

import numpy as np
import SimpleITK as sitk

from VirtualBiopsy.data.dicomWriter import PROTOCOLS, SeriesHeader, obliqueDirection, uid, writeSeries


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slices", type=int, default=300)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    arguments = parser.parse_args()

    from VirtualBiopsy.mrml.dicomNodes import loadDicomSeriesNode
    from VirtualBiopsy.mrml.images import volumeNodeToImage
    from VirtualBiopsy.mrml.scene import createScene

    with tempfile.TemporaryDirectory() as temporary:
        folder = pathlib.Path(temporary) / "series"
        voxels = np.random.default_rng(0).integers(0, 4000, (arguments.slices, arguments.size, arguments.size))
        image = sitk.GetImageFromArray(voxels.astype(np.int16))
        image.SetSpacing((0.9, 0.9, 1.0))
        image.SetDirection(obliqueDirection(10.0))
        header = SeriesHeader("BENCH^X", "B1", "19700101", "B", uid("st"), uid("se"), uid("for"), 1, PROTOCOLS["T1"])
        writeSeries([image], folder, header)
        scene = createScene()

        def plain() -> sitk.Image:
            reader = sitk.ImageSeriesReader()
            reader.SetFileNames(sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(folder)))
            return reader.Execute()

        def ours():
            node = loadDicomSeriesNode(folder, scene, "bench")
            return node

        plainTimes, ourTimes = [], []
        reference, node = plain(), ours()
        for _ in range(arguments.repeats):
            start = time.perf_counter()
            reference = plain()
            plainTimes.append(time.perf_counter() - start)
            display = node.GetDisplayNode()  # it holds the voxels too: removing only the volume leaks them
            scene.RemoveNode(node)
            scene.RemoveNode(display)
            start = time.perf_counter()
            node = ours()
            ourTimes.append(time.perf_counter() - start)
        loaded = volumeNodeToImage(node)
        same = np.array_equal(sitk.GetArrayViewFromImage(loaded), sitk.GetArrayViewFromImage(reference)) and all(
            np.allclose(a, b, atol=1e-6)
            for a, b in (
                (loaded.GetOrigin(), reference.GetOrigin()),
                (loaded.GetSpacing(), reference.GetSpacing()),
                (loaded.GetDirection(), reference.GetDirection()),
            )
        )
        best, bestPlain = min(ourTimes), min(plainTimes)
        print(
            f"{arguments.slices}×{arguments.size}×{arguments.size} series: SimpleITK ImageSeriesReader "
            f"{bestPlain:.3f} s, loadDicomSeriesNode {best:.3f} s, ratio {best / bestPlain:.2f}× (target ≤ 1.2×); "
            f"same voxels and geometry: {same}"
        )
        print(
            f"  runs: plain {', '.join(f'{t:.3f}' for t in plainTimes)}; ours {', '.join(f'{t:.3f}' for t in ourTimes)}; "
            f"load {os.getloadavg()[0]:.2f}"
        )


if __name__ == "__main__":
    main()
