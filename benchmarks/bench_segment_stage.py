"""The cohort run's segment stage against nnU-Net's own ``nnUNetPredictor`` on the same images and model.

Both segment one virtual case (FLAIR + T1c at 128³) with the built-in nnU-Net model ``demo`` on the CPU,
test-time mirroring off, from the image files to a label-map file:

- **stage**: :func:`VirtualBiopsy.cohort.caseSteps.segmentCase`, what ``virtual-biopsy run`` does per case:
  the images loaded into an MRML scene, every model file hashed against the manifest and the architecture
  checked, the network run, the segmentation exported on the FLAIR grid and written atomically;
- **direct**: ``nnUNetPredictor.initialize_from_trained_model_folder`` + ``predict_single_npy_array`` on the
  images read with SimpleITK, the label map written with SimpleITK.

Each runs in its own process (imports excluded), three times; the processes alternate over two rounds and the
best wall time of each is kept, with its peak resident memory.
The overhead target is ≤ 10%. Run: ``.venv/bin/python benchmarks/bench_segment_stage.py``.
"""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys
import tempfile
import time

VARIANTS = ("stage", "direct")
ROUNDS = 2
MODEL = pathlib.Path(__file__).resolve().parents[1] / "VirtualBiopsy" / "resources" / "models" / "demo"


def runVariant(variant: str, folder: pathlib.Path) -> dict:
    import numpy as np
    import SimpleITK as sitk
    import torch

    torch.set_num_threads(2)
    images = {name: folder / "VB0001" / f"{name}.nrrd" for name in ("FLAIR", "T1c")}
    if variant == "stage":
        from VirtualBiopsy.cohort.caseSteps import segmentCase
        from VirtualBiopsy.cohort.pipelineConfig import PipelineConfig

        config = PipelineConfig.fromDict({"segment": {"source": "model"}}, PipelineConfig.preset("demo"))
        assert not config.segment.settings.testTimeAugmentation

        def segment(target: pathlib.Path) -> None:
            segmentCase(images, images["FLAIR"], None, None, target, config, None)
    else:
        from nnunetv2.inference.predict_from_raw_data import nnUNetPredictor

        def segment(target: pathlib.Path) -> None:
            predictor = nnUNetPredictor(use_mirroring=False, device=torch.device("cpu"), allow_tqdm=False)
            predictor.initialize_from_trained_model_folder(str(MODEL), ("all",), "checkpoint_final.pth")
            read = [sitk.ReadImage(str(images[name])) for name in ("FLAIR", "T1c")]
            voxels = np.stack([sitk.GetArrayFromImage(image) for image in read]).astype(np.float32)
            labels = predictor.predict_single_npy_array(voxels, {"spacing": list(read[0].GetSpacing())[::-1]})
            output = sitk.GetImageFromArray(labels.astype(np.uint8))
            output.CopyInformation(read[0])
            sitk.WriteImage(output, str(target), useCompression=True)

    times = []
    for attempt in range(3):
        target = folder / f"{variant}-{attempt}.nrrd"
        start = time.perf_counter()
        segment(target)
        times.append(time.perf_counter() - start)
    return {"seconds": min(times), "peakMiB": peakResidentMiB(), "voxels": int(voxelCount(target))}


def voxelCount(path: pathlib.Path) -> int:
    import SimpleITK as sitk

    return int((sitk.GetArrayViewFromImage(sitk.ReadImage(str(path))) > 0).sum())


def peakResidentMiB() -> float:
    for line in pathlib.Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    from VirtualBiopsy.data.virtualCohort import generateCohort

    with tempfile.TemporaryDirectory(prefix="bench-segment-stage-") as temporary:
        folder = pathlib.Path(temporary)
        generateCohort(folder, cases=1, seed=7, size=128)
        results: dict[str, dict] = {}
        for _ in range(ROUNDS):  # alternated, so that other load on the machine hits both alike
            for variant in VARIANTS:
                output = subprocess.run(
                    [sys.executable, __file__, variant, str(folder)], check=True, capture_output=True, text=True
                ).stdout
                measured = json.loads(output.strip().splitlines()[-1])
                if variant not in results or measured["seconds"] < results[variant]["seconds"]:
                    results[variant] = measured
    stage, direct = results["stage"], results["direct"]
    print(
        f"segment stage {stage['seconds']:.2f} s, {stage['peakMiB']:.0f} MiB, {stage['voxels']} tumour voxels; "
        f"nnUNetPredictor {direct['seconds']:.2f} s, {direct['peakMiB']:.0f} MiB, {direct['voxels']} voxels"
    )
    print(f"overhead {100 * (stage['seconds'] / direct['seconds'] - 1):+.1f}% (target <= +10%)")


if __name__ == "__main__":
    if len(sys.argv) == 3:
        print(json.dumps(runVariant(sys.argv[1], pathlib.Path(sys.argv[2]))))
    else:
        main()
