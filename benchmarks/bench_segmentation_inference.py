"""Overhead of our inference paths over calling nnU-Net's predictor and MONAI's sliding window directly.

nnU-Net: a small trained-model folder planned by nnU-Net (two folds, random weights, patch 16×32×32)
on a 64×64×40 two-channel case, test-time mirroring off (it multiplies the network passes, the same in
both paths): ``predictNnunet`` (safe checkpoint loading,
manual initialisation, progress hook) against ``initialize_from_trained_model_folder`` +
``predict_single_npy_array``. MONAI: a 4-level UNet on a 96×96×64 two-channel case, window 64³:
``loadMonaiNetwork`` + ``predictMonai`` against ``NormalizeIntensity`` + ``sliding_window_inference``
+ softmax + argmax. Each variant runs in its own process (best of three wall times of loading and
predicting, imports excluded; peak resident memory of the process). Variants run one after the other, so
on a machine shared with other work the wall times swing widely: compare them on an idle machine.

Run with ``.venv/bin/python benchmarks/bench_segmentation_inference.py``.
"""

from __future__ import annotations

import json
import pathlib
import resource
import subprocess
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE.parent / "Testing" / "unit")]  # the tiny nnU-Net folder builder

VARIANTS = ("nnunet-ours", "nnunet-direct", "monai-ours", "monai-direct")
NETWORK_ARGS = {
    "spatial_dims": 3,
    "in_channels": 2,
    "out_channels": 3,
    "channels": [16, 32, 64, 128],
    "strides": [2, 2, 2],
    "num_res_units": 1,
}


def case(size):
    import numpy as np
    import SimpleITK as sitk

    rng = np.random.default_rng(0)
    images = []
    for channel in range(2):
        image = sitk.GetImageFromArray(rng.normal(100 + 50 * channel, 20, size[::-1]).astype(np.float32))
        image.SetSpacing((0.9, 1.0, 2.5))
        images.append(image)
    return images


def runVariant(variant: str, folder: pathlib.Path) -> dict:
    import numpy as np
    import SimpleITK as sitk
    import torch

    torch.set_num_threads(2)
    if variant.startswith("nnunet"):
        from nnunetv2.inference.predict_from_raw_data import nnUNetPredictor

        from VirtualBiopsy.segment.backends.nnunetBackend import NnunetOptions, predictNnunet

        model = next(folder.glob("Dataset*/nnUNetTrainer__*"))
        images = case((64, 64, 40))

        def ours():
            predictNnunet(images, model, NnunetOptions(device="cpu", useMirroring=False))

        def direct():
            predictor = nnUNetPredictor(use_mirroring=False, device=torch.device("cpu"), allow_tqdm=False)
            predictor.initialize_from_trained_model_folder(str(model), (0, 1))
            voxels = np.stack([sitk.GetArrayFromImage(image) for image in images])
            predictor.predict_single_npy_array(
                voxels, {"spacing": list(images[0].GetSpacing())[::-1]}, None, None, True
            )
    else:
        from monai.inferers import sliding_window_inference
        from monai.networks.nets import UNet
        from monai.transforms import NormalizeIntensity

        from VirtualBiopsy.segment.backends.monaiBackend import MonaiSettings, loadMonaiNetwork, predictMonai

        images = case((96, 96, 64))
        settings = MonaiSettings(network="UNet", networkArgs=NETWORK_ARGS, roiSize=(64, 64, 64))

        def ours():
            network = loadMonaiNetwork("monai-network", folder / "unet.pt", settings, None)
            predictMonai(images, network, settings, device="cpu", testTimeAugmentation=False)

        def direct():
            network = UNet(**NETWORK_ARGS)
            network.load_state_dict(torch.load(folder / "unet.pt", weights_only=True))
            network.eval()
            voxels = np.stack([sitk.GetArrayFromImage(image).transpose(2, 1, 0) for image in images])
            tensor = NormalizeIntensity(nonzero=True, channel_wise=True)(torch.from_numpy(voxels))[None]
            with torch.inference_mode():
                logits = sliding_window_inference(tensor, (64, 64, 64), 1, network, overlap=0.25)
                torch.softmax(logits, dim=1).argmax(dim=1)

    function = ours if variant.endswith("ours") else direct
    times = []
    for _ in range(3):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return {"seconds": min(times), "peakMiB": peakResidentMiB()}


def peakResidentMiB() -> float:
    """This process's peak resident memory (``VmHWM``; ``ru_maxrss`` would carry the parent's over ``exec``)."""
    for line in pathlib.Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    import torch
    from monai.networks.nets import UNet
    from nnunetModelFolder import buildModelFolder

    with tempfile.TemporaryDirectory() as temporary:
        folder = pathlib.Path(temporary)
        buildModelFolder(folder, patch=(16, 32, 32), maxFeatures=64)
        torch.manual_seed(0)
        torch.save(UNet(**NETWORK_ARGS).state_dict(), folder / "unet.pt")
        results = {}
        for variant in VARIANTS:
            output = subprocess.run(
                [sys.executable, __file__, variant, str(folder)], check=True, capture_output=True, text=True
            ).stdout
            results[variant] = json.loads(output.strip().splitlines()[-1])
    for backend in ("nnunet", "monai"):
        ours, direct = results[f"{backend}-ours"], results[f"{backend}-direct"]
        print(
            f"{backend}: ours {ours['seconds']:.2f} s, {ours['peakMiB']:.0f} MiB; direct {direct['seconds']:.2f} s, "
            f"{direct['peakMiB']:.0f} MiB; wall-time ratio {ours['seconds'] / direct['seconds']:.3f}, "
            f"peak-memory ratio {ours['peakMiB'] / direct['peakMiB']:.3f}"
        )


if __name__ == "__main__":
    if len(sys.argv) == 3:
        print(json.dumps(runVariant(sys.argv[1], pathlib.Path(sys.argv[2]))))
    else:
        main()
